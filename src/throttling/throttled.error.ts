import { DomainError } from '../common/errors/domain-error.js';
import type { ThrottleScope } from './throttle-limits.js';

/** 429 `TooManyRequests` with `Retry-After`: the seconds until the exceeded window ends. */
export class ThrottledError extends DomainError {
  constructor(
    readonly scope: ThrottleScope,
    readonly retryAfterSeconds: number,
  ) {
    super(
      scope === 'resource'
        ? `This resource was submitted for assessment too often. Retry after ${retryAfterSeconds} seconds.`
        : scope === 'subscriptions'
          ? `Too many subscription changes for this tenant. Retry after ${retryAfterSeconds} seconds.`
          : `Too many requests for this tenant. Retry after ${retryAfterSeconds} seconds.`,
      { status: 429, code: 'TooManyRequests', headers: { 'retry-after': String(retryAfterSeconds) } },
    );
  }
}
