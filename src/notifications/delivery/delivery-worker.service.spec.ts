import { setImmediate as roundTrip, setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppConfig, NotificationsConfig } from '../../config/app-config.js';
import type { DatabaseLifecycle } from '../../database/database-lifecycle.service.js';
import type { WebhookClient, WebhookRequest, WebhookResult } from '../outbound/webhook-client.js';
import type { DeliveryMetrics } from './delivery-metrics.js';
import { DeliveryWorker, MAX_SUBSCRIPTIONS_IN_PROGRESS } from './delivery-worker.service.js';
import type { LeasedSubscription, OutboxStore, QueuedRow, SubscriptionKey } from './outbox.store.js';

/** Long enough that no test here sees a second poll: whatever is delivered, the first poll's claims did. */
const POLL_INTERVAL_MS = 60_000;

/**
 * The outbox as the worker sees it, in memory: subscriptions with their change queue, leases with an
 * owner, and the candidates' rule (due head, lease free); each statement takes a turn of the event loop.
 */
class MemoryOutbox {
  readonly queues = new Map<string, string[]>();
  readonly leases = new Map<string, string>();
  candidateCalls = 0;
  /** From the next search for due work on, every statement fails, as with the database gone. */
  failing = false;

  constructor(subscriptions: number, perSubscription: number) {
    for (let s = 0; s < subscriptions; s++) {
      this.queues.set(
        `sub-${s}`,
        Array.from({ length: perSubscription }, (_, n) => `${s}-${n}`),
      );
    }
  }

  store(): OutboxStore {
    const store: Partial<OutboxStore> = {
      candidates: async (limit) => {
        await roundTrip();
        this.candidateCalls++;
        if (this.failing) throw new Error('connection refused');
        return [...this.queues]
          .filter(([id, queue]) => queue.length > 0 && !this.leases.has(id))
          .slice(0, limit)
          .map(([id]) => ({ tenantId: 't', id }));
      },
      takeLease: async (key, owner) => {
        await roundTrip();
        const holder = this.leases.get(key.id);
        if (!this.queues.has(key.id) || (holder && holder !== owner)) return undefined;
        this.leases.set(key.id, owner);
        return leased(key);
      },
      releaseLease: async (key, owner) => {
        await roundTrip();
        if (this.leases.get(key.id) === owner) this.leases.delete(key.id);
      },
      releaseAll: async (owner) => {
        await roundTrip();
        for (const [id, holder] of this.leases) if (holder === owner) this.leases.delete(id);
      },
      queueHeads: async (key, batchSize) => {
        await roundTrip();
        return (this.queues.get(key.id) ?? []).slice(0, batchSize).map(queued);
      },
      delivered: async (key, _channel, seqs) => {
        await roundTrip();
        this.queues.set(
          key.id,
          this.queues.get(key.id)!.filter((seq) => !seqs.includes(seq)),
        );
      },
      housekeep: () => roundTrip(),
    };
    return store as OutboxStore;
  }

  get undelivered(): number {
    return [...this.queues.values()].reduce((n, queue) => n + queue.length, 0);
  }
}

/** Answers every POST 202 after `postMs`, and records how many were in flight at once, overall and per subscription. */
class RecordingClient {
  readonly delivered: string[] = [];
  inFlight = 0;
  mostInFlight = 0;
  readonly inFlightPerTarget = new Map<string, number>();
  concurrentPostsForOneSubscription = 0;

  constructor(private readonly postMs: number) {}

  client(): WebhookClient {
    return {
      post: async (target: string, request: WebhookRequest): Promise<WebhookResult> => {
        this.inFlight++;
        this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
        const mine = (this.inFlightPerTarget.get(target) ?? 0) + 1;
        if (mine > 1) this.concurrentPostsForOneSubscription++;
        this.inFlightPerTarget.set(target, mine);
        await sleep(this.postMs);
        this.inFlightPerTarget.set(target, mine - 1);
        this.inFlight--;
        const { value } = JSON.parse(String(request.body)) as { value: { id: string }[] };
        this.delivered.push(...value.map((n) => n.id));
        const timing = { queuedMs: 0, durationMs: this.postMs };
        return {
          outcome: 'response',
          status: 202,
          contentType: undefined,
          body: '',
          truncated: false,
          remoteAddress: '127.0.0.1',
          timing,
        };
      },
    } as unknown as WebhookClient;
  }
}

