import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import {
  createScratchDatabase,
  insertSubscription,
  type InsertedSubscription,
  type ScratchDatabase,
} from '../support/notification-subscriptions.js';
import { REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';
import { type ReceivedNotification, WebhookReceiver } from '../support/webhook-receiver.js';

const RESULT = { '@odata.type': '#microsoft.graph.threatAssessmentResult', resultType: 'rescan', message: 'ok' };
const COLLECTION = 'informationProtection/threatAssessmentRequests';
const DELIVERY = {
  NOTIFICATIONS_DELIVERY_ENABLED: 'true',
  NOTIFICATIONS_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
  NOTIFICATIONS_POLL_INTERVAL_MS: '100',
  NOTIFICATIONS_RETRY_BASE_SECONDS: '1',
};

/**
 * Delivery end to end: changes made through the API, notifications recorded in their statements and
 * POSTed by the app's worker to a real HTTPS receiver (a certificate of the run's CA, verified), on a
 * database of its own (every delivering app polls the whole outbox).
 */
let scratch: ScratchDatabase;
let receiver: WebhookReceiver;
let base: string;

beforeAll(async () => {
  const certificates = inject('testCertificates');
  scratch = await createScratchDatabase(inject('databaseUrl'), 'delivery');
  receiver = await WebhookReceiver.start('127.0.0.1', { cert: certificates.leafCert, key: certificates.leafKey });
  base = `https://127.0.0.1:${receiver.port}`;
});
afterAll(async () => {
  await receiver?.close();
  await scratch?.drop();
});

/** The notifications that reached `path` (query excluded), in order of arrival. */
function at(path: string): ReceivedNotification[] {
  return receiver.notifications((n) => n.request.url.split('?')[0] === path);
}

async function waitFor(path: string, count: number, timeoutMs = 15_000): Promise<ReceivedNotification[]> {
  await receiver.waitUntil(
    () => at(path).length >= count,
    timeoutMs,
    () => `${path}: ${at(path).length} of ${count}`,
  );
  return at(path);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

describe('notification delivery (Graph retry settings, 1 s base)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...DELIVERY, DATABASE_URL: scratch.url, NOTIFICATIONS_BATCH_SIZE: '4' });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function createRequest(who: TestIdentity, body: object = MAIL_REQUEST, headers: Record<string, string> = {}) {
    const res = await t.http.post(REQUESTS).set('authorization', `Bearer ${who.token}`).set(headers).send(body);
    expect(res.status, res.text).toBe(201);
    return res.body.id as string;
  }

  async function addResult(who: TestIdentity, requestId: string) {
    const res = await t.http
      .post(`${REQUESTS}/${requestId}/results`)
      .set('authorization', `Bearer ${who.token}`)
      .send(RESULT);
    expect(res.status, res.text).toBe(201);
    return res.body.id as string;
  }

  function changeOf(s: InsertedSubscription, changeType: string, resource: string, odataType: string, id: string) {
    return {
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      subscriptionId: s.id,
      subscriptionExpirationDateTime: s.expirationDateTime.toISOString(),
      changeType,
      resource,
      resourceData: { '@odata.type': odataType, '@odata.id': resource, id },
      clientState: s.clientState,
      tenantId: s.tenantId,
    };
  }

  it('delivers created, updated and deleted of the collection, results created, and subscriptionRemoved, each payload whole', async () => {
    receiver.reset();
    const tenant = await newTenant();
    const collection = await insertSubscription(t.db, {
      tenantId: tenant.tenantId,
      changeTypes: ['updated', 'created', 'deleted'],
      notificationUrl: `${base}/hooks/collection?src=test&token=secret`,
      clientState: 'secretClientValue',
    });
    const requestId = await createRequest(tenant);
    const results = await insertSubscription(t.db, {
      tenantId: tenant.tenantId,
      resultsOf: requestId,
      changeTypes: ['created'],
      notificationUrl: `${base}/hooks/results`,
      lifecycleNotificationUrl: `${base}/lifecycle/results`,
      clientState: null,
    });
    const [first, second] = [await addResult(tenant, requestId), await addResult(tenant, requestId)];
    const request = `${COLLECTION}/${requestId}`;
    const mail = '#microsoft.graph.mailAssessmentRequest';
    const result = '#microsoft.graph.threatAssessmentResult';
    expect((await waitFor('/hooks/results', 2)).map((n) => n.notification)).toEqual([
      changeOf(results, 'created', `${request}/results/${first}`, result, first),
      changeOf(results, 'created', `${request}/results/${second}`, result, second),
    ]);
    const deleted = await t.http.delete(`${REQUESTS}/${requestId}`).set('authorization', `Bearer ${tenant.token}`);
    expect(deleted.status).toBe(204);
    const received = await waitFor('/hooks/collection', 3);
    expect(received.map((n) => n.notification)).toEqual([
      changeOf(collection, 'created', request, mail, requestId),
      changeOf(collection, 'updated', request, mail, requestId),
      changeOf(collection, 'deleted', request, mail, requestId),
    ]);
    // The URL's query is sent back as stored.
    expect(new Set(received.map((n) => n.request.url))).toEqual(new Set(['/hooks/collection?src=test&token=secret']));
    expect((await waitFor('/lifecycle/results', 1)).map((n) => n.notification)).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        subscriptionId: results.id,
        subscriptionExpirationDateTime: results.expirationDateTime.toISOString(),
        tenantId: tenant.tenantId,
        clientState: null,
        lifecycleEvent: 'subscriptionRemoved',
      },
    ]);
    // Ids are unique, delivered rows are gone, the outbox is empty.
    const ids = receiver.notifications().map((n) => n.notification.id);
    expect(new Set(ids).size).toBe(ids.length);
    await sleep(300);
    const { rows } = await t.db.query('SELECT seq FROM notifications WHERE tenant_id = $1', [tenant.tenantId]);
    expect(rows).toEqual([]);
    expect(receiver.notifications()).toHaveLength(6);
  });

  it('sends Graph’s headers and nothing else: no Authorization, cookie, traceparent or internal header', async () => {
    receiver.reset();
    const tenant = await newTenant();
    await insertSubscription(t.db, {
      tenantId: tenant.tenantId,
      changeTypes: ['created'],
      notificationUrl: `${base}/hooks/headers`,
    });
    await createRequest(tenant, URL_REQUEST, {
      cookie: 'session=abc',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'client-request-id': 'c0ffee00-0000-4000-8000-000000000001',
    });
    const [received] = await waitFor('/hooks/headers', 1);
    expect(received.request.method).toBe('POST');
    expect(received.request.headerNames.map((h) => h.toLowerCase()).sort()).toEqual(
      ['connection', 'content-length', 'content-type', 'host', 'user-agent'].sort(),
    );
    expect(received.request.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(received.request.headers.connection).toBe('close');
    expect(received.request.servername).toBe(false);
    expect(received.notification.resourceData).toMatchObject({
      '@odata.type': '#microsoft.graph.urlAssessmentRequest',
    });
  });

  it('emits updated once when first results are posted concurrently, and a results created for each', async () => {
    receiver.reset();
    const tenant = await newTenant();
    const requestId = await createRequest(tenant);
    await insertSubscription(t.db, {
      tenantId: tenant.tenantId,
      changeTypes: ['updated'],
      notificationUrl: `${base}/hooks/updated`,
    });
    await insertSubscription(t.db, {
      tenantId: tenant.tenantId,
      resultsOf: requestId,
      changeTypes: ['created'],
      notificationUrl: `${base}/hooks/concurrent-results`,
    });
    const ids = await Promise.all(Array.from({ length: 8 }, () => addResult(tenant, requestId)));
    const created = await waitFor('/hooks/concurrent-results', 8);
    await waitFor('/hooks/updated', 1);
    await sleep(1000);
    expect(at('/hooks/updated').map((n) => [n.notification.changeType, n.notification.resourceData])).toEqual([
      ['updated', expect.objectContaining({ id: requestId })],
    ]);
    expect(new Set(created.map((n) => (n.notification.resourceData as { id: string }).id))).toEqual(new Set(ids));
  });

  it('keeps the order of changes per subscription, and measures commit → receipt latency', async () => {
    receiver.reset();
    const tenant = await newTenant();
    await insertSubscription(t.db, {
      tenantId: tenant.tenantId,
      changeTypes: ['created'],
      notificationUrl: `${base}/hooks/order`,
    });
    const created: { id: string; answeredAt: number }[] = [];
    for (let i = 0; i < 40; i++) {
      const id = await createRequest(tenant, URL_REQUEST);
      created.push({ id, answeredAt: performance.now() });
      // Receipt is awaited one by one for the latency figure; the last ten go without a pause.
      if (i < 30) await waitFor('/hooks/order', i + 1, 5000);
    }
    const received = await waitFor('/hooks/order', 40);
    expect(received.map((n) => (n.notification.resourceData as { id: string }).id)).toEqual(created.map((c) => c.id));
    // The 201 answers after the commit: this bounds commit → receipt from above.
    const latencies = created
      .slice(0, 30)
      .map((c, i) => receiver.receivedAt(received[i].request) - c.answeredAt)
      .sort((a, b) => a - b);
    const figures = { p50Ms: Math.round(percentile(latencies, 50)), p99Ms: Math.round(percentile(latencies, 99)) };
    console.log(`[figures] delivery latency, 201 → receipt, poll 100 ms: ${JSON.stringify(figures)}`);
    expect(figures.p99Ms).toBeLessThan(5000);
    expect(receiver.maxInFlightPerSubscription).toBe(1);
  });

  it('retries after a 500 with the same notification id, after the backoff, then deletes the delivered row', async () => {
    receiver.reset();
    let failures = 0;
    receiver.handler = (req, res) => {
      if (req.url === '/hooks/retry' && failures++ === 0) res.statusCode = 500;
      res.end();
    };
    const tenant = await newTenant();
    await insertSubscription(t.db, {
      tenantId: tenant.tenantId,
      changeTypes: ['created'],
      notificationUrl: `${base}/hooks/retry`,
    });
    await createRequest(tenant);
    const [failed, retried] = await waitFor('/hooks/retry', 2);
    expect(retried.notification).toEqual(failed.notification);
    const waitedMs = receiver.receivedAt(retried.request) - receiver.receivedAt(failed.request);
    // 1 s ± 20 %, plus up to a poll interval and the attempt.
    expect(waitedMs).toBeGreaterThan(700);
    expect(waitedMs).toBeLessThan(2500);
    await sleep(300);
    const { rows } = await t.db.query('SELECT seq FROM notifications WHERE tenant_id = $1', [tenant.tenantId]);
    expect(rows).toEqual([]);
  });

  it('counts a refused address as a failed attempt with nothing sent: a URL that passed once is checked again', async () => {
    receiver.reset();
    const tenant = await newTenant();
    // As if the name had resolved to an allowed address at subscribe time and to a private one now.
    await insertSubscription(t.db, {
      tenantId: tenant.tenantId,
      changeTypes: ['created'],
      notificationUrl: `https://10.20.30.40:${receiver.port}/hooks/refused`,
    });
    await createRequest(tenant);
    const failed = async () =>
      (
        await t.db.query<{ attempts: number; last_error: string }>(
          'SELECT attempts, last_error FROM notifications WHERE tenant_id = $1',
          [tenant.tenantId],
        )
      ).rows;
    for (let waited = 0; waited < 5000 && (await failed())[0]?.attempts !== 1; waited += 100) await sleep(100);
    // Refused before any connection (a connection attempt to that address would have timed out or failed).
    expect(await failed()).toEqual([{ attempts: 1, last_error: 'refused-address' }]);
  });

  it('holds later changes behind a head that waits for its retry, then sends them in order in batches of at most the batch size', async () => {
    receiver.reset();
    let failures = 0;
    receiver.handler = (req, res) => {
      if (req.url === '/hooks/batches' && failures++ === 0) res.statusCode = 503;
      res.end();
    };
    const tenant = await newTenant();
    await insertSubscription(t.db, {
      tenantId: tenant.tenantId,
      changeTypes: ['created'],
      notificationUrl: `${base}/hooks/batches`,
    });
    const ids = [await createRequest(tenant, URL_REQUEST)];
    await waitFor('/hooks/batches', 1);
    for (let i = 0; i < 9; i++) ids.push(await createRequest(tenant, URL_REQUEST));
    // Nothing behind the failed head goes before its retry.
    expect(at('/hooks/batches')).toHaveLength(1);
    const received = await waitFor('/hooks/batches', 11);
    const delivered = received.slice(1);
    expect(delivered.map((n) => (n.notification.resourceData as { id: string }).id)).toEqual(ids);
    const sizes = [...new Set(delivered.map((n) => n.post))].map(
      (post) => delivered.filter((n) => n.post === post).length,
    );
    expect(Math.max(...sizes)).toBe(4);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
    expect(sizes.every((size) => size <= 4)).toBe(true);
  });

  it('gives a subscription only its own tenant’s changes', async () => {
    receiver.reset();
    const [a, b] = [await newTenant(), await newTenant()];
    const subA = await insertSubscription(t.db, {
      tenantId: a.tenantId,
      changeTypes: ['created'],
      notificationUrl: `${base}/hooks/tenant-a`,
    });
    await insertSubscription(t.db, {
      tenantId: b.tenantId,
      changeTypes: ['created'],
      notificationUrl: `${base}/hooks/tenant-b`,
    });
    const ofA = await createRequest(a);
    const ofB = await createRequest(b);
    const [toA] = await waitFor('/hooks/tenant-a', 1);
    const [toB] = await waitFor('/hooks/tenant-b', 1);
    await sleep(500);
    expect(at('/hooks/tenant-a')).toHaveLength(1);
    expect(at('/hooks/tenant-b')).toHaveLength(1);
    expect(toA.notification).toMatchObject({
      subscriptionId: subA.id,
      tenantId: a.tenantId,
      resourceData: { id: ofA },
    });
    expect(toB.notification).toMatchObject({ tenantId: b.tenantId, resourceData: { id: ofB } });
  });

  it('delivers what was recorded before a subscription expired, after the expiry, and records nothing after it', async () => {
    receiver.reset();
    let failures = 0;
    const answeredAt: number[] = [];
    receiver.handler = (req, res) => {
      if (req.url === '/hooks/expiring') {
        answeredAt.push(Date.now());
        if (failures++ < 2) res.statusCode = 503;
      }
      res.end();
    };
    const tenant = await newTenant();
    const expiring = await insertSubscription(t.db, {
      tenantId: tenant.tenantId,
      changeTypes: ['created'],
      notificationUrl: `${base}/hooks/expiring`,
      expirationDateTime: new Date(Date.now() + 1500),
    });
    const before = await createRequest(tenant);
    await sleep(Math.max(0, expiring.expirationDateTime.getTime() - Date.now()) + 200);
    await createRequest(tenant);
    const { rows } = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM notifications WHERE tenant_id = $1 AND subscription_id = $2',
      [tenant.tenantId, expiring.id],
    );
    expect(rows[0].n).toBe(1);
    const received = await waitFor('/hooks/expiring', 3);
    // Delivered (the third attempt) after the subscription had expired.
    expect(answeredAt[2]).toBeGreaterThan(expiring.expirationDateTime.getTime());
    expect(received.map((n) => (n.notification.resourceData as { id: string }).id)).toEqual([before, before, before]);
    expect(received[2].notification.subscriptionExpirationDateTime).toBe(expiring.expirationDateTime.toISOString());
    await sleep(500);
    expect(at('/hooks/expiring')).toHaveLength(3);
  });
});

