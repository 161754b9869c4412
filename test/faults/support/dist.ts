import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as EmbeddedPostgres from '../../../src/database/embedded-postgres.js';
import type * as TokenMinter from '../../../src/auth/token-minter.js';
import type * as DataSourceOptions from '../../../src/database/data-source-options.js';
import type * as MigrationList from '../../../src/database/migrations/index.js';
import type * as RunMigrations from '../../../src/database/run-migrations.js';

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

/** The built migration runner and the options it is used with, for runs started side by side. */
export async function migrationsFromDist() {
  const [runner, options, list] = await Promise.all([
    fromDist<typeof RunMigrations>('database/run-migrations.js'),
    fromDist<typeof DataSourceOptions>('database/data-source-options.js'),
    fromDist<typeof MigrationList>('database/migrations/index.js'),
  ]);
  return {
    applyMigrations: runner.applyMigrations,
    dataSourceOptions: options.dataSourceOptions,
    MIGRATIONS: list.MIGRATIONS,
  };
}
