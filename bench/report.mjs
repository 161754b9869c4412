// The report: medians of the rounds, ratios to the reference, targets (issue #5), a table and a README snippet.
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { chartSvg } from './chart.mjs';
import { median } from './processes.mjs';
import { ROOT } from './setup.mjs';

/**
 * @typedef {import('./scenarios.mjs').Run} Run
 * @typedef {{ what: string, pass: boolean, measured?: string, scenario?: string }} Check
 * @typedef {{ rps: number, p50: number, p99: number, non2xx: number, errors: number, cpuUsPerRequest: number, status: Record<string, number> }} RunSummary
 * @typedef {{ rps: number, p99: number, cpu: number }} Ratio
 * @typedef {object} ScenarioReport
 * @property {string} name
 * @property {string} title
 * @property {boolean} core
 * @property {RunSummary} service
 * @property {RunSummary} [reference]
 * @property {Ratio} [ratio] service over reference, the median of the per-round ratios
 * @property {Check[]} checks
 * @property {({ round: number, target: string } & import('./measure.mjs').Integrity)[]} integrity
 * @property {Record<string, Run>[]} rounds
 * @typedef {RunSummary & { name: string, title: string, ratio?: Ratio & { p50: number }, rounds: Run[] }} VariantSummary
 * @typedef {object} VariantsReport
 * @property {{ name: string, title: string }[]} variants
 * @property {{ name: string, title: string, variants: VariantSummary[] }[]} scenarios
 * @property {{ exports: number, bytes: number, bytesPerRequest: number }} otlp the tracing variant's exports, as the sink counted them
 * @property {{ version?: string, skipped?: string }} pgbouncer
 * @property {Check[]} checks
 * @typedef {Awaited<ReturnType<typeof import('./measure.mjs').pagingAndCount>>} PagingAndCount
 * @typedef {object} Report
 * @property {string} startedAt
 * @property {string} [finishedAt]
 * @property {import('./setup.mjs').Settings} settings
 * @property {string} outDir
 * @property {string} [database]
 * @property {ReturnType<typeof import('./setup.mjs').machine> & { loadAvgEnd?: number[] }} [machine]
 * @property {Record<string, unknown> & { requests: number, results: number }} [seed]
 * @property {Awaited<ReturnType<typeof import('./cold-start.mjs').measureColdStarts>>} [coldStart]
 * @property {Awaited<ReturnType<typeof import('./parity.mjs').checkParity>>} [parity]
 * @property {PagingAndCount['paging']} [paging]
 * @property {PagingAndCount['count']} [count]
 * @property {ScenarioReport[]} [scenarios]
 * @property {import('./pgbench.mjs').PgbenchReport} [pgbench]
 * @property {VariantsReport} [variants]
 * @property {import('./outbox.mjs').OutboxReport} [outbox]
 * @property {import('./notification-latency.mjs').LatencyReport} [notificationLatency]
 * @property {Awaited<ReturnType<typeof import('./soak.mjs').runSoak>>} [soak]
 * @property {ReturnType<typeof memorySummary>} [memory]
 * @property {ReturnType<typeof import('./profile.mjs').readProfiles>} [profile]
 * @property {import('./instructions.mjs').InstructionsReport} [instructions]
 * @property {Check[]} [checks]
 * @typedef {Report & { machine: NonNullable<Report['machine']>, seed: NonNullable<Report['seed']>, finishedAt: string }} FinishedReport
 */

/** Issue #5's targets: the core scenarios (add-result, list-results) have the tighter ones. */
export const TARGETS = {
  coreRpsRatio: 0.8,
  coreP99Ratio: 1.5,
  otherRpsRatio: 0.7,
  coldStartMs: 3000,
  rssMb: 256,
  deepPageRatio: 1.5,
};

/**
 * @param {Run[]} runs
 * @returns {RunSummary | undefined}
 */
export function summarizeRuns(runs) {
  if (!runs.length) return undefined;
  return {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)),
    status: runs.reduce((/** @type {Record<string, number>} */ acc, r) => {
      for (const [code, count] of Object.entries(r.status)) acc[code] = (acc[code] ?? 0) + count;
      return acc;
    }, {}),
  };
}

