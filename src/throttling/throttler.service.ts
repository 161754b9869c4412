import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { MetricsService } from '../observability/metrics.service.js';
import type { Limit } from './throttle-limits.js';
import { ThrottledError } from './throttled.error.js';

/**
 * Counts every window of every applicable limit in one statement (one round trip), fixed windows
 * aligned on the epoch. A window's count is shared by all instances through the database, and a
 * tenant's counters are its own rows, so no tenant slows another.
 */
const COUNT_SQL = `
  INSERT INTO throttle_counters AS c (tenant_id, scope, key, window_seconds, window_start, count, expires_at)
  SELECT $1, w.scope, w.key, w.seconds, w.start, 1, w.start + make_interval(secs => w.seconds)
  FROM (
    SELECT s.scope, s.key, s.seconds,
           to_timestamp(floor(extract(epoch FROM now()) / s.seconds) * s.seconds) AS start
    FROM unnest($2::varchar[], $3::varchar[], $4::int[]) AS s(scope, key, seconds)
  ) w
  ON CONFLICT (tenant_id, scope, key, window_seconds, window_start)
  DO UPDATE SET count = c.count + 1
  RETURNING scope, window_seconds, count, ceil(extract(epoch FROM expires_at - now()))::int AS retry_after`;

const CLEANUP_INTERVAL_MS = 60_000;

interface Check {
  scope: 'tenant' | 'resource' | 'results';
  key: string;
  limits: Limit[];
}

@Injectable()
export class Throttler implements OnApplicationShutdown {
  private readonly logger = new Logger('Throttler');
  private readonly cleanup: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.cleanup = setInterval(() => void this.deleteExpired(), CLEANUP_INTERVAL_MS);
    this.cleanup.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.cleanup);
  }

  /**
   * Creating a request: the tenant's limits and the resource's. Given the write's transaction, the
   * counts roll back with a write that does not happen (a lost idempotency race, a failure). The
   * resource's key (a digest) is computed only when a resource limit applies.
   */
  createRequest(tenantId: string, resourceKey: () => string, manager?: EntityManager): Promise<void> {
    const limits = this.config.throttle;
    return this.enforce(tenantId, manager, [
      { scope: 'tenant', key: '', limits: limits.tenant },
      ...(limits.resource.length > 0
        ? [{ scope: 'resource' as const, key: resourceKey(), limits: limits.resource }]
        : []),
    ]);
  }

  addResult(tenantId: string, manager?: EntityManager): Promise<void> {
    return this.enforce(tenantId, manager, [{ scope: 'results', key: '', limits: this.config.throttle.results }]);
  }

  private async enforce(tenantId: string, manager: EntityManager | undefined, checks: Check[]): Promise<void> {
    const windows = checks.flatMap((check) => check.limits.map((limit) => ({ ...check, limit })));
    if (windows.length === 0) return;
    const rows: { scope: Check['scope']; window_seconds: number; count: number; retry_after: number }[] = await (
      manager ?? this.dataSource.manager
    ).query(COUNT_SQL, [
      tenantId,
      windows.map((w) => w.scope),
      windows.map((w) => w.key),
      windows.map((w) => w.limit.windowSeconds),
    ]);
    let exceeded: ThrottledError | undefined;
    for (const row of rows) {
      const limit = windows.find((w) => w.scope === row.scope && w.limit.windowSeconds === row.window_seconds)!.limit;
      if (row.count > limit.count && (!exceeded || row.retry_after > exceeded.retryAfterSeconds)) {
        exceeded = new ThrottledError(row.scope, Math.max(1, row.retry_after));
      }
    }
    if (exceeded) {
      this.metrics.throttled.inc({ scope: exceeded.scope });
      throw exceeded;
    }
  }

  private async deleteExpired(): Promise<void> {
    if (!this.dataSource.isInitialized) return;
    try {
      await this.dataSource.query('DELETE FROM throttle_counters WHERE expires_at < now()');
    } catch (error) {
      this.logger.warn(`Could not delete expired counters: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
