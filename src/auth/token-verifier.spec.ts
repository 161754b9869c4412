import { randomUUID } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { inScratchDirectory } from '../../test/support/scratch-directory.js';
import { loadConfig } from '../config/app-config.js';
import { AuthenticationRequiredError, PermissionDeniedError } from './auth.errors.js';
import { PERMISSIONS, PERSONAL_ACCOUNT_TENANT } from './caller.js';
import {
  LOCAL_AUDIENCE,
  LOCAL_ISSUER,
  LOCAL_KEY_FILE,
  LOCAL_TENANT_ID,
  LOCAL_USER,
  loadOrCreateLocalKey,
} from './local-auth.js';
import { mintToken } from './token-minter.js';
import { TokenVerifier } from './token-verifier.js';

const SECRET = 'unit-test-hs256-secret-0123456789-abcdefghij';
const ISSUER = 'https://issuer.test/';
const AUDIENCE = 'api://threat-assessment-unit';
const TENANT = '0b2c7a3e-5d41-4f6a-9e1b-3c8d2f7a6b10';
const USER = 'c1d2e3f4-0000-4000-8000-000000000001';
const APP = 'a1b2c3d4-0000-4000-8000-000000000002';
const SERVICE_PRINCIPAL = 'a1b2c3d4-0000-4000-8000-0000000000e5';
const now = () => Math.floor(Date.now() / 1000);

const verifier = new TokenVerifier(
  loadConfig({ AUTH_HS256_SECRET: SECRET, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: `${AUDIENCE}, api://second` }),
);

/** A user token's claims, valid for an hour; tests override or delete single claims. */
function userClaims(overrides: JWTPayload = {}): JWTPayload {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    tid: TENANT,
    oid: USER,
    sub: USER,
    name: 'Ada',
    scp: PERMISSIONS.readWrite,
    iat: now(),
    nbf: now(),
    exp: now() + 3600,
    ...overrides,
  };
}

function without(claims: JWTPayload, ...names: string[]): JWTPayload {
  const copy = { ...claims };
  for (const name of names) delete copy[name];
  return copy;
}

