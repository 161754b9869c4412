// Cold start: the service starting its own embedded PostgreSQL, from spawn to the first 201.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CREATE_REQUEST_EXAMPLES } from '#dist/threat-assessment/dto/threat-assessment.examples.js';
import { seedTenantId } from './database.mjs';
import { freePort, request, startProcess } from './processes.mjs';
import { REQUESTS } from './scenarios.mjs';
import { MAIN, tokenFor } from './setup.mjs';

/**
 * Where a cold start went, from the service's JSON log (best effort: lines it cannot find are left out):
 * loading the entry's modules until bootstrap begins, the embedded PostgreSQL (the application's modules
 * load meanwhile), migrations, Nest, the first request.
 * @param {string} logFile
 * @param {number} spawnedAt
 * @param {number} first201At
 */
function startupPhases(logFile, spawnedAt, first201At) {
  /** @type {{ ready?: number, bootstrap?: number, database?: number, migrations?: number }} */
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
  if (at.ready === undefined || at.bootstrap === undefined) return undefined;
  /** @type {Record<string, number>} */
  const phases = { loadModulesMs: at.bootstrap - spawnedAt };
  if (at.database) phases.embeddedPostgresAndModulesMs = at.database - at.bootstrap;
  if (at.migrations) phases.migrationsAndNestMs = at.migrations - (at.database ?? at.bootstrap);
  phases.untilListeningMs = at.ready - (at.migrations ?? at.database ?? at.bootstrap);
  phases.firstRequestMs = first201At - at.ready;
  return phases;
}

const COLD_STARTS = 3;

/** @typedef {{ ms: number, phases: ReturnType<typeof startupPhases> }} ColdStart */

/**
 * The run with the median time (odd counts), so that its phases go with the figure reported.
 * @param {ColdStart[]} runs
 */
function medianRun(runs) {
  return [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)];
}

/**
 * Spawn to first 201 on POST (the service starts its own embedded PostgreSQL in `dir`).
 * @param {import('./setup.mjs').Dist} dist
 * @param {NodeJS.ProcessEnv} env
 * @param {string} dir
 * @param {string} label
 * @param {string} outDir
 * @returns {Promise<ColdStart>}
 */
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
        body: CREATE_REQUEST_EXAMPLES.urlAssessmentRequest.value,
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

/**
 * Each pair: a new data folder (initdb), then the same folder again. The last folder stays for the
 * measurements that follow. Medians: one start on a shared 2-core machine is a noisy sample.
 * @param {import('./setup.mjs').Dist} dist
 * @param {NodeJS.ProcessEnv} env
 * @param {string} clusterDir
 * @param {string} outDir
 * @param {import('./setup.mjs').Log} log
 */
export async function measureColdStarts(dist, env, clusterDir, outDir, log) {
  log(`Cold start (embedded PostgreSQL, spawn to first 201), ${COLD_STARTS} times each…`);
  /** @type {Record<'fresh' | 'warm', ColdStart[]>} */
  const runs = { fresh: [], warm: [] };
  for (let i = 0; i < COLD_STARTS; i++) {
    if (i > 0) rmSync(clusterDir, { recursive: true, force: true });
    mkdirSync(clusterDir, { recursive: true });
    runs.fresh.push(await coldStart(dist, env, clusterDir, `fresh-${i + 1}`, outDir));
    runs.warm.push(await coldStart(dist, env, clusterDir, `warm-${i + 1}`, outDir));
  }
  const [fresh, warm] = [medianRun(runs.fresh), medianRun(runs.warm)];
  const result = {
    freshMs: fresh.ms,
    warmMs: warm.ms,
    freshRunsMs: runs.fresh.map((run) => Math.round(run.ms)),
    warmRunsMs: runs.warm.map((run) => Math.round(run.ms)),
    phases: { fresh: fresh.phases, warm: warm.phases },
    note: `median of ${COLD_STARTS}; fresh: new data folder (initdb, migrations); warm: existing folder, as \`npm start\` after the first time`,
  };
  log(
    `  new data folder ${fresh.ms.toFixed(0)} ms (${result.freshRunsMs.join(', ')}), existing data folder ${warm.ms.toFixed(0)} ms (${result.warmRunsMs.join(', ')})`,
  );
  for (const [label, phases] of Object.entries(result.phases)) {
    if (phases)
      log(
        `  ${label}: ${Object.entries(phases)
          .map(([k, v]) => `${k.replace(/Ms$/, '')} ${v} ms`)
          .join(', ')}`,
      );
  }
  return result;
}
