import { defineConfig } from 'vitest/config';

/**
 * Fault injection against the BUILT service (`npm run build` first): each spec spawns `node dist/main.js`
 * and a PostgreSQL it stops, restarts and kills under load. Files run one at a time: they measure
 * recovery and shutdown times, which a neighbour's load would distort.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.fault-spec.ts'],
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
  },
});
