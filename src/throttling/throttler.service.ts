import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { MetricsService } from '../observability/metrics.service.js';
import {
  type CountedWindow,
  ThrottleCountersStore,
  type ThrottleVerdict,
  type ThrottleWindows,
} from './throttle-counters.store.js';
import { type Limit, limitsOf, type ThrottleLimits, type ThrottleScope } from './throttle-limits.js';
import { ThrottledError } from './throttled.error.js';

const CLEANUP_INTERVAL_MS = 60_000;

/**
 * Fixed windows aligned on the epoch, counted by the write's own statement (throttleGate). A window's
 * count is shared by all instances through the database, and a tenant's counters are its own rows, so
 * no tenant slows another.
 */
@Injectable()
export class Throttler implements OnApplicationShutdown {
  private readonly logger = new Logger('Throttler');
  private readonly cleanup: NodeJS.Timeout;
  private readonly limits: ThrottleLimits;
  private readonly resultWindows: ThrottleWindows | undefined;
  private readonly subscriptionWindows: ThrottleWindows;

  constructor(
    private readonly store: ThrottleCountersStore,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.limits = limitsOf(config.throttle);
    this.resultWindows = windowsOf([{ scope: 'results', key: '', limits: this.limits.results }]);
    this.subscriptionWindows = windowsOf([
      {
        scope: 'subscriptions',
        key: '',
        limits: [{ count: config.notifications.writesPerMinute, windowSeconds: 60 }],
      },
    ])!;
    this.cleanup = setInterval(() => void this.deleteExpired(), CLEANUP_INTERVAL_MS);
    this.cleanup.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.cleanup);
  }

  /**
   * Creating a request: the tenant's limits and the resource's; undefined when none applies (the write
   * then runs ungated). The resource's key (a digest) is computed only when a resource limit applies.
   */
  createRequestWindows(resourceKey: () => string): ThrottleWindows | undefined {
    const limits = this.limits;
    return windowsOf([
      { scope: 'tenant', key: '', limits: limits.tenant },
      ...(limits.resource.length > 0
        ? [{ scope: 'resource' as const, key: resourceKey(), limits: limits.resource }]
        : []),
    ]);
  }

  addResultWindows(): ThrottleWindows | undefined {
    return this.resultWindows;
  }

  /** Counts a subscription create or update of the tenant; throws 429 past the limit. */
  async admitSubscriptionWrite(tenantId: string): Promise<void> {
    await this.settle(tenantId, await this.store.count(tenantId, this.subscriptionWindows), false);
  }

  /**
   * Throws 429 when the gated statement refused the write. In the write's transaction the rollback
   * undoes any count; outside one, the counts of the rare race are given back first.
   */
  async settle(tenantId: string, verdict: Partial<ThrottleVerdict>, inTransaction: boolean): Promise<void> {
    if (!verdict.throttle_scope) return;
    if (verdict.throttle_undo && !inTransaction) await this.giveBack(tenantId, verdict.throttle_undo);
    this.metrics.throttled.inc({ scope: verdict.throttle_scope });
    throw new ThrottledError(verdict.throttle_scope, Math.max(1, verdict.throttle_retry_after ?? 1));
  }

  private async giveBack(tenantId: string, windows: CountedWindow[]): Promise<void> {
    try {
      await this.store.giveBack(tenantId, windows);
    } catch (error) {
      // The refusal stands; the window only stays one higher until it ends.
      this.logger.warn(`Could not give back counts: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async deleteExpired(): Promise<void> {
    try {
      await this.store.deleteExpired();
    } catch (error) {
      this.logger.warn(`Could not delete expired counters: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** One window per scope and length: of two limits on the same window, the smaller is the one that binds. */
function windowsOf(checks: { scope: ThrottleScope; key: string; limits: Limit[] }[]): ThrottleWindows | undefined {
  const windows = new Map<string, { scope: ThrottleScope; key: string; seconds: number; max: number }>();
  for (const { scope, key, limits } of checks) {
    for (const { count, windowSeconds } of limits) {
      const id = `${scope}/${windowSeconds}`;
      const max = Math.min(count, windows.get(id)?.max ?? count);
      windows.set(id, { scope, key, seconds: windowSeconds, max });
    }
  }
  if (windows.size === 0) return undefined;
  const all = [...windows.values()];
  return [all.map((w) => w.scope), all.map((w) => w.key), all.map((w) => w.seconds), all.map((w) => w.max)];
}
