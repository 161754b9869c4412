import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Local mode: a development signing key kept beside the embedded database, never committed. */
export const LOCAL_KEY_FILE = '.data/local-signing-key';
/** Development HMAC key for `$skiptoken` when SKIPTOKEN_SECRET is unset (never in production). */
export const LOCAL_SKIPTOKEN_KEY_FILE = '.data/local-skiptoken-key';
export const LOCAL_ISSUER = 'https://threat-assessment.local/';
export const LOCAL_AUDIENCE = 'api://threat-assessment-service';
export const LOCAL_TENANT_ID = '5f1c2d3e-0000-4000-8000-00000000a11c';
export const LOCAL_USER = {
  id: '7a0f6b1e-0000-4000-8000-0000000000ad',
  displayName: 'Local Admin',
  // The client application of local tokens (their `azp`): a subscription records the app that made it.
  applicationId: '7a0f6b1e-0000-4000-8000-00000000c11e',
};

/** Reads the local key, making it on first use, so tokens stay valid across restarts. */
export function loadOrCreateLocalKey(file: string = LOCAL_KEY_FILE): string {
  const path = resolve(file);
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8').trim();
    if (key.length >= 32) return key;
  }
  mkdirSync(dirname(path), { recursive: true });
  const key = randomBytes(32).toString('base64url');
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return key;
}
