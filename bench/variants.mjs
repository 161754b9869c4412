// Service variants: the same build started three ways (default, DATABASE_POOLER=transaction, tracing on),
// and a fourth through pgbouncer when it is installed, measured alternately on the same routes, so that
// each setting's cost is a ratio to the default.
import http from 'node:http';
import { join } from 'node:path';
import { measuredRun, pairedRatios, runFigures, warmUp } from './measure.mjs';
import { startPgbouncer } from './pgbouncer.mjs';
import { freePort } from './processes.mjs';
import { summarizeRuns } from './report.mjs';
import { scenarioNamed } from './scenarios.mjs';
import { startService } from './setup.mjs';

/** The routes each variant is measured on. */
export const VARIANT_SCENARIOS = ['add-result', 'list-results', 'create-request'];

/**
 * A stand-in OTLP collector on loopback: 200 to every POST /v1/traces, counting requests and bytes, so
 * that the service pays the whole export (protobuf encoding, HTTP) and nothing is dropped or retried.
 * @returns {Promise<{ endpoint: string, stats: { requests: number, bytes: number }, close: () => Promise<void> }>}
 */
export async function startOtlpSink() {
  const stats = { requests: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (/** @type {Buffer} */ chunk) => (bytes += chunk.length));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        stats.requests++;
        stats.bytes += bytes;
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } else {
        res.writeHead(404).end();
      }
    });
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(undefined)));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

/**
 * The variants and what each sets. Behind a transaction pooler the service names no statement and opens
 * every transaction with SET LOCAL of its timeouts; here it talks to PostgreSQL directly, so what is
 * measured is the cost of the setting itself (planning every statement), not of a pooler's hop.
 * @param {string} url
 * @param {string} otlpEndpoint
 * @param {string} [pooledUrl] pgbouncer's, in transaction mode
 * @returns {{ name: string, title: string, env: NodeJS.ProcessEnv }[]}
 */
function variantsOf(url, otlpEndpoint, pooledUrl) {
  return [
    { name: 'default', title: 'default', env: {} },
    {
      name: 'pooler-transaction',
      title: 'DATABASE_POOLER=transaction',
      env: { DATABASE_POOLER: 'transaction', MIGRATIONS_DATABASE_URL: url },
    },
    {
      name: 'tracing',
      title: 'tracing on (always_on, OTLP to a local sink)',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint, OTEL_TRACES_SAMPLER: 'always_on' },
    },
    ...(pooledUrl
      ? [
          {
            name: 'pgbouncer',
            title: 'through pgbouncer (transaction mode)',
            env: { DATABASE_URL: pooledUrl, DATABASE_POOLER: 'transaction', MIGRATIONS_DATABASE_URL: url },
          },
        ]
      : []),
  ];
}

/**
 * Starts the variants beside the targets already running, warms each up on each route, then measures
 * them in turn, round after round (A B C, B C A, …): drift on a shared machine falls on all of them.
 * Ratios to the default are paired within a round, then the median is taken.
 * @param {import('./setup.mjs').Context} ctx
 * @param {NodeJS.ProcessEnv} env
 * @param {string} outDir
 * @param {(...args: unknown[]) => void} log
 * @returns {Promise<import('./report.mjs').VariantsReport>}
 */
export async function measureVariants(ctx, env, outDir, log) {
  const { settings, token, url } = ctx;
  const sink = await startOtlpSink();
  const bouncer = await startPgbouncer(url, settings.poolSize, join(outDir, 'pgbouncer.log'));
  if ('skipped' in bouncer) log(`  pgbouncer variant skipped: ${bouncer.skipped}`);
  const variants = variantsOf(url, sink.endpoint, 'url' in bouncer ? bouncer.url : undefined);
  const processes = [];
  /** @type {import('./report.mjs').VariantsReport['scenarios']} */
  const out = [];
  // Every response of the tracing variant, warm-ups included: each one's spans reach the sink.
  let tracedResponses = 0;
  try {
    for (const variant of variants) {
      const target = await startService(env, settings, url, {
        name: variant.name,
        logFile: join(outDir, `variant-${variant.name}.log`),
        extraEnv: variant.env,
      });
      processes.push(target);
      await target.ready();
    }
    const selected = VARIANT_SCENARIOS.map(scenarioNamed);
    log(
      `Service variants (${variants.map((v) => v.name).join(', ')}): ${settings.rounds} rounds of ${settings.duration} s, in turn…`,
    );
    for (const scenario of selected) {
      const fresh = () => scenario.requests(ctx);
      for (const target of processes) {
        if (settings.warmup > 0) {
          const warmup = await warmUp(target, token, settings, fresh());
          if (target.name === 'tracing') tracedResponses += warmup.responses;
        }
      }
      /** @type {Record<string, import('./scenarios.mjs').Run>[]} */
      const rounds = [];
      for (let round = 1; round <= settings.rounds; round++) {
        /** @type {Record<string, import('./scenarios.mjs').Run>} */
        const entry = {};
        // Each round starts one variant later: a trend within a round falls on every variant in turn.
        const shift = (round - 1) % processes.length;
        for (const target of [...processes.slice(shift), ...processes.slice(0, shift)]) {
          const run = await measuredRun(target, token, settings, fresh());
          entry[target.name] = run;
          if (target.name === 'tracing') tracedResponses += run.responses;
          log(
            `  ${scenario.name.padEnd(15)} round ${round} ${target.name.padEnd(18)} ${runFigures(run)}  load ${run.loadAvg1m.toFixed(1)}`,
          );
        }
        rounds.push(entry);
      }
      out.push({
        name: scenario.name,
        title: scenario.title,
        variants: variants.map((variant) => {
          const runs = rounds.map((r) => r[variant.name]);
          const summary = /** @type {import('./report.mjs').RunSummary} */ (summarizeRuns(runs));
          const ratio = variant.name === 'default' ? undefined : pairedRatios(rounds, variant.name, 'default');
          return { name: variant.name, title: variant.title, ...summary, ratio, rounds: runs };
        }),
      });
    }
  } finally {
    // Stopping flushes the tracing variant's last spans to the sink.
    for (const target of processes) await target.stop();
    await sink.close();
    if ('stop' in bouncer) await bouncer.stop();
  }
  return {
    variants: variants.map(({ name, title }) => ({ name, title })),
    pgbouncer: 'skipped' in bouncer ? { skipped: bouncer.skipped } : { version: bouncer.version },
    scenarios: out,
    otlp: {
      exports: sink.stats.requests,
      bytes: sink.stats.bytes,
      bytesPerRequest: tracedResponses ? sink.stats.bytes / tracedResponses : NaN,
    },
    checks: out.flatMap((s) =>
      s.variants.map((v) => ({
        scenario: `variants:${s.name}:${v.name}`,
        what: 'no errors, no non-2xx',
        pass: v.errors === 0 && v.non2xx === 0,
      })),
    ),
  };
}
