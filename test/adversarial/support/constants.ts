import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** PUBLIC_BASE_URL given to the service: a name that resolves nowhere, so a link to it can only be written, never followed. */
export const PUBLIC_BASE_URL = 'https://graph.adversarial.test';
/** BODY_LIMIT_BYTES given to the service, pinned to its documented default: the create route takes contentData of a few MB. */
export const REQUEST_BODY_LIMIT = 8 * 1024 * 1024;
/** A result is a few hundred bytes: whatever limit the service documents for its routes, a body above this must be 413. */
export const RESULT_BODY_LIMIT_CEILING = 64 * 1024;
/** Every answer in the suite stays under this many bytes (the data it seeds is sized so that a bounded page fits). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** An error names the first few problems, not all of them. */
export const MAX_ERROR_BYTES = 8 * 1024;
/** The health probe and the service's event loop, while a hostile request is refused. */
export const STALL_BOUND_MS = 250;

export const RESULT_ODATA_TYPE = '#microsoft.graph.threatAssessmentResult';
export const VERSIONS = ['v1.0', 'beta'] as const;
export type Version = (typeof VERSIONS)[number];
export const requestsPath = (version: Version = 'v1.0') => `/${version}/informationProtection/threatAssessmentRequests`;

/** The built service's own modules, as the fault tests load them: from `dist/`, typed by the sources. */
export async function fromDist<T>(path: string): Promise<T> {
  const file = resolve('dist', path);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` before the adversarial suite`);
  return (await import(pathToFileURL(file).href)) as T;
}
