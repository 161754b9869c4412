import { basename } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { SUITE_ORDER } from './test/adversarial/support/figures.js';

/** The memory spec measures what the others left behind: it runs last, the rest in the suite's order. */
class SuiteOrder extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => SUITE_ORDER.indexOf(basename(file.moduleId).split('.')[0] ?? '');
    return Promise.resolve([...files].sort((a, b) => rank(a) - rank(b)));
  }
}

/**
 * Hostile inputs against the BUILT service (`npm run build` first): one `node dist/main.js` with
 * production settings for the whole suite (the global setup), on an embedded PostgreSQL or
 * DATABASE_URL. Files run one at a time: they measure latency, event-loop delay and memory of that
 * one process, which a neighbour's load would distort.
 */
export default defineConfig({
  test: {
    include: ['test/adversarial/**/*.adversarial-spec.ts'],
    globalSetup: ['test/adversarial/support/global-setup.ts'],
    fileParallelism: false,
    sequence: { sequencer: SuiteOrder },
    testTimeout: 120_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
  },
});
