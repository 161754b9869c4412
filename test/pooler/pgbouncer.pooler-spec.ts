import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMAIL_FILE_REQUEST, FILE_REQUEST, URL_REQUEST } from '../support/graph.js';
import {
  type Answer,
  call,
  type CallOptions,
  MAIL_REQUEST,
  newTenant,
  REQUESTS,
  type Tenant,
} from '../faults/support/graph-client.js';
import { type ControlledPostgres, startControlledPostgres } from '../faults/support/postgres.js';
import { type RunningService, startService } from '../faults/support/service.js';
import { killEverything, trackFolder, trackPostmaster, trackProcess } from '../topology/support/daemons.js';
import type { SystemUser } from '../topology/support/install.js';
import { ensurePgbouncer, type Pgbouncer, startPgbouncer } from './support/pgbouncer.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { insertSubscription } from '../support/notification-subscriptions.js';
import { createTestCertificates } from '../support/test-certificates.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/** Fewer server connections than the service's pool (8): consecutive statements of one client meet others'. */
const SERVER_CONNECTIONS = 3;
const CLIENTS = 12;
const RESULT_LIMIT = 20;
const RESOURCE_LIMIT = 2;
const TIMEOUTS = ['statement_timeout', 'idle_in_transaction_session_timeout'];

type Json = Record<string, unknown>;
type Page = { value: Json[]; '@odata.nextLink'?: string; '@odata.count'?: number };

let user: SystemUser;
let postgres: ControlledPostgres;
let bouncer: Pgbouncer;
let service: RunningService;
let receiver: WebhookReceiver;
let caFile: string;
const others: { destroy(): Promise<void> }[] = [];

function serviceEnv(databaseUrl: string, pooler: 'none' | 'transaction'): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    DATABASE_POOLER: pooler,
    MIGRATIONS_DATABASE_URL: postgres.url,
    DB_POOL_SIZE: '8',
    THROTTLE_RESOURCE_LIMITS: `${RESOURCE_LIMIT}/900`,
    THROTTLE_RESULT_LIMITS: `${RESULT_LIMIT}/900`,
    // Delivery is on (the default): its leases and batches go through the pooler too.
    NODE_EXTRA_CA_CERTS: caFile,
    NOTIFICATIONS_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
    NOTIFICATIONS_POLL_INTERVAL_MS: '200',
  };
}

beforeAll(async () => {
  const certificates = createTestCertificates();
  const caDir = mkdtempSync(join(tmpdir(), 'threat-assessment-pooler-ca-'));
  trackFolder(caDir);
  caFile = join(caDir, 'ca.pem');
  writeFileSync(caFile, certificates.caCert);
  receiver = await WebhookReceiver.start('127.0.0.1', { cert: certificates.leafCert, key: certificates.leafKey });
  user = ensurePgbouncer();
  postgres = await startControlledPostgres('threat_assessment_pooler_test');
  trackPostmaster(join(postgres.dataDir, 'postmaster.pid'));
  trackFolder(dirname(postgres.dataDir));
  bouncer = await startPgbouncer(user, { server: postgres.url, poolSize: SERVER_CONNECTIONS });
  service = await startService('pooler-transaction', serviceEnv(bouncer.url, 'transaction'));
  trackProcess(service.pid);
  await service.waitFor('/health/ready', 200, 60_000);
});

afterAll(async () => {
  try {
    await service?.stop();
    await receiver?.close();
    for (const other of others) await other.destroy();
    await bouncer?.destroy();
    await postgres?.destroy();
  } finally {
    // Whatever failed above: every process by pid, every folder.
    killEverything();
  }
});