/**
 * Medians per target, and the ratios service/reference as medians of the per-round ratios (paired A B).
 * `cpu` is the service's CPU time per request over the reference's: what the framework costs, even when
 * a stalling machine (steal, noisy neighbours) makes req/s mostly measure the stalls.
 * @param {import('./scenarios.mjs').Scenario} scenario
 * @param {Record<string, Run>[]} rounds
 */
export function scenarioSummary(scenario, rounds) {
  const service = /** @type {RunSummary} */ (summarizeRuns(rounds.map((r) => r.service)));
  const reference = scenario.reference
    ? summarizeRuns(rounds.flatMap((r) => (r.reference ? [r.reference] : [])))
    : undefined;
  const paired = rounds.filter((r) => r.service && r.reference);
  const ratio = paired.length
    ? {
        rps: median(paired.map((r) => r.service.rps / r.reference.rps)),
        p99: median(paired.map((r) => r.service.p99 / r.reference.p99)),
        cpu: median(paired.map((r) => r.service.cpuUsPerRequest / r.reference.cpuUsPerRequest)),
      }
    : undefined;
  const core = Boolean(scenario.core);
  /** @type {Check[]} */
  const checks = [];
  if (ratio) {
    checks.push({
      what: `req/s ≥ ${core ? TARGETS.coreRpsRatio : TARGETS.otherRpsRatio} × reference`,
      pass: ratio.rps >= (core ? TARGETS.coreRpsRatio : TARGETS.otherRpsRatio),
    });
    if (core)
      checks.push({ what: `p99 ≤ ${TARGETS.coreP99Ratio} × reference`, pass: ratio.p99 <= TARGETS.coreP99Ratio });
  }
  checks.push({ what: 'no errors, no non-2xx', pass: service.errors === 0 && service.non2xx === 0 });
  return { service, reference, ratio, checks };
}

/**
 * @param {number | undefined} n
 * @param {number} [digits]
 */
const fmt = (n, digits = 0) => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : '—');
/**
 * @param {string | number} s
 * @param {number} n
 */
const pad = (s, n, right = false) => (right ? String(s).padStart(n) : String(s).padEnd(n));

/**
 * @param {{ scenarios: ScenarioReport[] }} report
 * @param {import('./setup.mjs').Log} log
 */
export function printTable(report, log) {
  const header = [
    'scenario',
    'target',
    'req/s',
    'p50 ms',
    'p99 ms',
    'non-2xx',
    'errors',
    'CPU µs/req',
    'req/s ratio',
    'p99 ratio',
    'CPU ratio',
    'integrity',
    'targets',
  ];
  const widths = [15, 10, 8, 7, 7, 8, 7, 10, 11, 9, 9, 10, 8];
  /** @param {(string | number)[]} cells */
  const line = (cells) => cells.map((c, i) => pad(c, widths[i], i >= 2 && i <= 10)).join('  ');
  log(line(header));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const s of report.scenarios) {
    const integrity = s.integrity?.length ? (s.integrity.every((i) => i.ok) ? 'ok' : 'FAIL') : '';
    const verdict = s.checks.every((c) => c.pass) ? 'pass' : 'FAIL';
    log(
      line([
        s.name,
        'service',
        fmt(s.service.rps),
        fmt(s.service.p50, 2),
        fmt(s.service.p99, 2),
        s.service.non2xx,
        s.service.errors,
        fmt(s.service.cpuUsPerRequest),
        s.ratio ? fmt(s.ratio.rps, 2) : '',
        s.ratio ? fmt(s.ratio.p99, 2) : '',
        s.ratio ? fmt(s.ratio.cpu, 2) : '',
        integrity,
        verdict,
      ]),
    );
    if (s.reference) {
      log(
        line([
          '',
          'reference',
          fmt(s.reference.rps),
          fmt(s.reference.p50, 2),
          fmt(s.reference.p99, 2),
          s.reference.non2xx,
          s.reference.errors,
          fmt(s.reference.cpuUsPerRequest),
          '',
          '',
          '',
          '',
          '',
        ]),
      );
    }
  }
}

