import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source-options.js';

/** The one way migrations run: at start-up, in the tests' setup and by `npm run migration:run`. */
export async function runMigrations(url: string): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions({ url, poolSize: 1 }));
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await dataSource.destroy();
  }
}
