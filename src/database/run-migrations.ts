import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source-options.js';

/**
 * The one way migrations run: at start-up (on the app's own connection), in the tests' setup and by
 * `npm run migration:run`. Each migration commits on its own; concurrent starters serialise on
 * TypeORM's migrations table lock.
 */
export async function applyMigrations(dataSource: DataSource): Promise<string[]> {
  const applied = await dataSource.runMigrations({ transaction: 'each' });
  return applied.map((m) => m.name);
}

export async function runMigrations(url: string): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions({ url, poolSize: 1 }));
  await dataSource.initialize();
  try {
    return await applyMigrations(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
