import type { IdempotencyClaim } from '../../idempotency/idempotency.js';
import type { ThrottleWindows } from '../../throttling/throttle-counters.store.js';

interface Statement {
  name: string;
  text: string;
}

/**
 * A POST's write comes in four fixed texts, each named and so prepared once per connection: with or
 * without an Idempotency-Key claim (its three parameters follow the write's own), throttled or not
 * (the gate's four arrays come last).
 */
export function writeStatements(
  name: string,
  sql: (withClaim: boolean, throttled: boolean) => string,
): (values: unknown[], claim?: IdempotencyClaim, windows?: ThrottleWindows) => Statement & { values: unknown[] } {
  const variant = (withClaim: boolean, throttled: boolean): Statement => ({
    name: `${name}${withClaim ? '_idempotent' : ''}${throttled ? '_throttled' : ''}`,
    text: sql(withClaim, throttled),
  });
  const variants = [
    [variant(false, false), variant(false, true)],
    [variant(true, false), variant(true, true)],
  ];
  return (values, claim, windows) => ({
    ...variants[claim ? 1 : 0][windows ? 1 : 0],
    values: [...values, ...(claim ? [claim.key, claim.requestHash, claim.ttlSeconds] : []), ...(windows ?? [])],
  });
}
