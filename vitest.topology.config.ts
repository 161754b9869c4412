import { defineConfig } from 'vitest/config';

/**
 * Production topologies against the BUILT service (`npm run build` first): Debian's etcd, Patroni and
 * HAProxy started as an unprivileged user on loopback ports, and faults injected one after another in a
 * single file. Forks, not threads: the suite's exit hooks end every process it started by pid.
 */
export default defineConfig({
  test: {
    include: ['test/topology/**/*.topology-spec.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 600_000,
    teardownTimeout: 60_000,
  },
});
