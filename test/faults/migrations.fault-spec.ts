import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsFromDist } from './support/dist.js';
import { type ControlledPostgres, startControlledPostgres } from './support/postgres.js';
import { type RunningService, startService } from './support/service.js';

const INSTANCES = 4;

/** Issue #13, point 3: any number of instances may start at once on an empty or outdated database. */
describe('migrations under the advisory lock', () => {
  let db: ControlledPostgres;
  let built: Awaited<ReturnType<typeof migrationsFromDist>>;
  const services: RunningService[] = [];
  const sources: DataSource[] = [];

  beforeAll(async () => {
    db = await startControlledPostgres('threat_assessment_migrations_test');
    built = await migrationsFromDist();
  });
  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop()));
    await Promise.all(sources.filter((s) => s.isInitialized).map((s) => s.destroy()));
    await db?.destroy();
  });

  const names = () => built.MIGRATIONS.map((migration) => migration.name);
  async function database(name: string): Promise<string> {
    await db.admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(db.url);
    url.pathname = `/${name}`;
    return url.toString();
  }
  async function dataSource(url: string, migrations = built.MIGRATIONS): Promise<DataSource> {
    const source = new DataSource({ ...built.dataSourceOptions({ url, poolSize: 2 }), migrations });
    sources.push(source);
    return source.initialize();
  }
  async function recorded(url: string): Promise<string[]> {
    const source = await dataSource(url);
    const rows: { name: string }[] = await source.query('SELECT name FROM typeorm_migrations ORDER BY id');
    return rows.map((row) => row.name);
  }
  /** Four runs, each on its own DataSource, all released in one tick. */
  async function together(url: string) {
    const runners = await Promise.all(Array.from({ length: INSTANCES }, () => dataSource(url)));
    const settled = await Promise.allSettled(runners.map((source) => built.applyMigrations(source)));
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
    expect(failures).toEqual([]);
    return settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []));
  }

  it(`${INSTANCES} runs on an empty database: every run succeeds, each migration is applied once`, async () => {
    const url = await database('migrate_empty');
    const applied = await together(url);
    expect(applied.sort()).toEqual(names().sort());
    expect(await recorded(url)).toEqual(names());
  });

  it(`${INSTANCES} runs on an outdated database apply only what is missing, once`, async () => {
    const url = await database('migrate_outdated');
    const older = await dataSource(url, built.MIGRATIONS.slice(0, 2));
    await older.runMigrations({ transaction: 'each' });
    const applied = await together(url);
    expect(applied.sort()).toEqual(names().slice(2).sort());
    expect(await recorded(url)).toEqual(names());
  });

  it(`${INSTANCES} built instances started at once all become ready, with no migration error logged`, async () => {
    const url = await database('migrate_instances');
    const started = await Promise.all(
      Array.from({ length: INSTANCES }, (_, i) =>
        startService(`migrations-instance-${i + 1}`, { DATABASE_URL: url, LOG_LEVEL: 'info' }),
      ),
    );
    services.push(...started);
    const waited = await Promise.all(started.map((service) => service.waitFor('/health/ready', 200, 60_000)));
    console.log(`migrations: ${INSTANCES} instances ready after ${waited.map((ms) => Math.round(ms)).join(', ')} ms`);
    await Promise.all(started.map((service) => service.waitForLine(/Ready in \d+ ms/)));
    for (const service of started) expect(service.problems(), service.name).toBe('(no errors or warnings logged)');
    const logged = started.flatMap((service) =>
      [...service.tail(400).matchAll(/Applied migrations: ([\w, ]+)/g)].flatMap((match) => match[1].split(', ')),
    );
    expect(logged.sort()).toEqual(names().sort());
    expect(started.filter((service) => service.tail(400).includes('Schema is up to date'))).toHaveLength(INSTANCES - 1);
    expect(await recorded(url)).toEqual(names());
  });
});
