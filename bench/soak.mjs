// Soak: the service under a steady write and read mix, its resident set sampled each second.
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { countRows } from './database.mjs';
import { settledCounts } from './measure.mjs';
import { median } from './processes.mjs';
import { runLoad, soakRequests } from './scenarios.mjs';

/**
 * Soak: the add + list mix at half the peak rate; RSS each second; growth between the first and last thirds after warm-up.
 * @param {import('./setup.mjs').Context} ctx
 * @param {number} seconds
 * @param {import('./setup.mjs').Log} log
 */
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
  /** @type {{ s: number, mb: number }[]} */
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
 * Soaks for `seconds` and prints whether the resident set grew.
 * @param {import('./setup.mjs').Context} ctx
 * @param {number} seconds
 * @param {import('./setup.mjs').Log} log
 */
export async function runSoak(ctx, seconds, log) {
  log(`Soak for ${seconds} s…`);
  ctx.sampler.setPhase('soak');
  const result = await soak(ctx, seconds, log);
  log(
    `  RSS ${result.firstThirdMb.toFixed(0)} → ${result.lastThirdMb.toFixed(0)} MB (max ${result.maxMb.toFixed(0)}), ` +
      `${result.slopeMbPerMin.toFixed(2)} MB/min, ${result.achievedRps.toFixed(0)} req/s, errors ${result.errors}: ${result.pass ? 'no growth' : 'GROWTH'}`,
  );
  return result;
}
