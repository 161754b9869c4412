import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertSubscription } from '../support/notification-subscriptions.js';
import { createTestCertificates } from '../support/test-certificates.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { recordFigures } from '../faults/support/figures.js';
import { call, createParents, newTenant, REQUESTS, type Tenant } from '../faults/support/graph-client.js';
import { resultPayload } from '../faults/support/load.js';
import { freePorts } from '../faults/support/ports.js';
import { type ControlledPostgres, startControlledPostgres } from '../faults/support/postgres.js';
import { type RunningService, startService } from '../faults/support/service.js';
import { killEverything, trackFolder, trackPostmaster, trackProcess } from './support/daemons.js';
import { type HttpLoadBalancer, startHttpLoadBalancer } from './support/haproxy.js';
import { ensureTopologyTools, HAPROXY } from './support/install.js';

/*
 * Delivery with several instances: three delivering instances of the built service behind HAProxy on one
 * PostgreSQL, a steady add-result load through the load balancer, one instance killed -9 mid-run. The
 * receiver sees every committed notification, each subscription's in order, and never two POSTs of one
 * subscription at once (the lease).
 */

const NAMES = ['delivery1', 'delivery2', 'delivery3'];
const LEASE_SECONDS = 15;
const PARENTS = 6;
const LOAD_MS = 16_000;
const KILL_AT_MS = 6_000;

let postgres: ControlledPostgres;
let lb: HttpLoadBalancer;
let receiver: WebhookReceiver;
const services: RunningService[] = [];

beforeAll(async () => {
  const user = ensureTopologyTools([HAPROXY]);
  const certificates = createTestCertificates();
  const caDir = mkdtempSync(join(tmpdir(), 'threat-assessment-topology-ca-'));
  trackFolder(caDir);
  writeFileSync(join(caDir, 'ca.pem'), certificates.caCert);
  receiver = await WebhookReceiver.start('127.0.0.1', { cert: certificates.leafCert, key: certificates.leafKey });
  // The receiver answers after a moment: a POST is often in flight when an instance dies.
  receiver.handler = (_req, res) => setTimeout(() => res.end(), 20);
  postgres = await startControlledPostgres('threat_assessment_delivery_topology_test');
  trackPostmaster(join(postgres.dataDir, 'postmaster.pid'));
  trackFolder(dirname(postgres.dataDir));
  const [lbPort, ...ports] = await freePorts(NAMES.length + 1);
  await Promise.all(
    NAMES.map(async (name, i) => {
      const service = await startService(`topology-${name}`, {
        DATABASE_URL: postgres.url,
        PORT: String(ports[i]),
        PUBLIC_BASE_URL: undefined,
        ALLOWED_HOSTS: `127.0.0.1:${lbPort}`,
        TRUST_PROXY: '127.0.0.1',
        DB_POOL_SIZE: '5',
        NODE_EXTRA_CA_CERTS: join(caDir, 'ca.pem'),
        NOTIFICATIONS_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
        NOTIFICATIONS_LEASE_SECONDS: String(LEASE_SECONDS),
        NOTIFICATIONS_POLL_INTERVAL_MS: '100',
        NOTIFICATIONS_BATCH_SIZE: '5',
      });
      services.push(service);
      trackProcess(service.pid);
      await service.waitFor('/health/ready', 200, 60_000);
    }),
  );
  lb = await startHttpLoadBalancer(
    user,
    lbPort,
    NAMES.map((name, i) => ({ name, port: ports[i] })),
    30_000,
  );
}, 300_000);

afterAll(async () => {
  try {
    await Promise.all(services.map((service) => service.stop()));
    await lb?.destroy();
    await receiver?.close();
    await postgres?.destroy();
  } finally {
    killEverything();
  }
}, 90_000);

/** What is left in the outbox per subscription, and what the instances logged: for a failure's message. */
async function queueState(): Promise<string> {
  const { rows } = await postgres.admin.query(
    `SELECT s.id, s.lease_owner, round(extract(epoch FROM s.lease_until - now()))::int AS lease_left_s,
        count(n.seq)::int AS queued, max(n.attempts) AS max_attempts,
        round(extract(epoch FROM min(n.next_attempt_at) - now()))::int AS next_due_s,
        string_agg(DISTINCT n.last_error, ', ') AS errors
      FROM subscriptions s LEFT JOIN notifications n ON n.tenant_id = s.tenant_id AND n.subscription_id = s.id
      GROUP BY s.id, s.lease_owner, s.lease_until`,
  );
  const logged = services.map((service) => `${service.name}:\n${service.problems()}`).join('\n');
  return `outbox per subscription: ${JSON.stringify(rows)}\n${logged}`;
}

