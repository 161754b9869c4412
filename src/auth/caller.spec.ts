import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/app-config.js';
import { identitySetOf } from '../threat-assessment/threat-assessment-requests.service.js';
import { PERMISSIONS } from './caller.js';
import { mintToken } from './token-minter.js';
import { TokenVerifier } from './token-verifier.js';

const SECRET = 'caller-unit-hs256-secret-0123456789-abcdefgh';
const TENANT = 'd7a6c5b4-0000-4000-8000-00000000c0de';
const verifier = new TokenVerifier(loadConfig({ AUTH_HS256_SECRET: SECRET }));

/**
 * `createdBy` of a request comes from the caller the token names. Applications cannot create requests
 * (delegated access only), so their identity set is checked here, from token to column, rather than over HTTP.
 */
describe('createdBy from the token (identitySetOf)', () => {
  it('is the user (oid, name) of a delegated token', async () => {
    const token = await mintToken({
      secret: SECRET,
      tenantId: TENANT,
      user: { id: 'user-oid', displayName: 'Ada', scopes: [PERMISSIONS.readWrite] },
    });
    expect(identitySetOf(await verifier.verify(token))).toEqual({ user: { id: 'user-oid', displayName: 'Ada' } });
  });

  it('is the application (azp, app_displayname) of an app-only token', async () => {
    const token = await mintToken({
      secret: SECRET,
      tenantId: TENANT,
      application: { id: 'engine-azp', displayName: 'Engine', roles: [PERMISSIONS.readWrite] },
    });
    expect(identitySetOf(await verifier.verify(token))).toEqual({
      application: { id: 'engine-azp', displayName: 'Engine' },
    });
  });

  it('has no displayName key when the token carries no name', async () => {
    const user = await mintToken({ secret: SECRET, tenantId: TENANT, user: { id: 'user-oid', scopes: [] } });
    const app = await mintToken({ secret: SECRET, tenantId: TENANT, application: { id: 'engine-azp', roles: [] } });
    expect(identitySetOf(await verifier.verify(user))).toStrictEqual({ user: { id: 'user-oid' } });
    expect(identitySetOf(await verifier.verify(app))).toStrictEqual({ application: { id: 'engine-azp' } });
  });
});
