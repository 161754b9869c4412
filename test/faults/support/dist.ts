import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as EmbeddedPostgres from '../../../src/database/embedded-postgres.js';
import type * as TokenMinter from '../../../src/auth/token-minter.js';

/**
 * The fault tests run the BUILT service (`npm run build` first), so their helpers come from `dist/` too;
 * the types come from the sources they were built from.
 */
export const MAIN = resolve('dist/main.js');

async function fromDist<T>(path: string): Promise<T> {
  const file = resolve('dist', path);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` before the fault tests`);
  return (await import(pathToFileURL(file).href)) as T;
}

export const startEmbeddedPostgres: typeof EmbeddedPostgres.startEmbeddedPostgres = async (options) =>
  (await fromDist<typeof EmbeddedPostgres>('database/embedded-postgres.js')).startEmbeddedPostgres(options);

export const mintToken: typeof TokenMinter.mintToken = async (options) =>
  (await fromDist<typeof TokenMinter>('auth/token-minter.js')).mintToken(options);
