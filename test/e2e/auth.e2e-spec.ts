import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS, PERSONAL_ACCOUNT_TENANT } from '../../src/auth/caller.js';
import { mintToken } from '../../src/auth/token-minter.js';
import { expectGraphError, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { appToken, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, TEST_SIGNING, userToken } from '../support/tokens.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RESULT = { resultType: 'rescan', message: 'engine verdict' };
const READ_WRITE = PERMISSIONS.readWrite;
const READ = PERMISSIONS.read;

/** One tenant's request (mail, so that every result type fits) with one result, made by a delegated admin. */
interface Seed {
  tenantId: string;
  requestId: string;
  resultId: string;
}

type Operation = 'create' | 'read' | 'addResult' | 'delete';

/** Every route of the API, with what it does and what a caller allowed to call it gets back. */
interface Route {
  name: string;
  operation: Operation;
  method: 'get' | 'post' | 'delete';
  path(seed: Seed): string;
  body?: object;
  /** The answer to an allowed caller, checked against the seed and the database. */
  expectAllowed(res: Response, seed: Seed, t: TestApp): void | Promise<void>;
}

const ROUTES: Route[] = [
  {
    name: 'POST …/threatAssessmentRequests',
    operation: 'create',
    method: 'post',
    path: () => REQUESTS,
    body: URL_REQUEST,
    expectAllowed: async (res, seed, t) => {
      expect(res.status, res.text).toBe(201);
      expect(res.body).toMatchObject({
        '@odata.type': URL_REQUEST['@odata.type'],
        id: expect.stringMatching(GUID),
        status: 'pending',
      });
      expect(await snapshot(t, seed.tenantId)).toMatchObject({ requests: [expect.any(String), expect.any(String)] });
    },
  },
  {
    name: 'GET …/threatAssessmentRequests',
    operation: 'read',
    method: 'get',
    path: () => REQUESTS,
    expectAllowed: (res, seed) => {
      expect(res.status, res.text).toBe(200);
      expect((res.body as { value: { id: string }[] }).value.map((r) => r.id)).toEqual([seed.requestId]);
    },
  },
  {
    name: 'GET …/threatAssessmentRequests/$count',
    operation: 'read',
    method: 'get',
    path: () => `${REQUESTS}/$count`,
    expectAllowed: (res) => {
      expect(res.status, res.text).toBe(200);
      expect(res.text).toBe('1');
    },
  },
  {
    name: 'GET …/threatAssessmentRequests/{id}',
    operation: 'read',
    method: 'get',
    path: (s) => `${REQUESTS}/${s.requestId}`,
    expectAllowed: (res, seed) => {
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ id: seed.requestId, status: 'completed' });
    },
  },
  {
    name: 'DELETE …/threatAssessmentRequests/{id}',
    operation: 'delete',
    method: 'delete',
    path: (s) => `${REQUESTS}/${s.requestId}`,
    expectAllowed: async (res, seed, t) => {
      expect(res.status, res.text).toBe(204);
      expect(await snapshot(t, seed.tenantId)).toEqual({ requests: [], results: [] });
    },
  },
  {
    name: 'POST …/{id}/results',
    operation: 'addResult',
    method: 'post',
    path: (s) => `${REQUESTS}/${s.requestId}/results`,
    body: RESULT,
    expectAllowed: async (res, seed, t) => {
      expect(res.status, res.text).toBe(201);
      expect(res.body).toMatchObject({ ...RESULT, id: expect.stringMatching(GUID) });
      expect(await snapshot(t, seed.tenantId)).toEqual({
        requests: [`${seed.requestId} completed`],
        results: [seed.resultId, (res.body as { id: string }).id].sort(),
      });
    },
  },
  {
    name: 'POST …/{id}/results/$ref',
    operation: 'addResult',
    method: 'post',
    path: (s) => `${REQUESTS}/${s.requestId}/results/$ref`,
    body: RESULT,
    expectAllowed: async (res, seed, t) => {
      expect(res.status, res.text).toBe(201);
      expect(res.body).toMatchObject({ ...RESULT, id: expect.stringMatching(GUID) });
      expect((await snapshot(t, seed.tenantId)).results).toHaveLength(2);
    },
  },
  {
    name: 'GET …/{id}/results',
    operation: 'read',
    method: 'get',
    path: (s) => `${REQUESTS}/${s.requestId}/results`,
    expectAllowed: (res, seed) => {
      expect(res.status, res.text).toBe(200);
      expect((res.body as { value: { id: string }[] }).value.map((r) => r.id)).toEqual([seed.resultId]);
    },
  },
  {
    name: 'GET …/{id}/results/$count',
    operation: 'read',
    method: 'get',
    path: (s) => `${REQUESTS}/${s.requestId}/results/$count`,
    expectAllowed: (res) => {
      expect(res.status, res.text).toBe(200);
      expect(res.text).toBe('1');
    },
  },
  {
    name: 'GET …/{id}/results/{resultId}',
    operation: 'read',
    method: 'get',
    path: (s) => `${REQUESTS}/${s.requestId}/results/${s.resultId}`,
    expectAllowed: (res, seed) => {
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ id: seed.resultId, ...RESULT });
    },
  },
];

