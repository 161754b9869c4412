/**
 * When a failed notification is tried again, or given up (contract §7): after n failed attempts the wait
 * is base × 2ⁿ⁻¹ with ±20 % jitter, at most the maximum delay, and no attempt starts later than the
 * window after the first one. Times are the database clock's (an attempt's start, read from PostgreSQL,
 * plus the monotonic time it took): instances whose host clocks disagree schedule alike.
 */

export const FIRST_ATTEMPT_TIMEOUT_MS = 3_000;
export const RETRY_TIMEOUT_MS = 10_000;
export const JITTER = 0.2;

export interface RetrySettings {
  retryBaseSeconds: number;
  retryMaxDelaySeconds: number;
  retryWindowSeconds: number;
}

/** The first attempt has 3 s for a complete response, later ones 10 s. */
export function attemptTimeoutMs(previousAttempts: number): number {
  return previousAttempts === 0 ? FIRST_ATTEMPT_TIMEOUT_MS : RETRY_TIMEOUT_MS;
}

/**
 * The wait after `failedAttempts` (≥ 1) failed attempts, in ms; `random` in [0, 1) picks the jitter.
 * The cap applies after the jitter: the wait never exceeds the maximum delay.
 */
export function retryDelayMs(failedAttempts: number, settings: RetrySettings, random: number = Math.random()): number {
  if (!Number.isInteger(failedAttempts) || failedAttempts < 1) {
    throw new RangeError('A retry follows at least one failed attempt.');
  }
  // 2^(n-1) overflows nothing for any realistic n, but the cap makes huge exponents moot.
  const exponent = Math.min(failedAttempts - 1, 40);
  const nominal = settings.retryBaseSeconds * 1000 * 2 ** exponent;
  const jittered = nominal * (1 - JITTER + 2 * JITTER * random);
  return Math.round(Math.min(jittered, settings.retryMaxDelaySeconds * 1000));
}

export interface FailedRow {
  /** Attempts before this one. */
  attempts: number;
  /** Null until this, its first attempt. */
  firstAttemptAt: Date | null;
}

export interface FailurePlan {
  /** When the rows still retried are next due. */
  nextAttemptAt: Date;
  /** Per row, in the order given: true when its next attempt would start past its window. */
  abandon: boolean[];
}

/**
 * What a failed attempt of a batch leads to. The batch is retried as one: the head's attempt count sets
 * the wait; each row is abandoned on its own window (the head, tried first, is abandoned first).
 * `startedAt` is the attempt's start and `now` its end, both on the database clock.
 */
export function planFailure(
  rows: readonly FailedRow[],
  startedAt: Date,
  now: Date,
  settings: RetrySettings,
  random: number = Math.random(),
): FailurePlan {
  if (rows.length === 0) throw new RangeError('A failed attempt has at least one notification.');
  const nextAttemptAt = new Date(now.getTime() + retryDelayMs(rows[0].attempts + 1, settings, random));
  const windowMs = settings.retryWindowSeconds * 1000;
  const abandon = rows.map((row) => nextAttemptAt.getTime() > (row.firstAttemptAt ?? startedAt).getTime() + windowMs);
  return { nextAttemptAt, abandon };
}