/** Runs `work(i)` for i < count, at most `concurrency` at a time. */
async function bounded<T>(count: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

function api(tenant: Tenant, path: string, options: CallOptions = {}): Promise<Answer> {
  return call(service.baseUrl, path, { token: tenant.token, ...options });
}

function expectStatus(answer: Answer, status: number): Json {
  expect(answer.status, `${answer.status ?? answer.networkError}: ${JSON.stringify(answer.body)}`).toBe(status);
  return answer.body as Json;
}

const unique = () => randomUUID();
const bodies = [
  () => ({ ...MAIL_REQUEST, messageUri: `${MAIL_REQUEST.messageUri}${unique()}` }),
  () => ({ ...URL_REQUEST, url: `https://pooler.example/${unique()}` }),
  () => ({ ...FILE_REQUEST, fileName: `${unique()}.txt` }),
  () => ({ ...EMAIL_FILE_REQUEST, recipientEmail: `${unique()}@contoso.com` }),
];

async function walk(tenant: Tenant, path: string): Promise<Page[]> {
  const pages: Page[] = [];
  let url: string | undefined = path;
  while (url !== undefined) {
    const page = expectStatus(await api(tenant, url), 200) as Page;
    pages.push(page);
    const link = page['@odata.nextLink'];
    url = link === undefined ? undefined : link.slice(service.baseUrl.length);
    expect(pages.length).toBeLessThan(50);
  }
  return pages;
}

async function rowCount(table: string, tenantId: string): Promise<number> {
  const { rows } = await postgres.admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`,
    [tenantId],
  );
  return rows[0].n;
}

describe('through pgbouncer 1.18 in transaction mode (DATABASE_POOLER=transaction)', () => {
  it(`serves every route right for ${CLIENTS} concurrent clients, never a 500`, async () => {
    const tenants = await Promise.all(Array.from({ length: CLIENTS }, () => newTenant()));
    await bounded(CLIENTS, CLIENTS, async (c) => {
      const tenant = tenants[c];
      const created: Json[] = [];
      for (const [kind, body] of bodies.entries()) {
        const request = expectStatus(await api(tenant, REQUESTS, { body: body(), idempotencyKey: unique() }), 201);
        expect(expectStatus(await api(tenant, `${REQUESTS}/${String(request.id)}`), 200)).toEqual(request);
        created.push(request);
        if (kind !== 0) continue;
        const path = `${REQUESTS}/${String(request.id)}/results`;
        const first = expectStatus(
          await api(tenant, path, { body: { resultType: 'checkPolicy', message: `first ${c}` } }),
          201,
        );
        const second = expectStatus(
          await api(tenant, `${path}/$ref`, { body: { resultType: 'checkPolicy', message: `second ${c}` } }),
          201,
        );
        expect(expectStatus(await api(tenant, `${path}/${String(first.id)}`), 200)).toEqual(first);
        const list = expectStatus(await api(tenant, `${path}?$orderby=createdDateTime asc`), 200) as Page;
        expect(list.value.map((r) => r.id)).toEqual([first.id, second.id]);
        const count = await api(tenant, `${path}/$count`);
        expect([count.status, count.body]).toEqual([200, '2']);
        const expanded = expectStatus(await api(tenant, `${REQUESTS}/${String(request.id)}?$expand=results`), 200);
        expect((expanded.results as Json[]).map((r) => r.id).sort()).toEqual([first.id, second.id].sort());
      }
      const all = await walk(tenant, `${REQUESTS}?$top=3&$count=true`);
      expect(all.flatMap((p) => p.value.map((r) => r.id)).sort()).toEqual(created.map((r) => r.id).sort());
      expect(all.map((p) => p['@odata.count'])).toEqual([4, 4]);
      const urls = expectStatus(
        await api(tenant, `${REQUESTS}?$filter=${encodeURIComponent("category eq 'phishing'")}`),
        200,
      ) as Page;
      expect(urls.value.map((r) => r.id)).toEqual([created[1].id]);
      const total = await api(tenant, `${REQUESTS}/$count`);
      expect([total.status, total.body]).toEqual([200, '4']);
      expectStatus(await api(tenant, `${REQUESTS}/${String(created[2].id)}`, { method: 'DELETE' }), 204);
      const gone = await api(tenant, `${REQUESTS}/${String(created[2].id)}`);
      expect([gone.status, (gone.body as { error: Json }).error.code]).toEqual([404, 'itemNotFound']);
    });
    for (const tenant of tenants) {
      expect(await rowCount('threat_assessment_requests', tenant.tenantId)).toBe(3);
      expect(await rowCount('threat_assessment_results', tenant.tenantId)).toBe(2);
    }
    for (const path of ['/health/live', '/health/ready']) expect((await call(service.baseUrl, path)).status).toBe(200);
    // The service's 8 pooled connections and its 12 clients went through at most SERVER_CONNECTIONS sessions.
    const { rows } = await postgres.admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name <> 'fault-tests'",
    );
    expect(rows[0].n).toBeGreaterThan(0);
    expect(rows[0].n).toBeLessThanOrEqual(SERVER_CONNECTIONS);
    expect(bouncer.log()).not.toMatch(/unsupported startup parameter/);
  });

  it('replays a retried create, answers 422 to a changed body, and records one result for 16 concurrent retries', async () => {
    const tenant = await newTenant();
    const key = unique();
    const body = bodies[0]();
    const first = expectStatus(await api(tenant, REQUESTS, { body, idempotencyKey: key }), 201);
    const replay = await api(tenant, REQUESTS, { body, idempotencyKey: key });
    expect(expectStatus(replay, 201)).toEqual(first);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const changed = await api(tenant, REQUESTS, { body: bodies[0](), idempotencyKey: key });
    expect([changed.status, (changed.body as { error: Json }).error.code]).toEqual([422, 'invalidRequest']);
    expect(await rowCount('threat_assessment_requests', tenant.tenantId)).toBe(1);

    const resultKey = unique();
    const path = `${REQUESTS}/${String(first.id)}/results`;
    const retries = await Promise.all(
      Array.from({ length: 16 }, () =>
        api(tenant, path, { body: { resultType: 'checkPolicy', message: 'retried' }, idempotencyKey: resultKey }),
      ),
    );
    expect(retries.map((r) => r.status)).toEqual(Array(16).fill(201));
    expect(new Set(retries.map((r) => (r.body as Json).id)).size).toBe(1);
    expect(retries.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(15);
    expect(await rowCount('threat_assessment_results', tenant.tenantId)).toBe(1);
  });

  it('throttles at the configured limits under concurrency, exactly, with Retry-After', async () => {
    const tenant = await newTenant();
    const resource = bodies[0]();
    const creates = await Promise.all(Array.from({ length: 6 }, () => api(tenant, REQUESTS, { body: resource })));
    expect(creates.map((r) => r.status).sort()).toEqual([201, 201, 429, 429, 429, 429]);
    for (const refused of creates.filter((r) => r.status === 429)) {
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    const parent = creates.find((r) => r.status === 201)!.body as Json;
    const path = `${REQUESTS}/${String(parent.id)}/results`;
    const results = await bounded(RESULT_LIMIT + 6, 12, (i) =>
      api(tenant, path, { body: { resultType: 'checkPolicy', message: `throttled ${i}` } }),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array<number>(RESULT_LIMIT).fill(201), ...Array<number>(6).fill(429)]);
    expect(await rowCount('threat_assessment_requests', tenant.tenantId)).toBe(RESOURCE_LIMIT);
    expect(await rowCount('threat_assessment_results', tenant.tenantId)).toBe(RESULT_LIMIT);
  });

  it('pages with next links, $skiptoken, $filter, $count and $expand for 8 concurrent walkers', async () => {
    const tenant = await newTenant();
    const created = await bounded(30, 8, async (i) =>
      expectStatus(await api(tenant, REQUESTS, { body: bodies[i % 2]() }), 201),
    );
    const mails = created.filter((_, i) => i % 2 === 0);
    await bounded(mails.length, 8, (i) =>
      api(tenant, `${REQUESTS}/${String(mails[i].id)}/results`, {
        body: { resultType: 'checkPolicy', message: `mail ${i}` },
      }).then((answer) => expectStatus(answer, 201)),
    );
    const filter = encodeURIComponent("category eq 'spam'");
    const walks = await bounded(16, 8, (i) =>
      i % 2 === 0
        ? walk(tenant, `${REQUESTS}?$top=4&$count=true&$orderby=createdDateTime asc`)
        : walk(tenant, `${REQUESTS}?$top=4&$count=true&$filter=${filter}&$expand=results`),
    );
    const sortedIds = (rows: Json[]) => rows.map((r) => String(r.id)).sort();
    for (const [i, pages] of walks.entries()) {
      const items = pages.flatMap((p) => p.value);
      const expected = i % 2 === 0 ? created : mails;
      expect(sortedIds(items)).toEqual(sortedIds(expected));
      expect(new Set(pages.map((p) => p['@odata.count']))).toEqual(new Set([expected.length]));
      for (const page of pages.slice(0, -1)) expect(page['@odata.nextLink']).toMatch(/[?&]\$skiptoken=[\w.-]+$/);
      if (i % 2 === 1) for (const item of items) expect((item.results as Json[]).length).toBe(1);
      else {
        const times = items.map((item) => String(item.createdDateTime));
        expect(times).toEqual([...times].sort());
      }
    }
  });

  it('delivers a change notification: leases, batches and deletes in short transactions, unnamed', async () => {
    const tenant = await newTenant();
    const subscription = await insertSubscription(postgres.admin, {
      tenantId: tenant.tenantId,
      changeTypes: ['created'],
      notificationUrl: `https://127.0.0.1:${receiver.port}/hooks/pooler`,
    });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(expectStatus(await api(tenant, REQUESTS, { body: bodies[1]() }), 201).id as string);
    const path = (n: { request: { url: string } }) => n.request.url === '/hooks/pooler';
    await receiver.waitUntil(
      () => receiver.notifications(path).length >= ids.length,
      15_000,
      () => service.problems(),
    );
    const received = receiver.notifications(path).map((n) => n.notification);
    expect(received.map((n) => (n.resourceData as { id: string }).id)).toEqual(ids);
    expect(new Set(received.map((n) => n.subscriptionId))).toEqual(new Set([subscription.id]));
    expect(new Set(received.map((n) => n.id)).size).toBe(ids.length);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await rowCount('notifications', tenant.tenantId)).toBe(0);
    const { rows } = await postgres.admin.query('SELECT lease_owner FROM subscriptions WHERE id = $1', [
      subscription.id,
    ]);
    expect(rows).toEqual([{ lease_owner: null }]);
  });

  it('logged no error or warning meanwhile', () => {
    expect(service.problems()).toBe('(no errors or warnings logged)');
  });
});