/**
 * The variants side by side, per route: medians, and ratios to the default (paired by round).
 * @param {VariantsReport} variants
 * @param {(...args: unknown[]) => void} log
 */
export function printVariants(variants, log) {
  const header = [
    'scenario',
    'variant',
    'req/s',
    'p50 ms',
    'p99 ms',
    'CPU µs/req',
    'req/s ratio',
    'p50 ratio',
    'p99 ratio',
    'CPU ratio',
  ];
  const widths = [15, 18, 8, 7, 7, 10, 11, 9, 9, 9];
  /** @param {(string | number)[]} cells */
  const line = (cells) => cells.map((c, i) => pad(c, widths[i], i >= 2)).join('  ');
  log(line(header));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const s of variants.scenarios) {
    for (const v of s.variants) {
      log(
        line([
          v === s.variants[0] ? s.name : '',
          v.name,
          fmt(v.rps),
          fmt(v.p50, 2),
          fmt(v.p99, 2),
          fmt(v.cpuUsPerRequest),
          v.ratio ? fmt(v.ratio.rps, 2) : '',
          v.ratio ? fmt(v.ratio.p50, 2) : '',
          v.ratio ? fmt(v.ratio.p99, 2) : '',
          v.ratio ? fmt(v.ratio.cpu, 2) : '',
        ]),
      );
    }
  }
  log(
    `tracing: ${variants.otlp.exports} OTLP exports, ${fmt(variants.otlp.bytes / 1024)} KB, ${fmt(variants.otlp.bytesPerRequest)} bytes per request served`,
  );
}

/**
 * @param {Report} report
 * @returns {Check[]}
 */
export function otherChecks(report) {
  /** @type {Check[]} */
  const checks = [];
  if (report.coldStart?.warmMs !== undefined) {
    checks.push({
      what: `cold start (embedded, existing data folder) < ${TARGETS.coldStartMs} ms`,
      measured: `${fmt(report.coldStart.warmMs)} ms`,
      pass: report.coldStart.warmMs < TARGETS.coldStartMs,
    });
  }
  if (report.coldStart?.freshMs !== undefined) {
    checks.push({
      what: `cold start (embedded, new data folder: initdb) < ${TARGETS.coldStartMs} ms`,
      measured: `${fmt(report.coldStart.freshMs)} ms`,
      pass: report.coldStart.freshMs < TARGETS.coldStartMs,
    });
  }
  // Under valgrind, a process's resident set is valgrind's as much as its own.
  if (report.memory?.servicePeakMb !== undefined && !report.settings.instructions) {
    checks.push({
      what: `service RSS < ${TARGETS.rssMb} MB`,
      measured: `${fmt(report.memory.servicePeakMb)} MB peak`,
      pass: report.memory.servicePeakMb < TARGETS.rssMb,
    });
  }
  if (report.paging) {
    checks.push({
      what: `deep page ≤ ${TARGETS.deepPageRatio} × first page (p50, one connection)`,
      measured: `${fmt(report.paging.ratio, 2)} × (${fmt(report.paging.deep.p50, 2)} vs ${fmt(report.paging.first.p50, 2)} ms, ${report.paging.depthRows} rows deep)`,
      pass: report.paging.ratio <= TARGETS.deepPageRatio,
    });
  }
  if (report.count) {
    checks.push({
      what: `$count with $filter ≤ ${report.count.budgetMs} ms (p50, ${report.count.tenantRequests} requests in the tenant)`,
      measured: `${fmt(report.count.filtered.p50, 1)} ms`,
      pass: report.count.filtered.p50 <= report.count.budgetMs,
    });
  }
  if (report.soak) {
    checks.push({
      what: 'soak: no RSS growth',
      measured: `${fmt(report.soak.growthMb, 1)} MB (${fmt(report.soak.slopeMbPerMin, 2)} MB/min)`,
      pass: report.soak.pass,
    });
  }
  return checks;
}

