import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Database } from '../database/database.js';

/** Prometheus metrics of this process, served at `/metrics`. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly throttled = new Counter({
    name: 'throttled_requests_total',
    help: 'Requests answered 429, by limit scope (tenant or resource).',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });

  constructor(database: Database) {
    collectDefaultMetrics({ register: this.registry });
    type PoolStats = NonNullable<ReturnType<Database['poolStats']>>;
    const gauge = (name: string, help: string, read: (p: PoolStats) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const p = database.poolStats();
          this.set(p ? read(p) : 0);
        },
      });
    gauge('db_pool_connections_total', 'Connections open in the database pool.', (p) => p.total);
    gauge('db_pool_connections_idle', 'Idle connections in the database pool.', (p) => p.idle);
    gauge('db_pool_requests_waiting', 'Queries waiting for a pooled connection.', (p) => p.waiting);
    new Gauge({
      name: 'db_up',
      help: '1 when the database has been reached since start, else 0.',
      registers: [this.registry],
      collect() {
        this.set(database.poolStats() ? 1 : 0);
      },
    });
  }
}
