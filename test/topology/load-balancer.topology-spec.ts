import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFigures } from '../faults/support/figures.js';
import {
  type Answer,
  call,
  type CallOptions,
  createParents,
  errorCodeOf,
  MAIL_REQUEST,
  newTenant,
  REQUESTS,
  type Tenant,
} from '../faults/support/graph-client.js';
import {
  type Attempt,
  auditRows,
  envelopeViolations,
  type Load,
  resultPayload,
  startLoad,
  tally,
} from '../faults/support/load.js';
import { freePorts } from '../faults/support/ports.js';
import { type ControlledPostgres, startControlledPostgres } from '../faults/support/postgres.js';
import { type Exit, type RunningService, startService } from '../faults/support/service.js';
import { killEverything, trackFolder, trackPostmaster, trackProcess } from './support/daemons.js';
import { type HttpLoadBalancer, startHttpLoadBalancer } from './support/haproxy.js';
import { ensureTopologyTools, HAPROXY } from './support/install.js';

/*
 * Issue #13, point 5: three instances of the built service behind HAProxy (HTTP, checking
 * /health/ready), on one PostgreSQL. HAProxy names the instance that answered in X-Served-By, so each
 * test proves that its requests crossed instances. Figures are printed as [figures] lines and kept in
 * test-artifacts/faults/figures.jsonl.
 */

const NAMES = ['instance1', 'instance2', 'instance3'];
/**
 * Creating requests, per tenant: small enough to exceed in one burst, over a window no test outlives;
 * every other test's tenant creates fewer (a rolling restart's, its 8 parents).
 */
const CREATE_LIMIT = 10;
const WINDOW_SECONDS = 86_400;
/** Issue #4: an instance exits 0 within this long of SIGTERM (after its drain). */
const SHUTDOWN_BOUND_MS = 10_000;
/** Longer than HAProxy takes to mark an instance DOWN (inter 500 ms, then fastinter 250 ms: under 1 s). */
const DRAIN_MS = 2000;
/**
 * Half the requests with an Idempotency-Key, half without; results are not throttled, so 429 cannot occur.
 * The restarts end the load (load.stop()); the cap is only a bound, far above what a run sends (about
 * 1,100 requests a second here: 20,000 once ran out before the last instance was back).
 */
const LOAD = {
  concurrency: 6,
  maxRequests: 200_000,
  maxDurationMs: 90_000,
  pauseAfterFailureMs: 100,
  timeoutMs: 15_000,
  withoutKeyEvery: 2,
};
const WARM_UP_MS = 1500;
const STEADY_AFTER_MS = 1500;

type Json = Record<string, unknown>;
type Page = { value: Json[]; '@odata.nextLink'?: string; '@odata.context'?: string };

interface Instance {
  name: string;
  port: number;
  service: RunningService;
  starts: number;
  /** The SHUTDOWN_DRAIN_MS it runs with. */
  drainMs: number;
}

let postgres: ControlledPostgres;
let lb: HttpLoadBalancer;
let instances: Instance[] = [];
/** Every process started, restarted ones included, for afterAll. */
const services: RunningService[] = [];
let load: Load | undefined;

async function startInstance(instance: Omit<Instance, 'service'>, lbPort: number): Promise<RunningService> {
  const service = await startService(`lb-${instance.name}-start${instance.starts}`, {
    DATABASE_URL: postgres.url,
    PORT: String(instance.port),
    // Links come from the Host the client sent HAProxy, which only the load balancer's may be.
    PUBLIC_BASE_URL: undefined,
    ALLOWED_HOSTS: `127.0.0.1:${lbPort}`,
    TRUST_PROXY: '127.0.0.1',
    THROTTLE_TENANT_LIMITS: `${CREATE_LIMIT}/${WINDOW_SECONDS}`,
    DB_POOL_SIZE: '5',
    SHUTDOWN_DRAIN_MS: String(instance.drainMs),
  });
  services.push(service);
  trackProcess(service.pid);
  await service.waitFor('/health/ready', 200, 60_000);
  return service;
}

beforeAll(async () => {
  const user = ensureTopologyTools([HAPROXY]);
  postgres = await startControlledPostgres('threat_assessment_lb_test');
  trackPostmaster(join(postgres.dataDir, 'postmaster.pid'));
  trackFolder(dirname(postgres.dataDir));
  const [lbPort, ...ports] = await freePorts(NAMES.length + 1);
  // Started together: the migrations' advisory lock lets each wait its turn.
  instances = await Promise.all(
    NAMES.map(async (name, i) => {
      const instance = { name, port: ports[i], starts: 1, drainMs: 0 };
      return { ...instance, service: await startInstance(instance, lbPort) };
    }),
  );
  lb = await startHttpLoadBalancer(
    user,
    lbPort,
    instances.map(({ name, port }) => ({ name, port })),
    30_000,
  );
}, 300_000);

