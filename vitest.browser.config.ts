import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/** Swagger UI in Debian's Chromium (`apt-get install chromium`), driven by playwright-core. */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ['test/browser/**/*.e2e-spec.ts'], exclude: ['**/node_modules/**'] },
});
