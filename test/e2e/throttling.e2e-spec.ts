import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMAIL_FILE_REQUEST, expectGraphError, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { countRows, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

const post = (t: TestApp, who: TestIdentity, body: object, path = REQUESTS, idempotencyKey?: string) => {
  const req = t.http.post(path).set('authorization', `Bearer ${who.token}`);
  return (idempotencyKey ? req.set('idempotency-key', idempotencyKey) : req).send(body);
};
const uniqueUrl = () => ({ ...URL_REQUEST, url: `https://phish.example/${randomUUID()}` });
const withUrl = (url: string) => ({ ...URL_REQUEST, url });

/** Creates of the service waiting on a lock in the throttle's statement. */
async function waitingCreates(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE application_name = 'threat-assessment-service' AND wait_event_type = 'Lock'
       AND query LIKE '%throttle_windows%' AND query LIKE '%INSERT INTO threat_assessment_requests%'`,
  );
  return rows[0].n;
}

/** The tenant's counters, by scope and window; keys left out (a resource's is a digest). */
async function counters(db: pg.Pool, tenantId: string) {
  const { rows } = await db.query<{ scope: string; window_seconds: number; count: number }>(
    `SELECT scope, window_seconds, count FROM throttle_counters WHERE tenant_id = $1
     ORDER BY scope, window_seconds, count`,
    [tenantId],
  );
  return rows.map((row) => `${row.scope}/${row.window_seconds}: ${row.count}`);
}

describe('Throttling POSTs', () => {
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
      expect(await counters(a.db, tenant.tenantId)).toEqual(['tenant/3600: 5']);
    });

    it('accepts exactly the limit of 20 concurrent creates on two instances, and counts only those', async () => {
      const tenant = await newTenant();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => post(i % 2 ? b : a, tenant, uniqueUrl())));
      const statuses = answers.map((res) => res.status).sort();
      expect(statuses).toEqual([...Array<number>(5).fill(201), ...Array<number>(15).fill(429)]);
      expect(await countRows(a.db, 'threat_assessment_requests', tenant.tenantId)).toBe(5);
      expect(await counters(a.db, tenant.tenantId)).toEqual(['tenant/3600: 5']);
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
      expect(await counters(a.db, tenant.tenantId)).toEqual(['results/3600: 3', 'tenant/3600: 1']);
    });

    it('counts no result for a missing parent, a refused checkPolicy or a refused result, with or without Idempotency-Key', async () => {
      const tenant = await newTenant();
      const request = (await post(a, tenant, URL_REQUEST)).body as { id: string };
      const results = `${REQUESTS}/${request.id}/results`;
      const rescan = { resultType: 'rescan', message: 'Not Spam' };
      for (const key of [undefined, randomUUID()]) {
        expectGraphError(
          await post(a, tenant, rescan, `${REQUESTS}/${randomUUID()}/results`, key),
          404,
          'itemNotFound',
        );
        const checkPolicy = { resultType: 'checkPolicy', message: 'No policy was hit.' };
        expectGraphError(await post(a, tenant, checkPolicy, results, key), 400, 'invalidRequest', /mail/);
      }
      expect(await counters(a.db, tenant.tenantId)).toEqual(['tenant/3600: 1']);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await post(i % 2 ? b : a, tenant, rescan, results)).status);
      expect(statuses).toEqual([201, 201, 201]);
      const key = randomUUID();
      expectGraphError(await post(a, tenant, rescan, results, key), 429, 'TooManyRequests');
      expectGraphError(await post(b, tenant, rescan, results), 429, 'TooManyRequests');
      expect(await counters(a.db, tenant.tenantId)).toEqual(['results/3600: 3', 'tenant/3600: 1']);
      // The refused attempt's key stays free: its transaction rolled back with the refusal.
      const { rows } = await a.db.query('SELECT 1 FROM idempotency_keys WHERE tenant_id = $1 AND key = $2', [
        tenant.tenantId,
        key,
      ]);
      expect(rows).toEqual([]);
      expect(await countRows(a.db, 'threat_assessment_results', tenant.tenantId)).toBe(3);
    });

    it('counts throttled requests in /metrics', async () => {
      const res = await a.http.get('/metrics');
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/^throttled_requests_total\{scope="tenant"\} [1-9]/m);
      expect(res.text).toMatch(/^throttled_requests_total\{scope="results"\} [1-9]/m);
    });
  });

  describe('counting only what is accepted', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({
        THROTTLE_TENANT_LIMITS: '3/86400,1000/86400,2000/172800',
        THROTTLE_RESOURCE_LIMITS: '1/86400',
        THROTTLE_RESULT_LIMITS: '2/86400',
      });
    });
    afterAll(() => t.close());

    it('counts nothing for a 429 in any window, even those under their limit, nor for a 400', async () => {
      const tenant = await newTenant();
      const first = withUrl('http://test.com/a');
      expect((await post(t, tenant, first)).status).toBe(201);
      // Of two limits on one window, the smaller binds: one counter.
      const once = ['resource/86400: 1', 'tenant/86400: 1', 'tenant/172800: 1'];
      expect(await counters(t.db, tenant.tenantId)).toEqual(once);
      for (let i = 0; i < 3; i++) {
        expectGraphError(await post(t, tenant, first), 429, 'TooManyRequests', /resource/);
        expectGraphError(await post(t, tenant, { ...first, url: 'not a url' }), 400, 'invalidRequest');
      }
      expectGraphError(await post(t, tenant, first, REQUESTS, randomUUID()), 429, 'TooManyRequests', /resource/);
      expect(await counters(t.db, tenant.tenantId)).toEqual(once);
      // The tenant's quota is whole: two more resources fit, the fourth does not.
      expect((await post(t, tenant, withUrl('http://test.com/b'))).status).toBe(201);
      expect((await post(t, tenant, withUrl('http://test.com/c'))).status).toBe(201);
      expectGraphError(await post(t, tenant, withUrl('http://test.com/d')), 429, 'TooManyRequests', /tenant/);
      expect(await counters(t.db, tenant.tenantId)).toEqual([
        'resource/86400: 1',
        'resource/86400: 1',
        'resource/86400: 1',
        'tenant/86400: 3',
        'tenant/172800: 3',
      ]);
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(3);
    });

    it('accepts one of 20 concurrent creates of one resource, with or without Idempotency-Key, and counts it once', async () => {
      const tenant = await newTenant();
      const body = uniqueUrl();
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => post(t, tenant, body, REQUESTS, i % 2 ? randomUUID() : undefined)),
      );
      const statuses = answers.map((res) => res.status).sort();
      expect(statuses).toEqual([201, ...Array<number>(19).fill(429)]);
      expect(await counters(t.db, tenant.tenantId)).toEqual([
        'resource/86400: 1',
        'tenant/86400: 1',
        'tenant/172800: 1',
      ]);
      const { rows } = await t.db.query('SELECT count(*)::int AS n FROM idempotency_keys WHERE tenant_id = $1', [
        tenant.tenantId,
      ]);
      // Odd attempts carry a key: only the accepted one's stays claimed.
      expect(rows[0].n).toBe(answers.findIndex((res) => res.status === 201) % 2);
    });
  });

  describe('when a write fails after counting', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({
        THROTTLE_TENANT_LIMITS: '3/86400',
        THROTTLE_RESOURCE_LIMITS: '1/86400',
        THROTTLE_RESULT_LIMITS: '2/86400',
        // A statement held on a lock fails soon: a failure after the counts, in their statement.
        DB_STATEMENT_TIMEOUT_MS: '300',
      });
    });
    afterAll(() => t.close());

    it('keeps no count of a create the database refuses after counting, with or without Idempotency-Key', async () => {
      const tenant = await newTenant();
      // A trigger of this tenant only: the insert fails after the counts, in the same statement.
      const refuse = `test_refuse_${randomUUID().replace(/-/g, '')}`;
      await t.db.query(`CREATE FUNCTION ${refuse}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END $$`);
      try {
        await t.db.query(`CREATE TRIGGER ${refuse} BEFORE INSERT ON threat_assessment_requests FOR EACH ROW
          WHEN (NEW.tenant_id = '${tenant.tenantId}') EXECUTE FUNCTION ${refuse}()`);
        for (const key of [undefined, randomUUID()]) {
          expectGraphError(await post(t, tenant, uniqueUrl(), REQUESTS, key), 400, 'invalidRequest');
        }
      } finally {
        await t.db.query(`DROP TRIGGER IF EXISTS ${refuse} ON threat_assessment_requests`);
        await t.db.query(`DROP FUNCTION ${refuse}()`);
      }
      expect(await counters(t.db, tenant.tenantId)).toEqual([]);
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(0);
    });

    it('keeps no count of a result that fails after counting (its parent locked past the statement timeout)', async () => {
      const tenant = await newTenant();
      const request = (await post(t, tenant, MAIL_REQUEST)).body as { id: string };
      const results = `${REQUESTS}/${request.id}/results`;
      const rescan = { resultType: 'rescan', message: 'Not Spam' };
      const locker = await t.db.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('SELECT 1 FROM threat_assessment_requests WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [
          tenant.tenantId,
          request.id,
        ]);
        expectGraphError(await post(t, tenant, rescan, results), 503, 'serviceNotAvailable');
      } finally {
        await locker.query('ROLLBACK');
        locker.release();
      }
      expect(await counters(t.db, tenant.tenantId)).toEqual(['resource/86400: 1', 'tenant/86400: 1']);
      expect((await post(t, tenant, rescan, results)).status).toBe(201);
      expect((await post(t, tenant, rescan, results)).status).toBe(201);
      expectGraphError(await post(t, tenant, rescan, results), 429, 'TooManyRequests');
      expect(await countRows(t.db, 'threat_assessment_results', tenant.tenantId)).toBe(2);
    });
  });

  describe('in a race', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({ THROTTLE_TENANT_LIMITS: '100/3600', THROTTLE_RESOURCE_LIMITS: '1/900' });
    });
    afterAll(() => t.close());

    it('gives back what creates refused in a race counted: another create filled the resource after their snapshot', async () => {
      const tenant = await newTenant();
      expect((await post(t, tenant, uniqueUrl())).status).toBe(201);
      // Holding the tenant's counters makes five creates of one new resource take their snapshots
      // (no counter for it yet) and then wait; released, one fills the resource, the rest count the
      // tenant first and find the resource full only then.
      const locker = await t.db.connect();
      let answers: Awaited<ReturnType<typeof post>>[];
      try {
        await locker.query('BEGIN');
        await locker.query("SELECT 1 FROM throttle_counters WHERE tenant_id = $1 AND scope = 'tenant' FOR UPDATE", [
          tenant.tenantId,
        ]);
        const body = uniqueUrl();
        const pending = Promise.all(
          Array.from({ length: 5 }, (_, i) => post(t, tenant, body, REQUESTS, i % 2 ? randomUUID() : undefined)),
        );
        for (let waited = 0; waited < 100 && (await waitingCreates(t.db)) < 5; waited++) await sleep(50);
        await locker.query('ROLLBACK');
        answers = await pending;
      } finally {
        locker.release();
      }
      expect(answers.map((res) => res.status).sort()).toEqual([201, 429, 429, 429, 429]);
      expect(await counters(t.db, tenant.tenantId)).toEqual(['resource/900: 1', 'resource/900: 1', 'tenant/3600: 2']);
    });
  });

  describe('one resource under any spelling', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({ THROTTLE_TENANT_LIMITS: '', THROTTLE_RESOURCE_LIMITS: '1/900' });
    });
    afterAll(() => t.close());

    const expectSpellings = async (who: TestIdentity, accepted: object, sameResource: object[]) => {
      const res = await post(t, who, accepted);
      expect(res.status, res.text).toBe(201);
      for (const body of sameResource) {
        const again = await post(t, who, body);
        expectGraphError(again, 429, 'TooManyRequests', /resource/);
        expect(Number(again.headers['retry-after'])).toBeGreaterThan(0);
        expect(Number(again.headers['retry-after'])).toBeLessThanOrEqual(900);
      }
    };

    it('takes a URL in any case of scheme and host, with a default port, dot segments, a fragment or escapes as one', async () => {
      const tenant = await newTenant();
      await expectSpellings(
        tenant,
        withUrl('http://test.com/'),
        ['HTTP://TEST.com:80/a/../#x', 'http://Test.Com', 'http://test.com/./#', 'http://test.com:80'].map(withUrl),
      );
      await expectSpellings(
        tenant,
        withUrl('http://test.com/a'),
        [
          'http://test.com/%61',
          'http://test.com/%61#top',
          'HTTP://test.COM/b/.././a',
          'http://test.com/b/.c/../../a',
        ].map(withUrl),
      );
      await expectSpellings(tenant, withUrl('https://test.com/~x?q=%2f'), [
        withUrl('https://test.com:443/%7Ex?q=%2F'),
        withUrl('HTTPS://TEST.COM/%7ex?q=%2f#'),
      ]);
      await expectSpellings(tenant, withUrl('http://bücher.example/'), [
        withUrl('http://xn--bcher-kva.example/'),
        withUrl('http://BÜCHER.example:80/'),
      ]);
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(4);
      expect(await counters(t.db, tenant.tenantId)).toEqual(Array<string>(4).fill('resource/900: 1'));
    });

    it('keeps different URLs apart: path case, another path, scheme, port or query', async () => {
      const tenant = await newTenant();
      const urls = [
        'http://test.com/a',
        'http://test.com/A',
        'http://test.com/a/',
        'https://test.com/a',
        'http://test.com:8080/a',
        'http://test.com/a?x=1',
        'http://test.com/a%2Fb',
        'http://test.com/a/b',
      ];
      for (const url of urls) expect((await post(t, tenant, withUrl(url))).status).toBe(201);
      expect(await counters(t.db, tenant.tenantId)).toEqual(Array<string>(urls.length).fill('resource/900: 1'));
    });

    it('takes a recipient by its domain in any case and the message URI in any spelling, but the local part as written', async () => {
      const tenant = await newTenant();
      const messageUri = 'https://graph.microsoft.com/v1.0/users/c52ce8db/messages/AAMkADU3MWUxOTU0LWNlOTEt=';
      const mail = { ...MAIL_REQUEST, recipientEmail: 'tifc@contoso.com', messageUri };
      await expectSpellings(tenant, mail, [
        { ...mail, recipientEmail: 'tifc@Contoso.COM' },
        {
          ...mail,
          messageUri: 'HTTPS://Graph.Microsoft.com:443/v1.0/users/c52ce8db/messages/AAMkADU3MWUxOTU0LWNlOTEt=',
        },
        { ...mail, messageUri: `${messageUri}#x`, category: 'phishing' },
      ]);
      expect((await post(t, tenant, { ...mail, recipientEmail: 'Tifc@contoso.com' })).status).toBe(201);
      expect((await post(t, tenant, { ...mail, messageUri: `${messageUri}A` })).status).toBe(201);
      const emailFile = { ...EMAIL_FILE_REQUEST, recipientEmail: 'tifc@contoso.com' };
      await expectSpellings(tenant, emailFile, [{ ...emailFile, recipientEmail: 'tifc@CONTOSO.com' }]);
    });

    it('counts a resource per tenant: another tenant may submit the same URL in the same spelling', async () => {
      const body = uniqueUrl();
      expect((await post(t, await newTenant(), body)).status).toBe(201);
      expect((await post(t, await newTenant(), body)).status).toBe(201);
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
      expect(await counters(t.db, tenant.tenantId)).toEqual([
        'resource/900: 1',
        'resource/900: 1',
        'resource/86400: 1',
        'resource/86400: 1',
        'tenant/900: 2',
        'tenant/86400: 2',
      ]);
    });
  });
});
