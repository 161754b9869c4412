import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source-options.js';

/**
 * The advisory lock every migration run takes first, a fixed key (`hashtext` of
 * 'threat-assessment-service:migrations'): its holder is the `pg_locks` row of locktype `advisory`
 * with this `objid`.
 */
export const MIGRATION_LOCK_KEY = 1_251_013_395;

/** How often a run that waits for the lock tries again (± half, so that waiters spread out). */
const LOCK_POLL_MS = 100;

/**
 * The one way migrations run: at start-up, in the tests' setup and by `npm run migration:run`. TypeORM
 * takes no lock of its own, so runs started together would each create its migrations table and apply
 * the same migration. Every run therefore first waits for an advisory lock, then applies what is still
 * pending (nothing, for all but the first of many instances starting together). Each migration commits
 * on its own, as before.
 */
export async function applyMigrations(dataSource: DataSource): Promise<string[]> {
  return withMigrationLock(urlOf(dataSource), async () => {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  });
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

/**
 * Runs `work` while this process holds the migration lock, on a session of its own: outside the pool,
 * whose connections the migrations use (with a pool of one, holding the lock there would starve them).
 * A session lock, taken by polling `pg_try_advisory_lock` between which the session sits idle: a
 * session blocked in `pg_advisory_lock`, or one holding a transaction open, has a snapshot, and
 * `CREATE INDEX CONCURRENTLY` in the holder's migration waits for every older snapshot to end, so the
 * holder would wait for its waiters. If the holder dies, PostgreSQL ends its session and a waiter goes
 * on. Being a session lock, it needs a session: through a transaction-mode pooler two runs could both
 * hold it, so migrations then take a direct connection (MIGRATIONS_DATABASE_URL, required with
 * DATABASE_POOLER=transaction).
 */
async function withMigrationLock<T>(url: string, work: () => Promise<T>): Promise<T> {
  const session = new pg.Client({ connectionString: url, application_name: 'threat-assessment-service:migrations' });
  let lost: Error | undefined;
  session.on('error', (error) => (lost = error));
  await session.connect();
  try {
    for (;;) {
      const { rows } = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        MIGRATION_LOCK_KEY,
      ]);
      if (rows[0].locked) break;
      await sleep(LOCK_POLL_MS * (0.5 + Math.random()));
    }
    const result = await work();
    // Lost meanwhile, the lock was not held to the end: fail, and let the caller run again.
    if (lost) throw new Error(`The migration lock's session ended during the migrations: ${lost.message}`);
    await session.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    return result;
  } finally {
    await session.end().catch(() => undefined);
  }
}

function urlOf(dataSource: DataSource): string {
  const { url } = dataSource.options as { url?: string };
  if (!url) throw new Error('Migrations need the DataSource to be configured by URL (dataSourceOptions)');
  return url;
}