/** What a tenant holds, in a form that shows any change: request ids with their status, result ids. */
async function snapshot(t: TestApp, tenantId: string) {
  const requests = await t.db.query<{ id: string; status: string }>(
    'SELECT id, status FROM threat_assessment_requests WHERE tenant_id = $1 ORDER BY id',
    [tenantId],
  );
  const results = await t.db.query<{ id: string }>(
    'SELECT id FROM threat_assessment_results WHERE tenant_id = $1 ORDER BY id',
    [tenantId],
  );
  return { requests: requests.rows.map((r) => `${r.id} ${r.status}`), results: results.rows.map((r) => r.id) };
}

async function seedTenant(t: TestApp, tenantId: string = randomUUID(), authorization?: string): Promise<Seed> {
  const admin = authorization ?? `Bearer ${await userToken(tenantId, [READ_WRITE])}`;
  const request = await t.http.post(REQUESTS).set('authorization', admin).send(MAIL_REQUEST);
  expect(request.status, request.text).toBe(201);
  const requestId = (request.body as { id: string }).id;
  const result = await t.http.post(`${REQUESTS}/${requestId}/results`).set('authorization', admin).send(RESULT);
  expect(result.status, result.text).toBe(201);
  return { tenantId, requestId, resultId: (result.body as { id: string }).id };
}

function call(t: TestApp, route: Route, seed: Seed, authorization?: string, prefix = '') {
  const path = prefix ? route.path(seed).replace(/^\/v1\.0/, prefix) : route.path(seed);
  const req = t.http[route.method](path);
  if (authorization !== undefined) void req.set('authorization', authorization);
  return route.body ? req.send(route.body) : req;
}

/** HS256 tokens signed directly, for the shapes `mintToken` will not make. */
function signTest(claims: JWTPayload, { alg = 'HS256', secret = TEST_SECRET } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: TEST_ISSUER, aud: TEST_AUDIENCE, iat: now, exp: now + 600, ...claims })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));
}

