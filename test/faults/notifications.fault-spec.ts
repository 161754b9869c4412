import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { insertSubscription } from '../support/notification-subscriptions.js';
import { createTestCertificates } from '../support/test-certificates.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { recordFigures } from './support/figures.js';
import { call, newTenant, REQUESTS, type Tenant } from './support/graph-client.js';
import { type ControlledPostgres, startControlledPostgres } from './support/postgres.js';
import { type RunningService, startService } from './support/service.js';

const LEASE_SECONDS = 15;
const URL_REQUEST = {
  '@odata.type': '#microsoft.graph.urlAssessmentRequest',
  url: 'http://test.com',
  expectedAssessment: 'block',
  category: 'phishing',
};

/**
 * Delivery against the built service, killed with SIGKILL at the worst moments, and receivers that fail,
 * hang or never stop answering: notifications committed are delivered by the next instance (same ids),
 * and no receiver can hold an attempt longer than its timeout or make the service read more than 64 KiB.
 */
describe('notification delivery under faults', () => {
  let db: ControlledPostgres;
  let receiver: WebhookReceiver;
  let caDir: string;
  const services: RunningService[] = [];

  beforeAll(async () => {
    const certificates = createTestCertificates();
    caDir = mkdtempSync(join(tmpdir(), 'threat-assessment-fault-ca-'));
    writeFileSync(join(caDir, 'ca.pem'), certificates.caCert);
    receiver = await WebhookReceiver.start('127.0.0.1', { cert: certificates.leafCert, key: certificates.leafKey });
    db = await startControlledPostgres('threat_assessment_notifications_fault_test');
  });
  afterEach(async () => {
    for (const service of services.splice(0)) await service.stop();
    // What a test leaves queued must not reach the next one's receiver.
    await db.admin.query('TRUNCATE notifications, subscriptions');
    receiver.reset();
  });
  afterAll(async () => {
    await receiver?.close();
    await db?.destroy();
    if (caDir) rmSync(caDir, { recursive: true, force: true });
  });

  async function start(name: string, env: Record<string, string> = {}): Promise<RunningService> {
    const service = await startService(name, {
      DATABASE_URL: db.url,
      NODE_EXTRA_CA_CERTS: join(caDir, 'ca.pem'),
      NOTIFICATIONS_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
      NOTIFICATIONS_LEASE_SECONDS: String(LEASE_SECONDS),
      NOTIFICATIONS_POLL_INTERVAL_MS: '200',
      NOTIFICATIONS_RETRY_BASE_SECONDS: '1',
      ...env,
    });
    services.push(service);
    await service.waitFor('/health/ready', 200, 60_000);
    return service;
  }

  async function subscribe(tenant: Tenant, path: string) {
    return insertSubscription(db.admin, {
      tenantId: tenant.tenantId,
      changeTypes: ['created'],
      notificationUrl: `https://127.0.0.1:${receiver.port}${path}`,
    });
  }

  async function createRequests(service: RunningService, tenant: Tenant, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const created = await call(service.baseUrl, REQUESTS, { token: tenant.token, body: URL_REQUEST });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      ids.push((created.body as { id: string }).id);
    }
    return ids;
  }

  /** Request ids of the notifications received on `path`, in order, each once (duplicates are allowed). */
  function deliveredRequests(path: string): string[] {
    const seen = new Set<string>();
    const ids: string[] = [];
    for (const { notification } of receiver.notifications((n) => n.request.url === path)) {
      if (seen.has(notification.id)) continue;
      seen.add(notification.id);
      ids.push((notification.resourceData as { id: string }).id);
    }
    return ids;
  }

  async function outbox(tenant: Tenant) {
    const { rows } = await db.admin.query<{ attempts: number; last_error: string | null }>(
      'SELECT attempts, last_error FROM notifications WHERE tenant_id = $1 ORDER BY seq',
      [tenant.tenantId],
    );
    return rows;
  }

  /**
   * The outbox once `settled` holds, or as it is after `timeoutMs`: the worker records an attempt's
   * outcome after the receiver has answered, so a test that saw the POST arrive must wait for it.
   */
  async function outboxWhen(
    tenant: Tenant,
    settled: (rows: Awaited<ReturnType<typeof outbox>>) => boolean,
    timeoutMs = 5000,
  ) {
    const started = performance.now();
    let rows = await outbox(tenant);
    while (!settled(rows) && performance.now() - started < timeoutMs) {
      await sleep(25);
      rows = await outbox(tenant);
    }
    return rows;
  }

  it('delivers everything committed before every instance was killed -9, within the lease + 5 s, in order', async () => {
    const tenant = await newTenant();
    // A slow receiver: the instance is mid-delivery, holding the lease, when it dies.
    receiver.handler = (_req, res) => setTimeout(() => res.end(), 300);
    const first = await start('notifications-killed-after-commit');
    await subscribe(tenant, '/hooks/killed-after-commit');
    const ids = await createRequests(first, tenant, 20);
    first.kill('SIGKILL');
    const killedAt = performance.now();
    await first.exit;
    const deliveredBeforeKill = deliveredRequests('/hooks/killed-after-commit').length;
    const second = await start('notifications-after-kill');
    const startedAt = performance.now();
    await receiver.waitUntil(
      () => deliveredRequests('/hooks/killed-after-commit').length >= ids.length,
      (LEASE_SECONDS + 10) * 1000,
      () => second.problems(),
    );
    const allDeliveredMs = Math.round(performance.now() - killedAt);
    recordFigures('notifications: every instance killed -9 right after the commits', {
      notifications: ids.length,
      deliveredBeforeKill,
      secondInstanceReadyAfterKillMs: Math.round(startedAt - killedAt),
      allDeliveredAfterKillMs: allDeliveredMs,
      posts: receiver.requests.length,
      leaseSeconds: LEASE_SECONDS,
    });
    expect(deliveredRequests('/hooks/killed-after-commit')).toEqual(ids);
    expect(allDeliveredMs).toBeLessThan((LEASE_SECONDS + 5) * 1000 + (startedAt - killedAt));
    expect(receiver.maxInFlightPerSubscription).toBe(1);
    await sleep(500);
    expect(await outbox(tenant)).toEqual([]);
  });

  it('redelivers, with the same ids, what an instance killed mid-attempt was sending, once its lease has passed', async () => {
    const tenant = await newTenant();
    let hold = true;
    receiver.handler = (_req, res) => {
      // Held open (no answer) while the first instance is alive; answered once it is gone.
      if (!hold) res.end();
    };
    const first = await start('notifications-killed-mid-attempt');
    await subscribe(tenant, '/hooks/killed-mid-attempt');
    const ids = await createRequests(first, tenant, 3);
    await receiver.waitUntil(() => receiver.inFlight > 0, 10_000);
    const held = receiver.notifications().map((n) => n.notification.id);
    first.kill('SIGKILL');
    const killedAt = performance.now();
    await first.exit;
    hold = false;
    const sent = receiver.requests.length;
    await start('notifications-redelivers');
    await receiver.waitUntil(
      () => deliveredRequests('/hooks/killed-mid-attempt').length >= ids.length && receiver.requests.length > sent,
      (LEASE_SECONDS + 10) * 1000,
    );
    const redelivered = receiver.requests[sent];
    const redeliveredAfterMs = Math.round(receiver.receivedAt(redelivered) - killedAt);
    recordFigures('notifications: instance killed -9 mid-attempt', {
      heldNotifications: held.length,
      redeliveredAfterKillMs: redeliveredAfterMs,
      leaseSeconds: LEASE_SECONDS,
    });
    const again = receiver.notifications((n) => n.post === sent).map((n) => n.notification.id);
    expect(again.slice(0, held.length)).toEqual(held);
    expect(deliveredRequests('/hooks/killed-mid-attempt')).toEqual(ids);
    // Not before the dead instance's lease ran out (renewed just before its attempt), nor long after.
    expect(redeliveredAfterMs).toBeGreaterThan((LEASE_SECONDS - 3) * 1000);
    expect(redeliveredAfterMs).toBeLessThan((LEASE_SECONDS + 5) * 1000);
    expect(receiver.maxInFlightPerSubscription).toBe(1);
  });

  it('on SIGTERM finishes the attempt in flight, claims nothing more and releases its lease at once', async () => {
    const tenant = await newTenant();
    const HOLD_MS = 2000;
    receiver.handler = (_req, res) => setTimeout(() => res.end(), HOLD_MS);
    // A lease far longer than the test: only a release lets another instance take the subscription soon.
    const long = { NOTIFICATIONS_LEASE_SECONDS: '600' };
    const first = await start('notifications-sigterm', long);
    const subscription = await subscribe(tenant, '/hooks/sigterm');
    const [firstId] = await createRequests(first, tenant, 1);
    await receiver.waitUntil(() => receiver.inFlight > 0, 10_000);
    first.kill('SIGTERM');
    const termAt = performance.now();
    const exit = await first.exit;
    const exitMs = Math.round(exit.at - termAt);
    const postsByFirst = receiver.requests.length;
    const { rows: leases } = await db.admin.query<{ lease_owner: string | null }>(
      'SELECT lease_owner FROM subscriptions WHERE tenant_id = $1 AND id = $2',
      [tenant.tenantId, subscription.id],
    );
    expect(leases).toEqual([{ lease_owner: null }]);
    expect(await outbox(tenant)).toEqual([]);

    receiver.handler = (_req, res) => res.end();
    const second = await start('notifications-after-sigterm', long);
    const [secondId] = await createRequests(second, tenant, 1);
    const createdAt = performance.now();
    await receiver.waitUntil(
      () => deliveredRequests('/hooks/sigterm').length >= 2,
      15_000,
      () => second.problems(),
    );
    const deliveredMs = Math.round(performance.now() - createdAt);
    recordFigures('notifications: SIGTERM mid-attempt', {
      holdMs: HOLD_MS,
      exitAfterSigtermMs: exitMs,
      nextDeliveredMs: deliveredMs,
    });
    expect(exit.code).toBe(0);
    // The attempt in flight ended (answered after HOLD_MS) before the process did, and nothing followed it.
    expect(exitMs).toBeGreaterThan(HOLD_MS - 500);
    expect(postsByFirst).toBe(1);
    expect(deliveredRequests('/hooks/sigterm')).toEqual([firstId, secondId]);
    // Far sooner than the 600 s lease: it was released.
    expect(deliveredMs).toBeLessThan(10_000);
  });

  it('retries a receiver that answers 500, keeping the notification until it succeeds', async () => {
    const tenant = await newTenant();
    let failures = 0;
    receiver.handler = (_req, res) => {
      if (failures++ < 2) res.statusCode = 500;
      res.end();
    };
    const service = await start('notifications-receiver-500');
    await subscribe(tenant, '/hooks/failing');
    const [id] = await createRequests(service, tenant, 1);
    await receiver.waitUntil(() => receiver.requests.length >= 2, 10_000);
    const afterSecond = await outboxWhen(tenant, (rows) => rows[0]?.attempts === 2);
    expect(afterSecond).toEqual([{ attempts: 2, last_error: 'status 500' }]);
    await receiver.waitUntil(() => receiver.requests.length >= 3, 10_000);
    const ids = receiver.notifications().map((n) => n.notification.id);
    expect(new Set(ids).size).toBe(1);
    expect(deliveredRequests('/hooks/failing')).toEqual([id]);
    expect(await outboxWhen(tenant, (rows) => rows.length === 0)).toEqual([]);
  });

  it('gives up a first attempt that gets no answer after 3 s, closes the connection, and retries with 10 s', async () => {
    const tenant = await newTenant();
    receiver.handler = () => undefined;
    const service = await start('notifications-receiver-hangs');
    await subscribe(tenant, '/hooks/hanging');
    await createRequests(service, tenant, 1);
    await receiver.waitUntil(() => receiver.requests.length >= 1, 10_000);
    const firstAt = receiver.receivedAt(receiver.requests[0]);
    await receiver.waitUntil(() => receiver.inFlight === 0, 6000);
    const heldMs = Math.round(performance.now() - firstAt);
    await receiver.waitUntil(() => receiver.requests.length >= 2, 10_000);
    const retryAfterMs = Math.round(receiver.receivedAt(receiver.requests[1]) - firstAt);
    await sleep(200);
    const rows = await outbox(tenant);
    recordFigures('notifications: receiver that never answers', { firstAttemptHeldMs: heldMs, retryAfterMs });
    expect(heldMs).toBeGreaterThan(2800);
    expect(heldMs).toBeLessThan(4500);
    expect(rows).toEqual([{ attempts: 1, last_error: 'timeout' }]);
    // 3 s timeout + 1 s ± 20 % + a poll.
    expect(retryAfterMs).toBeLessThan(5000);
  });

  it('reads at most 64 KiB of an endless 200 body, closes the connection, and counts the POST delivered', async () => {
    const tenant = await newTenant();
    let written = 0;
    receiver.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const timer = setInterval(() => {
        if (res.destroyed || written > 64 * 1024 * 1024) return clearInterval(timer);
        res.write(chunk);
        written += chunk.length;
      }, 5);
      res.on('close', () => clearInterval(timer));
    };
    const service = await start('notifications-receiver-endless');
    await subscribe(tenant, '/hooks/endless');
    const [id] = await createRequests(service, tenant, 1);
    await receiver.waitUntil(() => receiver.requests.length >= 1, 10_000);
    await receiver.waitUntil(() => receiver.inFlight === 0, 5000);
    await sleep(500);
    recordFigures('notifications: receiver streaming an endless body', { bytesWrittenBeforeClose: written });
    expect(deliveredRequests('/hooks/endless')).toEqual([id]);
    expect(receiver.requests.filter((r) => r.url === '/hooks/endless')).toHaveLength(1);
    expect(await outbox(tenant)).toEqual([]);
    expect(written).toBeLessThan(4 * 1024 * 1024);
    expect(receiver.openSockets).toBe(0);
  });
});
