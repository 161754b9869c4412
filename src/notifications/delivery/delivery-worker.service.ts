import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { SpanStatusCode } from '@opentelemetry/api';
import type { AppConfig, NotificationsConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { DatabaseLifecycle } from '../../database/database-lifecycle.service.js';
import { HostConcurrencyLimiter } from '../outbound/host-concurrency-limiter.js';
import { MAX_CONCURRENT_REQUESTS_PER_HOST, WebhookClient, type WebhookResult } from '../outbound/webhook-client.js';
import { type DeliveryOutcome, DeliveryMetrics } from './delivery-metrics.js';
import { startDeliverySpan } from './delivery-span.js';
import {
  changeNotificationCollection,
  lifecycleNotificationCollection,
  NOTIFICATION_CONTENT_TYPE,
} from './notification-payload.js';
import {
  type Channel,
  type LeasedSubscription,
  OutboxStore,
  type QueuedRow,
  type SubscriptionKey,
} from './outbox.store.js';
import { attemptTimeoutMs, planFailure } from './retry-schedule.js';

/** Subscriptions worked at once by one instance; each is worked by one loop, one POST at a time. */
export const MAX_SUBSCRIPTIONS_IN_PROGRESS = 24;
/** At most this much of a receiver's answer is read (contract §8). */
export const MAX_NOTIFICATION_RESPONSE_BYTES = 64 * 1024;
/** How often each instance sweeps (abandoned rows, expired and retired subscriptions). */
const HOUSEKEEPING_INTERVAL_MS = 10 * 60_000;
/**
 * On shutdown, how long attempts in flight may still end: within the process's 10 s shutdown bound,
 * leaving time to release the leases and close the pool. An attempt cut short is retried elsewhere
 * after the release, with the same ids.
 */
const SHUTDOWN_ATTEMPTS_MS = 7_000;

/**
 * The outbox worker. Every poll interval it looks for subscriptions with due notifications whose lease
 * is free or expired, takes each lease by a compare-and-set of the subscription's row, and works each
 * held subscription in its own sequential loop: renew the lease, take the head batch of a queue, POST
 * it, then delete it (2xx) or reschedule it (planFailure). A lost lease ends the loop. Lifecycle rows
 * are a queue of their own, served first, never behind change rows.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('NotificationDelivery');
  /** Random per process: a restarted instance does not inherit its predecessor's leases. */
  readonly instanceId = randomUUID();
  private readonly settings: NotificationsConfig;
  private readonly working = new Map<string, Promise<void>>();
  /** Per destination host, so that a POST waits for a slot before its lease is renewed, not after. */
  private readonly hostSlots = new HostConcurrencyLimiter(MAX_CONCURRENT_REQUESTS_PER_HOST);
  private claiming: Promise<void> | undefined;
  /** The last claim left due subscriptions unclaimed: for want of places, or beyond its limit. */
  private backlog = false;
  private timer?: NodeJS.Timeout;
  private stopping = false;
  private lastHousekeeping = Number.NEGATIVE_INFINITY;
  private failing = false;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly store: OutboxStore,
    private readonly client: WebhookClient,
    private readonly metrics: DeliveryMetrics,
    private readonly lifecycle: DatabaseLifecycle,
  ) {
    this.settings = config.notifications;
  }

  onApplicationBootstrap(): void {
    if (this.settings.deliveryEnabled) this.schedule(0);
  }

  /**
   * Before the pool closes (onApplicationShutdown): stop claiming, let attempts in flight end (bounded),
   * and release the leases. Each subscription's loop releases its own lease as it ends; only when some
   * attempt outlives the bound are all of this instance's leases released at once, so that another
   * instance takes over at once. With nothing in flight this returns at once: the HTTP server's close,
   * which follows, is not delayed.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.settings.deliveryEnabled || this.stopping) return;
    this.stopping = true;
    clearTimeout(this.timer);
    if (this.working.size === 0) return;
    const ended = await Promise.race([
      Promise.allSettled([...this.working.values()]).then(() => true),
      sleep(SHUTDOWN_ATTEMPTS_MS, false, { ref: false }),
    ]);
    if (ended) return;
    try {
      await this.store.releaseAll(this.instanceId);
    } catch (error) {
      // Leases not released expire on their own.
      this.logger.warn(`Could not release the delivery leases: ${describe(error)}`);
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.schedule(this.settings.pollIntervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    try {
      this.lifecycle.assertReady();
    } catch {
      return;
    }
    try {
      if (performance.now() - this.lastHousekeeping >= HOUSEKEEPING_INTERVAL_MS) {
        this.lastHousekeeping = performance.now();
        await this.store.housekeep();
      }
      await this.claim();
      if (this.failing) this.logger.log('Delivery reaches the database again');
      this.failing = false;
    } catch (error) {
      // Once per outage, not once per poll; at shutdown the pool may close under a poll.
      if (!this.failing && !this.stopping) this.logger.warn(`Delivery poll failed, retrying: ${describe(error)}`);
      this.failing = true;
    }
  }

  /**
   * One claim at a time. When the last one left due subscriptions unclaimed (for want of places, or
   * beyond its limit), a place that frees up claims again at once rather than at the next poll: with
   * many subscriptions each with a little to send, the poll interval would otherwise bound the rate.
   * Places freed while a claim ran are filled when it ends.
   */
  private claim(): Promise<void> {
    this.claiming ??= this.claimOnce().finally(() => {
      this.claiming = undefined;
      if (this.backlog && !this.stopping && this.working.size < MAX_SUBSCRIPTIONS_IN_PROGRESS) {
        // A failure here is the poll's to report: it runs the same claim.
        this.claim().catch(() => undefined);
      }
    });
    return this.claiming;
  }

  private async claimOnce(): Promise<void> {
    const free = MAX_SUBSCRIPTIONS_IN_PROGRESS - this.working.size;
    if (free <= 0) return;
    // Held ones may show (a lease that expired while worked): asked for as many more.
    const asked = free + this.working.size;
    // Cleared first: a claim that fails (the database is gone) must not chain into the next one.
    this.backlog = false;
    const candidates = await this.store.candidates(asked);
    let claimed = 0;
    let unclaimed = false;
    for (const key of candidates) {
      if (this.stopping) return;
      const name = keyOf(key);
      if (this.working.has(name)) continue;
      if (this.working.size >= MAX_SUBSCRIPTIONS_IN_PROGRESS) {
        unclaimed = true;
        break;
      }
      const leased = await this.store.takeLease(key, this.instanceId, this.settings.leaseSeconds);
      if (!leased) continue;
      // Shutdown began while the lease was being taken: give it back rather than start.
      if (this.stopping) return this.store.releaseLease(key, this.instanceId);
      claimed++;
      const work = this.work(leased).finally(() => {
        this.working.delete(name);
        if (this.backlog && !this.stopping) this.claim().catch(() => undefined);
      });
      this.working.set(name, work);
    }
    // Without a lease taken, a full answer is other instances' work: no claiming again before the poll.
    this.backlog = unclaimed || (candidates.length >= asked && claimed > 0);
  }

  /** One subscription's queues, one POST at a time, until nothing is due, the lease is lost or we stop. */
  private async work(taken: LeasedSubscription): Promise<void> {
    let subscription: LeasedSubscription | undefined = taken;
    let fresh = true;
    let lost = false;
    try {
      while (!this.stopping) {
        const release = await this.hostSlots.acquire(hostOf(subscription.notificationUrl));
        try {
          // Renewed before each attempt (the take is the first renewal): a lease lasts ≥ 15 s, an attempt ≤ 10 s.
          if (!fresh) subscription = await this.store.takeLease(taken, this.instanceId, this.settings.leaseSeconds);
          fresh = false;
          if (!subscription) {
            lost = true;
            return;
          }
          const batch = nextBatch(await this.store.queueHeads(subscription, this.settings.batchSize));
          if (!batch || this.stopping) return;
          if (batch.channel === 'lifecycle' && !subscription.lifecycleNotificationUrl) {
            await this.store.drop(
              subscription,
              batch.rows.map((row) => row.seq),
            );
            continue;
          }
          await this.attempt(subscription, batch.channel, batch.rows);
        } finally {
          release();
        }
      }
    } catch (error) {
      this.logger.warn(`Delivery to subscription ${taken.id} stopped: ${describe(error)}`);
    } finally {
      if (!lost) await this.store.releaseLease(taken, this.instanceId).catch(() => undefined);
    }
  }

  private async attempt(subscription: LeasedSubscription, channel: Channel, rows: QueuedRow[]): Promise<void> {
    const target = channel === 'change' ? subscription.notificationUrl : subscription.lifecycleNotificationUrl!;
    const body =
      channel === 'change'
        ? changeNotificationCollection(
            subscription,
            rows.map((row) => ({
              id: row.id,
              event: row.event,
              requestId: row.requestId!,
              resultId: row.resultId,
              requestKind: row.requestKind!,
            })),
          )
        : lifecycleNotificationCollection(subscription, rows);
    const [head] = rows;
    const span = startDeliverySpan(head.traceparent, {
      channel,
      subscriptionId: subscription.id,
      tenantId: subscription.tenantId,
      count: rows.length,
      attempt: head.attempts + 1,
      url: urlOf(target),
    });
    const startedAt = head.dbNow;
    const started = performance.now();
    let result: WebhookResult;
    try {
      result = await this.client.post(target, {
        body: JSON.stringify(body),
        contentType: NOTIFICATION_CONTENT_TYPE,
        timeoutMs: attemptTimeoutMs(head.attempts),
        maxBodyBytes: MAX_NOTIFICATION_RESPONSE_BYTES,
      });
    } catch (error) {
      span.end();
      throw error;
    }
    // The database clock at the end of the attempt: its start, read from PostgreSQL, plus the time it took.
    const endedAt = new Date(startedAt.getTime() + (performance.now() - started));
    const outcome = outcomeOf(result);
    this.metrics.attempts.inc({ channel, outcome });
    if (result.outcome === 'response') span.setAttribute('http.response.status_code', result.status);
    if (outcome !== 'delivered') {
      span.setAttribute('error.type', result.outcome === 'response' ? String(result.status) : result.outcome);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
    const seqs = rows.map((row) => row.seq);
    if (outcome === 'delivered') {
      await this.store.delivered(subscription, channel, seqs);
      for (const row of rows) this.metrics.latency.observe((endedAt.getTime() - row.createdAt.getTime()) / 1000);
      return;
    }
    const plan = planFailure(rows, startedAt, endedAt, this.settings);
    await this.store.failed(subscription, {
      channel,
      seqs,
      abandon: plan.abandon,
      startedAt,
      nextAttemptAt: plan.nextAttemptAt,
      lastError: result.outcome === 'response' ? `status ${result.status}` : result.outcome,
      holdBehind: plan.abandon.includes(false),
    });
  }
}

