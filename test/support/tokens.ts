import { randomUUID } from 'node:crypto';
import { PERMISSIONS } from '../../src/auth/caller.js';
import { mintToken } from '../../src/auth/token-minter.js';

export const TEST_SECRET = 'test-hs256-secret-that-is-long-enough-0123456789';
export const TEST_ISSUER = 'https://login.test/threat-assessment/';
export const TEST_AUDIENCE = 'api://threat-assessment-test';
/** What the test app accepts: every test token is minted with these. */
export const TEST_SIGNING = { secret: TEST_SECRET, issuer: TEST_ISSUER, audience: TEST_AUDIENCE };
/** The client application (`azp`) of test users' tokens, unless a test names another. */
export const TEST_CLIENT_APP = '0c7e5a1d-7e57-4c11-a000-00000000c11e';

export interface TestIdentity {
  tenantId: string;
  token: string;
  userId: string;
}

/** A fresh tenant with a delegated user holding `scopes` (ReadWrite.All by default). */
export async function newTenant(scopes: string[] = [PERMISSIONS.readWrite]): Promise<TestIdentity> {
  const tenantId = randomUUID();
  const userId = randomUUID();
  return { tenantId, userId, token: await userToken(tenantId, scopes, userId) };
}

export function userToken(
  tenantId: string,
  scopes: string[],
  userId: string = randomUUID(),
  displayName = 'Test User',
  applicationId = TEST_CLIENT_APP,
) {
  return mintToken({ ...TEST_SIGNING, tenantId, user: { id: userId, displayName, scopes, applicationId } });
}

export function appToken(tenantId: string, roles: string[], appId: string = randomUUID(), displayName = 'Test Engine') {
  return mintToken({ ...TEST_SIGNING, tenantId, application: { id: appId, displayName, roles } });
}
