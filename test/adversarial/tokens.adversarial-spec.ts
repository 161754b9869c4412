import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createFixture,
  type Fixture,
  RESULT_BODY,
  type Route,
  ROUTES,
  routeNamed,
  withoutContext,
} from './support/api.js';
import { REQUEST_BODY_LIMIT, requestsPath, STALL_BOUND_MS, VERSIONS } from './support/constants.js';
import { describeAnswer, expectAnswer } from './support/envelope.js';
import {
  deepArray,
  hasLoneSurrogate,
  hostileText,
  largeString,
  SAMPLE_REQUESTS,
  withManyKeys,
} from './support/inputs.js';
import { holds } from './support/properties.js';
import type { HeaderList } from './support/raw-client.js';
import { classOfInputs } from './support/suite.js';
import {
  HS256,
  newTenant,
  PERSONAL_ACCOUNT_TENANT,
  READ,
  READ_WRITE,
  signJwt,
  type Tenant,
  userClaims,
} from './support/tokens.js';

/**
 * Issue points 1 and 3 (token claims): identity before work. Without a valid token nothing of the
 * request is read or parsed: 401 at once, whatever the body, its size or its content type.
 */
describe('(a) tokens: identity before work', () => {
  const { figures, client } = classOfInputs('tokens', '(a) tokens');
  let owner: Tenant;
  let ids: Fixture;

  beforeAll(async () => {
    owner = await newTenant();
    ids = await createFixture(client, owner);
  });

  const PROTECTED = ROUTES.filter((route) => route.name !== 'unknown path').map((route) => route.name);
  // Routes by name, so that a counterexample reads as one.
  const route = fc.constantFrom(...ROUTES.map((r) => r.name));
  const version = fc.constantFrom(...VERSIONS);

  /** Authorization values that must never authenticate; each names itself in a failure. */
  const invalidAuthorization: fc.Arbitrary<{ what: string; header?: string }> = fc.oneof(
    fc.constant({ what: 'no Authorization header' }),
    fc
      .constantFrom(
        '',
        'Bearer',
        'Bearer ',
        'Basic dXNlcjpwYXNz',
        'Token abc',
        'Bearer a.b',
        'Bearer a.b.c.d',
        'Bearer ....',
        'Bearer  x.y.z',
        'bearer x.y.z',
        'Bearer eyJhbGciOiJIUzI1NiJ9.e30.',
      )
      .map((header) => ({ what: `Authorization ${JSON.stringify(header)}`, header })),
    fc
      .stringMatching(/^[\x21-\x7e]{1,300}$/)
      .map((s) => ({ what: `Bearer ${JSON.stringify(s.slice(0, 60))}`, header: `Bearer ${s}` })),
    fc
      .constantFrom(
        'signed with another secret',
        'alg none',
        'alg HS512 claimed',
        'alg RS256 claimed',
        'expired an hour ago',
        'valid only from next hour',
        'no exp',
        'no tid',
        'tid not a GUID',
        'no oid nor sub',
        'payload not JSON',
        'payload an array',
        'signature cut short',
        'signature of another token',
      )
      .map((what) => ({ what, header: `Bearer ${hostileToken(what)}` })),
    // Under the 16 KiB header section Node accepts: what is refused here is the token, not the transport.
    fc.integer({ min: 8 * 1024, max: 15 * 1024 }).map((bytes) => ({
      what: `a ${bytes}-byte token signed with another secret`,
      header: `Bearer ${signJwt(HS256, userClaims({ pad: 'x'.repeat(bytes) }), 'another-secret').slice(0, bytes)}`,
    })),
  );

  const b64 = (text: string) => Buffer.from(text).toString('base64url');

  function hostileToken(kind: string): string {
    const now = Math.floor(Date.now() / 1000);
    const claims = userClaims({ tid: owner.tenantId });
    const signed = signJwt(HS256, claims);
    switch (kind) {
      case 'signed with another secret':
        return signJwt(HS256, claims, 'another-secret-another-secret-another');
      case 'alg none':
        return `${b64('{"alg":"none","typ":"JWT"}')}.${b64(JSON.stringify(claims))}.`;
      case 'alg HS512 claimed':
        return signJwt({ alg: 'HS512', typ: 'JWT' }, claims);
      case 'alg RS256 claimed':
        return signJwt({ alg: 'RS256', typ: 'JWT' }, claims);
      case 'expired an hour ago':
        return signJwt(HS256, { ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 3600 });
      case 'valid only from next hour':
        return signJwt(HS256, { ...claims, nbf: now + 3600, exp: now + 7200 });
      case 'no exp':
        return signJwt(HS256, userClaims({ tid: owner.tenantId, exp: undefined }));
      case 'no tid':
        return signJwt(HS256, userClaims({ tid: undefined }));
      case 'tid not a GUID':
        return signJwt(HS256, userClaims({ tid: 'contoso.onmicrosoft.com' }));
      case 'no oid nor sub':
        return signJwt(HS256, userClaims({ tid: owner.tenantId, oid: undefined, sub: undefined }));
      case 'payload not JSON':
        return signJwt(HS256, Buffer.from('{"tid":'));
      case 'payload an array':
        return signJwt(HS256, Buffer.from(JSON.stringify([claims])));
      case 'signature cut short':
        return signed.slice(0, -5);
      case 'signature of another token':
        return `${signed.split('.').slice(0, 2).join('.')}.${owner.token.split('.')[2]}`;
      default:
        throw new Error(`no token kind ${kind}`);
    }
  }

  type Shape =
    | { shape: 'none' | 'empty' | 'valid' }
    | { shape: 'text'; text: string }
    | { shape: 'deep'; depth: number }
    | { shape: 'keys'; count: number }
    | { shape: 'string'; bytes: number }
    | { shape: 'binary'; bytes: number };
  const shapes: fc.Arbitrary<Shape> = fc.oneof(
    fc.constantFrom<Shape>({ shape: 'none' }, { shape: 'empty' }, { shape: 'valid' }),
    fc
      .constantFrom('{', '{"a":', 'null', '[]', 'x', '\u0000', '{"__proto__":{"x":1}}', 'a=b&c=d')
      .map((text): Shape => ({ shape: 'text', text })),
    fc.integer({ min: 100, max: 10_000 }).map((depth): Shape => ({ shape: 'deep', depth })),
    fc.integer({ min: 1000, max: 50_000 }).map((count): Shape => ({ shape: 'keys', count })),
    fc.integer({ min: 1024, max: 1024 * 1024 }).map((bytes): Shape => ({ shape: 'string', bytes })),
    fc.integer({ min: 1, max: 64 * 1024 }).map((bytes): Shape => ({ shape: 'binary', bytes })),
  );
  const contentType = fc.constantFrom(
    undefined,
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    'application/json; charset=utf-16',
    ';;;',
    'application/xml',
  );

  function bodyOf(shape: Shape, target: Route): Buffer | undefined {
    const sample = target.body === 'result' ? RESULT_BODY : SAMPLE_REQUESTS.url;
    switch (shape.shape) {
      case 'none':
        return undefined;
      case 'empty':
        return Buffer.alloc(0);
      case 'valid':
        return Buffer.from(JSON.stringify(sample));
      case 'text':
        return Buffer.from(shape.text);
      case 'deep':
        return Buffer.from(deepArray(shape.depth));
      case 'keys':
        return Buffer.from(withManyKeys(sample, shape.count));
      case 'string':
        return Buffer.from(`{"message":${largeString(shape.bytes)}}`);
      case 'binary':
        return Buffer.from(Array.from({ length: shape.bytes }, (_, i) => (i * 131 + 7) % 256));
    }
  }

  const headersFor = (authorization: string | undefined, type: string | undefined): HeaderList => [
    ...(authorization === undefined ? [] : [['authorization', authorization] as const]),
    ...(type === undefined ? [] : [['content-type', type] as const]),
  ];

  it('a request without a valid token answers 401 InvalidAuthenticationToken in the envelope within 250 ms, whatever its route, body and content type', async () => {
    await holds(
      figures,
      'invalid tokens × routes × bodies × content types',
      fc.record({ auth: invalidAuthorization, route, version, shape: shapes, contentType }),
      async ({ auth, route: name, version: v, shape, contentType: type }) => {
        const target = routeNamed(name);
        const body = bodyOf(shape, target);
        const what = `${target.method} ${target.name} (${v}) with ${auth.what}, body ${JSON.stringify(shape)} (${body?.length ?? 0} B) as ${type}`;
        const answer = await client.send(
          // The body waits 20 ms behind the head: a server that answers from the head alone needs none of it.
          {
            method: target.method,
            target: target.path(v, ids),
            headers: headersFor(auth.header, type),
            body,
            pauseBeforeBodyMs: 20,
          },
          what,
        );
        // An unknown path may say so before asking who calls; anything else needs the token first.
        const statuses = target.name === 'unknown path' ? [401, 404] : [401];
        expectAnswer(answer, what, { statuses, maxMs: STALL_BOUND_MS, maxHeadMs: STALL_BOUND_MS });
      },
      { numRuns: 1000, maxMs: 60_000 },
    );
  });

  it('a token whose name, oid or tid holds NUL is 401; other hostile characters are 401 or stored exactly as the claim said', async () => {
    const claimValue = fc.oneof(
      fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfff', '\u0001', '\u001f\u007f', '\u202e'),
      hostileText,
    );
    const targets = ['create request', 'list requests', 'get request', 'add result'];
    await holds(
      figures,
      'hostile characters in token claims',
      fc.record({
        claim: fc.constantFrom('name', 'oid', 'tid'),
        value: claimValue,
        route: fc.constantFrom(...targets),
        version,
      }),
      async ({ claim, value, route: name, version: v }) => {
        const target = routeNamed(name);
        const claims = userClaims({
          tid: owner.tenantId,
          [claim]: claim === 'tid' ? `${owner.tenantId}${value}` : value,
        });
        const token = signJwt(HS256, claims);
        const what = `${target.method} ${target.name} (${v}) with ${claim} claim ${JSON.stringify(value)}`;
        const answer = await client.call(
          target.method,
          target.path(v, ids),
          { token, json: target.body === 'request' ? SAMPLE_REQUESTS.url : target.body ? RESULT_BODY : undefined },
          what,
        );
        expectAnswer(answer, what, { statuses: [200, 201, 401], maxMs: 1000 });
        if (answer.status === 401) return;
        if (claim === 'tid' || value.includes('\u0000')) {
          throw new Error(
            `${what}\n  → accepted (${answer.status}): a claim PostgreSQL cannot store, or a tenant that is not a GUID, must be 401`,
          );
        }
        if (target.name !== 'create request') return;
        // Stored: the creator is echoed exactly as the token named it, and read back the same.
        const created = answer.json as { id: string; createdBy: { user: { id: string; displayName?: string } } };
        const echoed = claim === 'oid' ? created.createdBy.user.id : created.createdBy.user.displayName;
        const read = await client.call(
          'GET',
          `${requestsPath(v)}/${created.id}`,
          { token: owner.token },
          `${what}: read back`,
        );
        const problems = [
          ...(echoed === value ? [] : [`createdBy echoes ${JSON.stringify(echoed)}`]),
          ...(JSON.stringify(withoutContext(read.json)) === JSON.stringify(withoutContext(created))
            ? []
            : [`a later GET answers ${describeAnswer(read)}`]),
        ];
        if (problems.length > 0) {
          throw new Error(
            `${what}\n  → 201 but not stored faithfully${hasLoneSurrogate(value) ? ' (lone surrogate)' : ''}: ${problems.join('; ')}`,
          );
        }
      },
      { numRuns: 400, maxMs: 45_000, shrink: true },
    );
  });

  it('a valid token that lacks the permission answers 403 accessDenied', async () => {
    const app = (roles: string[]) =>
      userClaims({ tid: owner.tenantId, scp: undefined, idtyp: 'app', azp: randomUUID(), roles });
    const WRITES = ['create request', 'delete request', 'add result', 'add result ($ref)'];
    const callers: Record<string, { claims: () => Record<string, unknown>; routes: string[] }> = {
      'a user with User.Read only': {
        claims: () => userClaims({ tid: owner.tenantId, scp: 'User.Read' }),
        routes: PROTECTED,
      },
      'a user with an empty scp': { claims: () => userClaims({ tid: owner.tenantId, scp: '' }), routes: PROTECTED },
      'an application with no roles': { claims: () => app([]), routes: PROTECTED },
      'an application with Read only': { claims: () => app([READ]), routes: WRITES },
      'a personal account': {
        claims: () => userClaims({ tid: PERSONAL_ACCOUNT_TENANT, scp: READ_WRITE }),
        routes: PROTECTED,
      },
    };
    await holds(
      figures,
      'valid tokens without the permission',
      fc.record({ caller: fc.constantFrom(...Object.keys(callers)), pick: fc.nat(), version }),
      async ({ caller: who, pick, version: v }) => {
        const caller = callers[who];
        const target = routeNamed(caller.routes[pick % caller.routes.length]);
        const what = `${target.method} ${target.name} (${v}) as ${who}`;
        const answer = await client.call(
          target.method,
          target.path(v, ids),
          {
            token: signJwt(HS256, caller.claims()),
            json: target.body === 'request' ? SAMPLE_REQUESTS.url : target.body ? RESULT_BODY : undefined,
          },
          what,
        );
        expectAnswer(answer, what, { statuses: [403], maxMs: STALL_BOUND_MS });
      },
      { numRuns: 150, shrink: true },
    );
  });

  it("another tenant's token finds nothing of the owner's: 404 itemNotFound on items, empty lists, nothing deleted", async () => {
    const other = await newTenant();
    const targets = PROTECTED.filter((name) => name !== 'create request');
    await holds(
      figures,
      "another tenant's token on the owner's ids",
      fc.record({ route: fc.constantFrom(...targets), version }),
      async ({ route: name, version: v }) => {
        const target = routeNamed(name);
        const what = `${target.method} ${target.name} (${v}) with another tenant's token`;
        const answer = await client.call(
          target.method,
          target.path(v, ids),
          { token: other.token, json: target.body === 'result' ? RESULT_BODY : undefined },
          what,
        );
        if (target.item) return expectAnswer(answer, what, { statuses: [404], maxMs: 1000 });
        expectAnswer(answer, what, { statuses: [200], maxMs: 1000 });
        const seen =
          target.name === 'count requests' ? answer.text : JSON.stringify((answer.json as { value?: unknown })?.value);
        if (seen !== (target.name === 'count requests' ? '0' : '[]')) throw new Error(`${what}\n  → sees ${seen}`);
      },
      { numRuns: 100, shrink: true },
    );
    const still = await client.call('GET', `${requestsPath()}/${ids.requestId}/results/${ids.resultId}`, {
      token: owner.token,
    });
    expect(still.status, describeAnswer(still)).toBe(200);
  });

  it('an 8 MiB body without a token is answered 401 within 250 ms, before the server has needed it', async () => {
    const body = Buffer.alloc(REQUEST_BODY_LIMIT, ' ');
    const json: HeaderList = [['content-type', 'application/json']];
    const observed: Record<string, unknown>[] = [];
    const problems: string[] = [];
    for (const name of ['create request', 'add result', 'delete request', 'list requests']) {
      const target = routeNamed(name);
      const path = target.path('v1.0', ids);
      const empty = await client.send(
        { method: target.method, target: path, headers: json, body: '' },
        `${name}: no token, empty body`,
      );
      // 64 KiB of the 8 MiB announced, then nothing: a server that waits for the body never answers.
      const stalled = await client.send(
        { method: target.method, target: path, headers: json, body, stallAfterBytes: 64 * 1024, timeoutMs: 2000 },
        `${name}: no token, 8 MiB announced, 64 KiB sent`,
      );
      // The whole body, 128 KiB every 5 ms: the status line must come while it is still being written.
      const streamed = await client.send(
        {
          method: target.method,
          target: path,
          headers: json,
          body,
          chunkBytes: 128 * 1024,
          chunkDelayMs: 5,
          timeoutMs: 5000,
        },
        `${name}: no token, 8 MiB streamed`,
      );
      for (const [what, answer] of [
        ['empty body', empty],
        ['8 MiB announced, 64 KiB sent', stalled],
        ['8 MiB streamed', streamed],
      ] as const) {
        try {
          expectAnswer(answer, `${target.method} ${name} without a token, ${what}`, {
            statuses: [401],
            maxMs: 5000,
            maxHeadMs: STALL_BOUND_MS,
          });
        } catch (error) {
          problems.push((error as Error).message);
        }
      }
      if (streamed.status === 401 && streamed.sentBytesAtHead >= streamed.requestBytes) {
        problems.push(
          `${target.method} ${name}: the 401 came only after all ${streamed.requestBytes} bytes were written`,
        );
      }
      observed.push({
        route: name,
        emptyMs: Math.round(empty.headMs),
        stalled: stalled.status || 'none',
        stalledMs: Math.round(stalled.headMs),
        streamedMs: Math.round(streamed.headMs),
        streamedBytesBeforeStatus: streamed.sentBytesAtHead,
      });
    }
    figures.data.extra.eightMiBWithoutToken = observed;
    expect(problems, JSON.stringify(observed)).toEqual([]);
  });

  it('Expect: 100-continue without a token is answered 401 at once, not invited to send its 8 MiB', async () => {
    const answer = await client.send(
      {
        method: 'POST',
        target: requestsPath(),
        headers: [
          ['content-type', 'application/json'],
          ['expect', '100-continue'],
          ['content-length', String(REQUEST_BODY_LIMIT)],
        ],
        timeoutMs: 2000,
      },
      'POST create request without a token, Expect: 100-continue, no body sent',
    );
    figures.data.extra.expectContinue = {
      status: answer.status,
      interim: answer.interim,
      ms: Math.round(answer.headMs),
    };
    expectAnswer(answer, 'Expect: 100-continue without a token', {
      statuses: [401],
      maxMs: 2000,
      maxHeadMs: STALL_BOUND_MS,
    });
  });

  it('health probes need no token and ignore any Authorization header', async () => {
    await holds(
      figures,
      'health probes with hostile tokens',
      fc.record({ auth: invalidAuthorization, path: fc.constantFrom('/health/live', '/health/ready') }),
      async ({ auth, path }) => {
        const what = `GET ${path} with ${auth.what}`;
        const answer = await client.send({ target: path, headers: headersFor(auth.header, undefined) }, what);
        expectAnswer(answer, what, { statuses: [200], maxMs: STALL_BOUND_MS });
      },
      { numRuns: 30, shrink: true },
    );
  });
});
