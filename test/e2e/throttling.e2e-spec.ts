import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectGraphError, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { countRows, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

const post = (t: TestApp, who: TestIdentity, body: object, path = REQUESTS) =>
  t.http.post(path).set('authorization', `Bearer ${who.token}`).send(body);
const uniqueUrl = () => ({ ...URL_REQUEST, url: `https://phish.example/${randomUUID()}` });

describe('Throttling POSTs (CONTRACT section 6)', () => {
  describe('per tenant, shared by two instances on one database', () => {
    let a: TestApp;
    let b: TestApp;
    const limits = { THROTTLE_TENANT_LIMITS: '5/3600', THROTTLE_RESOURCE_LIMITS: '', THROTTLE_RESULT_LIMITS: '3/3600' };

    beforeAll(async () => {
      [a, b] = await Promise.all([startTestApp(limits), startTestApp(limits)]);
    });
    afterAll(async () => {
      await Promise.all([a.close(), b.close()]);
    });

    it('enforces one limit across instances and answers 429 TooManyRequests with an integer Retry-After', async () => {
      const tenant = await newTenant();
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await post(i % 2 ? b : a, tenant, uniqueUrl())).status);
      expect(statuses).toEqual([201, 201, 201, 201, 201]);
      for (const instance of [a, b]) {
        const res = await post(instance, tenant, uniqueUrl());
        expectGraphError(res, 429, 'TooManyRequests');
        const retryAfter = Number(res.headers['retry-after']);
        expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3600).toBe(true);
      }
      expect(await countRows(a.db, 'threat_assessment_requests', tenant.tenantId)).toBe(5);
    });

    it('never slows tenant B for tenant A', async () => {
      const busy = await newTenant();
      const quiet = await newTenant();
      for (let i = 0; i < 6; i++) await post(a, busy, uniqueUrl());
      expect((await post(a, busy, uniqueUrl())).status).toBe(429);
      expect((await post(b, quiet, uniqueUrl())).status).toBe(201);
    });

    it('limits adding results per tenant when configured', async () => {
      const tenant = await newTenant();
      const request = (await post(a, tenant, MAIL_REQUEST)).body as { id: string };
      const results = `${REQUESTS}/${request.id}/results`;
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await post(i % 2 ? b : a, tenant, { resultType: 'rescan', message: `m${i}` }, results)).status);
      expect(statuses).toEqual([201, 201, 201, 429]);
      expect(await countRows(a.db, 'threat_assessment_results', tenant.tenantId)).toBe(3);
    });

    it('counts throttled requests in /metrics', async () => {
      const res = await a.http.get('/metrics');
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/^throttled_requests_total\{scope="tenant"\} [1-9]/m);
    });
  });

  describe('with the graph preset', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({ THROTTLE_PRESET: 'graph' });
    });
    afterAll(() => t.close());

    it('accepts one submission of a resource per 15 minutes: the same URL again is 429, another URL is fine', async () => {
      const tenant = await newTenant();
      const body = uniqueUrl();
      expect((await post(t, tenant, body)).status).toBe(201);
      const again = await post(t, tenant, { ...body, category: 'spam' });
      expectGraphError(again, 429, 'TooManyRequests', /resource/);
      expect(Number(again.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(again.headers['retry-after'])).toBeLessThanOrEqual(900);
      expect((await post(t, tenant, uniqueUrl())).status).toBe(201);
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(2);
    });

    it('counts a resource per tenant: another tenant may submit the same URL', async () => {
      const body = uniqueUrl();
      expect((await post(t, await newTenant(), body)).status).toBe(201);
      expect((await post(t, await newTenant(), body)).status).toBe(201);
    });
  });
});