describe('the statement timeout, set per transaction behind the pooler', () => {
  it('cancels a blocked transactional write on the server (503 at DB_STATEMENT_TIMEOUT_MS), and its retry succeeds', async () => {
    const timeoutMs = 300;
    const strict = await startService('pooler-timeout', {
      ...serviceEnv(bouncer.url, 'transaction'),
      DB_STATEMENT_TIMEOUT_MS: String(timeoutMs),
    });
    trackProcess(strict.pid);
    others.unshift({ destroy: () => strict.stop().then(() => undefined) });
    await strict.waitFor('/health/ready', 200, 60_000);
    const tenant = await newTenant();
    const post = (path: string, body: unknown, idempotencyKey?: string) =>
      call(strict.baseUrl, path, { token: tenant.token, body, idempotencyKey });
    const parent = expectStatus(await post(REQUESTS, bodies[0]()), 201);
    const key = unique();
    const result = { resultType: 'checkPolicy', message: 'blocked' };
    const locker = await postgres.admin.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM threat_assessment_requests WHERE id = $1 FOR UPDATE', [parent.id]);
      const blocked = await post(`${REQUESTS}/${String(parent.id)}/results`, result, key);
      expect(blocked.status).toBe(503);
      expect(blocked.headers.get('retry-after')).toBeTruthy();
      // The server's statement_timeout, not the client's query_timeout (timeoutMs + 1000) that would also answer 503.
      expect(blocked.endedAt - blocked.startedAt).toBeLessThan(timeoutMs + 800);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    expectStatus(await post(`${REQUESTS}/${String(parent.id)}/results`, result, key), 201);
    expect(await rowCount('threat_assessment_results', tenant.tenantId)).toBe(1);
  });
});

