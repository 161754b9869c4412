import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DataSource } from 'typeorm';

interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

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

  constructor(@InjectDataSource() dataSource: DataSource) {
    collectDefaultMetrics({ register: this.registry });
    const pool = () =>
      dataSource.isInitialized ? (dataSource.driver as unknown as { master?: PgPool }).master : undefined;
    const gauge = (name: string, help: string, read: (p: PgPool) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const p = pool();
          this.set(p ? read(p) : 0);
        },
      });
    gauge('db_pool_connections_total', 'Connections open in the database pool.', (p) => p.totalCount);
    gauge('db_pool_connections_idle', 'Idle connections in the database pool.', (p) => p.idleCount);
    gauge('db_pool_requests_waiting', 'Queries waiting for a pooled connection.', (p) => p.waitingCount);
    new Gauge({
      name: 'db_up',
      help: '1 when the database has been reached since start, else 0.',
      registers: [this.registry],
      collect() {
        this.set(dataSource.isInitialized ? 1 : 0);
      },
    });
  }
}