/** @param {FinishedReport} report */
export function readmeSnippet(report) {
  const m = report.machine;
  const lines = [
    `Measured ${report.finishedAt.slice(0, 10)} on ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB RAM, ${m.os}; ${m.postgres.split(' on ')[0]}` +
      ` (${report.database}), Node ${m.node}. Server, load generator and database share the machine` +
      ` (load average ${m.loadAvgStart[0].toFixed(1)} at the start, ${m.loadAvgEnd?.[0].toFixed(1)} at the end); ` +
      `${report.settings.connections} connections, median of ${report.settings.rounds} rounds of ${report.settings.duration} s, ` +
      `${report.settings.service ? `the build in ${report.settings.service}` : 'this build'}` +
      `${report.settings.against ? ` and the build in ${report.settings.against} (the reference columns)` : ' and the reference'} ` +
      `measured alternately, the order swapped every round; ${report.seed.requests.toLocaleString('en')} requests and ` +
      `${report.seed.results.toLocaleString('en')} results seeded.`,
    '',
  ];
  if (report.scenarios) lines.push(...scenarioLines(report.scenarios));
  if (report.pgbench?.addResult) {
    lines.push(
      `PostgreSQL alone (pgbench, ${report.pgbench.clients} clients): the service's add-result statement ` +
        `${fmt(report.pgbench.addResult.tps)} tx/s prepared (${fmt(report.pgbench.addResultUnprepared?.tps)} tx/s planned ` +
        `on every call, as unnamed statements are), ${fmt(report.pgbench.addResultWithoutOutbox?.tps)} tx/s without its two ` +
        `notification CTEs (the outbox's cost with no subscription), a bare INSERT ${fmt(report.pgbench.insert?.tps)} rows/s.`,
      '',
    );
  }
  if (report.variants) lines.push(...variantLines(report.variants));
  if (report.outbox) lines.push(...outboxLines(report.outbox));
  if (report.notificationLatency) lines.push('', latencyLine(report.notificationLatency));
  if (report.instructions) lines.push(...instructionLines(report.instructions, Boolean(report.settings.against)));
  for (const c of otherChecks(report)) lines.push(`- ${c.what}: ${c.measured} ${c.pass ? '✓' : '✗'}`);
  return `${lines.join('\n')}\n`;
}

/** @param {ScenarioReport[]} scenarios */
function scenarioLines(scenarios) {
  return [
    '| Scenario | Service req/s | p50 ms | p99 ms | Reference req/s | p99 ms | req/s ratio | p99 ratio | CPU µs/req (service / reference) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...scenarios.map(
      (s) =>
        `| ${s.title} | ${fmt(s.service.rps)} | ${fmt(s.service.p50, 1)} | ${fmt(s.service.p99, 1)} | ` +
        `${s.reference ? fmt(s.reference.rps) : '—'} | ${s.reference ? fmt(s.reference.p99, 1) : '—'} | ` +
        `${s.ratio ? fmt(s.ratio.rps, 2) : '—'} | ${s.ratio ? fmt(s.ratio.p99, 2) : '—'} | ` +
        `${fmt(s.service.cpuUsPerRequest)} / ${s.reference ? fmt(s.reference.cpuUsPerRequest) : '—'} |`,
    ),
    '',
  ];
}

/**
 * @param {import('./instructions.mjs').InstructionsReport} instructions
 * @param {boolean} against whether the other target is another build (or the reference)
 */
function instructionLines(instructions, against) {
  const other = against ? 'other build' : 'reference';
  /** @param {import('./instructions.mjs').WindowCost[] | undefined} windows @param {keyof import('./instructions.mjs').WindowCost} cost */
  const cell = (windows, cost) => {
    const values = (windows ?? []).map((w) => w[cost] / 1e3);
    return values.length ? `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})` : '—';
  };
  return [
    `Instructions per request (callgrind, node --predictable --no-flush-bytecode; ${instructions.warmup} requests of warm-up, then windows of ` +
      `${instructions.requests} sequential requests; thousands, median (range) of the windows; "mutator": less V8's ` +
      `compilers and garbage collector; ratios of the medians):`,
    '',
    `| Scenario | All: service | All: ${other} | Mutator: service | Mutator: ${other} | Ratio: all | less JIT | mutator |`,
    '|---|--:|--:|--:|--:|--:|--:|--:|',
    ...instructions.scenarios.map(
      (s) =>
        `| ${s.title} | ${cell(s.windows.service, 'all')} | ${cell(s.windows.reference, 'all')} | ` +
        `${cell(s.windows.service, 'mutator')} | ${cell(s.windows.reference, 'mutator')} | ` +
        `${s.ratio ? `${fmt(s.ratio.all, 3)} | ${fmt(s.ratio.withoutJit, 3)} | ${fmt(s.ratio.mutator, 3)}` : '— | — | —'} |`,
    ),
    '',
  ];
}