describe('migrations on a direct connection', () => {
  const cli = (env: Record<string, string>) =>
    promisify(execFile)(process.execPath, [resolve('dist/cli/migrations.js'), 'run'], {
      env: { PATH: process.env.PATH, ...env },
      timeout: 60_000,
    }).then(
      ({ stdout }) => ({ code: 0, output: stdout }),
      (error: { code: number; stderr: string }) => ({ code: error.code, output: error.stderr }),
    );

  it('npm run migration:run uses MIGRATIONS_DATABASE_URL, and refuses the pooler without it', async () => {
    const env = { DATABASE_URL: bouncer.url, DATABASE_POOLER: 'transaction', MIGRATIONS_RUN: 'false' };
    expect(await cli({ ...env, MIGRATIONS_DATABASE_URL: postgres.url })).toEqual({
      code: 0,
      output: 'no pending migrations\n',
    });
    expect(await cli(env)).toEqual({
      code: 1,
      output: 'DATABASE_URL names a transaction pooler (DATABASE_POOLER): set MIGRATIONS_DATABASE_URL\n',
    });
  });

  it('the service refuses to start with the pooler and migrations at start-up but no direct URL', async () => {
    const refused = await startService('pooler-no-migrations-url', {
      DATABASE_URL: bouncer.url,
      DATABASE_POOLER: 'transaction',
    });
    trackProcess(refused.pid);
    expect(await refused.exit).toMatchObject({ code: 1, signal: null });
    expect(refused.tail()).toMatch(/^Configuration error: DATABASE_POOLER=transaction needs MIGRATIONS_DATABASE_URL/m);
  });
});

