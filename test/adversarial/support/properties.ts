import fc from 'fast-check';
import type { Figures } from './figures.js';

export interface PropertyOptions {
  numRuns: number;
  /** Stops generating (and shrinking) after this long; the runs done so far are what is reported. */
  maxMs?: number;
  /** Shrink a counterexample (cheap inputs only: each step is a request). Off: the first failure is reported. */
  shrink?: boolean;
}

/**
 * Runs a fast-check property with the suite's seed, bounded in runs and time, and records how many
 * inputs it tried. A failure names the seed and path that reproduce it (ADVERSARIAL_SEED=<seed>).
 */
export async function holds<T>(
  figures: Figures,
  name: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
  options: PropertyOptions,
): Promise<void> {
  const details = await fc.check(fc.asyncProperty(arbitrary, predicate), {
    seed: figures.data.seed,
    numRuns: options.numRuns,
    endOnFailure: !options.shrink,
    interruptAfterTimeLimit: options.maxMs ?? 60_000,
    markInterruptAsFailure: false,
  });
  figures.property(name, details.numRuns, details.interrupted);
  if (details.interrupted)
    console.warn(
      `[adversarial] ${name}: stopped at its time limit after ${details.numRuns} of ${options.numRuns} runs`,
    );
  if (details.failed) {
    const cause =
      details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${name}: ${cause}\n\n${fc.defaultReportMessage(details) ?? ''}`);
  }
}
