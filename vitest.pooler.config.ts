import { defineConfig } from 'vitest/config';

/**
 * The BUILT service (`npm run build` first) behind Debian's pgbouncer 1.18 in transaction mode, on a
 * PostgreSQL of its own; installs pgbouncer when missing (as root). Forks, not threads: the exit hooks
 * end every process the suite started by pid and remove its folders.
 */
export default defineConfig({
  test: {
    include: ['test/pooler/**/*.pooler-spec.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
  },
});
