import { inject } from 'vitest';

/** What the global setup hands every spec: one built service, spawned once for the whole suite. */
export interface AdversarialContext {
  baseUrl: string;
  port: number;
  pid: number;
  databaseUrl: string;
  /** PUBLIC_BASE_URL of the service: every absolute link must start with it. */
  publicBaseUrl: string;
  /** The service's resident set after the warm-up, the baseline of the memory assertions. */
  warmRssBytes: number;
  /** The service's inspector (loopback only): the memory spec reads the heap after a full collection. */
  inspectPort: number;
  logFile: string;
  seed: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    adversarial: AdversarialContext;
  }
}

export const context = (): AdversarialContext => inject('adversarial');