afterAll(async () => {
  try {
    await load?.stop();
    await Promise.all(services.map((service) => service.stop()));
    await lb?.destroy();
    await postgres?.destroy();
  } finally {
    // Whatever failed above: every process by pid, every folder.
    killEverything();
  }
}, 90_000);

function api(tenant: Tenant, path: string, options: CallOptions = {}): Promise<Answer> {
  return call(lb.baseUrl, path, { token: tenant.token, ...options });
}

function servedBy(answer: Answer): string | undefined {
  return answer.headers.get('x-served-by') ?? undefined;
}

function expectStatus(answer: Answer, status: number): Json {
  expect(answer.status, `${answer.status ?? answer.networkError}: ${JSON.stringify(answer.body)}`).toBe(status);
  return answer.body as Json;
}

const mailRequest = () => ({ ...MAIL_REQUEST, messageUri: `${MAIL_REQUEST.messageUri}${randomUUID()}` });

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

async function rowCount(sql: string, tenantId: string): Promise<number> {
  const { rows } = await postgres.admin.query<{ n: number }>(sql, [tenantId]);
  return rows[0].n;
}

describe('three instances behind HAProxy', () => {
  it('balances round robin: consecutive requests are answered by each instance in turn', async () => {
    const tenant = await newTenant();
    const answers: Answer[] = [];
    for (let i = 0; i < 6; i++) answers.push(await api(tenant, `${REQUESTS}?$top=1`));
    const order = answers.map(servedBy);
    recordFigures('load balancer: round robin', { servedBy: order, states: await lb.states() });

    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    expect(new Set(order)).toEqual(new Set(NAMES));
    for (let i = 1; i < order.length; i++) expect(order[i]).not.toBe(order[i - 1]);
  });

  it("follows on another instance a next link one instance issued, and the link names the load balancer, not a client's X-Forwarded-Host", async () => {
    const tenant = await newTenant();
    const created: string[] = [];
    for (let i = 0; i < 5; i++)
      created.push(expectStatus(await api(tenant, REQUESTS, { body: mailRequest() }), 201).id as string);
    const collection = `${lb.baseUrl}/v1.0/informationProtection/threatAssessmentRequests`;
    const hops: { servedBy?: string; items: number; nextLink?: string }[] = [];
    const ids: string[] = [];
    let path: string | undefined = `${REQUESTS}?$top=2`;
    while (path !== undefined && hops.length < 5) {
      const answer = await api(tenant, path, {
        // HAProxy drops the first and overwrites the second: the service trusts only HAProxy's.
        headers: { 'x-forwarded-host': 'attacker.example', 'x-forwarded-proto': 'https' },
      });
      const page = expectStatus(answer, 200) as Page;
      expect(page['@odata.context']).toBe(
        `${lb.baseUrl}/v1.0/$metadata#informationProtection/threatAssessmentRequests`,
      );
      const link = page['@odata.nextLink'];
      hops.push({ servedBy: servedBy(answer), items: page.value.length, nextLink: link });
      ids.push(...page.value.map((item) => item.id as string));
      if (link !== undefined) expect(link.startsWith(`${collection}?`), link).toBe(true);
      path = link?.slice(lb.baseUrl.length);
    }
    recordFigures('load balancer: next links across instances', { hops });

    expect(ids).toEqual([...created].reverse());
    expect(hops.map((hop) => hop.items)).toEqual([2, 2, 1]);
    // Each link was followed on an instance other than the one that signed its $skiptoken.
    for (let i = 1; i < hops.length; i++) expect(hops[i].servedBy).not.toBe(hops[i - 1].servedBy);
  });

  it('replays on another instance a retry with the same Idempotency-Key, for a create and for a result, and records each once', async () => {
    const tenant = await newTenant();
    const createKey = randomUUID();
    const request = mailRequest();
    const first = await api(tenant, REQUESTS, { body: request, idempotencyKey: createKey });
    const retry = await api(tenant, REQUESTS, { body: request, idempotencyKey: createKey });
    const parentId = expectStatus(first, 201).id as string;

    const resultKey = randomUUID();
    const result = resultPayload(randomUUID());
    const path = `${REQUESTS}/${parentId}/results`;
    const added = await api(tenant, path, { body: result, idempotencyKey: resultKey });
    const addedAgain = await api(tenant, path, { body: result, idempotencyKey: resultKey });

    // Sent together, one key lands on every instance; one of them claims it, the others answer its result.
    const concurrentKey = randomUUID();
    const concurrentBody = resultPayload(randomUUID());
    const concurrent = await Promise.all(
      Array.from({ length: 9 }, () => api(tenant, path, { body: concurrentBody, idempotencyKey: concurrentKey })),
    );
    recordFigures('load balancer: idempotent retries across instances', {
      create: [servedBy(first), servedBy(retry)],
      result: [servedBy(added), servedBy(addedAgain)],
      concurrent: {
        statuses: tally(concurrent),
        servedBy: concurrent.map(servedBy),
        replayed: concurrent.filter((a) => a.headers.get('idempotent-replayed') === 'true').length,
      },
    });

    expect(servedBy(retry)).not.toBe(servedBy(first));
    expect(expectStatus(retry, 201)).toEqual(first.body);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.headers.get('location')).toBe(first.headers.get('location'));
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    expect(servedBy(addedAgain)).not.toBe(servedBy(added));
    expect(expectStatus(addedAgain, 201)).toEqual(expectStatus(added, 201));
    expect(addedAgain.headers.get('idempotent-replayed')).toBe('true');

    expect(new Set(concurrent.map(servedBy))).toEqual(new Set(NAMES));
    expect(tally(concurrent)).toEqual({ 201: 9 });
    expect(new Set(concurrent.map((a) => (a.body as Json).id)).size).toBe(1);
    expect(concurrent.filter((a) => a.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);

    expect(
      await rowCount('SELECT count(*)::int AS n FROM threat_assessment_requests WHERE tenant_id = $1', tenant.tenantId),
    ).toBe(1);
    expect(
      await rowCount('SELECT count(*)::int AS n FROM threat_assessment_results WHERE tenant_id = $1', tenant.tenantId),
    ).toBe(2);
    // A replay counts nothing against the tenant's limit.
    expect(
      await rowCount(
        "SELECT coalesce(sum(count), 0)::int AS n FROM throttle_counters WHERE tenant_id = $1 AND scope = 'tenant'",
        tenant.tenantId,
      ),
    ).toBe(1);
  });

  it(`holds the tenant's limit across the instances: ${CREATE_LIMIT} creates of a burst succeed, the rest and every later one answer 429 with Retry-After on each instance`, async () => {
    const tenant = await newTenant();
    // A fixed window aligned on the epoch: keep the burst inside one.
    const secondsLeft = WINDOW_SECONDS - ((Date.now() / 1000) % WINDOW_SECONDS);
    if (secondsLeft < 30) await sleep((secondsLeft + 1) * 1000);
    const burst = await Promise.all(
      Array.from({ length: CREATE_LIMIT + 6 }, () => api(tenant, REQUESTS, { body: mailRequest() })),
    );
    const later: Answer[] = [];
    while (new Set(later.map(servedBy)).size < NAMES.length && later.length < 3 * NAMES.length)
      later.push(await api(tenant, REQUESTS, { body: mailRequest() }));
    const refused = [...burst, ...later].filter((a) => a.status === 429);
    const byInstance = (answers: Answer[]) =>
      Object.fromEntries(NAMES.map((name) => [name, tally(answers.filter((a) => servedBy(a) === name))]));
    const rows = await rowCount(
      'SELECT count(*)::int AS n FROM threat_assessment_requests WHERE tenant_id = $1',
      tenant.tenantId,
    );
    const counted = await rowCount(
      "SELECT coalesce(sum(count), 0)::int AS n FROM throttle_counters WHERE tenant_id = $1 AND scope = 'tenant'",
      tenant.tenantId,
    );
    recordFigures('load balancer: throttling across instances', {
      limit: `${CREATE_LIMIT}/${WINDOW_SECONDS}`,
      burst: { requests: burst.length, statuses: tally(burst), byInstance: byInstance(burst) },
      later: { requests: later.length, statuses: tally(later), byInstance: byInstance(later) },
      retryAfter: [...new Set(refused.map((a) => a.headers.get('retry-after')))],
      rows,
      counted,
    });

    expect(tally(burst)).toEqual({ 201: CREATE_LIMIT, 429: 6 });
    expect(new Set(burst.map(servedBy))).toEqual(new Set(NAMES));
    expect(tally(later)).toEqual({ 429: later.length });
    expect(new Set(later.map(servedBy))).toEqual(new Set(NAMES));
    expect(envelopeViolations(refused)).toEqual([]);
    for (const answer of refused) {
      expect(errorCodeOf(answer)).toBe('TooManyRequests');
      expect(Number(answer.headers.get('retry-after'))).toBeLessThanOrEqual(WINDOW_SECONDS);
    }
    expect(rows).toBe(CREATE_LIMIT);
    expect(counted).toBe(CREATE_LIMIT);
  });

  it('rolling restart without a drain (SHUTDOWN_DRAIN_MS=0): HAProxy resends what is safe to resend, only a POST without Idempotency-Key can fail, and no acknowledged write is lost', async () => {
    const run = await rollingRestart('without a drain', DRAIN_MS);
    // The instance closes its idle connections at once, under requests HAProxy is sending on them: HAProxy
    // drops the client's connection (or answers 502) when it may not send the request again.
    const failed = run.attempts.filter((a) => a.status !== 201 && a.status !== 503);
    expect(
      failed.filter((a) => a.keySent || (a.status !== undefined && a.status !== 502)).map(describeAttempt),
      `HAProxy log:\n${lb.daemon.tail(20)}`,
    ).toEqual([]);
  });

  it(`rolling restart with SHUTDOWN_DRAIN_MS=${DRAIN_MS}: only 201 and 503 with Retry-After, and no acknowledged write lost`, async () => {
    const run = await rollingRestart(`with SHUTDOWN_DRAIN_MS=${DRAIN_MS}`, DRAIN_MS);
    expect(
      run.attempts.filter((a) => a.status !== 201 && a.status !== 503).map(describeAttempt),
      `HAProxy log:\n${lb.daemon.tail(20)}`,
    ).toEqual([]);
    // Each instance was out of HAProxy's rotation before it closed a connection.
    for (const r of run.restarts) expect(r.markedDownMs).toBeLessThan(DRAIN_MS);
  });

  it('answers 503 in the envelope with Retry-After from HAProxy itself once no instance is up', async () => {
    const exits = await Promise.all(instances.map((instance) => instance.service.stop()));
    await Promise.all(instances.map((instance) => lb.waitState(instance.name, 'DOWN', 10_000)));
    const tenant = await newTenant();
    const answers = [
      await api(tenant, `${REQUESTS}?$top=1`),
      await api(tenant, REQUESTS, { body: mailRequest(), idempotencyKey: randomUUID() }),
      await api(tenant, REQUESTS, { body: mailRequest() }),
    ];
    recordFigures('load balancer: no instance up', {
      exits: exits.map((exit) => ({ code: exit.code, signal: exit.signal })),
      answers: answers.map((a) => ({ status: a.status, retryAfter: a.headers.get('retry-after'), body: a.body })),
    });

    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.headers.get('content-type')).toBe('application/json');
      expect(errorCodeOf(answer)).toBe('serviceNotAvailable');
      expect(servedBy(answer)).toBeUndefined();
    }
  });
});

