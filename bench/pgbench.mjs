// PostgreSQL's own limit for the same writes, with pgbench and the scripts beside this file.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import process from 'node:process';
import { withClient } from './database.mjs';

const run = promisify(execFile);

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

function parse(stdout) {
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
  try {
    const results = { binary: pgbench, version: version.trim(), clients, seconds };
    // `extended`: parsed and planned on every execution, as the service's unnamed statements are today.
    for (const [name, script, mode] of [
      ['addResult', 'pgbench-add-result.sql', 'prepared'],
      ['addResultUnprepared', 'pgbench-add-result.sql', 'extended'],
      ['insert', 'pgbench-insert.sql', 'prepared'],
    ]) {
      const file = fileURLToPath(new URL(`./${script}`, import.meta.url));
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
      results[name] = { script: `bench/${script}`, mode, ...parse(stdout) };
    }
    return results;
  } finally {
    await withClient(url, (client) => client.query('DROP TABLE IF EXISTS bench_pgbench_parents'));
  }
}