describe('authentication and permissions (HS256)', () => {
  let t: TestApp;
  let seed: Seed;
  let seedBefore: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    t = await startTestApp();
    seed = await seedTenant(t);
    seedBefore = await snapshot(t, seed.tenantId);
  });
  afterAll(() => t.close());

  const user = (scopes: string[], tenantId = seed.tenantId) => userToken(tenantId, scopes);
  const userClaims = () => ({ tid: seed.tenantId, oid: randomUUID(), scp: READ_WRITE });

  describe.each<[string, () => string | undefined | Promise<string>, string]>([
    ['no Authorization header', () => undefined, 'Access token is empty.'],
    ['an empty Authorization header', () => '', 'Access token is empty.'],
    [
      'Basic credentials',
      () => `Basic ${Buffer.from('admin:admin').toString('base64')}`,
      'The Authorization header must be "Bearer {token}".',
    ],
    ['Bearer garbage', () => 'Bearer garbage', 'The Authorization header must be "Bearer {token}".'],
    ['Bearer and nothing', () => 'Bearer ', 'The Authorization header must be "Bearer {token}".'],
    [
      'a token after other words',
      async () => `Bearer ${await user([READ_WRITE])} extra`,
      'The Authorization header must be "Bearer {token}".',
    ],
    ['a bare token, no scheme', () => user([READ_WRITE]), 'The Authorization header must be "Bearer {token}".'],
    ['three segments that are not a JWT', () => 'Bearer abc.def.ghi', 'The access token is malformed or invalid.'],
    [
      'a token signed with another secret',
      async () => `Bearer ${await signTest(userClaims(), { secret: `${TEST_SECRET}-other` })}`,
      'The access token signature is invalid.',
    ],
    [
      'alg none',
      () =>
        `Bearer ${new UnsecuredJWT({ ...userClaims(), iss: TEST_ISSUER, aud: TEST_AUDIENCE, exp: 9_999_999_999 }).encode()}`,
      "The access token's signing algorithm is not accepted.",
    ],
    [
      'HS512 with the right secret',
      async () => `Bearer ${await signTest(userClaims(), { alg: 'HS512' })}`,
      "The access token's signing algorithm is not accepted.",
    ],
    [
      'an expired token',
      async () =>
        `Bearer ${await mintToken({ ...TEST_SIGNING, tenantId: seed.tenantId, user: { id: randomUUID(), scopes: [READ_WRITE] }, expiresInSeconds: -3600 })}`,
      'The access token has expired.',
    ],
    [
      'a token not valid yet',
      async () => `Bearer ${await signTest({ ...userClaims(), nbf: Math.floor(Date.now() / 1000) + 3600 })}`,
      "The access token's 'nbf' claim is not accepted.",
    ],
    [
      'a token without expiry',
      async () => `Bearer ${await signTest({ ...userClaims(), exp: undefined })}`,
      'The access token has no expiry.',
    ],
    [
      'a wrong issuer',
      async () => `Bearer ${await signTest({ ...userClaims(), iss: 'https://login.evil.test/' })}`,
      'The access token was issued by an untrusted issuer.',
    ],
    [
      'a wrong audience',
      async () => `Bearer ${await signTest({ ...userClaims(), aud: 'api://another-api' })}`,
      "The access token's 'aud' claim is not accepted.",
    ],
    [
      'no tid',
      async () => `Bearer ${await signTest({ ...userClaims(), tid: undefined })}`,
      'The access token has no valid tenant (tid).',
    ],
    [
      'a non-GUID tid',
      async () => `Bearer ${await signTest({ ...userClaims(), tid: 'contoso.onmicrosoft.com' })}`,
      'The access token has no valid tenant (tid).',
    ],
    [
      'a user without oid or sub',
      async () => `Bearer ${await signTest({ tid: seed.tenantId, scp: READ_WRITE })}`,
      'The access token names no user (oid).',
    ],
  ])('with %s', (_, authorization, message) => {
    it.each(ROUTES.map((route) => [route.name, route] as const))(
      '%s answers 401 InvalidAuthenticationToken and changes nothing',
      async (__, route) => {
        const res = await call(t, route, seed, await authorization());
        expectGraphError(res, 401, 'InvalidAuthenticationToken', new RegExp(`^${escape(message)}$`));
        expect(await snapshot(t, seed.tenantId)).toEqual(seedBefore);
      },
    );
  });

  it('answers 401 on every route under /beta too', async () => {
    for (const route of ROUTES) {
      expectGraphError(
        await call(t, route, seed, undefined, '/beta'),
        401,
        'InvalidAuthenticationToken',
        /^Access token is empty\.$/,
      );
    }
    expect(await snapshot(t, seed.tenantId)).toEqual(seedBefore);
  });

  it('accepts the scheme in any case (RFC 7235: auth schemes are case-insensitive)', async () => {
    const token = await user([READ_WRITE]);
    for (const scheme of ['bearer', 'BEARER']) {
      const res = await t.http.get(`${REQUESTS}/${seed.requestId}`).set('authorization', `${scheme} ${token}`);
      expect(res.status, res.text).toBe(200);
    }
  });

  it('keeps the tenant of a token whose tid is upper case (tenant ids compare lower-case)', async () => {
    const res = await t.http
      .get(`${REQUESTS}/$count`)
      .set('authorization', `Bearer ${await user([READ_WRITE], seed.tenantId.toUpperCase())}`);
    expect(res.status, res.text).toBe(200);
    expect(res.text).toBe('1');
  });

  describe('personal Microsoft accounts', () => {
    it.each(ROUTES.map((route) => [route.name, route] as const))(
      '%s answers 403 accessDenied to users and apps, whatever their permissions',
      async (_, route) => {
        for (const token of [
          await userToken(PERSONAL_ACCOUNT_TENANT, [READ, READ_WRITE]),
          await appToken(PERSONAL_ACCOUNT_TENANT, [READ, READ_WRITE]),
        ]) {
          expectGraphError(
            await call(t, route, seed, `Bearer ${token}`),
            403,
            'accessDenied',
            /^Personal Microsoft accounts are not supported by this API\.$/,
          );
        }
        expect(await snapshot(t, PERSONAL_ACCOUNT_TENANT)).toEqual({ requests: [], results: [] });
        expect(await snapshot(t, seed.tenantId)).toEqual(seedBefore);
      },
    );
  });

  /** Which operations each kind of caller (delegated user, application) may call. */
  const MATRIX: [string, (tenantId: string) => Promise<string>, Operation[]][] = [
    [
      'a user with ThreatAssessment.ReadWrite.All',
      (tid) => userToken(tid, [READ_WRITE]),
      ['create', 'read', 'addResult', 'delete'],
    ],
    [
      'a user with Read.All and ReadWrite.All',
      (tid) => userToken(tid, [READ, READ_WRITE, 'User.Read']),
      ['create', 'read', 'addResult', 'delete'],
    ],
    ['a user with ThreatAssessment.Read.All only', (tid) => userToken(tid, [READ]), []],
    ['a user with an unrelated scope', (tid) => userToken(tid, ['Mail.Read']), []],
    ['a user with no scope', (tid) => userToken(tid, []), []],
    ['a user whose scope differs in case', (tid) => userToken(tid, [READ_WRITE.toLowerCase()]), []],
    ['an app with ThreatAssessment.Read.All', (tid) => appToken(tid, [READ]), ['read']],
    [
      'an app with ThreatAssessment.ReadWrite.All',
      (tid) => appToken(tid, [READ_WRITE]),
      ['read', 'addResult', 'delete'],
    ],
    [
      'an app with Read.All and ReadWrite.All',
      (tid) => appToken(tid, [READ, READ_WRITE]),
      ['read', 'addResult', 'delete'],
    ],
    ['an app with an unrelated role', (tid) => appToken(tid, ['Mail.Read']), []],
    ['an app with no role', (tid) => appToken(tid, []), []],
  ];

  describe.each(MATRIX)('%s', (who, tokenFor, allowed) => {
    it.each(ROUTES.map((route) => [route.name, route] as const))('%s', async (_, route) => {
      const own = await seedTenant(t);
      const before = await snapshot(t, own.tenantId);
      const res = await call(t, route, own, `Bearer ${await tokenFor(own.tenantId)}`);
      if (allowed.includes(route.operation)) {
        await route.expectAllowed(res, own, t);
        return;
      }
      const message =
        route.operation === 'create' && who.startsWith('an app')
          ? /^This operation does not support application-only access\.$/
          : new RegExp(`^Missing permission: this operation needs one of ${escape(needed(route.operation, who))}\\.$`);
      expectGraphError(res, 403, 'accessDenied', message);
      expect(await snapshot(t, own.tenantId)).toEqual(before);
    });
  });

  describe('createdBy, from the token', () => {
    it('is the user (oid and name) of a delegated token, in the response, on GET and in the database', async () => {
      const tenantId = randomUUID();
      const oid = randomUUID();
      const token = await userToken(tenantId, [READ_WRITE], oid, 'Ada Lovelace');
      const res = await t.http
        .post(REQUESTS)
        .set('authorization', `Bearer ${token}`)
        .send({
          ...URL_REQUEST,
          createdBy: { user: { id: 'forged', displayName: 'Mallory' }, application: { id: 'forged' } },
        });
      expect(res.status, res.text).toBe(201);
      const id = (res.body as { id: string }).id;
      expect(res.body.createdBy).toEqual({ user: { id: oid, displayName: 'Ada Lovelace' } });
      const got = await t.http.get(`${REQUESTS}/${id}`).set('authorization', `Bearer ${token}`);
      expect(got.body.createdBy).toEqual({ user: { id: oid, displayName: 'Ada Lovelace' } });
      const { rows } = await t.db.query('SELECT created_by FROM threat_assessment_requests WHERE id = $1', [id]);
      expect(rows).toEqual([{ created_by: { user: { id: oid, displayName: 'Ada Lovelace' } } }]);
    });

    it('is the user id alone when the token carries no name', async () => {
      const tenantId = randomUUID();
      const oid = randomUUID();
      const token = await mintToken({ ...TEST_SIGNING, tenantId, user: { id: oid, scopes: [READ_WRITE] } });
      const res = await t.http.post(REQUESTS).set('authorization', `Bearer ${token}`).send(URL_REQUEST);
      expect(res.status, res.text).toBe(201);
      expect(res.body.createdBy).toEqual({ user: { id: oid } });
    });
  });
});

