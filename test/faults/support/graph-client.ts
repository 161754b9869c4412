import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { mintToken } from './dist.js';
import { AUTH_SECRET } from './service.js';
import { MAIL_REQUEST } from '../../support/graph.js';

export { MAIL_REQUEST };

export const REQUESTS = '/v1.0/informationProtection/threatAssessmentRequests';
const READ_WRITE = 'ThreatAssessment.ReadWrite.All';

export interface Tenant {
  tenantId: string;
  token: string;
}

export async function newTenant(): Promise<Tenant> {
  const tenantId = randomUUID();
  const token = await mintToken({
    secret: AUTH_SECRET,
    tenantId,
    user: { id: randomUUID(), displayName: 'Fault Tests', scopes: [READ_WRITE] },
    expiresInSeconds: 3600,
  });
  return { tenantId, token };
}

/** One answer as the client saw it: a status, or the network error that replaced it. */
export interface Answer {
  status?: number;
  /** `ECONNREFUSED`, `ECONNRESET`, `UND_ERR_SOCKET`, `TimeoutError`…: the request may or may not have been served. */
  networkError?: string;
  headers: Headers;
  body: unknown;
  startedAt: number;
  endedAt: number;
}

export interface CallOptions {
  method?: string;
  token?: string;
  body?: unknown;
  idempotencyKey?: string;
  /** Any other request headers. */
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** fetch (undici, keep-alive) on loopback; never throws: a failure is an Answer with `networkError`. */
export async function call(baseUrl: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  const startedAt = performance.now();
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 20_000),
    });
    const text = await res.text();
    let body: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { status: res.status, headers: res.headers, body, startedAt, endedAt: performance.now() };
  } catch (error) {
    return {
      networkError: networkErrorCode(error),
      headers: new Headers(),
      body: undefined,
      startedAt,
      endedAt: performance.now(),
    };
  }
}

function networkErrorCode(error: unknown): string {
  const err = error as { name?: string; code?: unknown; cause?: { code?: unknown; name?: string } };
  // AbortSignal.timeout() rejects with a DOMException named TimeoutError (its numeric code means nothing here).
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return err.name;
  const code = err.cause?.code ?? err.code;
  return typeof code === 'string' ? code : (err.cause?.name ?? err.name ?? String(error));
}

/** Creates `count` mail assessment requests (checkPolicy results need mail) and returns their ids. */
export async function createParents(baseUrl: string, tenant: Tenant, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await call(baseUrl, REQUESTS, {
      token: tenant.token,
      body: { ...MAIL_REQUEST, messageUri: `${MAIL_REQUEST.messageUri}${randomUUID()}` },
    });
    if (answer.status !== 201)
      throw new Error(
        `creating a parent answered ${answer.status ?? answer.networkError}: ${JSON.stringify(answer.body)}`,
      );
    ids.push((answer.body as { id: string }).id);
  }
  return ids;
}

export function errorCodeOf(answer: Answer): string | undefined {
  const body = answer.body as { error?: { code?: unknown } } | undefined;
  return typeof body?.error?.code === 'string' ? body.error.code : undefined;
}
