import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectGraphError, FILE_REQUEST, MAIL_REQUEST } from '../support/graph.js';
import { countRows, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

describe('Bounds, headers, CORS, metrics and docs exposure', () => {
  let t: TestApp;
  let tenant: TestIdentity;

  beforeAll(async () => {
    t = await startTestApp({ BODY_LIMIT_BYTES: String(64 * 1024), CORS_ORIGINS: 'https://portal.contoso.com' });
    tenant = await newTenant();
  });
  afterAll(() => t.close());

  it('answers 413 requestEntityTooLarge above the body limit, and writes nothing', async () => {
    const body = { ...FILE_REQUEST, contentData: Buffer.alloc(70 * 1024, 1).toString('base64') };
    const res = await t.http.post(REQUESTS).set('authorization', `Bearer ${tenant.token}`).send(body);
    expectGraphError(res, 413, 'requestEntityTooLarge');
    expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(0);
  });

  it('accepts contentData up to the limit and stores only its size and digest', async () => {
    const bytes = Buffer.alloc(40 * 1024, 7);
    const res = await t.http
      .post(REQUESTS)
      .set('authorization', `Bearer ${tenant.token}`)
      .send({ ...FILE_REQUEST, contentData: bytes.toString('base64') });
    expect(res.status).toBe(201);
    const { rows } = await t.db.query('SELECT content_size FROM threat_assessment_requests WHERE id = $1', [
      res.body.id,
    ]);
    expect(rows[0].content_size).toBe(bytes.length);
  });

  it.each([
    ['text/plain', 'x'],
    ['application/x-www-form-urlencoded', 'a=b'],
    ['application/xml', '<a/>'],
  ])('answers 415 unsupportedMediaType for %s', async (type, text) => {
    const res = await t.http
      .post(REQUESTS)
      .set('authorization', `Bearer ${tenant.token}`)
      .set('content-type', type)
      .send(text);
    expectGraphError(res, 415, 'unsupportedMediaType');
  });

  it('answers 400 for oversized strings', async () => {
    const res = await t.http
      .post(REQUESTS)
      .set('authorization', `Bearer ${tenant.token}`)
      .send({ ...MAIL_REQUEST, recipientEmail: `${'a'.repeat(400)}@contoso.com` });
    expectGraphError(res, 400, 'invalidRequest');
    expect(res.body.error.details.map((d: { target: string }) => d.target)).toContain('recipientEmail');
  });

  it('sets security headers on every response, with a CSP that lets Swagger UI load', async () => {
    for (const path of [REQUESTS, '/docs', '/health/live', '/nope']) {
      const res = await t.get(path, tenant).redirects(1);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      const csp = res.headers['content-security-policy'];
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('upgrade-insecure-requests');
    }
  });

  it('allows CORS only for the configured origins', async () => {
    const allowed = await t.http
      .options(REQUESTS)
      .set('origin', 'https://portal.contoso.com')
      .set('access-control-request-method', 'POST')
      .set('access-control-request-headers', 'authorization,content-type');
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://portal.contoso.com');
    expect(allowed.headers['access-control-allow-headers']).toContain('authorization');
    const simple = await t.http
      .get(REQUESTS)
      .set('origin', 'https://portal.contoso.com')
      .set('authorization', `Bearer ${tenant.token}`);
    expect(simple.headers['access-control-expose-headers']).toContain('request-id');
    const denied = await t.http
      .get(REQUESTS)
      .set('origin', 'https://evil.example')
      .set('authorization', `Bearer ${tenant.token}`);
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('exposes Prometheus metrics: request durations by route template and status, pool gauges', async () => {
    await t.get(`${REQUESTS}/0f8fad5b-d9cb-469f-a165-70867728950e`, tenant);
    const res = await t.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(
      /^http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/v1.0\/informationProtection\/threatAssessmentRequests\/:id",status="404"\} \d+/m,
    );
    expect(res.text).toMatch(/^db_pool_connections_total \d+/m);
    expect(res.text).toMatch(/^db_pool_requests_waiting 0/m);
    expect(res.text).toMatch(/^db_up 1/m);
  });
});

describe('DOCS_ENABLED=false', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ DOCS_ENABLED: 'false' });
  });
  afterAll(() => t.close());

  it('serves neither Swagger UI nor the document', async () => {
    for (const path of ['/docs', '/docs-json']) expectGraphError(await t.http.get(path), 404, 'itemNotFound');
  });
});