describe('authentication with a JWKS (RS256, ES256, Entra-style issuer)', () => {
  const ISSUER_TEMPLATE = 'https://login.microsoftonline.com/{tenantid}/v2.0';
  const AUDIENCE = 'api://x';
  let t: TestApp;
  let jwks: Server;
  let keyRequests = 0;
  let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
  let ec: Awaited<ReturnType<typeof generateKeyPair>>;
  let rogue: Awaited<ReturnType<typeof generateKeyPair>>;
  let rsa384: Awaited<ReturnType<typeof generateKeyPair>>;
  let rsaPublicJwk: JWK;

  beforeAll(async () => {
    [rsa, ec, rogue, rsa384] = await Promise.all([
      generateKeyPair('RS256'),
      generateKeyPair('ES256'),
      generateKeyPair('RS256'),
      generateKeyPair('RS384'),
    ]);
    rsaPublicJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
    const keys = [rsaPublicJwk, { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' }];
    jwks = createServer((req, res) => {
      keyRequests++;
      if (req.url !== '/keys') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.address() as AddressInfo;
    t = await startTestApp({
      AUTH_HS256_SECRET: '',
      AUTH_JWKS_URI: `http://127.0.0.1:${port}/keys`,
      AUTH_ISSUER: ISSUER_TEMPLATE,
      AUTH_AUDIENCE: AUDIENCE,
    });
  });
  afterAll(async () => {
    await t.close();
    await new Promise((resolve) => jwks.close(resolve));
  });

  interface EntraToken {
    tenantId: string;
    alg?: string;
    kid?: string;
    key?: Parameters<SignJWT['sign']>[0];
    claims?: JWTPayload;
  }

  /** A v2.0 access token as Entra ID issues it: issuer of the token's own tenant, signed with a JWKS key. */
  function entraToken({ tenantId, alg = 'RS256', kid = 'rsa-1', key = rsa.privateKey, claims = {} }: EntraToken) {
    return new SignJWT({
      iss: ISSUER_TEMPLATE.replace('{tenantid}', tenantId),
      aud: AUDIENCE,
      tid: tenantId,
      oid: randomUUID(),
      name: 'Entra User',
      scp: READ_WRITE,
      ver: '2.0',
      ...claims,
    })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key);
  }

  const list = async (token: string) => t.http.get(REQUESTS).set('authorization', `Bearer ${token}`);

  it('accepts RS256 tokens: a user creates, an app with roles reads', async () => {
    const tenantId = randomUUID();
    const oid = randomUUID();
    const res = await t.http
      .post(REQUESTS)
      .set('authorization', `Bearer ${await entraToken({ tenantId, claims: { oid } })}`)
      .send(URL_REQUEST);
    expect(res.status, res.text).toBe(201);
    expect(res.body.createdBy).toEqual({ user: { id: oid, displayName: 'Entra User' } });
    const app = await entraToken({
      tenantId,
      claims: { scp: undefined, roles: [READ], azp: randomUUID(), app_displayname: 'Engine' },
    });
    const listed = await list(app);
    expect(listed.status, listed.text).toBe(200);
    expect((listed.body as { value: { id: string }[] }).value.map((r) => r.id)).toEqual([res.body.id]);
    expect(keyRequests).toBeGreaterThan(0);
  });

  it('accepts ES256 tokens', async () => {
    const tenantId = randomUUID();
    await seedTenant(
      t,
      tenantId,
      `Bearer ${await entraToken({ tenantId, alg: 'ES256', kid: 'ec-1', key: ec.privateKey })}`,
    );
    const res = await t.http
      .get(`${REQUESTS}/$count`)
      .set('authorization', `Bearer ${await entraToken({ tenantId, alg: 'ES256', kid: 'ec-1', key: ec.privateKey })}`);
    expect(res.status, res.text).toBe(200);
    expect(res.text).toBe('1');
  });

  it.each<[string, (tenantId: string) => Promise<string>, string]>([
    [
      "another tenant's issuer",
      (tenantId) => entraToken({ tenantId, claims: { iss: ISSUER_TEMPLATE.replace('{tenantid}', randomUUID()) } }),
      'The access token was issued by an untrusted issuer.',
    ],
    [
      'the literal issuer template',
      (tenantId) => entraToken({ tenantId, claims: { iss: ISSUER_TEMPLATE } }),
      'The access token was issued by an untrusted issuer.',
    ],
    [
      'the v1.0 issuer',
      (tenantId) => entraToken({ tenantId, claims: { iss: `https://sts.windows.net/${tenantId}/` } }),
      'The access token was issued by an untrusted issuer.',
    ],
    [
      'a wrong audience',
      (tenantId) => entraToken({ tenantId, claims: { aud: 'api://y' } }),
      "The access token's 'aud' claim is not accepted.",
    ],
    [
      'an unknown kid',
      (tenantId) => entraToken({ tenantId, kid: 'rogue-1', key: rogue.privateKey }),
      'No signing key matches the access token.',
    ],
    [
      'a known kid but another key',
      (tenantId) => entraToken({ tenantId, key: rogue.privateKey }),
      'The access token signature is invalid.',
    ],
    [
      'the RSA key used with the ES256 kid',
      (tenantId) => entraToken({ tenantId, kid: 'ec-1' }),
      'No signing key matches the access token.',
    ],
    [
      'HS256 signed with the HS256 test secret',
      (tenantId) => entraToken({ tenantId, alg: 'HS256', key: new TextEncoder().encode(TEST_SECRET) }),
      "The access token's signing algorithm is not accepted.",
    ],
    [
      'HS256 signed with the public RSA key as the secret (algorithm confusion)',
      async (tenantId) =>
        entraToken({ tenantId, alg: 'HS256', key: new TextEncoder().encode(await exportSPKI(rsa.publicKey)) }),
      "The access token's signing algorithm is not accepted.",
    ],
    [
      'HS256 signed with the public JWK modulus as the secret',
      (tenantId) => entraToken({ tenantId, alg: 'HS256', key: new TextEncoder().encode(String(rsaPublicJwk.n)) }),
      "The access token's signing algorithm is not accepted.",
    ],
    [
      'RS384 under a known kid',
      (tenantId) => entraToken({ tenantId, alg: 'RS384', key: rsa384.privateKey }),
      "The access token's signing algorithm is not accepted.",
    ],
    [
      'alg none',
      (tenantId) =>
        Promise.resolve(
          new UnsecuredJWT({
            tid: tenantId,
            oid: randomUUID(),
            scp: READ_WRITE,
            iss: ISSUER_TEMPLATE.replace('{tenantid}', tenantId),
            aud: AUDIENCE,
            exp: 9_999_999_999,
          }).encode(),
        ),
      "The access token's signing algorithm is not accepted.",
    ],
  ])('refuses a token with %s: 401 on create and list, nothing written', async (_, token, message) => {
    const tenantId = randomUUID();
    const authorization = `Bearer ${await token(tenantId)}`;
    expectGraphError(
      await t.http.post(REQUESTS).set('authorization', authorization).send(URL_REQUEST),
      401,
      'InvalidAuthenticationToken',
      new RegExp(`^${escape(message)}$`),
    );
    expectGraphError(
      await t.http.get(REQUESTS).set('authorization', authorization),
      401,
      'InvalidAuthenticationToken',
      new RegExp(`^${escape(message)}$`),
    );
    expect(await snapshot(t, tenantId)).toEqual({ requests: [], results: [] });
  });

  it('refuses personal Microsoft accounts with 403, though their token is valid', async () => {
    const res = await list(await entraToken({ tenantId: PERSONAL_ACCOUNT_TENANT }));
    expectGraphError(res, 403, 'accessDenied', /^Personal Microsoft accounts are not supported by this API\.$/);
  });

  it('applies the same permissions as with HS256: an app with Read.All may not create or post results', async () => {
    const tenantId = randomUUID();
    const seeded = await seedTenant(t, tenantId, `Bearer ${await entraToken({ tenantId })}`);
    const app = await entraToken({ tenantId, claims: { scp: undefined, roles: [READ], azp: randomUUID() } });
    expectGraphError(
      await t.http.post(REQUESTS).set('authorization', `Bearer ${app}`).send(URL_REQUEST),
      403,
      'accessDenied',
    );
    expectGraphError(
      await t.http.post(`${REQUESTS}/${seeded.requestId}/results`).set('authorization', `Bearer ${app}`).send(RESULT),
      403,
      'accessDenied',
    );
    expect((await snapshot(t, tenantId)).results).toEqual([seeded.resultId]);
  });
});

/** The guard's wording of what an operation needs. */
function needed(operation: Operation, who: string): string {
  const app = who.startsWith('an app');
  const permissions = operation === 'read' && app ? `${READ}, ${READ_WRITE}` : READ_WRITE;
  return `${permissions} as ${app ? 'an application role' : 'a delegated scope'}`;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('JWKS endpoint unreachable', () => {
  let t: TestApp;

  beforeAll(async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    t = await startTestApp({
      AUTH_HS256_SECRET: '',
      AUTH_JWKS_URI: `http://127.0.0.1:${port}/keys`,
      AUTH_ISSUER: 'https://login.microsoftonline.com/{tenantid}/v2.0',
      AUTH_AUDIENCE: 'api://x',
    });
  });
  afterAll(() => t.close());

  it('answers 503 serviceNotAvailable with Retry-After, not 401: the token may be valid', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const tenantId = randomUUID();
    const token = await new SignJWT({
      tid: tenantId,
      oid: randomUUID(),
      scp: 'ThreatAssessment.ReadWrite.All',
      iss: `https://login.microsoftonline.com/${tenantId}/v2.0`,
      aud: 'api://x',
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await t.http.get(REQUESTS).set('authorization', `Bearer ${token}`);
    expectGraphError(res, 503, 'serviceNotAvailable');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });
});
