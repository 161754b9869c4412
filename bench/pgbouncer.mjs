// An optional pgbouncer in transaction mode in front of the bench's database, for the variant that goes
// through one: measured when the binary is there, skipped (and said so) when it is not.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { URL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './processes.mjs';

/** `PGBOUNCER`, else Debian's binary (`apt-get install pgbouncer`). */
function findPgbouncer() {
  const path = process.env.PGBOUNCER ?? '/usr/sbin/pgbouncer';
  return existsSync(path) ? path : undefined;
}

/**
 * pgbouncer refuses to run as root: as root it runs as `postgres` (the user the embedded PostgreSQL
 * runs as), its files handed over to it.
 * @returns {{ uid: number, gid: number } | undefined}
 */
function runAs() {
  if (process.getuid?.() !== 0) return undefined;
  const id = (/** @type {string} */ flag) =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * pgbouncer on a free loopback port pooling `url`'s database in transaction mode with `poolSize` server
 * connections (the service's pool: what is measured is the hop, not a smaller pool). `url` is its
 * DATABASE_URL with pgbouncer's port; `skipped` says why there is none.
 * @param {string} url
 * @param {number} poolSize
 * @param {string} logFile
 * @returns {Promise<{ url: string, version: string, stop: () => Promise<void> } | { skipped: string }>}
 */
export async function startPgbouncer(url, poolSize, logFile) {
  const binary = findPgbouncer();
  if (!binary)
    return { skipped: 'pgbouncer not found (apt-get install pgbouncer, or set PGBOUNCER=/path/to/pgbouncer)' };
  const server = new URL(url);
  const database = decodeURIComponent(server.pathname.slice(1));
  const dir = mkdtempSync(join(os.tmpdir(), 'threat-assessment-bench-pgbouncer-'));
  const port = await freePort();
  const userlist = join(dir, 'userlist.txt');
  const ini = join(dir, 'pgbouncer.ini');
  // A plain-text password: pgbouncer answers the client's md5 with it and logs in to the server as it asks.
  writeFileSync(userlist, `"${decodeURIComponent(server.username)}" "${decodeURIComponent(server.password)}"\n`);
  writeFileSync(
    ini,
    [
      '[databases]',
      `${database} = host=${server.hostname} port=${server.port || 5432} dbname=${database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = md5',
      `auth_file = ${userlist}`,
      'pool_mode = transaction',
      'max_client_conn = 200',
      `default_pool_size = ${poolSize}`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  const user = runAs();
  if (user) for (const path of [dir, userlist, ini]) chownSync(path, user.uid, user.gid);
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
  const child = spawn(binary, [ini], { stdio: 'ignore', ...user });
  /** @type {Error | undefined} */
  let failed;
  child.once('error', (error) => (failed = error));
  const log = () => (existsSync(join(dir, 'pgbouncer.log')) ? readFileSync(join(dir, 'pgbouncer.log'), 'utf8') : '');
  const stop = async () => {
    if (child.exitCode === null && !failed) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    writeFileSync(logFile, log());
    rmSync(dir, { recursive: true, force: true });
  };
  for (let waited = 0; !/listening on 127\.0\.0\.1/.test(log()); waited += 50) {
    if (child.exitCode !== null || failed || waited > 10_000) {
      await stop();
      return { skipped: `pgbouncer did not start${failed ? ` (${failed.message})` : ''}; see ${logFile}` };
    }
    await sleep(50);
  }
  const pooled = new URL(url);
  pooled.port = String(port);
  return { url: pooled.toString(), version, stop };
}
