import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/**
 * Runs the enclosing suite's tests in a fresh temporary working directory, removed after them: the
 * local key file is relative to the working directory, and the repository's own stays out of the tests.
 * Returns the directory, known once the tests run.
 */
export function inScratchDirectory(prefix: string): () => string {
  let dir = '';
  let cwd = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    cwd = process.cwd();
    process.chdir(dir);
  });
  afterAll(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });
  return () => dir;
}