describe('notification delivery with a 1 s retry window', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...DELIVERY, DATABASE_URL: scratch.url, NOTIFICATIONS_RETRY_WINDOW_SECONDS: '1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('abandons what fails past the window, queues one missed lifecycle notification, and the next delivery clears the flag', async () => {
    receiver.reset();
    let failing = true;
    receiver.handler = (req, res) => {
      if (req.url === '/hooks/abandoned' && failing) res.statusCode = 500;
      res.end();
    };
    const tenant = await newTenant();
    const auth = { authorization: `Bearer ${tenant.token}` };
    const subscription = await insertSubscription(t.db, {
      tenantId: tenant.tenantId,
      changeTypes: ['created'],
      notificationUrl: `${base}/hooks/abandoned`,
      lifecycleNotificationUrl: `${base}/lifecycle/abandoned`,
    });
    for (let i = 0; i < 3; i++) expect((await t.http.post(REQUESTS).set(auth).send(URL_REQUEST)).status).toBe(201);
    const abandoned = async () =>
      (
        await t.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM notifications
           WHERE tenant_id = $1 AND channel = 'change' AND abandoned_at IS NOT NULL AND last_error = 'status 500'`,
          [tenant.tenantId],
        )
      ).rows[0].n;
    const started = performance.now();
    while ((await abandoned()) < 3) {
      expect(performance.now() - started, 'three abandoned within 15 s').toBeLessThan(15_000);
      await sleep(100);
    }
    const [missed] = await waitFor('/lifecycle/abandoned', 1);
    expect(missed.notification).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      subscriptionId: subscription.id,
      subscriptionExpirationDateTime: subscription.expirationDateTime.toISOString(),
      tenantId: tenant.tenantId,
      clientState: subscription.clientState,
      lifecycleEvent: 'missed',
    });
    const flag = async () =>
      (await t.db.query<{ missed: boolean }>('SELECT missed FROM subscriptions WHERE id = $1', [subscription.id]))
        .rows[0].missed;
    expect(await flag()).toBe(true);
    // Each notification was tried at most twice (the window is 1 s), and never again once abandoned.
    await sleep(1500);
    const posts = at('/hooks/abandoned');
    expect(posts.length).toBeGreaterThanOrEqual(3);
    expect(posts.length).toBeLessThanOrEqual(6);
    expect(at('/lifecycle/abandoned')).toHaveLength(1);
    failing = false;
    expect((await t.http.post(REQUESTS).set(auth).send(URL_REQUEST)).status).toBe(201);
    await waitFor('/hooks/abandoned', posts.length + 1);
    await sleep(300);
    expect(await flag()).toBe(false);
    expect(at('/lifecycle/abandoned')).toHaveLength(1);
  });
});
