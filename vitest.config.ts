import swc from 'unplugin-swc';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  // SWC instead of esbuild: NestJS and TypeORM need emitted decorator metadata.
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['src/**/*.spec.ts', 'test/**/*.spec.ts', 'test/**/*.e2e-spec.ts', 'bench/**/*.spec.mjs'],
    // The browser test needs Debian's Chromium, which a machine with only Node.js and npm lacks:
    // `npm run test:browser` runs it (CI installs Chromium first).
    exclude: [...configDefaults.exclude, 'test/browser/**'],
    globalSetup: ['test/setup/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
