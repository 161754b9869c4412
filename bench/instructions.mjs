// npm run bench:instructions [-- options]: instructions per request, service against reference, counted
// by valgrind's callgrind. Counts do not depend on what else the machine is doing, so an optimisation can
// be judged on a noisy or throttled host where req/s mostly measures the stalls. It complements the
// benchmark's req/s (which it does not replace): instructions are not time (cache misses, syscalls'
// waits and the database are not in them), but the same work gives the same count, run after run.
import { spawn } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL } from 'node:url';
import { parseArgs } from 'node:util';
import { assertDisposable, pickParents, seedDatabase, seedTenantId } from './database.mjs';
import { freePort, request } from './processes.mjs';
import { REQUESTS, scenarios } from './scenarios.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const HELP = `npm run bench:instructions [-- options]   (DATABASE_URL required; its name must contain 'bench' or 'test')

  --scenarios LIST   comma-separated scenario names (as npm run bench)      default all
  --requests N       requests counted per scenario and target               default 400
  --warmup N         requests before counting (JIT, caches, prepared)      default 600
  --rows N           requests to seed (results: 5 ×)                        default 20000
  --no-seed          use the database as it is (seeded by an earlier run)`;

const { values: args } = parseArgs({
  options: {
    scenarios: { type: 'string' },
    requests: { type: 'string', default: '400' },
    warmup: { type: 'string', default: '600' },
    rows: { type: 'string', default: '20000' },
    'no-seed': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required (a disposable database: the seed empties the tables)');
assertDisposable(url);

const secrets = { auth: randomUUID(), skiptoken: randomUUID() };
const env = {
  ...process.env,
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  PUBLIC_BASE_URL: 'https://graph.bench.test',
  THROTTLE_PRESET: 'off',
  AUTH_HS256_SECRET: secrets.auth,
  AUTH_ISSUER: 'https://login.bench.test/{tenantid}/v2.0',
  AUTH_AUDIENCE: 'api://threat-assessment-bench',
  SKIPTOKEN_SECRET: secrets.skiptoken,
  DATABASE_URL: url,
};

const { mintToken } = await import(join(ROOT, 'dist/auth/token-minter.js'));
const { runMigrations } = await import(join(ROOT, 'dist/database/run-migrations.js'));
const tenantId = seedTenantId(0);
const token = await mintToken({
  secret: secrets.auth,
  issuer: env.AUTH_ISSUER.replace('{tenantid}', tenantId),
  audience: env.AUTH_AUDIENCE,
  tenantId,
  user: { id: randomUUID(), displayName: 'Bench User', scopes: ['ThreatAssessment.ReadWrite.All'] },
  expiresInSeconds: 24 * 3600,
});

await runMigrations(url);
if (!args['no-seed']) {
  const rows = Number(args.rows);
  await seedDatabase(url, { requests: rows, results: rows * 5, tenants: 5, share: 0.5 });
}
const parents = await pickParents(url, tenantId);
const deepLinks = await deepLinksOf();

const work = mkdtempSync(join(tmpdir(), 'bench-instructions-'));
const results = [];
try {
  const selected = scenarios({ parents, deepLinks }).filter(
    (s) => !args.scenarios || args.scenarios.split(',').includes(s.name),
  );
  for (const target of ['service', 'reference']) {
    process.stderr.write(`${target}: starting under valgrind…\n`);
    const proc = await startUnderCallgrind(target);
    try {
      for (const scenario of selected) {
        const fresh = () => scenarios({ parents, deepLinks }).find((s) => s.name === scenario.name).requests;
        process.stderr.write(`${target} ${scenario.name}: warming up…\n`);
        await drive(proc.port, fresh(), Number(args.warmup));
        process.stderr.write(`${target} ${scenario.name}: counting…\n`);
        const count = await counted(proc, () => drive(proc.port, fresh(), Number(args.requests)));
        const row = { scenario: scenario.name, target, ...count };
        results.push(row);
        process.stdout.write(
          `${scenario.name.padEnd(15)} ${target.padEnd(9)} ${(count.perRequest / 1e6).toFixed(2).padStart(7)} M instructions/request (${count.requests} requests, ${count.non2xx} non-2xx)\n`,
        );
      }
    } finally {
      await proc.stop();
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

process.stdout.write('\nscenario         service M/req  reference M/req  service/reference\n');
for (const name of [...new Set(results.map((r) => r.scenario))]) {
  const [s, r] = ['service', 'reference'].map((t) => results.find((x) => x.scenario === name && x.target === t));
  process.stdout.write(
    `${name.padEnd(16)} ${(s.perRequest / 1e6).toFixed(2).padStart(13)}  ${(r.perRequest / 1e6).toFixed(2).padStart(15)}  ${(s.perRequest / r.perRequest).toFixed(2).padStart(17)}\n`,
  );
}

/**
 * The deep-page scenario's starting links: 20 positions from the middle of the tenant's requests, with
 * the `$skiptoken` the service would write there (its format, signed with the run's secret).
 */
async function deepLinksOf() {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT id, created_date_time FROM threat_assessment_requests WHERE tenant_id = $1
       ORDER BY created_date_time DESC, id DESC OFFSET (SELECT count(*) / 2 FROM threat_assessment_requests WHERE tenant_id = $1)
       LIMIT 2000`,
      [tenantId],
    );
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([tenantId, 'requests', 'desc', '']))
      .digest();
    return rows
      .filter((_, i) => i % 100 === 0)
      .map((row) => {
        const payload = Buffer.from(JSON.stringify([1, row.created_date_time.getTime(), row.id])).toString('base64url');
        const signature = createHmac('sha256', Buffer.from(secrets.skiptoken, 'utf8'))
          .update(fingerprint)
          .update(payload)
          .digest('base64url');
        return `${REQUESTS}?$top=100&$skiptoken=${payload}.${signature}`;
      });
  } finally {
    await client.end();
  }
}

