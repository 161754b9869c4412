import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { transformFileSync } from '@swc/core';

export const ROOT = resolve(import.meta.dirname, '../..');

/**
 * A CLI entry point under `src/cli/` and what it imports, compiled with SWC into `outDir` (a folder
 * inside the repository, so that packages resolve): the real entry point, run by `node` as its npm
 * script runs it, in a second instead of a full `tsc` build. Returns the compiled entry's path.
 */
export function compileCli(entry: string, outDir: string): string {
  const pending = [join(ROOT, 'src/cli', `${entry}.ts`)];
  const done = new Set<string>();
  while (pending.length) {
    const file = pending.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const { code } = transformFileSync(file, {
      jsc: { parser: { syntax: 'typescript', decorators: true }, target: 'es2022' },
      module: { type: 'es6' },
      sourceMaps: false,
    });
    const target = join(outDir, relative(join(ROOT, 'src'), file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, code);
    for (const [, spec] of code.matchAll(/from\s+'(\.{1,2}\/[^']+)\.js'/g))
      pending.push(resolve(dirname(file), `${spec}.ts`));
  }
  return join(outDir, 'cli', `${entry}.js`);
}
