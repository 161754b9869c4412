import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from 'supertest';
import { loadConfig } from '../../src/config/app-config.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';
import { countRows, PUBLIC_BASE, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { expectGraphError, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PATH = 'informationProtection/threatAssessmentRequests';
const BETA = `/beta/${PATH}`;

const bearer = (who: TestIdentity) => `Bearer ${who.token}`;

describe('routes, versions, correlation and public links', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const create = async (who: TestIdentity, body: object = MAIL_REQUEST, base = REQUESTS) => {
    const res = await t.http.post(base).set('authorization', bearer(who)).send(body);
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string } & Record<string, unknown>;
  };
  const addResult = async (who: TestIdentity, requestId: string) => {
    const res = await t.http
      .post(`${REQUESTS}/${requestId}/results`)
      .set('authorization', bearer(who))
      .send({ resultType: 'rescan', message: 'x' });
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string } & Record<string, unknown>;
  };

  describe('/beta', () => {
    it('creates a request and writes /beta into Location and @odata.context', async () => {
      const tenant = await newTenant();
      const res = await t.http.post(BETA).set('authorization', bearer(tenant)).send(URL_REQUEST);
      expect(res.status, res.text).toBe(201);
      expect(res.body['@odata.context']).toBe(`${PUBLIC_BASE}/beta/$metadata#${PATH}/$entity`);
      expect(res.headers.location).toBe(`${PUBLIC_BASE}${BETA}/${res.body.id}`);
      const v1 = await t.http.get(`${REQUESTS}/${res.body.id}`).set('authorization', bearer(tenant));
      expect(v1.body).toEqual({ ...res.body, '@odata.context': `${PUBLIC_BASE}/v1.0/$metadata#${PATH}/$entity` });
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(1);
    });

    it('serves get, $expand, list with next links, counts and results under /beta, with /beta links', async () => {
      const tenant = await newTenant();
      const created = await create(tenant);
      await create(tenant, URL_REQUEST);
      const result = await addResult(tenant, created.id);

      const item = await t.http.get(`${BETA}/${created.id}?$expand=results`).set('authorization', bearer(tenant));
      expect(item.status, item.text).toBe(200);
      expect(item.body['@odata.context']).toBe(`${PUBLIC_BASE}/beta/$metadata#${PATH}(results())/$entity`);
      expect(item.body['results@odata.context']).toBe(
        `${PUBLIC_BASE}/beta/$metadata#${PATH}('${created.id}')/microsoft.graph.mailAssessmentRequest/results`,
      );
      const { '@odata.context': resultContext, ...resultItem } = result;
      expect(resultContext).toBe(`${PUBLIC_BASE}/v1.0/$metadata#${PATH}('${created.id}')/results/$entity`);
      expect(item.body.results).toEqual([resultItem]);

      const list = await t.http.get(`${BETA}?$top=1&$orderby=createdDateTime asc`).set('authorization', bearer(tenant));
      expect(list.status, list.text).toBe(200);
      expect(list.body['@odata.context']).toBe(`${PUBLIC_BASE}/beta/$metadata#${PATH}`);
      expect(list.body.value.map((r: { id: string }) => r.id)).toEqual([created.id]);
      const next = list.body['@odata.nextLink'] as string;
      expect(next).toMatch(
        new RegExp(
          `^${PUBLIC_BASE.replace(/\./g, '\\.')}/beta/${PATH}\\?\\$top=1&\\$orderby=createdDateTime%20asc&\\$skiptoken=`,
        ),
      );
      const second = await t.http.get(next.slice(PUBLIC_BASE.length)).set('authorization', bearer(tenant));
      expect(second.status, second.text).toBe(200);
      expect(second.body['@odata.nextLink']).toBeUndefined();
      expect(second.body.value).toHaveLength(1);

      const count = await t.http.get(`${BETA}/$count`).set('authorization', bearer(tenant));
      expect(count.status, count.text).toBe(200);
      expect(count.headers['content-type']).toMatch(/^text\/plain/);
      expect(count.text).toBe('2');

      const results = await t.http.get(`${BETA}/${created.id}/results`).set('authorization', bearer(tenant));
      expect(results.body['@odata.context']).toBe(`${PUBLIC_BASE}/beta/$metadata#${PATH}('${created.id}')/results`);
      const one = await t.http.get(`${BETA}/${created.id}/results/${result.id}`).set('authorization', bearer(tenant));
      expect(one.body['@odata.context']).toBe(`${PUBLIC_BASE}/beta/$metadata#${PATH}('${created.id}')/results/$entity`);
    });

    it('adds results under /beta (and its $ref form) with a /beta Location, and deletes under /beta', async () => {
      const tenant = await newTenant();
      const created = await create(tenant);
      for (const suffix of ['results', 'results/$ref']) {
        const res = await t.http
          .post(`${BETA}/${created.id}/${suffix}`)
          .set('authorization', bearer(tenant))
          .send({ resultType: 'rescan', message: 'x' });
        expect(res.status, res.text).toBe(201);
        expect(res.headers.location).toBe(`${PUBLIC_BASE}${BETA}/${created.id}/results/${res.body.id}`);
        expect(res.body['@odata.context']).toBe(
          `${PUBLIC_BASE}/beta/$metadata#${PATH}('${created.id}')/results/$entity`,
        );
      }
      expect(await countRows(t.db, 'threat_assessment_results', tenant.tenantId)).toBe(2);
      const deleted = await t.http.delete(`${BETA}/${created.id}`).set('authorization', bearer(tenant));
      expect(deleted.status, deleted.text).toBe(204);
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(0);
      expect(await countRows(t.db, 'threat_assessment_results', tenant.tenantId)).toBe(0);
    });

    it('answers errors under /beta in the envelope', async () => {
      const tenant = await newTenant();
      expectGraphError(
        await t.http.get(`${BETA}/0f8fad5b-d9cb-469f-a165-70867728950e`).set('authorization', bearer(tenant)),
        404,
        'itemNotFound',
      );
      expectGraphError(
        await t.http.get(`${BETA}?$top=0`).set('authorization', bearer(tenant)),
        400,
        'invalidRequest',
        /\$top/,
      );
      expectGraphError(await t.http.get(BETA), 401, 'InvalidAuthenticationToken');
      const res = await t.http
        .post(BETA)
        .set('authorization', bearer(tenant))
        .send({ ...URL_REQUEST, url: 'nope' });
      expectGraphError(res, 400, 'invalidRequest');
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(0);
    });
  });

  describe('unknown routes and methods', () => {
    it.each([
      '/',
      '/v1.0',
      '/beta',
      '/v1.0/informationProtection',
      '/v1.0/informationProtection/threatAssessmentRequest',
      '/v2.0/informationProtection/threatAssessmentRequests',
      '/betax/informationProtection/threatAssessmentRequests',
      '/v1.0/informationProtection/threatAssessmentRequests/0f8fad5b-d9cb-469f-a165-70867728950e/results/0f8fad5b-d9cb-469f-a165-70867728950e/extra',
      '/v1.0/informationProtection/threatAssessmentRequests/0f8fad5b-d9cb-469f-a165-70867728950e/verdicts',
      '/health',
    ])('answers 404 itemNotFound in the envelope for GET %s', async (path) => {
      const tenant = await newTenant();
      expectGraphError(await t.http.get(path).set('authorization', bearer(tenant)), 404, 'itemNotFound');
      expectGraphError(await t.http.get(path), 404, 'itemNotFound');
    });

    it('answers 405 notAllowed with Allow for PATCH, PUT and POST on a request, and changes nothing', async () => {
      const tenant = await newTenant();
      const created = await create(tenant);
      for (const method of ['patch', 'put', 'post'] as const) {
        for (const base of [REQUESTS, BETA]) {
          const res = await t.http[method](`${base}/${created.id}`)
            .set('authorization', bearer(tenant))
            .send({ status: 'completed', category: 'malware' });
          expectGraphError(res, 405, 'notAllowed', new RegExp(method.toUpperCase()));
          expect(res.headers.allow).toBe('DELETE, GET');
        }
      }
      const { rows } = await t.db.query('SELECT status, category FROM threat_assessment_requests WHERE id = $1', [
        created.id,
      ]);
      expect(rows).toEqual([{ status: 'pending', category: 'spam' }]);
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(1);
    });

    it('answers 405 with Allow: GET for PATCH, PUT and DELETE on a result, and changes nothing', async () => {
      const tenant = await newTenant();
      const created = await create(tenant);
      const result = await addResult(tenant, created.id);
      for (const method of ['patch', 'put', 'delete'] as const) {
        const res = await t.http[method](`${REQUESTS}/${created.id}/results/${result.id}`)
          .set('authorization', bearer(tenant))
          .send({ message: 'changed' });
        expectGraphError(res, 405, 'notAllowed');
        expect(res.headers.allow).toBe('GET');
      }
      const { rows } = await t.db.query('SELECT message FROM threat_assessment_results WHERE id = $1', [result.id]);
      expect(rows).toEqual([{ message: 'x' }]);
    });

    it('answers 405 with Allow for other methods on the collections', async () => {
      const tenant = await newTenant();
      const created = await create(tenant);
      for (const [path, allow] of [
        [REQUESTS, 'GET, POST'],
        [`${REQUESTS}/${created.id}/results`, 'GET, POST'],
        [`${REQUESTS}/$count`, 'DELETE, GET'],
      ] as const) {
        const res = await t.http.patch(path).set('authorization', bearer(tenant)).send({});
        expectGraphError(res, 405, 'notAllowed');
        expect(res.headers.allow).toBe(allow);
      }
      const del = await t.http.delete(REQUESTS).set('authorization', bearer(tenant));
      expectGraphError(del, 405, 'notAllowed');
      expect(del.headers.allow).toBe('GET, POST');
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(1);
    });
  });

  describe('correlation headers', () => {
    /** One of each kind of answer: success, created, no content, text, and each error status. */
    const sample = async (tenant: TestIdentity, clientRequestId?: string): Promise<Response[]> => {
      const send = <T extends { set(name: string, value: string): T }>(req: T) =>
        clientRequestId ? req.set('client-request-id', clientRequestId) : req;
      const created = await create(tenant, URL_REQUEST);
      return [
        await send(t.http.post(REQUESTS).set('authorization', bearer(tenant))).send(URL_REQUEST),
        await send(t.http.get(REQUESTS).set('authorization', bearer(tenant))),
        await send(t.http.get(`${BETA}/$count`).set('authorization', bearer(tenant))),
        await send(t.http.delete(`${REQUESTS}/${created.id}`).set('authorization', bearer(tenant))),
        await send(t.http.get(`${REQUESTS}/nope`).set('authorization', bearer(tenant))),
        await send(t.http.get(REQUESTS)),
        await send(t.http.get(`${REQUESTS}/${created.id}`).set('authorization', bearer(tenant))),
        await send(t.http.patch(REQUESTS).set('authorization', bearer(tenant))),
        await send(t.http.get('/nowhere')),
        await send(t.http.post(REQUESTS).set('authorization', bearer(tenant)).set('content-type', 'text/plain')).send(
          'x',
        ),
        await send(t.http.get('/health/live')),
      ];
    };

    it('gives every response a new GUID request-id, and client-request-id = request-id when none was sent', async () => {
      const responses = await sample(await newTenant());
      expect(responses.map((r) => r.status)).toEqual([201, 200, 200, 204, 400, 401, 404, 405, 404, 415, 200]);
      for (const res of responses) {
        expect(res.headers['request-id']).toMatch(GUID);
        expect(res.headers['client-request-id']).toBe(res.headers['request-id']);
      }
      expect(new Set(responses.map((r) => r.headers['request-id'])).size).toBe(responses.length);
    });

    it('echoes the client-request-id the client sent, on successes and errors alike', async () => {
      const sent = 'b1c2d3e4-0000-4000-8000-00000000abcd';
      const responses = await sample(await newTenant(), sent);
      for (const res of responses) {
        expect(res.headers['request-id']).toMatch(GUID);
        expect(res.headers['request-id']).not.toBe(sent);
        expect(res.headers['client-request-id']).toBe(sent);
        if (res.status >= 400) expect(res.body.error.innerError['client-request-id']).toBe(sent);
      }
    });

    it.each([
      ['too long', 'x'.repeat(129)],
      ['with spaces', 'my request id'],
      ['with a quote', 'abc"def'],
    ])('replaces a client-request-id that is %s by the request-id instead of echoing it', async (_why, value) => {
      const tenant = await newTenant();
      const res = await t.http.get(REQUESTS).set('authorization', bearer(tenant)).set('client-request-id', value);
      expect(res.status).toBe(200);
      expect(res.headers['request-id']).toMatch(GUID);
      expect(res.headers['client-request-id']).toBe(res.headers['request-id']);
    });

    it('ignores a request-id sent by the client', async () => {
      const res = await t.http.get('/health/live').set('request-id', '11111111-1111-4111-8111-111111111111');
      expect(res.headers['request-id']).toMatch(GUID);
      expect(res.headers['request-id']).not.toBe('11111111-1111-4111-8111-111111111111');
    });
  });

  describe('health', () => {
    it('answers /health/live and /health/ready 200 without a token', async () => {
      for (const path of ['/health/live', '/health/ready']) {
        const res = await t.http.get(path);
        expect(res.status, res.text).toBe(200);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(res.body).toEqual({ status: 'ok' });
        expect(res.headers['request-id']).toMatch(GUID);
      }
    });
  });

  describe('public links without PUBLIC_BASE_URL', () => {
    it('treats an empty or blank PUBLIC_BASE_URL as unset, and drops a trailing slash', () => {
      const base = { NODE_ENV: 'test' };
      expect(loadConfig({ ...base, PUBLIC_BASE_URL: '' }).publicBaseUrl).toBeUndefined();
      expect(loadConfig({ ...base, PUBLIC_BASE_URL: '   ' }).publicBaseUrl).toBeUndefined();
      expect(loadConfig({ ...base, PUBLIC_BASE_URL: 'https://api.contoso.com/' }).publicBaseUrl).toBe(
        'https://api.contoso.com',
      );
    });

    describe.each([
      ['without TRUST_PROXY', {}],
      ['with TRUST_PROXY=false', { TRUST_PROXY: 'false' }],
    ])('%s', (_name, env) => {
      let app: TestApp;
      beforeAll(async () => {
        app = await startTestApp({ PUBLIC_BASE_URL: '', ...env });
      });
      afterAll(() => app.close());

      it('writes the request’s own host into links, ignoring X-Forwarded-*', async () => {
        const tenant = await newTenant();
        const origin = 'http://svc.internal:8080';
        const post = (forwarded: boolean) => {
          const req = app.http.post(REQUESTS).set('authorization', bearer(tenant)).set('host', 'svc.internal:8080');
          return (
            forwarded ? req.set('x-forwarded-proto', 'https').set('x-forwarded-host', 'api.contoso.com') : req
          ).send(URL_REQUEST);
        };
        for (const forwarded of [false, true]) {
          const res = await post(forwarded);
          expect(res.status, res.text).toBe(201);
          expect(res.headers.location).toBe(`${origin}${REQUESTS}/${res.body.id}`);
          expect(res.body['@odata.context']).toBe(`${origin}/v1.0/$metadata#${PATH}/$entity`);
        }
        const list = await app.http
          .get(`${BETA}?$top=1`)
          .set('authorization', bearer(tenant))
          .set('host', 'svc.internal:8080')
          .set('x-forwarded-proto', 'https')
          .set('x-forwarded-host', 'api.contoso.com');
        expect(list.body['@odata.context']).toBe(`${origin}/beta/$metadata#${PATH}`);
        expect(list.body['@odata.nextLink']).toMatch(
          new RegExp(`^http://svc\\.internal:8080${BETA}\\?\\$top=1&\\$skiptoken=`),
        );
      });
    });

    describe('with TRUST_PROXY=true', () => {
      let app: TestApp;
      beforeAll(async () => {
        app = await startTestApp({ PUBLIC_BASE_URL: '', TRUST_PROXY: 'true' });
      });
      afterAll(() => app.close());

      it('honours X-Forwarded-Proto and X-Forwarded-Host in Location, @odata.context and next links', async () => {
        const tenant = await newTenant();
        const forwarded = <T extends { set(name: string, value: string): T }>(req: T) =>
          req
            .set('authorization', bearer(tenant))
            .set('host', 'svc.internal:8080')
            .set('x-forwarded-proto', 'https')
            .set('x-forwarded-host', 'api.contoso.com');
        const created = await forwarded(app.http.post(REQUESTS)).send(URL_REQUEST);
        expect(created.status, created.text).toBe(201);
        expect(created.headers.location).toBe(`https://api.contoso.com${REQUESTS}/${created.body.id}`);
        expect(created.body['@odata.context']).toBe(`https://api.contoso.com/v1.0/$metadata#${PATH}/$entity`);
        await forwarded(app.http.post(REQUESTS)).send(URL_REQUEST);
        const list = await forwarded(app.http.get(`${REQUESTS}?$top=1`));
        expect(list.body['@odata.nextLink']).toMatch(
          new RegExp(`^https://api\\.contoso\\.com${REQUESTS.replace(/\./g, '\\.')}\\?\\$top=1&\\$skiptoken=`),
        );
        // Without the headers, the request's own host.
        const direct = await app.http
          .get(`${REQUESTS}/${created.body.id}`)
          .set('authorization', bearer(tenant))
          .set('host', 'svc.internal:8080');
        expect(direct.body['@odata.context']).toBe(`http://svc.internal:8080/v1.0/$metadata#${PATH}/$entity`);
      });
    });

    describe('with PUBLIC_BASE_URL and TRUST_PROXY=true', () => {
      let app: TestApp;
      beforeAll(async () => {
        app = await startTestApp({ TRUST_PROXY: 'true' });
      });
      afterAll(() => app.close());

      it('prefers the configured base URL over forwarded headers', async () => {
        const tenant = await newTenant();
        const res = await app.http
          .post(REQUESTS)
          .set('authorization', bearer(tenant))
          .set('x-forwarded-proto', 'http')
          .set('x-forwarded-host', 'evil.example')
          .send(URL_REQUEST);
        expect(res.status, res.text).toBe(201);
        expect(res.headers.location).toBe(`${PUBLIC_BASE}${REQUESTS}/${res.body.id}`);
        expect(res.body['@odata.context']).toBe(`${PUBLIC_BASE}/v1.0/$metadata#${PATH}/$entity`);
      });
    });
  });
});

describe('percent-encoded $ in path segments', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('serves /%24count and /%24ref like /$count and /$ref', async () => {
    const tenant = await newTenant();
    const created = await t.http.post(REQUESTS).set('authorization', `Bearer ${tenant.token}`).send(URL_REQUEST);
    const count = await t.get(`${REQUESTS}/%24count`, tenant);
    expect(count.status).toBe(200);
    expect(count.text).toBe('1');
    const ref = await t.http
      .post(`${REQUESTS}/${created.body.id}/results/%24ref`)
      .set('authorization', `Bearer ${tenant.token}`)
      .send({ resultType: 'rescan', message: 'x' });
    expect(ref.status).toBe(201);
  });
});
