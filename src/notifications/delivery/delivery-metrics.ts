import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { DatabaseLifecycle } from '../../database/database-lifecycle.service.js';
import { MetricsService } from '../../observability/metrics.service.js';
import { OutboxStore } from './outbox.store.js';

export const DELIVERY_OUTCOMES = [
  'delivered',
  'http_error',
  'timeout',
  'connection_error',
  'tls_error',
  'dns_error',
  'refused',
  'invalid_response',
] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/**
 * Delivery's metrics, in the service's registry. The queue gauges describe the shared outbox (every
 * instance reports the same figures), read from the database when scraped; zero while it is not reachable.
 */
@Injectable()
export class DeliveryMetrics {
  readonly attempts: Counter<'channel' | 'outcome'>;
  readonly latency: Histogram;

  constructor(metrics: MetricsService, store: OutboxStore, lifecycle: DatabaseLifecycle) {
    const registers = [metrics.registry];
    this.attempts = new Counter({
      name: 'notification_delivery_attempts_total',
      help: 'Notification POSTs by channel (change, lifecycle) and outcome.',
      labelNames: ['channel', 'outcome'] as const,
      registers,
    });
    this.latency = new Histogram({
      name: 'notification_delivery_latency_seconds',
      help: 'From the change (its transaction, database clock) to the receiver’s 2xx, per notification.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 14_400],
      registers,
    });
    let stats: Promise<{ depth: number; oldestSeconds: number }> | undefined;
    // One query per scrape for both gauges.
    const read = () => {
      stats ??= readStats(store, lifecycle).finally(() => setImmediate(() => (stats = undefined)));
      return stats;
    };
    new Gauge({
      name: 'notification_queue_depth',
      help: 'Notifications recorded and not yet delivered nor abandoned.',
      registers,
      async collect() {
        this.set((await read()).depth);
      },
    });
    new Gauge({
      name: 'notification_queue_oldest_age_seconds',
      help: 'Age of the oldest undelivered notification.',
      registers,
      async collect() {
        this.set((await read()).oldestSeconds);
      },
    });
  }
}

async function readStats(store: OutboxStore, lifecycle: DatabaseLifecycle) {
  try {
    lifecycle.assertReady();
    return await store.queueStats();
  } catch {
    return { depth: 0, oldestSeconds: 0 };
  }
}