const settings: NotificationsConfig = {
  maxPerTenant: 1000,
  maxPerApp: 1000,
  maxExpirationMinutes: 4230,
  minExpirationMinutes: 45,
  batchSize: 1,
  writesPerMinute: 100,
  retryBaseSeconds: 1,
  retryMaxDelaySeconds: 60,
  retryWindowSeconds: 14_400,
  leaseSeconds: 30,
  deliveryEnabled: true,
  pollIntervalMs: POLL_INTERVAL_MS,
  allowHttp: false,
  allowedHosts: [],
  allowedCidrs: [],
};

const metrics = {
  attempts: { inc: () => undefined },
  latency: { observe: () => undefined },
} as unknown as DeliveryMetrics;
const lifecycle = { assertReady: () => undefined } as unknown as DatabaseLifecycle;

function leased(key: SubscriptionKey): LeasedSubscription {
  return {
    ...key,
    // One host for every subscription, as a bench or one receiver behind many subscriptions would be.
    notificationUrl: `https://receiver.test/hook/${key.id}`,
    lifecycleNotificationUrl: null,
    clientState: null,
    expirationDateTime: new Date('2030-01-01T00:00:00Z'),
  };
}

function queued(seq: string): QueuedRow {
  const now = new Date();
  return {
    seq,
    id: `notification-${seq}`,
    channel: 'change',
    event: 'created',
    requestId: 'r',
    resultId: `result-${seq}`,
    requestKind: 'urlAssessmentRequest',
    traceparent: null,
    createdAt: now,
    attempts: 0,
    firstAttemptAt: null,
    nextAttemptAt: now,
    dbNow: now,
  };
}

const workers: DeliveryWorker[] = [];

function startWorker(outbox: MemoryOutbox, client: RecordingClient): DeliveryWorker {
  const worker = new DeliveryWorker(
    { notifications: settings } as AppConfig,
    outbox.store(),
    client.client(),
    metrics,
    lifecycle,
  );
  workers.push(worker);
  worker.onApplicationBootstrap();
  return worker;
}

async function until(done: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !done(); waited += 10) {
    if (waited > 10_000) throw new Error(`not within 10 s: ${what}`);
    await sleep(10);
  }
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.beforeApplicationShutdown()));
});

describe('DeliveryWorker', () => {
  it('works more due subscriptions than it has places within one poll: a freed place claims again at once', async () => {
    const subscriptions = MAX_SUBSCRIPTIONS_IN_PROGRESS * 3 + 5;
    const outbox = new MemoryOutbox(subscriptions, 2);
    const client = new RecordingClient(5);
    startWorker(outbox, client);
    await until(() => outbox.undelivered === 0, `all ${subscriptions * 2} notifications delivered`);
    expect(client.delivered).toHaveLength(subscriptions * 2);
    expect(new Set(client.delivered).size).toBe(subscriptions * 2);
    expect(outbox.candidateCalls).toBeGreaterThan(1);
    expect(client.mostInFlight).toBeLessThanOrEqual(MAX_SUBSCRIPTIONS_IN_PROGRESS);
    expect(client.concurrentPostsForOneSubscription).toBe(0);
    await until(() => outbox.leases.size === 0, 'every lease released');
  });

  it('does not chain claims while the database fails: the next try waits for the poll', async () => {
    const outbox = new MemoryOutbox(MAX_SUBSCRIPTIONS_IN_PROGRESS * 2, 1);
    const client = new RecordingClient(20);
    startWorker(outbox, client);
    // The first claim fills every place and leaves due subscriptions behind (a backlog); then the database goes.
    await until(() => client.inFlight > 0, 'the first POSTs sent');
    outbox.failing = true;
    await until(() => outbox.undelivered === MAX_SUBSCRIPTIONS_IN_PROGRESS, 'the first claim worked through');
    await until(() => outbox.leases.size === 0, 'every lease released');
    const calls = outbox.candidateCalls;
    await sleep(200);
    // The first freed place tries once and fails; that failure starts no other claim.
    expect(outbox.candidateCalls - calls).toBe(0);
    expect(outbox.candidateCalls).toBeLessThanOrEqual(3);
  });

  it('delivers each queue in order, one POST at a time, across two instances', async () => {
    const outbox = new MemoryOutbox(30, 5);
    const client = new RecordingClient(2);
    startWorker(outbox, client);
    startWorker(outbox, client);
    await until(() => outbox.undelivered === 0, 'all 150 notifications delivered');
    for (let s = 0; s < 30; s++) {
      const order = client.delivered.filter((id) => id.startsWith(`notification-${s}-`));
      expect(order).toEqual(Array.from({ length: 5 }, (_, n) => `notification-${s}-${n}`));
    }
    expect(client.concurrentPostsForOneSubscription).toBe(0);
  });
});
