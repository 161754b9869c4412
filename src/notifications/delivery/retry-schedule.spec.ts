import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attemptTimeoutMs, planFailure, retryDelayMs, type RetrySettings } from './retry-schedule.js';

const GRAPH: RetrySettings = { retryBaseSeconds: 10, retryMaxDelaySeconds: 600, retryWindowSeconds: 14_400 };

describe('attemptTimeoutMs', () => {
  it('gives the first attempt 3 s and every later one 10 s', () => {
    expect([0, 1, 2, 9].map(attemptTimeoutMs)).toEqual([3000, 10_000, 10_000, 10_000]);
  });
});

describe('retryDelayMs', () => {
  it('doubles from the base after each failure, without jitter at the midpoint', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, GRAPH, 0.5))).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 320_000,
    ]);
  });

  it('spreads ±20 % at the ends of the random range', () => {
    expect(retryDelayMs(1, GRAPH, 0)).toBe(8_000);
    expect(retryDelayMs(1, GRAPH, 0.999_999)).toBe(12_000);
    expect(retryDelayMs(3, GRAPH, 0)).toBe(32_000);
  });

  it('never waits more than the maximum delay, jitter included', () => {
    expect(retryDelayMs(7, GRAPH, 0.5)).toBe(600_000);
    expect(retryDelayMs(6, GRAPH, 0.999)).toBe(383_872);
    expect(retryDelayMs(1000, GRAPH, 0.9)).toBe(600_000);
  });

  it('refuses a retry without a failed attempt', () => {
    expect(() => retryDelayMs(0, GRAPH)).toThrow(RangeError);
  });

  it('stays within [0.8, 1.2] × base × 2ⁿ⁻¹ and the cap, for any settings and draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 3600 }),
        fc.integer({ min: 1, max: 86_400 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, base, max, random) => {
          const settings = { retryBaseSeconds: base, retryMaxDelaySeconds: max, retryWindowSeconds: 1 };
          const delay = retryDelayMs(n, settings, random);
          const nominal = base * 1000 * 2 ** (n - 1);
          expect(delay).toBeLessThanOrEqual(max * 1000);
          expect(delay).toBeLessThanOrEqual(Math.round(nominal * 1.2));
          expect(delay).toBeGreaterThanOrEqual(Math.min(Math.round(nominal * 0.8), max * 1000));
        },
      ),
    );
  });
});

describe('planFailure', () => {
  const t0 = new Date('2026-01-03T10:00:00.000Z');
  const at = (ms: number) => new Date(t0.getTime() + ms);

  it('schedules the first retry one base delay after the attempt ended, from the head’s count', () => {
    const plan = planFailure([{ attempts: 0, firstAttemptAt: null }], t0, at(3000), GRAPH, 0.5);
    expect(plan).toEqual({ nextAttemptAt: at(13_000), abandon: [false] });
    const third = planFailure([{ attempts: 2, firstAttemptAt: t0 }], at(70_000), at(70_100), GRAPH, 0.5);
    expect(third.nextAttemptAt).toEqual(at(110_100));
  });

  it('abandons a row whose next attempt would start past its first attempt plus the window', () => {
    const settings = { ...GRAPH, retryWindowSeconds: 60 };
    // Next attempt at 50 s + 40 s = 90 s > 60 s after the first: abandoned.
    expect(planFailure([{ attempts: 2, firstAttemptAt: t0 }], at(50_000), at(50_000), settings, 0.5).abandon).toEqual([
      true,
    ]);
    // Exactly at the window's end: still tried.
    expect(planFailure([{ attempts: 1, firstAttemptAt: t0 }], at(40_000), at(40_000), settings, 0.5).abandon).toEqual([
      false,
    ]);
  });

  it('judges each row of a batch on its own window: the head goes first, later rows are retried', () => {
    const settings = { ...GRAPH, retryWindowSeconds: 30 };
    const plan = planFailure(
      [
        { attempts: 2, firstAttemptAt: t0 },
        { attempts: 0, firstAttemptAt: null },
      ],
      at(25_000),
      at(25_000),
      settings,
      0.5,
    );
    // The head's third failure waits 40 s: past both windows (the new row's began with this attempt).
    expect(plan).toEqual({ nextAttemptAt: at(65_000), abandon: [true, true] });
    const tighter = planFailure(
      [
        { attempts: 1, firstAttemptAt: t0 },
        { attempts: 0, firstAttemptAt: null },
      ],
      at(15_000),
      at(15_000),
      settings,
      0.5,
    );
    expect(tighter).toEqual({ nextAttemptAt: at(35_000), abandon: [true, false] });
  });

  it('abandons after the first attempt when the window is shorter than the first delay', () => {
    const settings = { ...GRAPH, retryBaseSeconds: 1, retryWindowSeconds: 1 };
    expect(planFailure([{ attempts: 0, firstAttemptAt: null }], t0, at(100), settings, 0.5).abandon).toEqual([true]);
  });
});