/** @param {import('./notification-latency.mjs').LatencyReport} l */
function latencyLine(l) {
  return (
    `Notification latency, ${l.subscriptions} subscriptions, add-result at ${l.ratePerSecond}/s for ${l.seconds} s ` +
    `(poll ${l.pollIntervalMs} ms), from the result's 201 to the notification's arrival: p50 ${fmt(l.latencyMs.p50)} ms, ` +
    `p99 ${fmt(l.latencyMs.p99)} ms, max ${fmt(l.latencyMs.max)} ms; ${l.delivered} of ${l.sent} delivered in ${l.posts} POSTs, ` +
    `${l.duplicates} duplicates.`
  );
}

/** @param {import('./outbox.mjs').OutboxReport} outbox */
function outboxLines(outbox) {
  return [
    '',
    "The outbox's cost on add-result (the same service, delivery off; ratios to the service without outbox, paired by round):",
    '',
    '| Benched tenant | req/s | p50 ms | p99 ms | req/s ratio | notifications recorded |',
    '|---|--:|--:|--:|--:|--:|',
    ...outbox.states.map(
      (s) =>
        `| ${s.title} | ${fmt(s.rps)} | ${fmt(s.p50, 1)} | ${fmt(s.p99, 1)} | ${s.ratio ? fmt(s.ratio.rps, 2) : '1'} | ${fmt(s.recorded)} |`,
    ),
    ...(outbox.withoutOutbox
      ? [
          '',
          'With no subscription, the outbox against none at all, on the reference (its cost where little else costs: an upper bound of its share of the service):',
          '',
          '| Reference | req/s | p50 ms | p99 ms | req/s ratio |',
          '|---|--:|--:|--:|--:|',
          `| ${outbox.withoutOutbox.without.title} | ${fmt(outbox.withoutOutbox.without.rps)} | ${fmt(outbox.withoutOutbox.without.p50, 1)} | ${fmt(outbox.withoutOutbox.without.p99, 1)} | 1 |`,
          `| ${outbox.withoutOutbox.withOutbox.title} | ${fmt(outbox.withoutOutbox.withOutbox.rps)} | ${fmt(outbox.withoutOutbox.withOutbox.p50, 1)} | ${fmt(outbox.withoutOutbox.withOutbox.p99, 1)} | ${fmt(outbox.withoutOutbox.withOutbox.ratio?.rps ?? NaN, 2)} |`,
        ]
      : []),
  ];
}

/** @param {VariantsReport} variants */
function variantLines(variants) {
  return [
    'Service variants (the same build, measured in turn; ratios to the default, paired by round):',
    '',
    '| Scenario | Variant | req/s | p50 ms | p99 ms | CPU µs/req | req/s ratio | p50 ratio | p99 ratio |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...variants.scenarios.flatMap((s) =>
      s.variants.map(
        (v) =>
          `| ${v === s.variants[0] ? s.title : ''} | ${v.title} | ${fmt(v.rps)} | ${fmt(v.p50, 1)} | ${fmt(v.p99, 1)} | ` +
          `${fmt(v.cpuUsPerRequest)} | ${v.ratio ? fmt(v.ratio.rps, 2) : '1'} | ${v.ratio ? fmt(v.ratio.p50, 2) : '1'} | ` +
          `${v.ratio ? fmt(v.ratio.p99, 2) : '1'} |`,
      ),
    ),
    '',
    `With tracing on, the sink received ${variants.otlp.exports} OTLP exports, ${fmt(variants.otlp.bytesPerRequest)} bytes per request served.` +
      (variants.pgbouncer.version
        ? ` pgbouncer: ${variants.pgbouncer.version}, as many server connections as the service's pool.`
        : ` No pgbouncer variant: ${variants.pgbouncer.skipped}.`),
    '',
  ];
}

