/** What a counter counts: creating requests per tenant or per resource, adding results per tenant. */
/** `subscriptions`: subscription creates and updates per tenant (NOTIFICATIONS_WRITES_PER_MINUTE). */
export type ThrottleScope = 'tenant' | 'resource' | 'results' | 'subscriptions';

import type { ThrottleConfig } from '../config/app-config.js';
import type { Limit } from '../config/rate-limits.js';

export type { Limit };

export interface ThrottleLimits {
  /** Creating requests, per tenant. */
  tenant: Limit[];
  /** Creating requests for the same resource (a message and recipient, a URL, a file), per tenant. */
  resource: Limit[];
  /** Adding results, per tenant. */
  results: Limit[];
}

/** Graph's documented limits for POST on /informationProtection. */
export const GRAPH_LIMITS: ThrottleLimits = {
  tenant: [
    { count: 150, windowSeconds: 15 * 60 },
    { count: 10_000, windowSeconds: 24 * 3600 },
  ],
  resource: [
    { count: 1, windowSeconds: 15 * 60 },
    { count: 3, windowSeconds: 24 * 3600 },
  ],
  results: [],
};

export const NO_LIMITS: ThrottleLimits = { tenant: [], resource: [], results: [] };

/** The limits in force: each set one by one, else the preset's. */
export function limitsOf(config: ThrottleConfig): ThrottleLimits {
  const preset = config.preset === 'graph' ? GRAPH_LIMITS : NO_LIMITS;
  return {
    tenant: config.tenant ?? preset.tenant,
    resource: config.resource ?? preset.resource,
    results: config.results ?? preset.results,
  };
}
