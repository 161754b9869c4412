import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_LIMITS } from '../../src/common/http/json-shape.js';
import { SECURITY_HEADERS } from '../../src/common/http/security-headers.js';
import { MAX_ERROR_DETAILS } from '../../src/common/validation/graph-validation.pipe.js';
import { expectGraphError, FILE_REQUEST, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { rawRequest, type RawResponse } from '../support/raw-client.js';
import { countRows, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity, userToken } from '../support/tokens.js';
import { PERMISSIONS } from '../../src/auth/caller.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const bearer = (who: TestIdentity) => `Bearer ${who.token}`;

/** Graph's envelope, the correlation headers and the security headers, on a response read off the socket. */
function expectRawGraphError(res: RawResponse, status: number, code = 'invalidRequest') {
  expect(res.status, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['request-id']).toMatch(GUID);
  expect(res.headers['client-request-id']).toBeTruthy();
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers[name], name).toBe(value);
  const body = JSON.parse(res.body) as { error: { code: string; message: string; innerError: object } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(body.error.innerError).toEqual({
    date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/),
    'request-id': res.headers['request-id'],
    'client-request-id': res.headers['client-request-id'],
  });
  expect(res.body).not.toMatch(/FST_|statusCode/);
}

describe('hostile input', () => {
  let t: TestApp;
  let port: number;
  let tenant: TestIdentity;

  beforeAll(async () => {
    t = await startTestApp({ BODY_LIMIT_BYTES: String(8 * 1024 * 1024) });
    const server = t.app.getHttpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    tenant = await newTenant();
  });
  afterAll(() => t.close());

  const head = (method: string, path: string, headers: Record<string, string | number> = {}) =>
    [
      `${method} ${path} HTTP/1.1`,
      ...Object.entries({ host: '127.0.0.1', connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}`),
    ].join('\r\n');

  describe('identity before work', () => {
    it('answers 401 to a POST without a token before its declared 8 MB body is sent', async () => {
      const res = await rawRequest(
        port,
        head('POST', REQUESTS, { 'content-type': 'application/json', 'content-length': 8 * 1024 * 1024 }),
        '',
        { sendBody: false },
      );
      expectRawGraphError(res, 401, 'InvalidAuthenticationToken');
      expect(res.headers.connection).toBe('close');
    });

    it('answers 401 to a forged token on the results route before its body is sent', async () => {
      const forged = await userToken(tenant.tenantId, [PERMISSIONS.readWrite]);
      const res = await rawRequest(
        port,
        head('POST', `${REQUESTS}/${crypto.randomUUID()}/results`, {
          authorization: `Bearer ${forged.slice(0, -4)}AAAA`,
          'content-type': 'application/json',
          'content-length': 1_000_000,
        }),
        '',
        { sendBody: false },
      );
      expectRawGraphError(res, 401, 'InvalidAuthenticationToken');
    });

    it.each([
      ['text/plain', 'not json at all'],
      ['application/json', '{"broken":'],
      ['application/xml', '<a/>'],
    ])('answers 401, not 400 or 415, to a %s body without a token', async (type, body) => {
      const res = await t.http.post(REQUESTS).set('content-type', type).send(body);
      expectGraphError(res, 401, 'InvalidAuthenticationToken');
    });

    it('still answers 404 to an unknown path and 405 to a known path with another method, without a token', async () => {
      expectGraphError(await t.http.post('/v1.0/nowhere').send({ a: 1 }), 404, 'itemNotFound');
      const res = await t.http.patch(REQUESTS).send({ a: 1 });
      expectGraphError(res, 405, 'notAllowed');
      expect(res.headers.allow).toBe('GET, POST');
    });
  });

  describe('bounded cost of refusal', () => {
    it('refuses a body of 200,000 unknown keys with a small answer naming the first problems', async () => {
      const body = `{${Array.from({ length: 200_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
      const res = await t.http
        .post(REQUESTS)
        .set('authorization', bearer(tenant))
        .set('content-type', 'application/json')
        .send(body);
      expectGraphError(res, 400, 'invalidRequest', new RegExp(`more than ${JSON_LIMITS.maxValues} properties`));
      expect(res.text.length).toBeLessThan(1024);
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(0);
    });

    it('refuses nesting 100,000 levels deep', async () => {
      const body = `{"category":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
      const res = await t.http
        .post(REQUESTS)
        .set('authorization', bearer(tenant))
        .set('content-type', 'application/json')
        .send(body);
      expectGraphError(res, 400, 'invalidRequest', /deeper than 32 levels/);
    });

    it(`names at most ${MAX_ERROR_DETAILS} problems, and says how many more there are`, async () => {
      const extra = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`unknown${i}${'x'.repeat(500)}`, i]));
      const res = await t.http
        .post(REQUESTS)
        .set('authorization', bearer(tenant))
        .send({ ...URL_REQUEST, ...extra });
      expectGraphError(res, 400, 'invalidRequest', /; and 497 more problems$/);
      expect(res.body.error.details).toHaveLength(MAX_ERROR_DETAILS);
      expect(res.text.length).toBeLessThan(8 * 1024);
    });

    it('gives the results route a small body limit: 413 above 32 KiB, whatever the token', async () => {
      const request = await t.http.post(REQUESTS).set('authorization', bearer(tenant)).send(MAIL_REQUEST);
      const res = await t.http
        .post(`${REQUESTS}/${request.body.id}/results`)
        .set('authorization', bearer(tenant))
        .send({ resultType: 'rescan', message: 'x'.repeat(40 * 1024) });
      expectGraphError(res, 413, 'requestEntityTooLarge');
      expect(await countRows(t.db, 'threat_assessment_results', tenant.tenantId)).toBe(0);
    });

    it('takes megabytes of contentData on create only', async () => {
      const contentData = Buffer.alloc(3 * 1024 * 1024, 1).toString('base64');
      const created = await t.http
        .post(REQUESTS)
        .set('authorization', bearer(tenant))
        .send({ ...FILE_REQUEST, contentData });
      expect(created.status, created.text).toBe(201);
      const res = await t.http
        .delete(`${REQUESTS}/${created.body.id}`)
        .set('authorization', bearer(tenant))
        .set('content-type', 'application/json')
        .send({ contentData });
      expectGraphError(res, 413, 'requestEntityTooLarge');
    });
  });

  describe('every character stored faithfully or refused clearly', () => {
    it.each([
      ['a NUL in message', { resultType: 'rescan', message: 'a\u0000b' }],
      ['a lone high surrogate in message', { resultType: 'rescan', message: 'a\ud800b' }],
      ['a lone low surrogate in message', { resultType: 'rescan', message: '\udfff' }],
      ['a NUL in a key', { resultType: 'rescan', message: 'x', 'a\u0000': 1 }],
    ])('answers 400 to %s of a result, and writes nothing', async (_, body) => {
      const request = await t.http.post(REQUESTS).set('authorization', bearer(tenant)).send(MAIL_REQUEST);
      const before = await countRows(t.db, 'threat_assessment_results', tenant.tenantId);
      const res = await t.http
        .post(`${REQUESTS}/${request.body.id}/results`)
        .set('authorization', bearer(tenant))
        .send(body);
      expectGraphError(res, 400, 'invalidRequest', /NUL|surrogate/);
      expect(await countRows(t.db, 'threat_assessment_results', tenant.tenantId)).toBe(before);
    });

    it.each([
      ['url', { ...URL_REQUEST, url: 'http://test.com/\u0000' }],
      ['messageUri', { ...MAIL_REQUEST, messageUri: `${MAIL_REQUEST.messageUri}\u0000` }],
      ['recipientEmail', { ...MAIL_REQUEST, recipientEmail: 'a\ud800@contoso.com' }],
      ['fileName', { ...FILE_REQUEST, fileName: 'a\u0000.txt' }],
    ])('answers 400 to a NUL or lone surrogate in %s', async (_, body) => {
      const before = await countRows(t.db, 'threat_assessment_requests', tenant.tenantId);
      const res = await t.http.post(REQUESTS).set('authorization', bearer(tenant)).send(body);
      expectGraphError(res, 400, 'invalidRequest');
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(before);
    });

    it('stores astral, combining, right-to-left and control characters exactly as echoed', async () => {
      const message = 'verdict \ud83d\udca3 e\u0301 \u202eevil\u202c \u0007\t\r\n \uffff \ufeff end';
      const request = await t.http.post(REQUESTS).set('authorization', bearer(tenant)).send(MAIL_REQUEST);
      const created = await t.http
        .post(`${REQUESTS}/${request.body.id}/results`)
        .set('authorization', bearer(tenant))
        .send({ resultType: 'rescan', message });
      expect(created.status, created.text).toBe(201);
      expect(created.body.message).toBe(message);
      const read = await t.http
        .get(created.headers.location.replace(/^https?:\/\/[^/]+/, ''))
        .set('authorization', bearer(tenant));
      expect(read.body).toEqual(
        expect.objectContaining({ id: created.body.id, message, createdDateTime: created.body.createdDateTime }),
      );
    });

    it.each([
      ['a NUL in a $filter literal', `$filter=${encodeURIComponent("resultType eq 'a\u0000'")}`],
      ['a NUL in $select', '$select=id%00'],
      ['an encoded lone surrogate in $filter', "$filter=resultType%20eq%20'%ED%A0%80'"],
      ['a NUL in an ignored parameter', 'other=%00'],
      ['a NUL in a parameter name', 'a%00=1'],
    ])('answers 400 to %s', async (_, query) => {
      const request = await t.http.post(REQUESTS).set('authorization', bearer(tenant)).send(MAIL_REQUEST);
      const res = await t.http
        .get(`${REQUESTS}/${request.body.id}/results?${query}`)
        .set('authorization', bearer(tenant));
      expectGraphError(res, 400, 'invalidRequest');
    });

    it.each([
      ['name', { displayName: 'Ada\u0000' }],
      ['name', { displayName: 'Ada\ud800' }],
      ['oid', { userId: 'user\u0000id' }],
    ])("answers 401 to a token whose '%s' claim cannot be stored", async (_, claims) => {
      const token = await userToken(
        tenant.tenantId,
        [PERMISSIONS.readWrite],
        'userId' in claims ? claims.userId : crypto.randomUUID(),
        'displayName' in claims ? claims.displayName : 'Ada',
      );
      const res = await t.http.post(REQUESTS).set('authorization', `Bearer ${token}`).send(URL_REQUEST);
      expectGraphError(res, 401, 'InvalidAuthenticationToken', /NUL or an unpaired surrogate/);
    });
  });

  describe('the envelope everywhere', () => {
    it.each([
      ['malformed percent-encoding in the path', 'GET', `${REQUESTS}/%E0%A4%A`, 400],
      ['a path parameter over the router limit', 'GET', `${REQUESTS}/${'a'.repeat(500)}`, 414],
      ['an unsupported method', 'PROPFIND', REQUESTS, 405],
      ['TRACE', 'TRACE', REQUESTS, 405],
    ])('answers %s in the envelope', async (_, method, path, status) => {
      const res = await rawRequest(port, head(method, path, { authorization: bearer(tenant) }));
      expectRawGraphError(res, status, status === 405 ? 'notAllowed' : 'invalidRequest');
    });

    it('answers a request line Node refuses (an unknown method) in the envelope', async () => {
      expectRawGraphError(await rawRequest(port, head('FOO', REQUESTS)), 400);
    });

    it('answers an Expect other than 100-continue 417 in the envelope', async () => {
      expectRawGraphError(await rawRequest(port, head('GET', '/health/live', { expect: 'something-else' })), 417);
    });

    it('answers a path that climbs out of the documentation folder in the envelope', async () => {
      expectRawGraphError(await rawRequest(port, head('GET', '/docs/%2e%2e/%2e%2e/etc/passwd')), 403, 'accessDenied');
    });

    it('answers headers over the limit 431 in the envelope', async () => {
      const res = await rawRequest(port, head('GET', REQUESTS, { 'x-filler': 'x'.repeat(20_000) }));
      expectRawGraphError(res, 431);
    });

    it('answers a URL longer than the header limit 431 in the envelope', async () => {
      expectRawGraphError(await rawRequest(port, head('GET', `${REQUESTS}?$filter=${'a'.repeat(20_000)}`)), 431);
    });

    it.each([
      ['missing', ''],
      ['malformed', 'host: exa mple.com'],
      ['with a path', 'host: example.com/v1.0'],
      ['with a bad port', 'host: example.com:99999'],
    ])('answers a %s Host 400 in the envelope', async (_, host) => {
      const lines = [`GET /health/live HTTP/1.1`, 'connection: close', ...(host ? [host] : [])].join('\r\n');
      const res = await rawRequest(port, lines);
      expectRawGraphError(res, 400);
      expect(JSON.parse(res.body).error.message).toMatch(/^The Host header is (missing|malformed)\.$/);
    });

    it('answers two Host headers 400 in the envelope', async () => {
      const res = await rawRequest(
        port,
        'GET /health/live HTTP/1.1\r\nhost: a.example\r\nhost: b.example\r\nconnection: close',
      );
      expectRawGraphError(res, 400);
      expect(JSON.parse(res.body).error.message).toBe('The request names more than one Host.');
    });

    it('answers CONNECT 405 in the envelope: this is no proxy', async () => {
      const res = await rawRequest(port, 'CONNECT evil.example:443 HTTP/1.1\r\nhost: evil.example:443');
      expectRawGraphError(res, 405, 'notAllowed');
    });

    it('accepts an HTTP/1.0 request without Host, as HTTP/1.0 allows', async () => {
      const res = await rawRequest(port, 'GET /health/live HTTP/1.0');
      expect(res.status).toBe(200);
    });
  });
});

describe('links from an allowed Host only', () => {
  let t: TestApp;
  let tenant: TestIdentity;

  beforeAll(async () => {
    t = await startTestApp({ PUBLIC_BASE_URL: '', ALLOWED_HOSTS: 'api.contoso.com,localhost:8443' });
    tenant = await newTenant();
  });
  afterAll(() => t.close());

  it('writes links from an allowed Host, with any port when the entry names none', async () => {
    const res = await t.http
      .post(REQUESTS)
      .set('host', 'API.contoso.com:9000')
      .set('authorization', bearer(tenant))
      .send(URL_REQUEST);
    expect(res.status, res.text).toBe(201);
    expect(res.headers.location).toBe(`http://api.contoso.com:9000${REQUESTS}/${res.body.id}`);
  });

  it.each(['evil.example', 'localhost:9999', 'api.contoso.com.evil.example'])(
    'refuses an API request for Host %s before doing anything',
    async (host) => {
      const res = await t.http.post(REQUESTS).set('host', host).set('authorization', bearer(tenant)).send(URL_REQUEST);
      expectGraphError(res, 400, 'invalidRequest', /names a host this service does not serve/);
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(1);
    },
  );

  it('answers health probes for any well-formed Host: they write no links', async () => {
    const res = await t.http.get('/health/live').set('host', '10.1.2.3:3000');
    expect(res.status).toBe(200);
  });
});
