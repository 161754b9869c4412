import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFigures } from './support/figures.js';
import { call, createParents, errorCodeOf, newTenant, REQUESTS, type Tenant } from './support/graph-client.js';
import { type Attempt, auditRows, resultPayload, startLoad, tally } from './support/load.js';
import { freePort } from './support/ports.js';
import {
  clusterState,
  type ControlledPostgres,
  makeTempDir,
  startControlledPostgres,
  stopLeftoverPostmaster,
} from './support/postgres.js';
import { accepts, keepAliveRequest, openIdleConnection } from './support/raw-http.js';
import { type Exit, type RunningService, startService } from './support/service.js';

/** Issue #4: on SIGTERM the process exits 0 within this long. */
const SHUTDOWN_BOUND_MS = 10_000;
/** What a request sent after SIGTERM may get: Fastify's 503 while closing, or no connection at all. */
const CLOSED_ANSWERS = ['503', 'ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'];

/** Holds ACCESS EXCLUSIVE on the results table, so that add-result requests stay in flight until release(). */
async function lockResults(url: string) {
  const client = new pg.Client({ connectionString: url, application_name: 'fault-tests-locker' });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE threat_assessment_results IN ACCESS EXCLUSIVE MODE');
  return {
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/**
 * SIGTERM under load, with requests held in flight by a lock: they must all complete with 201 after the
 * signal; requests sent after it get 503 or no connection; the process exits 0 within the bound.
 */
async function sigtermUnderLoad(
  service: RunningService,
  databaseUrl: string,
  tenant: Tenant,
  parents: string[],
  secondSignal?: NodeJS.Signals,
) {
  const load = startLoad({ baseUrl: service.baseUrl, tenant, parents, maxRequests: 50_000, maxDurationMs: 30_000 });
  let inFlightAtSigterm: number;
  let sigtermAt = 0;
  let exit: Exit | undefined;
  let attempts: Attempt[];
  try {
    await until(() => load.attempts.length >= 500, 20_000);
    const lock = await lockResults(databaseUrl);
    try {
      await sleep(300);
      inFlightAtSigterm = load.inFlight;
      sigtermAt = performance.now();
      service.kill('SIGTERM');
      if (secondSignal) {
        // An impatient operator: a second signal must not cut the drain (nor leave the database running).
        await sleep(200);
        service.kill(secondSignal);
      }
      // The requests in flight stay in flight well into the shutdown.
      await sleep(secondSignal ? 800 : 1000);
    } finally {
      await lock.release();
    }
    exit = await Promise.race([service.exit, sleep(SHUTDOWN_BOUND_MS + 5000).then(() => undefined)]);
    await sleep(200);
  } finally {
    attempts = await load.stop();
  }
  const before = attempts.filter((a) => a.startedAt < sigtermAt);
  const after = attempts.filter((a) => a.startedAt >= sigtermAt);
  const closing503 = after.find((a) => a.status === 503);
  return {
    exit,
    shutdownMs: exit && Math.round(exit.at - sigtermAt),
    attempts,
    before,
    after,
    inFlightAtSigterm,
    figures: {
      requests: attempts.length,
      inFlightAtSigterm,
      sentBeforeSigterm: { requests: before.length, statuses: tally(before) },
      sentAfterSigterm: { requests: after.length, statuses: tally(after) },
      inFlightCompletedAfterSigterm: before.filter((a) => a.endedAt > sigtermAt && a.status === 201).length,
      closing503Body: closing503?.body,
      exit,
      shutdownMs: exit && Math.round(exit.at - sigtermAt),
    },
  };
}

describe('graceful shutdown on SIGTERM', () => {
  describe('against an external PostgreSQL (DATABASE_URL)', () => {
    let db: ControlledPostgres;
    beforeAll(async () => {
      db = await startControlledPostgres();
    });
    afterAll(async () => {
      await db?.destroy();
    });

    it('under load: requests in flight complete, new ones get 503 or no connection, exit 0 within 10 s, no database session left', async () => {
      const service = await startService('shutdown-under-load', { DATABASE_URL: db.url, LOG_LEVEL: 'info' });
      try {
        await service.waitFor('/health/ready');
        const tenant = await newTenant();
        const parents = await createParents(service.baseUrl, tenant, 8);
        const run = await sigtermUnderLoad(service, db.url, tenant, parents);
        const sessions = await db.serviceSessions();
        const audit = await auditRows(db.admin, tenant.tenantId, run.attempts);
        recordFigures('graceful shutdown under load (external PostgreSQL)', {
          ...run.figures,
          serviceSessionsAfterExit: sessions,
          rowsChecked: audit.rowsChecked,
        });

        expect(run.exit, service.problems()).toEqual({ code: 0, signal: null, at: expect.any(Number) });
        expect(run.shutdownMs).toBeLessThan(SHUTDOWN_BOUND_MS);
        expect(run.inFlightAtSigterm).toBeGreaterThanOrEqual(16);
        // Everything sent before the signal, the requests held in flight included, completed normally.
        expect(tally(run.before)).toEqual({ 201: run.before.length });
        expect(Object.keys(tally(run.after)).filter((status) => !CLOSED_ANSWERS.includes(status))).toEqual([]);
        expect(run.after.length).toBeGreaterThan(0);
        // Every 201 has its row; nothing sent after the signal was written.
        expect(audit.violations).toEqual([]);
        expect(audit.committedAmbiguous).toEqual([]);
        expect(audit.rowsChecked).toBe(run.before.length);
        expect(sessions).toBe(0);
        expect(await accepts(service.port)).toBe(false);
      } finally {
        await service.stop();
      }
    });

    it('with SHUTDOWN_DRAIN_MS: readiness answers 503 at once while requests are still served, then it closes and exits 0', async () => {
      const drainMs = 1500;
      const service = await startService('shutdown-drain', {
        DATABASE_URL: db.url,
        SHUTDOWN_DRAIN_MS: String(drainMs),
      });
      try {
        await service.waitFor('/health/ready');
        const tenant = await newTenant();
        const [parentId] = await createParents(service.baseUrl, tenant, 1);
        const sigtermAt = performance.now();
        service.kill('SIGTERM');
        await sleep(200);
        const ready = await call(service.baseUrl, '/health/ready');
        const live = await call(service.baseUrl, '/health/live');
        const added = await call(service.baseUrl, `${REQUESTS}/${parentId}/results`, {
          token: tenant.token,
          body: resultPayload('drain-1'),
        });
        const exit = await Promise.race([
          service.exit,
          sleep(drainMs + SHUTDOWN_BOUND_MS + 5000).then(() => undefined),
        ]);
        const shutdownMs = exit && Math.round(exit.at - sigtermAt);
        recordFigures('graceful shutdown with a drain', {
          drainMs,
          duringDrain: { ready: ready.status, live: live.status, addResult: added.status },
          addResultAnsweredAfterMs: Math.round(added.endedAt - sigtermAt),
          exit,
          shutdownMs,
        });

        expect(ready.status).toBe(503);
        expect(ready.headers.get('retry-after')).toBe('1');
        expect(errorCodeOf(ready)).toBe('serviceNotAvailable');
        expect(live.status).toBe(200);
        expect(added.status, JSON.stringify(added.body)).toBe(201);
        expect(added.endedAt - sigtermAt).toBeLessThan(drainMs);
        expect(exit, service.problems()).toEqual({ code: 0, signal: null, at: expect.any(Number) });
        expect(shutdownMs).toBeGreaterThanOrEqual(drainMs);
        expect(shutdownMs).toBeLessThan(drainMs + SHUTDOWN_BOUND_MS);
        expect(await db.serviceSessions()).toBe(0);
      } finally {
        await service.stop();
      }
    });

    it('exits promptly while clients keep connections open: one that never sent a request, one idle after its last response, one whose request was in flight', async () => {
      const service = await startService('shutdown-open-connections', { DATABASE_URL: db.url, LOG_LEVEL: 'info' });
      try {
        await service.waitFor('/health/ready');
        const tenant = await newTenant();
        const [parentId] = await createParents(service.baseUrl, tenant, 1);
        const headers = { authorization: `Bearer ${tenant.token}`, 'idempotency-key': 'open-connections-1' };
        const preopened = await openIdleConnection(service.port);
        const idle = await keepAliveRequest(service.port, 'GET', '/health/ready', {});
        expect((await idle.response).status).toBe(200);
        const lock = await lockResults(db.url);
        const payload = JSON.stringify(resultPayload('open-connections-1'));
        const inFlight = await keepAliveRequest(
          service.port,
          'POST',
          `${REQUESTS}/${parentId}/results`,
          headers,
          payload,
        );
        await sleep(300);
        const sigtermAt = performance.now();
        service.kill('SIGTERM');
        await sleep(500);
        await lock.release();
        const answer = await inFlight.response;
        const exit = await Promise.race([service.exit, sleep(SHUTDOWN_BOUND_MS + 5000).then(() => undefined)]);
        const shutdownMs = exit && Math.round(exit.at - sigtermAt);
        recordFigures('graceful shutdown with open client connections', {
          connections: 3,
          inFlightAnswer: { status: answer.status, connection: answer.headers.connection },
          exit,
          shutdownMs,
        });
        for (const socket of [preopened, idle.socket, inFlight.socket]) socket.destroy();

        expect(answer.status, answer.body).toBe(201);
        expect(answer.headers.connection).toBe('close');
        expect(exit, service.problems()).toEqual({ code: 0, signal: null, at: expect.any(Number) });
        // Well inside the 10 s bound: nothing waits on a connection that has no request in flight.
        expect(shutdownMs).toBeLessThan(3000);
        expect(await db.serviceSessions()).toBe(0);
      } finally {
        await service.stop();
      }
    });
  });

  describe('on the embedded PostgreSQL (DATABASE_URL unset)', () => {
    let base: string;
    let dataDir: string;
    let port: number;
    const services: RunningService[] = [];
    const start = async (name: string) => {
      const service = await startService(name, {
        DATABASE_URL: undefined,
        EMBEDDED_PG_DIR: dataDir,
        EMBEDDED_PG_PORT: String(port),
        LOG_LEVEL: 'info',
      });
      services.push(service);
      await service.waitFor('/health/ready', 200, 90_000);
      return service;
    };

    beforeAll(async () => {
      base = makeTempDir('threat-assessment-fault-embedded-');
      dataDir = join(base, 'postgres');
      port = await freePort();
    });
    afterAll(async () => {
      for (const service of services) await service.stop();
      if (await stopLeftoverPostmaster(dataDir)) console.warn('stopped a PostgreSQL the service had left running');
      rmSync(base, { recursive: true, force: true });
    });

    it('stops the server cleanly under load, even on a second signal, and the next start finds its data', async () => {
      const url = `postgres://postgres:postgres@127.0.0.1:${port}/threat_assessment`;
      const first = await start('shutdown-embedded');
      const tenant = await newTenant();
      const parents = await createParents(first.baseUrl, tenant, 4);
      const run = await sigtermUnderLoad(first, url, tenant, parents, 'SIGTERM');
      const stateAfterExit = existsSync(join(dataDir, 'global', 'pg_control')) ? clusterState(dataDir) : 'missing';
      const pidFileLeft = existsSync(join(dataDir, 'postmaster.pid'));
      const portOpen = await accepts(port);

      const second = await start('shutdown-embedded-restart');
      const admin = new pg.Pool({ connectionString: url, max: 1, application_name: 'fault-tests' });
      // end() resolves before its session has closed: the server's 57P01 when it stops may still reach it.
      admin.on('error', () => undefined);
      let audit;
      let countsViaApi: number[];
      try {
        audit = await auditRows(admin, tenant.tenantId, run.attempts);
        countsViaApi = await Promise.all(
          parents.map(async (id) =>
            Number((await call(second.baseUrl, `${REQUESTS}/${id}/results/$count`, { token: tenant.token })).body),
          ),
        );
      } finally {
        await admin.end();
      }
      const secondExit = await second.stop();
      recordFigures('graceful shutdown on the embedded PostgreSQL', {
        ...run.figures,
        clusterStateAfterExit: stateAfterExit,
        postmasterPidFileLeft: pidFileLeft,
        postgresPortOpenAfterExit: portOpen,
        afterRestart: { rowsChecked: audit.rowsChecked, resultsCountedViaApi: countsViaApi.reduce((a, b) => a + b, 0) },
        secondExit,
        clusterStateAfterSecondExit: clusterState(dataDir),
      });

      expect(run.exit, first.problems()).toEqual({ code: 0, signal: null, at: expect.any(Number) });
      expect(run.shutdownMs).toBeLessThan(SHUTDOWN_BOUND_MS);
      expect(run.inFlightAtSigterm).toBeGreaterThanOrEqual(16);
      expect(tally(run.before)).toEqual({ 201: run.before.length });
      expect(Object.keys(tally(run.after)).filter((status) => !CLOSED_ANSWERS.includes(status))).toEqual([]);
      // PostgreSQL was shut down, not left running or killed: a clean shutdown checkpoint, no pid file.
      expect(stateAfterExit).toBe('shut down');
      expect(pidFileLeft).toBe(false);
      expect(portOpen).toBe(false);
      // The next start found every row the first run answered 201 for, and nothing else.
      expect(audit.violations).toEqual([]);
      expect(audit.rowsChecked).toBe(run.before.length);
      expect(countsViaApi.reduce((a, b) => a + b, 0)).toBe(run.before.length);
      expect(secondExit).toEqual({ code: 0, signal: null, at: expect.any(Number) });
      expect(clusterState(dataDir)).toBe('shut down');
    });

    it('refuses to start, saying why, when the embedded PostgreSQL cannot start (its port is taken)', async () => {
      // Runs after the test above: the data folder exists and the server is stopped.
      const squatter = createServer().listen(port, '127.0.0.1');
      await new Promise((resolve) => squatter.once('listening', resolve));
      try {
        const service = await startService('embedded-port-taken', {
          DATABASE_URL: undefined,
          EMBEDDED_PG_DIR: dataDir,
          EMBEDDED_PG_PORT: String(port),
        });
        services.push(service);
        const exit = await Promise.race([service.exit, sleep(30_000).then(() => undefined)]);
        recordFigures('embedded PostgreSQL cannot start', { exit, output: service.problems(3) });
        expect(exit).toEqual({ code: 1, signal: null, at: expect.any(Number) });
        expect(service.problems()).toMatch(
          /Failed to start: Embedded PostgreSQL did not start on port \d+ .*(in use|bind)/i,
        );
      } finally {
        await new Promise((resolve) => squatter.close(resolve));
      }
    });
  });
});

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}