async function startUnderCallgrind(target) {
  const port = await freePort();
  const script = target === 'service' ? join(ROOT, 'dist/main.js') : join(ROOT, 'bench/reference-server.mjs');
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      '--smc-check=all-non-file',
      `--callgrind-out-file=${join(work, `${target}.%p.out`)}`,
      process.execPath,
      ...(target === 'service' ? ['--max-semi-space-size=8'] : []),
      script,
    ],
    { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exit = new Promise((resolve) => child.once('exit', resolve));
  for (let i = 0; ; i++) {
    const res = await request({ port, path: '/health/live' }).catch(() => null);
    if (res?.status === 200) break;
    if (child.exitCode !== null || i > 1200) throw new Error(`${target} did not start under valgrind:\n${stderr}`);
    await sleep(250);
  }
  return {
    port,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exit, sleep(30_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

/**
 * Instructions between `--instr=on` and `--instr=off`, per response. valgrind acts on a command only when
 * the process next runs code, so each command is followed by health probes until it has taken effect.
 */
async function counted(proc, fn) {
  await control(proc, ['--zero']);
  await control(proc, ['--instr=on']);
  const { requests, non2xx } = await fn();
  await control(proc, ['--instr=off']);
  const before = new Set(readdirSync(work));
  const dumped = control(proc, ['--dump']);
  let totals;
  for (let i = 0; !totals && i < 600; i++) {
    await poke(proc);
    const file = readdirSync(work).find((f) => !before.has(f) && f.includes(`.${proc.pid}.`));
    totals = file && /^totals:\s*(\d+)/m.exec(readFileSync(join(work, file), 'utf8'));
    if (!totals) await sleep(100);
  }
  await dumped;
  const instructions = Number(totals?.[1] ?? NaN);
  return { requests, non2xx, instructions, perRequest: instructions / requests };
}

async function control(proc, options) {
  // vgdb finds the process by $USER and $HOST, which must be the ones the process was started with.
  const child = spawn('callgrind_control', [...options, String(proc.pid)], {
    env: { ...process.env, HOST: env.HOST },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const done = new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 && /\bOK\b/.test(output)
        ? resolve()
        : reject(new Error(`callgrind_control ${options.join(' ')} failed:\n${output}`)),
    ),
  );
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => {});
  while (!finished) {
    await poke(proc);
    await sleep(50);
  }
  return done;
}

function poke(proc) {
  return request({ port: proc.port, path: '/health/live' }).catch(() => null);
}

/**
 * `amount` requests over 4 connections, each walking the scenario's request list as autocannon does
 * (setupRequest with a per-walk context, onResponse, a fresh context after the last entry).
 */
async function drive(port, requests, amount) {
  let sent = 0;
  let responses = 0;
  let non2xx = 0;
  const connection = async () => {
    let context = {};
    for (let step = 0; sent < amount; step = (step + 1) % requests.length) {
      if (step === 0) context = {};
      sent++;
      const spec = requests[step];
      const req = spec.setupRequest({ method: spec.method, headers: { ...spec.headers } }, context);
      const res = await request({
        port,
        method: req.method,
        path: req.path,
        headers: { ...req.headers, authorization: `Bearer ${token}` },
        body: req.body,
      });
      responses++;
      if (res.status < 200 || res.status > 299) non2xx++;
      spec.onResponse?.(res.status, res.text, context);
    }
  };
  await Promise.all([0, 1, 2, 3].map(connection));
  return { requests: responses, non2xx };
}
