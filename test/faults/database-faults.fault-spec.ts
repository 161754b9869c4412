import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFigures } from './support/figures.js';
import {
  type Answer,
  call,
  createParents,
  errorCodeOf,
  MAIL_REQUEST,
  newTenant,
  REQUESTS,
  type Tenant,
} from './support/graph-client.js';
import {
  type Attempt,
  attemptResult,
  auditRows,
  envelopeViolations,
  isAmbiguous,
  recoveryAfter,
  replay,
  resultIdOf,
  startLoad,
  tally,
} from './support/load.js';
import { type ControlledPostgres, startControlledPostgres } from './support/postgres.js';
import { type RunningService, startService } from './support/service.js';

/** Issue #4: the service serves again within this long of the database coming back. */
const RECOVERY_BOUND_MS = 5000;
/** Each fault run sends at least this many add-result POSTs, at concurrency 32. */
const MIN_REQUESTS_PER_RUN = 2000;

function expectUnavailable(answer: Answer, what: string) {
  expect(answer.status, `${what}: ${JSON.stringify(answer.body)}`).toBe(503);
  expect(errorCodeOf(answer), what).toBe('serviceNotAvailable');
  expect(answer.headers.get('retry-after'), what).toMatch(/^\d+$/);
}

describe('database faults: the built service against a PostgreSQL the test stops, restarts and kills', () => {
  let db: ControlledPostgres;

  beforeAll(async () => {
    db = await startControlledPostgres();
  });
  afterAll(async () => {
    await db?.destroy();
  });

  describe('started while the database is down', () => {
    let service: RunningService | undefined;
    afterAll(async () => {
      await service?.stop();
    });

    it('stays up, answers /health/live 200 and 503 serviceNotAvailable with Retry-After elsewhere, and serves within 5 s of the database coming back', async () => {
      await db.stop('fast');
      // Nothing migrated yet: on connecting, the service also applies the migrations.
      service = await startService('db-down-at-start', { DATABASE_URL: db.url, LOG_LEVEL: 'info' });
      const tenant = await newTenant();
      await service.waitFor('/health/live');

      // Several of the service's 1 s connection retries fail meanwhile.
      const downAnswers: Answer[] = [];
      const downUntil = performance.now() + 3000;
      while (performance.now() < downUntil) {
        const [live, ready, list, create] = await Promise.all([
          call(service.baseUrl, '/health/live'),
          call(service.baseUrl, '/health/ready'),
          call(service.baseUrl, REQUESTS, { token: tenant.token }),
          call(service.baseUrl, REQUESTS, { token: tenant.token, body: MAIL_REQUEST, idempotencyKey: randomUUID() }),
        ]);
        expect(live.status).toBe(200);
        expect(live.body).toEqual({ status: 'ok' });
        expectUnavailable(ready, 'GET /health/ready');
        expectUnavailable(list, `GET ${REQUESTS}`);
        expectUnavailable(create, `POST ${REQUESTS}`);
        downAnswers.push(live, ready, list, create);
        await sleep(200);
      }
      expect(service.exited, service.problems()).toBeUndefined();

      await db.start();
      const backAt = performance.now();
      // Probe as a client would, every 50 ms, until a create succeeds; nothing but 503 on the way.
      const probes: Answer[] = [];
      let served: Answer | undefined;
      while (!served && performance.now() - backAt < 15_000) {
        const [ready, create] = await Promise.all([
          call(service.baseUrl, '/health/ready'),
          call(service.baseUrl, REQUESTS, { token: tenant.token, body: MAIL_REQUEST, idempotencyKey: randomUUID() }),
        ]);
        probes.push(ready, create);
        if (create.status === 201) served = create;
        else await sleep(50);
      }
      const servedMs = served ? Math.round(served.endedAt - backAt) : undefined;
      const readyAt = probes.find((p) => p.status === 200);
      recordFigures('started while the database is down', {
        whileDown: { requests: downAnswers.length, statuses: tally(downAnswers) },
        afterDatabaseBack: { requests: probes.length, statuses: tally(probes) },
        readyMs: readyAt && Math.round(readyAt.endedAt - backAt),
        servedMs,
      });
      expect(served, `no 201 within 15 s of the database coming back:\n${service.tail()}`).toBeDefined();
      for (const probe of probes) {
        expect([200, 201, 503], `${JSON.stringify(probe.body)}\n${service.problems()}`).toContain(probe.status);
        if (probe.status === 503) expectUnavailable(probe, 'while reconnecting');
      }
      expect(servedMs).toBeLessThan(RECOVERY_BOUND_MS);
      expect((await call(service.baseUrl, '/health/ready')).status).toBe(200);
      const { rows } = await db.admin.query(
        'SELECT count(*)::int AS n FROM threat_assessment_requests WHERE tenant_id = $1',
        [tenant.tenantId],
      );
      expect(rows[0].n).toBe(1);
    });
  });

  describe('under a load of concurrent add-result POSTs', () => {
    let service: RunningService;
    const runs: { fault: string; tenant: Tenant; attempts: Attempt[] }[] = [];

    beforeAll(async () => {
      service = await startService('db-faults-under-load', { DATABASE_URL: db.url, LOG_LEVEL: 'info' });
      await service.waitFor('/health/ready');
    });
    afterAll(async () => {
      await service?.stop();
    });

    const faults: { name: string; inject: () => Promise<unknown> }[] = [
      { name: 'pg_ctl restart -m fast', inject: () => db.restart('fast') },
      { name: 'pg_ctl restart -m immediate', inject: () => db.restart('immediate') },
      { name: "pg_terminate_backend on the service's sessions", inject: () => db.terminateServiceBackends() },
    ];

    for (const fault of faults) {
      it(`${fault.name}: only 201/429/503, every 201 has its row, no row for a 4xx, no 500, served again within 5 s`, async () => {
        const tenant = await newTenant();
        const parents = await createParents(service.baseUrl, tenant, 8);
        const load = startLoad({
          baseUrl: service.baseUrl,
          tenant,
          parents,
          maxRequests: 20_000,
          maxDurationMs: 40_000,
        });
        let faultAt: number;
        let backAt = 0;
        let injected: unknown;
        let attempts: Attempt[];
        try {
          await until(() => load.attempts.length >= 500, 20_000);
          faultAt = performance.now();
          injected = await fault.inject();
          backAt = performance.now();
          // Long enough to see recovery within the bound, and thousands of requests in all.
          await until(
            () =>
              performance.now() - backAt >= RECOVERY_BOUND_MS + 1000 && load.attempts.length >= MIN_REQUESTS_PER_RUN,
            30_000,
          );
        } finally {
          attempts = await load.stop();
        }
        runs.push({ fault: fault.name, tenant, attempts });

        const statuses = tally(attempts);
        const recovery = recoveryAfter(attempts, backAt);
        const audit = await auditRows(db.admin, tenant.tenantId, attempts);
        recordFigures(fault.name, {
          requests: attempts.length,
          parents: parents.length,
          statuses,
          faultMs: Math.round(backAt - faultAt),
          ...(fault.name.startsWith('pg_terminate') ? { backendsTerminated: injected } : {}),
          recovery,
          rowsChecked: audit.rowsChecked,
          ambiguous: { committed: audit.committedAmbiguous.length, notCommitted: audit.uncommittedAmbiguous.length },
        });

        expect(service.exited, service.problems()).toBeUndefined();
        expect(attempts.length).toBeGreaterThanOrEqual(MIN_REQUESTS_PER_RUN);
        expect(
          Object.keys(statuses).filter((status) => !['201', '429', '503'].includes(status)),
          service.problems(),
        ).toEqual([]);
        expect(envelopeViolations(attempts)).toEqual([]);
        expect(audit.violations).toEqual([]);
        expect(recovery.recoveredMs, JSON.stringify(recovery)).toBeLessThan(RECOVERY_BOUND_MS);
        expect(recovery.successesAfter).toBeGreaterThan(0);
      });
    }

    it('replays every ambiguous answer (503, network error) with its Idempotency-Key and body until 201: one row per key, and the id of the row', async () => {
      expect(runs.length, 'the fault runs above produce the attempts to replay').toBe(faults.length);
      for (const run of runs) {
        const before = await auditRows(db.admin, run.tenant.tenantId, run.attempts);
        const ambiguous = run.attempts.filter(isAmbiguous);
        const replays = await replay(service.baseUrl, run.tenant, ambiguous, 20, 100, 16);
        // A sample of the 201s too: a retry of a request that was answered must answer the same id.
        const answered = run.attempts.filter((a) => a.status === 201).slice(0, 100);
        const replaysOf201 = await replay(service.baseUrl, run.tenant, answered, 20, 100, 16);
        const final = run.attempts.map((attempt) => replays.find((r) => r.attempt === attempt)?.final ?? attempt);
        const after = await auditRows(
          db.admin,
          run.tenant.tenantId,
          run.attempts.map((attempt, i) => ({
            ...attempt,
            ...final[i],
            resultId: resultIdOf(final[i]) ?? attempt.resultId,
          })),
        );
        recordFigures(`idempotent replays after ${run.fault}`, {
          ambiguous: ambiguous.length,
          committedBeforeReplay: before.committedAmbiguous.length,
          replayStatuses: tally(replays.map((r) => r.final)),
          replayTries: replays.reduce((sum, r) => sum + r.tries, 0),
          answeredAsReplays: replays.filter((r) => r.replayed).length,
          replaysOf201: { sent: replaysOf201.length, statuses: tally(replaysOf201.map((r) => r.final)) },
          rowsChecked: after.rowsChecked,
          keys: run.attempts.length,
        });

        for (const r of replays) {
          expect(r.final.status, `${r.attempt.key} after ${r.tries} tries: ${JSON.stringify(r.final.body)}`).toBe(201);
          const committedId = before.rowIdByKey.get(r.attempt.key);
          if (committedId) {
            // The first attempt had written its row: the replay answers that row, and writes nothing.
            expect(r.replayed).toBe(true);
            expect(resultIdOf(r.final)).toBe(committedId);
          } else {
            expect(resultIdOf(r.final)).toBe(after.rowIdByKey.get(r.attempt.key));
          }
        }
        for (const r of replaysOf201) {
          expect(r.final.status).toBe(201);
          expect(r.replayed).toBe(true);
          expect(resultIdOf(r.final)).toBe(r.attempt.resultId);
        }
        expect(after.violations).toEqual([]);
        // Exactly one row per key: every attempt's key now has its row (no 4xx was answered).
        expect(run.attempts.filter((a) => !after.rowIdByKey.has(a.key))).toEqual([]);
        expect(after.rowsChecked).toBe(run.attempts.length);
      }
    });

    it('replays a request the client gave up on while its write was still to commit: the same id, one row', async () => {
      const tenant = await newTenant();
      const [parentId] = await createParents(service.baseUrl, tenant, 1);
      const locker = new pg.Client({ connectionString: db.url, application_name: 'fault-tests-locker' });
      await locker.connect();
      const attempts: Attempt[] = [];
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE threat_assessment_results IN ACCESS EXCLUSIVE MODE');
        // The client gives up after 300 ms; the service's statements wait on the lock meanwhile.
        attempts.push(
          ...(await Promise.all(
            Array.from({ length: 10 }, () => attemptResult(service.baseUrl, tenant, parentId, 300)),
          )),
        );
        await locker.query('COMMIT');
      } finally {
        await locker.end();
      }
      expect(tally(attempts)).toEqual({ TimeoutError: 10 });
      await until(
        async () => (await auditRows(db.admin, tenant.tenantId, attempts)).committedAmbiguous.length === 10,
        5000,
      );
      const before = await auditRows(db.admin, tenant.tenantId, attempts);
      const replays = await replay(service.baseUrl, tenant, attempts);
      const after = await auditRows(db.admin, tenant.tenantId, attempts);
      recordFigures('replay after the client gave up', {
        requests: attempts.length,
        firstAnswers: tally(attempts),
        committedBeforeReplay: before.committedAmbiguous.length,
        replayStatuses: tally(replays.map((r) => r.final)),
        answeredAsReplays: replays.filter((r) => r.replayed).length,
        rowsChecked: after.rowsChecked,
      });
      for (const r of replays) {
        expect(r.final.status).toBe(201);
        expect(r.replayed).toBe(true);
        expect(resultIdOf(r.final)).toBe(before.rowIdByKey.get(r.attempt.key));
      }
      expect(after.violations).toEqual([]);
      expect(after.rowsChecked).toBe(10);
    });
  });

  describe('bounded pool and timeouts: DB_POOL_SIZE=1, a table locked by another session holding it with pg_sleep', () => {
    const services: RunningService[] = [];
    afterAll(async () => {
      for (const service of services) await service.stop();
    });
    const boundedService = async (name: string, statementTimeoutMs: number) => {
      const service = await startService(name, {
        DATABASE_URL: db.url,
        DB_POOL_SIZE: '1',
        DB_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
        DB_CONNECT_TIMEOUT_MS: '1000',
      });
      services.push(service);
      await service.waitFor('/health/ready');
      return service;
    };

    it('DB_STATEMENT_TIMEOUT_MS=1000, DB_CONNECT_TIMEOUT_MS=1000: a blocked statement and the waits behind it give up in seconds with 503, not a hang', async () => {
      const service = await boundedService('db-bounded-statement', 1000);
      const tenant = await newTenant();
      const [parentId] = await createParents(service.baseUrl, tenant, 1);
      const lock = await lockResultsWithSleep(db);
      let alone: Attempt;
      let concurrent: Attempt[];
      let probes: Answer[];
      const started = performance.now();
      try {
        // Alone, the POST has the connection: its statement waits on the lock until the statement timeout.
        alone = await attemptResult(service.baseUrl, tenant, parentId, 30_000);
        // Six at once: served one by one, 1 s statements would take 6 s; the waiters for the one connection give up.
        const posts = Promise.all(
          Array.from({ length: 6 }, () => attemptResult(service.baseUrl, tenant, parentId, 30_000)),
        );
        const others = Promise.all([
          call(service.baseUrl, `${REQUESTS}/${parentId}/results`, { token: tenant.token, timeoutMs: 30_000 }),
          call(service.baseUrl, '/health/ready', { timeoutMs: 30_000 }),
          call(service.baseUrl, '/health/live', { timeoutMs: 30_000 }),
        ]);
        concurrent = await posts;
        probes = await others;
      } finally {
        await lock.release();
      }
      const allMs = Math.round(performance.now() - started);
      const afterwards = await attemptResult(service.baseUrl, tenant, parentId);
      const audit = await auditRows(db.admin, tenant.tenantId, [alone, ...concurrent, afterwards]);
      const latency = (a: Answer) => Math.round(a.endedAt - a.startedAt);
      recordFigures('bounded statement timeout and pool wait', {
        requests: 1 + concurrent.length + probes.length + 1,
        alone: { status: alone.status, ms: latency(alone) },
        concurrent: { statuses: tally(concurrent), latenciesMs: concurrent.map(latency).sort((a, b) => a - b) },
        probes: probes.map((p) => ({ status: p.status, ms: latency(p) })),
        allAnsweredMs: allMs,
        afterLockReleased: { status: afterwards.status, ms: latency(afterwards) },
        rowsChecked: audit.rowsChecked,
      });

      expectUnavailable(alone, 'POST results alone while the table is locked');
      expect(latency(alone)).toBeGreaterThanOrEqual(900);
      expect(latency(alone)).toBeLessThan(2500);
      for (const attempt of concurrent) expectUnavailable(attempt, 'POST results while the table is locked');
      // A POST takes the connection twice (idempotency look-up, then the write): at most 2 waits + 1 statement.
      expect(Math.max(...concurrent.map(latency))).toBeLessThan(3500);
      expectUnavailable(probes[0], 'GET results while the table is locked');
      expect([200, 503]).toContain(probes[1].status);
      expect(latency(probes[1])).toBeLessThan(3500);
      expect(probes[2].status).toBe(200);
      expect(allMs).toBeLessThan(7000);
      // The 503s wrote nothing; the one row is the 201's once the lock is gone.
      expect(afterwards.status, JSON.stringify(afterwards.body)).toBe(201);
      expect(audit.violations).toEqual([]);
      expect(audit.rowsChecked).toBe(1);
      expect(service.exited).toBeUndefined();
    });

    it('DB_CONNECT_TIMEOUT_MS=1000 while a 5 s-bounded statement holds the one connection: the waiters get 503 after about 1 s', async () => {
      const service = await boundedService('db-bounded-pool-wait', 5000);
      const tenant = await newTenant();
      const [parentId] = await createParents(service.baseUrl, tenant, 1);
      const lock = await lockResultsWithSleep(db);
      let holder: Promise<Attempt> | undefined;
      let waiters: Answer[];
      try {
        holder = attemptResult(service.baseUrl, tenant, parentId, 30_000);
        await sleep(300);
        waiters = await Promise.all([
          attemptResult(service.baseUrl, tenant, parentId, 30_000),
          call(service.baseUrl, `${REQUESTS}/${parentId}/results`, { token: tenant.token, timeoutMs: 30_000 }),
          call(service.baseUrl, '/health/ready', { timeoutMs: 30_000 }),
          call(service.baseUrl, '/health/live', { timeoutMs: 30_000 }),
        ]);
      } finally {
        await lock.release();
      }
      // The lock is gone before the holder's 5 s statement timeout: it completes normally.
      const held = await holder;
      const audit = await auditRows(db.admin, tenant.tenantId, [held, waiters[0] as Attempt]);
      const latency = (a: Answer) => Math.round(a.endedAt - a.startedAt);
      recordFigures('bounded pool wait', {
        requests: 1 + waiters.length,
        holder: { status: held.status, ms: latency(held) },
        waiters: waiters.map((w) => ({ status: w.status, ms: latency(w) })),
        rowsChecked: audit.rowsChecked,
      });

      for (const [i, what] of ['POST results', 'GET results', 'GET /health/ready'].entries()) {
        expectUnavailable(waiters[i], `${what} while the one connection is taken`);
        expect(latency(waiters[i]), what).toBeGreaterThanOrEqual(900);
        expect(latency(waiters[i]), what).toBeLessThan(2500);
      }
      expect(waiters[3].status).toBe(200);
      expect(held.status, JSON.stringify(held.body)).toBe(201);
      expect(audit.violations).toEqual([]);
      expect(audit.rowsChecked).toBe(1);
    });
  });
});

/**
 * Another session takes ACCESS EXCLUSIVE on the results table and holds it in a long pg_sleep, as a
 * stuck migration or report would; release() ends that session.
 */
async function lockResultsWithSleep(db: ControlledPostgres) {
  const locker = new pg.Client({ connectionString: db.url, application_name: 'fault-tests-locker' });
  await locker.connect();
  locker.on('error', () => undefined);
  const { rows } = await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE threat_assessment_results IN ACCESS EXCLUSIVE MODE');
  const sleeping = locker.query('SELECT pg_sleep(60)').catch(() => undefined);
  return {
    release: async () => {
      await db.admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      await sleeping;
      await locker.end().catch(() => undefined);
    },
  };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}
