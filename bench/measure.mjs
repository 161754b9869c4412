// Measure: the scenarios (service and reference alternately), paging depth and $count, and pgbench.
import { setTimeout as sleep } from 'node:timers/promises';
import { countRows } from './database.mjs';
import { runPgbench } from './pgbench.mjs';
import { cpuMicros, median, sequentialLatency } from './processes.mjs';
import { scenarioSummary } from './report.mjs';
import { REQUESTS, SCENARIOS, runLoad } from './scenarios.mjs';

/**
 * What a write run left in its table against the 201s it counted.
 * @typedef {{ table: 'requests' | 'results', created201: number, rowsAdded: number, inFlightAtStop: number, pendingWithResults: number, ok: boolean }} Integrity
 */

/**
 * Counts after a write run, once the requests still in flight when the clock stopped have landed.
 * @param {string} url
 * @param {string} tenantId
 */
export async function settledCounts(url, tenantId) {
  let last = await countRows(url, tenantId);
  for (let i = 0; i < 20; i++) {
    await sleep(150);
    const now = await countRows(url, tenantId);
    if (now.requests === last.requests && now.results === last.results) return now;
    last = now;
  }
  return last;
}

/**
 * @param {'requests' | 'results'} table
 * @param {import('./scenarios.mjs').Run} run
 * @param {import('./database.mjs').Counts} before
 * @param {import('./database.mjs').Counts} after
 * @param {number} connections
 * @returns {Integrity}
 */
function integrity(table, run, before, after, connections) {
  const delta = after[table] - before[table];
  const extra = delta - run.created;
  return {
    table,
    created201: run.created,
    rowsAdded: delta,
    inFlightAtStop: extra,
    pendingWithResults: after.pendingWithResults,
    // Rows may exceed the 201s counted only by requests in flight when autocannon stopped (≤ one per connection).
    ok: extra >= 0 && extra <= connections && after.pendingWithResults === 0,
  };
}

/**
 * @typedef {import('./database.mjs').Counts} Counts
 * @typedef {import('./scenarios.mjs').Run} Run
 */

/**
 * A warm-up run on `target`: its figures are not kept.
 * @param {import('./processes.mjs').Target} target
 * @param {string} token
 * @param {import('./setup.mjs').Settings} settings
 * @param {import('./scenarios.mjs').LoadRequest[]} requests
 */
export function warmUp(target, token, settings, requests) {
  const { connections, warmup } = settings;
  return runLoad({ port: target.port, token, connections, duration: warmup, requests, keepLatencies: false });
}

/**
 * A measured run on `target`, with the CPU time the process spent per response.
 * @param {import('./processes.mjs').Target} target
 * @param {string} token
 * @param {import('./setup.mjs').Settings} settings
 * @param {import('./scenarios.mjs').LoadRequest[]} requests
 */
export async function measuredRun(target, token, settings, requests) {
  const cpuBefore = cpuMicros(target.pid) ?? NaN;
  const run = await runLoad({
    port: target.port,
    token,
    connections: settings.connections,
    duration: settings.duration,
    requests,
  });
  run.cpuUsPerRequest = ((cpuMicros(target.pid) ?? NaN) - cpuBefore) / run.responses;
  return run;
}

/**
 * A run's figures as the progress lines print them.
 * @param {Run} run
 */
export function runFigures(run) {
  return (
    `${run.rps.toFixed(0).padStart(6)} req/s  p50 ${run.p50.toFixed(2)} ms  p99 ${run.p99.toFixed(2)} ms  ` +
    `CPU ${run.cpuUsPerRequest.toFixed(0)} µs/req  non-2xx ${run.non2xx}  errors ${run.errors}`
  );
}

/**
 * Each selected scenario: a warm-up per target, then rounds of the service and the reference in turn,
 * the order swapped every round.
 * `windows` (ms since each process started) and `served` let the profiles count only the measured runs.
 * @param {import('./setup.mjs').Context} ctx
 * @param {import('./setup.mjs').Log} log
 */