interface Restart {
  name: string;
  sigtermAt: number;
  exit: Exit | undefined;
  shutdownMs: number | undefined;
  markedDownMs: number;
  readyAfterStartMs: number;
  /** performance.now() when HAProxy had it UP again. */
  upAt: number;
}

/**
 * SIGTERM, wait for the exit and for HAProxy to mark it DOWN, start it on the same port (with
 * `drainMs` from now on), wait until HAProxy has it UP.
 */
async function restart(instance: Instance, drainMs: number): Promise<Restart> {
  const sigtermAt = performance.now();
  instance.service.kill('SIGTERM');
  const [exit, markedDownMs] = await Promise.all([
    Promise.race([instance.service.exit, sleep(instance.drainMs + SHUTDOWN_BOUND_MS + 5000).then(() => undefined)]),
    lb.waitState(instance.name, 'DOWN', instance.drainMs + SHUTDOWN_BOUND_MS),
  ]);
  if (!exit)
    throw new Error(`${instance.name} still running ${instance.drainMs + SHUTDOWN_BOUND_MS + 5000} ms after SIGTERM`);
  const startAt = performance.now();
  instance.starts++;
  instance.drainMs = drainMs;
  instance.service = await startInstance(instance, lb.port);
  const readyAfterStartMs = Math.round(performance.now() - startAt);
  await lb.waitState(instance.name, 'UP', 30_000);
  return {
    name: instance.name,
    sigtermAt,
    exit,
    shutdownMs: Math.round(exit.at - sigtermAt),
    markedDownMs,
    readyAfterStartMs,
    upAt: performance.now(),
  };
}

