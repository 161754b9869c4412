// PostgreSQL's own limit for the same writes, with pgbench: the service's add-result statement and a bare insert.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import process from 'node:process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addResultSql } from '#dist/threat-assessment/persistence/results.store.js';
import { withoutNotifications } from './without-notifications.mjs';
import { withClient } from './database.mjs';

/**
 * The service's add-result statement (no key, no limits) as a pgbench script, built from the build so
 * that it never drifts: a parent drawn from bench_pgbench_parents and a new UUIDv7 built in SQL are read
 * into variables first (\gset), then the statement runs with them as its parameters, as the service
 * sends it: a rescan verdict, no traceparent. Parameters, not expressions put in their place: an
 * expression is evaluated wherever the statement names its parameter, and the notification CTEs name
 * the tenant and the request again, which made the outbox look dearer than it is.
 */
export function addResultScript({ withoutOutbox = false } = {}) {
  const uuidv7 =
    "overlay(overlay(md5(random()::text) PLACING lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' FROM 1 FOR 13) PLACING '8' FROM 17 FOR 1)::uuid";
  /** @type {Record<string, string>} */
  const values = { 1: ':tenant', 2: ':parent', 3: ':id', 4: "'rescan'", 5: "'Clean after rescan.'", 6: 'NULL' };
  const sql = addResultSql(false, false);
  const text = (withoutOutbox ? withoutNotifications(sql) : sql).replace(/\$(\d+)/g, (_, n) => values[n]);
  return [
    '\\set n random(1, :parents)',
    `SELECT tenant_id AS tenant, id AS parent, ${uuidv7} AS id FROM bench_pgbench_parents WHERE n = :n \\gset`,
    `${text};`,
    '',
  ].join('\n');
}

const run = promisify(execFile);

/**
 * @typedef {ReturnType<typeof parse> & { script: string, mode: string }} PgbenchRun
 * @typedef {{ skipped?: string, binary?: string, version?: string, clients?: number, seconds?: number,
 *   addResult?: PgbenchRun, addResultUnprepared?: PgbenchRun, addResultWithoutOutbox?: PgbenchRun,
 *   insert?: PgbenchRun }} PgbenchReport
 */

/** `PGBENCH`, else `pgbench` on the PATH, else Debian's /usr/lib/postgresql/<version>/bin/pgbench. */
export async function findPgbench() {
  if (process.env.PGBENCH) return process.env.PGBENCH;
  try {
    await run('pgbench', ['--version']);
    return 'pgbench';
  } catch {
    const root = '/usr/lib/postgresql';
    const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
    const found = versions.map((v) => `${root}/${v}/bin/pgbench`).find((path) => existsSync(path));
    return found;
  }
}

/** @param {string} stdout */
function parse(stdout) {
  /** @param {RegExp} re */
  const number = (re) => {
    const match = re.exec(stdout);
    return match ? Number(match[1]) : undefined;
  };
  return {
    tps: number(/tps = ([\d.]+) \(without initial connection time\)/) ?? number(/tps = ([\d.]+)/),
    latencyMs: number(/latency average = ([\d.]+) ms/),
    transactions: number(/number of transactions actually processed: (\d+)/),
    failed: number(/number of failed transactions: (\d+)/) ?? 0,
  };
}

/**
 * Runs both scripts for `seconds` each with `clients` connections (prepared statements: PostgreSQL's best
 * case) against `url`, drawing parents from `parents` ({ tenantId, ids }).
 * @param {{ url: string, seconds: number, clients: number, tenantId: string, parentIds: string[] }} options
 * @returns {Promise<PgbenchReport>}
 */
export async function runPgbench({ url, seconds, clients, tenantId, parentIds }) {
  const pgbench = await findPgbench();
  if (!pgbench) {
    return {
      skipped: 'pgbench not found (install postgresql-contrib or postgresql-client, or set PGBENCH=/path/to/pgbench)',
    };
  }
  const { stdout: version } = await run(pgbench, ['--version']);
  await withClient(url, async (client) => {
    await client.query('DROP TABLE IF EXISTS bench_pgbench_parents');
    await client.query(
      `CREATE UNLOGGED TABLE bench_pgbench_parents AS
       SELECT row_number() OVER (ORDER BY id)::int AS n, tenant_id, id
       FROM threat_assessment_requests WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
      [tenantId, parentIds],
    );
    await client.query('ALTER TABLE bench_pgbench_parents ADD PRIMARY KEY (n)');
    await client.query('ANALYZE bench_pgbench_parents');
  });
  const scripts = mkdtempSync(join(tmpdir(), 'bench-pgbench-'));
  writeFileSync(join(scripts, 'add-result.sql'), addResultScript());
  writeFileSync(join(scripts, 'add-result-without-outbox.sql'), addResultScript({ withoutOutbox: true }));
  try {
    /** @type {PgbenchReport} */
    const results = { binary: pgbench, version: version.trim(), clients, seconds };
    // `extended`: parsed and planned on every execution, as the service's unnamed statements are today.
    /** @type {['addResult' | 'addResultUnprepared' | 'addResultWithoutOutbox' | 'insert', string, string][]} */
    const runs = [
      ['addResult', join(scripts, 'add-result.sql'), 'prepared'],
      ['addResultUnprepared', join(scripts, 'add-result.sql'), 'extended'],
      ['addResultWithoutOutbox', join(scripts, 'add-result-without-outbox.sql'), 'prepared'],
      ['insert', fileURLToPath(new URL('./pgbench-insert.sql', import.meta.url)), 'prepared'],
    ];
    for (const [name, file, mode] of runs) {
      const args = [
        '-n',
        '-M',
        mode,
        '-c',
        String(clients),
        '-j',
        '2',
        '-T',
        String(seconds),
        '-D',
        `parents=${parentIds.length}`,
        '-f',
        file,
        url,
      ];
      const { stdout } = await run(pgbench, args, { maxBuffer: 16 * 1024 * 1024, timeout: (seconds + 60) * 1000 });
      results[name] = {
        script: name === 'insert' ? 'bench/pgbench-insert.sql' : 'addResultSql (from dist)',
        mode,
        ...parse(stdout),
      };
    }
    return results;
  } finally {
    await withClient(url, (client) => client.query('DROP TABLE IF EXISTS bench_pgbench_parents'));
    rmSync(scripts, { recursive: true, force: true });
  }
}