export async function measureScenarios(ctx, log) {
  const { settings, service, reference, url, tenantId, token, sampler } = ctx;
  const selected = SCENARIOS.filter((s) => !settings.scenarios || settings.scenarios.includes(s.name));
  /** @type {import('./report.mjs').ScenarioReport[]} */
  const out = [];
  /** @type {Record<string, number[][]>} */
  const windows = { service: [], reference: [] };
  /** @type {Record<string, number>} */
  const served = { service: 0, reference: 0 };
  for (const scenario of selected) {
    const targets = [service, ...(scenario.reference && reference ? [reference] : [])];
    // Fresh each run: a walk's per-connection context must not carry over.
    const fresh = () => scenario.requests(ctx);
    for (const target of targets) {
      if (settings.warmup > 0) {
        sampler.setPhase(`warmup:${scenario.name}:${target.name}`);
        await warmUp(target, token, settings, fresh());
      }
    }
    /** @type {Record<string, Run>[]} */
    const rounds = [];
    /** @type {({ round: number, target: string } & Integrity)[]} */
    const checks = [];
    for (let round = 1; round <= settings.rounds; round++) {
      /** @type {Record<string, Run>} */
      const entry = {};
      // Odd rounds the service first, even rounds the other first: whichever runs first in a round fares
      // a few per cent better (measured), and a pairing always in one order would keep that.
      for (const target of round % 2 === 1 ? targets : [...targets].reverse()) {
        // Settled: writes of the warm-up or the previous run may still be landing.
        const before = scenario.writes ? await settledCounts(url, tenantId) : undefined;
        sampler.setPhase(`${scenario.name}:${target.name}`);
        const run = await measuredRun(target, token, settings, fresh());
        sampler.setPhase('between');
        windows[target.name].push([run.started - target.started, run.finished - target.started]);
        served[target.name] += run.responses;
        if (scenario.writes) {
          const after = await settledCounts(url, tenantId);
          const check = integrity(scenario.writes, run, /** @type {Counts} */ (before), after, settings.connections);
          checks.push({ round, target: target.name, ...check });
          run.integrity = check;
        }
        entry[target.name] = run;
        log(
          `  ${scenario.name.padEnd(15)} round ${round} ${target.name.padEnd(9)} ${runFigures(run)}` +
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

/**
 * First page against deep pages, one connection, interleaved; and $count with and without a filter.
 * @param {import('./setup.mjs').Context & { deep: import('./parity.mjs').DeepLinks }} ctx
 */
export async function pagingAndCount(ctx) {
  const { service, token, deep, settings, tenantRequests } = ctx;
  const headers = { authorization: `Bearer ${token}` };
  const first = { port: service.port, path: `${REQUESTS}?$top=100`, headers };
  /** @param {number} i */
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
    ratio: median(deepTimes) / median(firstTimes),
  };

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

/**
 * The add-result statement and a bare INSERT under pgbench: what the database alone sustains.
 * @param {import('./setup.mjs').Context} ctx
 * @param {import('./setup.mjs').Log} log
 */
export async function measurePgbench(ctx, log) {
  const { settings, url, tenantId, parents, sampler } = ctx;
  log('pgbench…');
  sampler.setPhase('pgbench');
  const result = await runPgbench({
    url,
    seconds: settings.duration,
    clients: settings.poolSize,
    tenantId,
    parentIds: parents.add.map((p) => p.id),
  });
  /** @param {import('./pgbench.mjs').PgbenchRun | undefined} run */
  const tps = (run) => run?.tps?.toFixed(0) ?? '—';
  if (result.skipped) log(`  skipped: ${result.skipped}`);
  else
    log(
      `  add-result statement ${tps(result.addResult)} tx/s prepared, ` +
        `${tps(result.addResultUnprepared)} tx/s planned each time; ` +
        `bare INSERT ${tps(result.insert)} rows/s (${settings.poolSize} clients)`,
    );
  return result;
}

/**
 * `name`'s figures over `baseline`'s, paired within each round (both measured in it), then the median:
 * drift across rounds falls on both sides of each ratio.
 * @param {Record<string, import('./scenarios.mjs').Run>[]} rounds
 * @param {string} name
 * @param {string} baseline
 */
export function pairedRatios(rounds, name, baseline) {
  /** @param {(run: import('./scenarios.mjs').Run) => number} figure */
  const ratio = (figure) => median(rounds.map((r) => figure(r[name]) / figure(r[baseline])));
  return {
    rps: ratio((run) => run.rps),
    p50: ratio((run) => run.p50),
    p99: ratio((run) => run.p99),
    cpu: ratio((run) => run.cpuUsPerRequest),
  };
}