/**
 * Peaks and idle resident sets of both processes, and the service's peak by phase.
 * @param {import('./processes.mjs').MemorySampler} sampler
 * @param {boolean} withReference
 */
export function memorySummary(sampler, withReference) {
  return {
    servicePeakMb: sampler.peak('service'),
    serviceIdleMb: sampler.samples.find((x) => x.name === 'service')?.mb,
    referencePeakMb: withReference ? sampler.peak('reference') : undefined,
    referenceIdleMb: sampler.samples.find((x) => x.name === 'reference')?.mb,
    servicePeakByPhase: Object.fromEntries(
      [...new Set(sampler.samples.filter((x) => x.name === 'service').map((x) => x.phase))].map((phase) => [
        phase,
        Math.round(sampler.peak('service', (p) => p === phase) ?? NaN),
      ]),
    ),
  };
}

/**
 * Completes the report with its checks, writes it (and the chart and snippet), prints the table; true if all pass.
 * @param {Report} started
 * @param {string} outDir
 * @param {import('./setup.mjs').Log} log
 */
export function finishReport(started, outDir, log) {
  if (!started.machine || !started.seed)
    throw new Error('the report has no machine or seed: the database was never prepared');
  const report = /** @type {FinishedReport} */ (started);
  report.finishedAt = new Date().toISOString();
  report.machine.loadAvgEnd = os.loadavg();
  report.checks = [
    ...(report.scenarios ?? []).flatMap((s) => s.checks.map((c) => ({ scenario: s.name, ...c }))),
    ...(report.variants?.checks ?? []),
    ...(report.outbox?.checks ?? []),
    ...(report.notificationLatency
      ? [
          {
            scenario: 'notification-latency',
            what: 'every result notified',
            pass: report.notificationLatency.delivered === report.notificationLatency.sent,
          },
        ]
      : []),
    ...otherChecks(report),
  ];
  writeFileSync(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(resolve(ROOT, report.settings.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  if (report.scenarios || report.variants || report.outbox || report.notificationLatency || report.instructions) {
    writeFileSync(join(outDir, 'README-snippet.md'), readmeSnippet(report));
  }
  const { scenarios } = report;
  if (scenarios) {
    writeFileSync(join(outDir, 'chart.svg'), chartSvg({ ...report, scenarios }));
    log('');
    printTable({ scenarios }, log);
  }
  if (report.outbox) for (const line of outboxLines(report.outbox)) log(line);
  if (report.notificationLatency) log(latencyLine(report.notificationLatency));
  if (report.instructions) {
    log('');
    for (const line of instructionLines(report.instructions, Boolean(report.settings.against))) log(line);
  }
  if (report.variants) {
    log('');
    printVariants(report.variants, log);
  }
  log('');
  for (const c of otherChecks(report)) log(`${c.pass ? 'pass' : 'FAIL'}  ${c.what}: ${c.measured}`);
  const { memory } = report;
  if (memory?.referencePeakMb)
    log(`reference RSS: ${memory.referenceIdleMb?.toFixed(0)} MB idle, ${memory.referencePeakMb.toFixed(0)} MB peak`);
  if (memory?.servicePeakMb)
    log(`service RSS: ${memory.serviceIdleMb?.toFixed(0)} MB idle, ${memory.servicePeakMb.toFixed(0)} MB peak`);
  if (report.machine.loadAvgStart[0] > report.machine.cpus * 0.5) {
    log(
      `note: the machine was busy when the bench started (load ${report.machine.loadAvgStart[0].toFixed(1)}); figures are noisier than on an idle machine.`,
    );
  }
  log(
    `\nReport: ${relative(ROOT, join(outDir, 'report.json'))}${report.scenarios ? ', chart.svg' : ''}${report.scenarios || report.variants ? ', README-snippet.md' : ''}${report.profile ? ', flame-*.svg' : ''}`,
  );
  return report.checks.every((c) => c.pass);
}
