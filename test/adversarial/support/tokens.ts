import { createHmac, randomUUID } from 'node:crypto';
import { mintToken } from '../../faults/support/dist.js';
import { AUTH_SECRET } from '../../faults/support/service.js';

export const READ_WRITE = 'ThreatAssessment.ReadWrite.All';
export const READ = 'ThreatAssessment.Read.All';
/** Graph's tenant of personal Microsoft accounts, which the API refuses with 403. */
export const PERSONAL_ACCOUNT_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

export interface Tenant {
  tenantId: string;
  userId: string;
  token: string;
}

/** A tenant and a delegated ReadWrite token for it, minted as the service's own CLI mints them. */
export async function newTenant(): Promise<Tenant> {
  const tenantId = randomUUID();
  const userId = randomUUID();
  const token = await mintToken({
    secret: AUTH_SECRET,
    tenantId,
    user: { id: userId, displayName: 'Adversarial Tests', scopes: [READ_WRITE] },
    expiresInSeconds: 3600,
  });
  return { tenantId, userId, token };
}

const base64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

/**
 * A JWT signed by hand (HS256 over whatever header and payload bytes are given): hostile tokens need
 * headers, claims and encodings that a well-behaved minter would never write.
 */
export function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown> | Buffer,
  secret: string = AUTH_SECRET,
): string {
  const input = `${base64url(JSON.stringify(header))}.${base64url(Buffer.isBuffer(payload) ? payload : JSON.stringify(payload))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** The claims of a valid delegated ReadWrite token; `overrides` replace or (with undefined) remove claims. */
export function userClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    tid: randomUUID(),
    oid: randomUUID(),
    sub: randomUUID(),
    name: 'Adversarial Tests',
    scp: READ_WRITE,
    idtyp: 'user',
    ver: '2.0',
    iat: now,
    nbf: now,
    exp: now + 3600,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
}

export const HS256 = { alg: 'HS256', typ: 'JWT' } as const;