function sign(claims: JWTPayload, { alg = 'HS256', secret = SECRET } = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

/** The caller an app-only token of the Engine application (APP) becomes. */
function engineCaller(objectId: string, ...permissions: string[]) {
  return {
    tenantId: TENANT,
    kind: 'application',
    id: APP,
    displayName: 'Engine',
    applicationId: APP,
    objectId,
    permissions: new Set(permissions),
  };
}

async function refusal(token: string): Promise<Error> {
  try {
    await verifier.verify(token);
  } catch (error) {
    return error as Error;
  }
  throw new Error('the token was accepted');
}

async function expectUnauthenticated(token: string, message: string) {
  const error = await refusal(token);
  expect(error).toBeInstanceOf(AuthenticationRequiredError);
  expect(error.message).toBe(message);
}

describe('TokenVerifier (HS256)', () => {
  it('turns a delegated token into a user caller with its scopes', async () => {
    const caller = await verifier.verify(await sign(userClaims({ scp: `${PERMISSIONS.readWrite}  openid` })));
    expect(caller).toEqual({
      tenantId: TENANT,
      kind: 'user',
      id: USER,
      displayName: 'Ada',
      objectId: USER,
      permissions: new Set([PERMISSIONS.readWrite, 'openid']),
    });
  });

  it('turns an app-only token into an application caller with its roles, preferring azp', async () => {
    const token = await sign(
      without(
        userClaims({
          azp: APP,
          appid: randomUUID(),
          oid: SERVICE_PRINCIPAL,
          app_displayname: 'Engine',
          roles: [PERMISSIONS.read, 7],
        }),
        'scp',
        'name',
      ),
    );
    expect(await verifier.verify(token)).toEqual(engineCaller(SERVICE_PRINCIPAL, PERMISSIONS.read));
  });

  it('takes the application id from appid (v1.0 tokens) and the user id from sub when oid is missing', async () => {
    const app = await verifier.verify(await sign(without(userClaims({ appid: APP, roles: [] }), 'scp')));
    expect(app).toMatchObject({ kind: 'application', id: APP, displayName: undefined, permissions: new Set() });
    const user = await verifier.verify(await sign(without(userClaims(), 'oid')));
    expect(user).toMatchObject({ kind: 'user', id: USER });
  });

  it('accepts any configured audience, and a token minted by mintToken', async () => {
    expect((await verifier.verify(await sign(userClaims({ aud: 'api://second' })))).id).toBe(USER);
    expect((await verifier.verify(await sign(userClaims({ aud: ['api://other', AUDIENCE] })))).id).toBe(USER);
    const minted = await mintToken({
      secret: SECRET,
      issuer: ISSUER,
      audience: AUDIENCE,
      tenantId: TENANT,
      application: { id: APP, displayName: 'Engine', roles: [PERMISSIONS.readWrite] },
    });
    expect(await verifier.verify(minted)).toEqual(engineCaller(APP, PERMISSIONS.readWrite));
  });

  it('lower-cases the tenant id, so that one tenant is one scope', async () => {
    const caller = await verifier.verify(await sign(userClaims({ tid: TENANT.toUpperCase() })));
    expect(caller.tenantId).toBe(TENANT);
  });

  it('drops a display name that is not a short string', async () => {
    expect((await verifier.verify(await sign(userClaims({ name: 'x'.repeat(257) })))).displayName).toBeUndefined();
    expect((await verifier.verify(await sign(userClaims({ name: 42 })))).displayName).toBeUndefined();
  });

  it('reads an empty scp as a user without permissions (the guard then answers 403)', async () => {
    const caller = await verifier.verify(await sign(userClaims({ scp: '' })));
    expect(caller).toMatchObject({ kind: 'user', permissions: new Set() });
  });

  it('allows 60 seconds of clock skew, no more', async () => {
    expect((await verifier.verify(await sign(userClaims({ exp: now() - 30 })))).id).toBe(USER);
    expect((await verifier.verify(await sign(userClaims({ nbf: now() + 30 })))).id).toBe(USER);
    await expectUnauthenticated(await sign(userClaims({ exp: now() - 120 })), 'The access token has expired.');
    await expectUnauthenticated(
      await sign(userClaims({ nbf: now() + 120 })),
      "The access token's 'nbf' claim is not accepted.",
    );
  });

  it.each<[string, () => Promise<string>, string]>([
    [
      'another secret',
      () => sign(userClaims(), { secret: `${SECRET}-other` }),
      'The access token signature is invalid.',
    ],
    [
      'HS512 with the right secret',
      () => sign(userClaims(), { alg: 'HS512' }),
      "The access token's signing algorithm is not accepted.",
    ],
    [
      'alg none',
      () => Promise.resolve(new UnsecuredJWT(userClaims()).encode()),
      "The access token's signing algorithm is not accepted.",
    ],
    ['no exp', () => sign(without(userClaims(), 'exp')), 'The access token has no expiry.'],
    [
      'a wrong audience',
      () => sign(userClaims({ aud: 'api://someone-else' })),
      "The access token's 'aud' claim is not accepted.",
    ],
    ['no audience', () => sign(without(userClaims(), 'aud')), "The access token's 'aud' claim is not accepted."],
    [
      'a wrong issuer',
      () => sign(userClaims({ iss: 'https://evil.test/' })),
      'The access token was issued by an untrusted issuer.',
    ],
    ['no issuer', () => sign(without(userClaims(), 'iss')), 'The access token was issued by an untrusted issuer.'],
    ['no tid', () => sign(without(userClaims(), 'tid')), 'The access token has no valid tenant (tid).'],
    [
      'a non-GUID tid',
      () => sign(userClaims({ tid: 'contoso.onmicrosoft.com' })),
      'The access token has no valid tenant (tid).',
    ],
    [
      'a GUID tid with a suffix',
      () => sign(userClaims({ tid: `${TENANT}x` })),
      'The access token has no valid tenant (tid).',
    ],
    ['a numeric tid', () => sign(userClaims({ tid: 42 })), 'The access token has no valid tenant (tid).'],
    [
      'a user without oid or sub',
      () => sign(without(userClaims(), 'oid', 'sub')),
      'The access token names no user (oid).',
    ],
    [
      'an app without azp or appid',
      () => sign(without(userClaims({ roles: [PERMISSIONS.read] }), 'scp')),
      'The access token names no application (azp/appid).',
    ],
    [
      'a payload that is not JSON',
      () => Promise.resolve(`${b64({ alg: 'HS256' })}.${Buffer.from('nope').toString('base64url')}.x`),
      'The access token is malformed or invalid.',
    ],
  ])('refuses a token with %s (401)', async (_, token, message) => {
    await expectUnauthenticated(await token(), message);
  });

  it('refuses personal Microsoft accounts with 403, even with every permission', async () => {
    const error = await refusal(await sign(userClaims({ tid: PERSONAL_ACCOUNT_TENANT.toUpperCase() })));
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error.message).toBe('Personal Microsoft accounts are not supported by this API.');
  });

  it('answers any other input with a 401 error and never echoes it', async () => {
    const segment = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_'.split('')), maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
        ),
        async (input) => {
          const error = await refusal(input);
          expect(error).toBeInstanceOf(AuthenticationRequiredError);
          if (input.length > 3) expect(error.message).not.toContain(input);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('local mode', () => {
  const dir = inScratchDirectory('threat-assessment-local-key-');

  it('creates the key file once, readable by its owner only, and returns the same key later', () => {
    const file = join(dir(), 'nested', 'folder', 'key');
    const key = loadOrCreateLocalKey(file);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(file, 'utf8')).toBe(`${key}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const written = statSync(file).mtimeMs;
    expect(loadOrCreateLocalKey(file)).toBe(key);
    expect(loadOrCreateLocalKey(file)).toBe(key);
    expect(statSync(file).mtimeMs).toBe(written);
    expect(loadOrCreateLocalKey(join(dir(), 'another-key'))).not.toBe(key);
  });

  it('replaces a key file too short to be a key, and keeps a good one whatever its spacing', () => {
    const file = join(dir(), 'short-key');
    writeFileSync(file, 'short\n', { mode: 0o644 });
    const key = loadOrCreateLocalKey(file);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(file, 'utf8')).toBe(`${key}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const kept = join(dir(), 'kept-key');
    writeFileSync(kept, `  ${'k'.repeat(40)}\n\n`, { mode: 0o600 });
    expect(loadOrCreateLocalKey(kept)).toBe('k'.repeat(40));
  });

  it('verifies the tokens minted with the local key (what the service prints and npm run token mints), and no others', async () => {
    const local = new TokenVerifier(loadConfig({}));
    expect(statSync(join(dir(), LOCAL_KEY_FILE)).mode & 0o777).toBe(0o600);
    const options = {
      issuer: LOCAL_ISSUER,
      audience: LOCAL_AUDIENCE,
      tenantId: LOCAL_TENANT_ID,
      user: { ...LOCAL_USER, scopes: [PERMISSIONS.readWrite] },
    };
    const token = await mintToken({ ...options, secret: loadOrCreateLocalKey() });
    expect(await local.verify(token)).toEqual({
      tenantId: LOCAL_TENANT_ID,
      kind: 'user',
      id: LOCAL_USER.id,
      displayName: LOCAL_USER.displayName,
      applicationId: LOCAL_USER.applicationId,
      objectId: LOCAL_USER.id,
      permissions: new Set([PERMISSIONS.readWrite]),
    });
    await expect(local.verify(await mintToken({ ...options, secret: SECRET }))).rejects.toThrow(
      'The access token signature is invalid.',
    );
    await expect(
      local.verify(await mintToken({ ...options, secret: loadOrCreateLocalKey(), issuer: ISSUER })),
    ).rejects.toThrow('The access token was issued by an untrusted issuer.');
    await expect(
      local.verify(await mintToken({ ...options, secret: loadOrCreateLocalKey(), audience: AUDIENCE })),
    ).rejects.toThrow("The access token's 'aud' claim is not accepted.");
  });
});

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
