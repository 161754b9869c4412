// The report: medians of the rounds, ratios to the reference, targets (issue #5), a table and a README snippet.
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { chartSvg } from './chart.mjs';
import { median } from './processes.mjs';
import { ROOT } from './setup.mjs';

/** Issue #5's targets: the core scenarios (add-result, list-results) have the tighter ones. */
export const TARGETS = {
  coreRpsRatio: 0.8,
  coreP99Ratio: 1.5,
  otherRpsRatio: 0.7,
  coldStartMs: 3000,
  rssMb: 256,
  deepPageRatio: 1.5,
};

export function summarizeRuns(runs) {
  if (!runs.length) return undefined;
  return {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)),
    status: runs.reduce((acc, r) => {
      for (const [code, count] of Object.entries(r.status)) acc[code] = (acc[code] ?? 0) + count;
      return acc;
    }, {}),
  };
}

/**
 * Medians per target, and the ratios service/reference as medians of the per-round ratios (paired A B).
 * `cpu` is the service's CPU time per request over the reference's: what the framework costs, even when
 * a stalling machine (steal, noisy neighbours) makes req/s mostly measure the stalls.
 */
export function scenarioSummary(scenario, rounds) {
  const service = summarizeRuns(rounds.map((r) => r.service));
  const reference = scenario.reference ? summarizeRuns(rounds.map((r) => r.reference).filter(Boolean)) : undefined;
  const paired = rounds.filter((r) => r.service && r.reference);
  const ratio = paired.length
    ? {
        rps: median(paired.map((r) => r.service.rps / r.reference.rps)),
        p99: median(paired.map((r) => r.service.p99 / r.reference.p99)),
        cpu: median(paired.map((r) => r.service.cpuUsPerRequest / r.reference.cpuUsPerRequest)),
      }
    : undefined;
  const core = Boolean(scenario.core);
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

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const pad = (s, n, right = false) => (right ? String(s).padStart(n) : String(s).padEnd(n));

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

export function otherChecks(report) {
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
  if (report.memory?.servicePeakMb !== undefined) {
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

export function readmeSnippet(report) {
  const m = report.machine;
  const lines = [
    `Measured ${report.finishedAt.slice(0, 10)} on ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB RAM, ${m.os}; ${m.postgres.split(' on ')[0]}` +
      ` (${report.database}), Node ${m.node}. Server, load generator and database share the machine; ` +
      `${report.settings.connections} connections, median of ${report.settings.rounds} rounds of ${report.settings.duration} s, ` +
      `service and reference measured alternately; ${report.seed.requests.toLocaleString('en')} requests and ` +
      `${report.seed.results.toLocaleString('en')} results seeded.`,
    '',
    '| Scenario | Service req/s | p50 ms | p99 ms | Reference req/s | p99 ms | req/s ratio | p99 ratio | CPU µs/req (service / reference) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...report.scenarios.map(
      (s) =>
        `| ${s.title} | ${fmt(s.service.rps)} | ${fmt(s.service.p50, 1)} | ${fmt(s.service.p99, 1)} | ` +
        `${s.reference ? fmt(s.reference.rps) : '—'} | ${s.reference ? fmt(s.reference.p99, 1) : '—'} | ` +
        `${s.ratio ? fmt(s.ratio.rps, 2) : '—'} | ${s.ratio ? fmt(s.ratio.p99, 2) : '—'} | ` +
        `${fmt(s.service.cpuUsPerRequest)} / ${s.reference ? fmt(s.reference.cpuUsPerRequest) : '—'} |`,
    ),
    '',
  ];
  if (report.pgbench?.addResult) {
    lines.push(
      `PostgreSQL alone (pgbench, ${report.pgbench.clients} clients): the service's add-result statement ` +
        `${fmt(report.pgbench.addResult.tps)} tx/s prepared (${fmt(report.pgbench.addResultUnprepared?.tps)} tx/s planned ` +
        `on every call, as unnamed statements are), a bare INSERT ${fmt(report.pgbench.insert?.tps)} rows/s.`,
    );
  }
  for (const c of otherChecks(report)) lines.push(`- ${c.what}: ${c.measured} ${c.pass ? '✓' : '✗'}`);
  return `${lines.join('\n')}\n`;
}

/** Peaks and idle resident sets of both processes, and the service's peak by phase. */
export function memorySummary(sampler, withReference) {
  return {
    servicePeakMb: sampler.peak('service'),
    serviceIdleMb: sampler.samples.find((x) => x.name === 'service')?.mb,
    referencePeakMb: withReference ? sampler.peak('reference') : undefined,
    referenceIdleMb: sampler.samples.find((x) => x.name === 'reference')?.mb,
    servicePeakByPhase: Object.fromEntries(
      [...new Set(sampler.samples.filter((x) => x.name === 'service').map((x) => x.phase))].map((phase) => [
        phase,
        Math.round(sampler.peak('service', (p) => p === phase)),
      ]),
    ),
  };
}

/** Completes the report with its checks, writes it (and the chart and snippet), prints the table; true if all pass. */
export function finishReport(report, outDir, log) {
  report.finishedAt = new Date().toISOString();
  report.machine.loadAvgEnd = os.loadavg();
  report.checks = [
    ...(report.scenarios ?? []).flatMap((s) => s.checks.map((c) => ({ scenario: s.name, ...c }))),
    ...otherChecks(report),
  ];
  writeFileSync(join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(resolve(ROOT, report.settings.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
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
  return report.checks.every((c) => c.pass);
}