/**
 * The batch to send: the lifecycle queue's head batch when due, else the change queue's. A queue whose
 * head waits for its retry sends nothing (head-of-line); undefined when neither is due.
 */
export function nextBatch(heads: readonly QueuedRow[]): { channel: Channel; rows: QueuedRow[] } | undefined {
  for (const channel of ['lifecycle', 'change'] as const) {
    const rows = heads.filter((row) => row.channel === channel);
    if (rows.length > 0 && rows[0].nextAttemptAt.getTime() <= rows[0].dbNow.getTime()) return { channel, rows };
  }
  return undefined;
}

function outcomeOf(result: WebhookResult): DeliveryOutcome {
  switch (result.outcome) {
    case 'response':
      // Any 2xx in time is delivered, whatever the body (read up to the bound, then the connection closed).
      return result.status >= 200 && result.status <= 299 ? 'delivered' : 'http_error';
    case 'timeout':
      return 'timeout';
    case 'refused-url':
    case 'refused-address':
      return 'refused';
    case 'dns-error':
      return 'dns_error';
    case 'connection-error':
      return 'connection_error';
    case 'tls-error':
      return 'tls_error';
    case 'invalid-response':
      return 'invalid_response';
  }
}

function keyOf(key: SubscriptionKey): string {
  return `${key.tenantId}/${key.id}`;
}

function urlOf(target: string): URL | undefined {
  try {
    return new URL(target);
  } catch {
    return undefined;
  }
}

function hostOf(target: string): string {
  return urlOf(target)?.hostname ?? '';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