/**
 * Under an add-result load through HAProxy, restarts the instances one at a time (each with `nextDrainMs`
 * afterwards), then checks what every rolling restart must show: each instance exited 0 in time and
 * came back into rotation, the others served meanwhile, every 503 is the envelope with Retry-After, and
 * the rows are exactly the 201s plus any 503 or dropped connection whose write had committed, each 201
 * listed through the load balancer.
 */
async function rollingRestart(label: string, nextDrainMs: number) {
  const tenant = await newTenant();
  const parents = await createParents(lb.baseUrl, tenant, 8);
  const drainMs = instances[0].drainMs;
  const countersBefore = await lb.counters();
  const started = performance.now();
  load = startLoad({ baseUrl: lb.baseUrl, tenant, parents, ...LOAD });
  const restarts: Restart[] = [];
  let attempts: Attempt[];
  try {
    await sleep(WARM_UP_MS);
    for (const instance of instances) {
      restarts.push(await restart(instance, nextDrainMs));
      await sleep(STEADY_AFTER_MS);
    }
  } finally {
    attempts = await load.stop();
    load = undefined;
  }
  const countersAfter = await lb.counters();
  const sentDuring = (r: Restart) => attempts.filter((a) => a.startedAt >= r.sigtermAt && a.startedAt < r.upAt);
  const count = (status: number | undefined, keySent: boolean) =>
    attempts.filter((a) => a.status === status && a.keySent === keySent).length;
  recordFigures(`load balancer: rolling restart ${label}`, {
    shutdownDrainMs: drainMs,
    requests: attempts.length,
    durationMs: Math.round(performance.now() - started),
    statuses: tally(attempts),
    unavailable503: { withKey: count(503, true), withoutKey: count(503, false) },
    droppedConnections: { withKey: count(undefined, true), withoutKey: count(undefined, false) },
    servedBy: countBy(attempts, (a) => servedBy(a) ?? 'none'),
    haproxy: {
      retries: countersAfter.retries - countersBefore.retries,
      redispatches: countersAfter.redispatches - countersBefore.redispatches,
      connectionErrors: countersAfter.connectionErrors - countersBefore.connectionErrors,
      responseErrors: countersAfter.responseErrors - countersBefore.responseErrors,
    },
    restarts: restarts.map((r) => ({
      instance: r.name,
      exit: r.exit && { code: r.exit.code, signal: r.exit.signal },
      shutdownMs: r.shutdownMs,
      markedDownMs: r.markedDownMs,
      readyAfterStartMs: r.readyAfterStartMs,
      outOfRotationMs: Math.round(r.upAt - r.sigtermAt),
      sentMeanwhile: tally(sentDuring(r)),
    })),
  });

  expect(envelopeViolations(attempts)).toEqual([]);
  for (const r of restarts) {
    expect(r.exit, `${r.name} did not exit 0 after SIGTERM`).toEqual({ code: 0, signal: null, at: expect.any(Number) });
    expect(r.shutdownMs).toBeLessThan(drainMs + SHUTDOWN_BOUND_MS);
    expect(sentDuring(r).filter((a) => a.status === 201).length, `201s while ${r.name} was out`).toBeGreaterThan(0);
    expect(
      attempts.some((a) => servedBy(a) === r.name && a.startedAt > r.upAt),
      `${r.name} back in rotation`,
    ).toBe(true);
  }

  const audit = await auditRows(postgres.admin, tenant.tenantId, attempts);
  const created = attempts.filter((a) => a.status === 201);
  const listed = new Set<string>();
  for (const parentId of parents) {
    let path: string | undefined = `${REQUESTS}/${parentId}/results?$top=999&$select=id`;
    for (let pages = 0; path !== undefined && pages < 50; pages++) {
      const page = expectStatus(await api(tenant, path), 200) as Page;
      for (const item of page.value) listed.add(item.id as string);
      path = page['@odata.nextLink']?.slice(lb.baseUrl.length);
    }
  }
  recordFigures(`load balancer: rows after the rolling restart ${label}`, {
    created201: created.length,
    rows: audit.rowsChecked,
    listedThroughTheLoadBalancer: listed.size,
    ambiguousCommitted: audit.committedAmbiguous.length,
    ambiguousNotCommitted: audit.uncommittedAmbiguous.length,
  });
  expect(created.filter((a) => !listed.has(a.resultId!)).map((a) => a.resultId)).toEqual([]);
  expect(audit.violations).toEqual([]);
  expect(audit.rowsChecked).toBe(created.length + audit.committedAmbiguous.length);
  expect(listed.size).toBe(audit.rowsChecked);
  return { attempts, restarts };
}

function describeAttempt(answer: Attempt): string {
  return `${answer.keySent ? 'with' : 'without'} key: ${answer.status ?? answer.networkError} ${JSON.stringify(answer.body) ?? ''}`;
}