describe('without DATABASE_POOLER=transaction, the same pgbouncer breaks the service', () => {
  it('never becomes ready: pgbouncer refuses the timeouts sent as startup parameters', async () => {
    const plain = await startService('pooler-none', serviceEnv(bouncer.url, 'none'));
    trackProcess(plain.pid);
    others.push({ destroy: () => plain.stop().then(() => undefined) });
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const ready = await call(plain.baseUrl, '/health/ready');
    expect(ready.status).toBe(503);
    expect(bouncer.log()).toMatch(/unsupported startup parameter: (statement_timeout|idle_in_transaction)/);
  });

  it('answers 500s to concurrent POSTs when pgbouncer ignores those parameters (named prepared statements)', async () => {
    const lax = await startPgbouncer(user, {
      server: postgres.url,
      poolSize: SERVER_CONNECTIONS,
      ignoreStartupParameters: TIMEOUTS,
    });
    others.push(lax);
    const plain = await startService('pooler-named', serviceEnv(lax.url, 'none'));
    trackProcess(plain.pid);
    others.unshift({ destroy: () => plain.stop().then(() => undefined) });
    await plain.waitFor('/health/ready', 200, 60_000);
    const tenant = await newTenant();
    const answers = await bounded(120, 16, (i) =>
      call(plain.baseUrl, REQUESTS, { token: tenant.token, body: bodies[i % 2]() }),
    );
    const failed = answers.filter((a) => a.status === 500).length;
    console.info(`without the setting: ${failed} of ${answers.length} POSTs answered 500`);
    expect(failed).toBeGreaterThan(0);
    expect(plain.problems(50)).toMatch(/prepared statement|42P05|26000/);
  });
});