describe('three delivering instances behind HAProxy, one killed -9 under load', () => {
  it('delivers every notification, in order per subscription, never two POSTs of one subscription at once', async () => {
    const tenant: Tenant = await newTenant();
    const parents = await createParents(lb.baseUrl, tenant, PARENTS);
    const subscriptions = new Map<string, string>();
    for (const parent of parents) {
      const s = await insertSubscription(postgres.admin, {
        tenantId: tenant.tenantId,
        resultsOf: parent,
        changeTypes: ['created'],
        notificationUrl: `https://127.0.0.1:${receiver.port}/hooks/${parent}`,
      });
      subscriptions.set(s.id, parent);
    }
    // One sequential client per parent: each result's transaction begins after the previous one's commit.
    const answered = new Map<string, string[]>(parents.map((p) => [p, []]));
    let failed = 0;
    const started = performance.now();
    const clients = parents.map(async (parent) => {
      for (let i = 0; performance.now() - started < LOAD_MS; i++) {
        const answer = await call(lb.baseUrl, `${REQUESTS}/${parent}/results`, {
          token: tenant.token,
          body: resultPayload(`${parent}-${i}`),
          timeoutMs: 15_000,
        });
        if (answer.status === 201) answered.get(parent)!.push((answer.body as { id: string }).id);
        else failed++;
      }
    });
    await sleep(KILL_AT_MS);
    const victim = services[1];
    victim.kill('SIGKILL');
    const killedAt = performance.now();
    await Promise.all(clients);
    const loadEndedAt = performance.now();
    const total = [...answered.values()].reduce((n, ids) => n + ids.length, 0);
    const deliveredOf = (parent: string) => {
      const seen = new Set<string>();
      const ids: string[] = [];
      for (const { notification } of receiver.notifications((n) => n.request.url === `/hooks/${parent}`)) {
        if (seen.has(notification.id)) continue;
        seen.add(notification.id);
        ids.push((notification.resourceData as { id: string }).id);
      }
      return ids;
    };
    // One pass over what arrived: the receiver answers on this event loop while the test polls.
    const missing = () => {
      const delivered = new Set(
        receiver.notifications().map((n) => (n.notification.resourceData as { id: string }).id),
      );
      return parents.reduce((n, p) => n + answered.get(p)!.filter((id) => !delivered.has(id)).length, 0);
    };
    await receiver
      .waitUntil(
        () => missing() === 0,
        (LEASE_SECONDS + 20) * 1000,
        () => `${missing()} missing`,
      )
      .catch(async (error: Error) => {
        throw new Error(`${error.message}\n${await queueState()}`);
      });
    const allDeliveredAfterLoadMs = Math.round(performance.now() - loadEndedAt);
    const notifications = receiver.notifications();
    const duplicates = notifications.length - new Set(notifications.map((n) => n.notification.id)).size;
    recordFigures('notifications: three instances behind HAProxy, one killed -9', {
      resultsCommitted: total,
      failedRequests: failed,
      posts: receiver.requests.length,
      duplicates,
      killedAfterMs: Math.round(killedAt - started),
      allDeliveredAfterLoadMs,
      maxInFlightPerSubscription: receiver.maxInFlightPerSubscription,
    });
    expect(total).toBeGreaterThan(100);
    for (const parent of parents) {
      const committed = new Set(answered.get(parent));
      // Requests cut by the kill may have committed too: they may appear, anywhere allowed by their timing.
      expect(deliveredOf(parent).filter((id) => committed.has(id))).toEqual(answered.get(parent));
    }
    expect(receiver.maxInFlightPerSubscription).toBe(1);
    expect(new Set(notifications.map((n) => n.notification.subscriptionId))).toEqual(new Set(subscriptions.keys()));
    // Every POST held one subscription's notifications only.
    for (const request of receiver.requests) {
      const ids = new Set(
        receiver.notifications((n) => n.request === request).map((n) => n.notification.subscriptionId),
      );
      expect(ids.size).toBe(1);
    }
  });
});
