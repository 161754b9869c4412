import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MetricsService } from '../../src/observability/metrics.service.js';
import { compileCli, ROOT } from '../support/compile-cli.js';
import { EMAIL_FILE_REQUEST, FILE_REQUEST, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { REQUESTS, startTestApp } from '../support/test-app.js';
import { createScratchDatabase, insertSubscription } from '../support/notification-subscriptions.js';
import { isCrossTenantByDesign, TENANT_TABLES, tablesOf, untenantedReferences } from '../support/tenant-scope.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { newTenant } from '../support/tokens.js';

/**
 * What Citus needs of a schema distributed by tenant_id, checked on PostgreSQL (Citus itself cannot be
 * installed here): every key includes tenant_id, and every statement the service sends names tenant_id
 * for every tenant table it touches, so that each routes to one shard.
 */
describe('Citus readiness: keys', () => {
  let db: pg.Client;
  beforeAll(async () => {
    db = new pg.Client({ connectionString: inject('databaseUrl') });
    await db.connect();
  });
  afterAll(() => db?.end());

  it('has a primary key on every tenant table, and every key, unique constraint and foreign key includes tenant_id', async () => {
    const { rows } = await db.query<{ table: string; name: string; type: string; columns: string; references: string }>(
      `SELECT c.conrelid::regclass::text AS "table", c.conname AS name, c.contype::text AS type,
              (SELECT string_agg(a.attname, ', ' ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns,
              coalesce(c.confrelid::regclass::text || ' (' ||
                (SELECT string_agg(a.attname, ', ' ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n)
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) || ')', '') AS "references"
         FROM pg_constraint c
        WHERE c.conrelid = ANY($1::regclass[]) AND c.contype IN ('p', 'u', 'f', 'x')
        ORDER BY 1, 2`,
      [TENANT_TABLES],
    );
    expect(rows).toEqual([
      { table: 'idempotency_keys', name: 'pk_idempotency_keys', type: 'p', columns: 'tenant_id, key', references: '' },
      {
        table: 'notifications',
        name: 'fk_notifications_subscription',
        type: 'f',
        columns: 'tenant_id, subscription_id',
        references: 'subscriptions (tenant_id, id)',
      },
      {
        table: 'notifications',
        name: 'pk_notifications',
        type: 'p',
        columns: 'tenant_id, subscription_id, seq',
        references: '',
      },
      { table: 'subscriptions', name: 'pk_subscriptions', type: 'p', columns: 'tenant_id, id', references: '' },
      {
        table: 'threat_assessment_requests',
        name: 'pk_threat_assessment_requests',
        type: 'p',
        columns: 'tenant_id, id',
        references: '',
      },
      {
        table: 'threat_assessment_results',
        name: 'fk_threat_assessment_results_request',
        type: 'f',
        columns: 'tenant_id, request_id',
        references: 'threat_assessment_requests (tenant_id, id)',
      },
      {
        table: 'threat_assessment_results',
        name: 'pk_threat_assessment_results',
        type: 'p',
        columns: 'tenant_id, id',
        references: '',
      },
      {
        table: 'throttle_counters',
        name: 'pk_throttle_counters',
        type: 'p',
        columns: 'tenant_id, scope, key, window_seconds, window_start',
        references: '',
      },
    ]);
    const { rows: invalid } = await db.query(
      `SELECT conname FROM pg_constraint WHERE NOT convalidated AND conrelid = ANY($1::regclass[])`,
      [TENANT_TABLES],
    );
    expect(invalid).toEqual([]);
  });

  it('has no unique index, constraint-backed or not, without tenant_id', async () => {
    const { rows } = await db.query<{ index: string; tenant: boolean }>(
      `SELECT i.indexrelid::regclass::text AS index,
              EXISTS (SELECT 1 FROM pg_attribute a
                       WHERE a.attrelid = i.indrelid AND a.attname = 'tenant_id' AND a.attnum = ANY(i.indkey)) AS tenant
         FROM pg_index i
        WHERE i.indrelid = ANY($1::regclass[]) AND i.indisunique
        ORDER BY 1`,
      [TENANT_TABLES],
    );
    expect(rows).toEqual([
      { index: 'pk_idempotency_keys', tenant: true },
      { index: 'pk_notifications', tenant: true },
      { index: 'pk_subscriptions', tenant: true },
      { index: 'pk_threat_assessment_requests', tenant: true },
      { index: 'pk_threat_assessment_results', tenant: true },
      { index: 'pk_throttle_counters', tenant: true },
      { index: 'uq_subscriptions_combination', tenant: true },
    ]);
  });
});

/**
 * Cross-tenant by design (isCrossTenantByDesign): the expiry sweeps and delivery's search for due work,
 * housekeeping and gauges, run on a timer. Citus runs each on every shard in parallel; they are not on
 * any request's path.
 */
const NOT_DATA = /^\s*(?:CREATE|ALTER|DROP|COMMENT|BEGIN|COMMIT|ROLLBACK|START|SAVEPOINT|RELEASE|SET|SHOW)\b/i;

describe('Citus readiness: every statement the service sends names tenant_id for every tenant table', () => {
  const captured: string[] = [];
  // Kept to be put back, never called unbound: the wrapper applies it to the client.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = pg.Client.prototype.query;

  beforeAll(() => {
    // Below every module that talks to PostgreSQL: whatever issues the SQL, it passes here.
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const [config] = args;
      const text = typeof config === 'string' ? config : (config as { text?: unknown } | undefined)?.text;
      if (typeof text === 'string') captured.push(text);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
  });
  afterAll(() => {
    pg.Client.prototype.query = original;
  });

  /** Every route, and each write with and without an Idempotency-Key; with limits, the throttled variants. */
  async function exercise(env: Record<string, string>) {
    const t = await startTestApp(env);
    try {
      const tenant = await newTenant();
      const auth = { authorization: `Bearer ${tenant.token}` };
      const ids: string[] = [];
      for (const body of [MAIL_REQUEST, EMAIL_FILE_REQUEST, FILE_REQUEST, URL_REQUEST]) {
        const res = await t.http.post(REQUESTS).set(auth).send(body);
        expect(res.status, res.text).toBe(201);
        ids.push(res.body.id as string);
      }
      const keyed = await t.http.post(REQUESTS).set(auth).set('idempotency-key', randomUUID()).send(URL_REQUEST);
      expect(keyed.status, keyed.text).toBe(201);
      const [mail] = ids;
      const result = { '@odata.type': '#microsoft.graph.threatAssessmentResult', resultType: 'rescan', message: 'ok' };
      const added = await t.http.post(`${REQUESTS}/${mail}/results`).set(auth).send(result);
      expect(added.status, added.text).toBe(201);
      const key = randomUUID();
      for (const attempt of [1, 2]) {
        const res = await t.http
          .post(`${REQUESTS}/${mail}/results/$ref`)
          .set(auth)
          .set('idempotency-key', key)
          .send(result);
        expect(res.status, `attempt ${attempt}: ${res.text}`).toBe(201);
      }
      const gets = [
        `${REQUESTS}?$top=2&$count=true&$filter=status eq 'completed' or category eq 'malware'`,
        `${REQUESTS}?$expand=results&$top=2`,
        `${REQUESTS}/$count?$filter=contentType eq 'file'`,
        `${REQUESTS}/$count`,
        `${REQUESTS}/${mail}`,
        `${REQUESTS}/${mail}?$expand=results`,
        `${REQUESTS}/${mail}/results?$top=1&$count=true`,
        `${REQUESTS}/${mail}/results/$count`,
        `${REQUESTS}/${mail}/results/${added.body.id as string}`,
      ];
      for (const path of gets) {
        const res = await t.http.get(path).set(auth);
        expect(res.status, `${path}: ${res.text}`).toBe(200);
        const next = (res.body as { '@odata.nextLink'?: string })['@odata.nextLink'];
        if (next) {
          const page = await t.http.get(next.slice(new URL(next).origin.length)).set(auth);
          expect(page.status, page.text).toBe(200);
        }
      }
      const missing = await t.http.get(`${REQUESTS}/${randomUUID()}`).set(auth);
      expect(missing.status).toBe(404);
      const deleted = await t.http.delete(`${REQUESTS}/${mail}`).set(auth);
      expect(deleted.status, deleted.text).toBe(204);
    } finally {
      await t.close();
    }
  }

  /**
   * Delivery's statements: a subscription, a change whose first POST fails (500) and whose retry
   * succeeds, and a lifecycle row without a lifecycle URL (dropped). On a database of its own: a
   * delivering app polls the whole outbox.
   */
  async function exerciseDelivery() {
    const scratch = await createScratchDatabase(inject('databaseUrl'), 'citus_delivery');
    const { leafCert, leafKey } = inject('testCertificates');
    const receiver = await WebhookReceiver.start('127.0.0.1', { cert: leafCert, key: leafKey });
    let failures = 0;
    receiver.handler = (_req, res) => {
      if (failures++ === 0) res.statusCode = 500;
      res.end();
    };
    const t = await startTestApp({
      DATABASE_URL: scratch.url,
      NOTIFICATIONS_DELIVERY_ENABLED: 'true',
      NOTIFICATIONS_ALLOWED_CIDRS: '127.0.0.0/8',
      NOTIFICATIONS_POLL_INTERVAL_MS: '100',
      NOTIFICATIONS_RETRY_BASE_SECONDS: '1',
    });
    try {
      const tenant = await newTenant();
      const subscription = await insertSubscription(t.db, {
        tenantId: tenant.tenantId,
        changeTypes: ['created'],
        notificationUrl: `https://127.0.0.1:${receiver.port}/hooks`,
      });
      await t.db.query(
        `INSERT INTO notifications (id, tenant_id, subscription_id, channel, event)
         VALUES (gen_random_uuid(), $1, $2, 'lifecycle', 'missed')`,
        [tenant.tenantId, subscription.id],
      );
      const res = await t.http.post(REQUESTS).set('authorization', `Bearer ${tenant.token}`).send(URL_REQUEST);
      expect(res.status, res.text).toBe(201);
      await receiver.waitUntil(() => receiver.requests.length >= 2);
      await t.app.get(MetricsService).registry.metrics();
    } finally {
      await t.close();
      await receiver.close();
      await scratch.drop();
    }
  }

  it('on every route, throttled or not, and with an Idempotency-Key or not, and in delivery', async () => {
    captured.length = 0;
    await exerciseDelivery();
    const delivery = [...new Set(captured)].filter((sql) => /notifications/.test(sql));
    await exercise({});
    await exercise({
      THROTTLE_TENANT_LIMITS: '1000/3600',
      THROTTLE_RESOURCE_LIMITS: '1000/3600',
      THROTTLE_RESULT_LIMITS: '1000/3600',
    });
    const statements = [...new Set(captured)].filter((sql) => !NOT_DATA.test(sql) && tablesOf(sql).length > 0);
    const offending = statements
      .filter((sql) => !isCrossTenantByDesign(sql))
      .map((sql) => ({ sql: sql.replace(/\s+/g, ' ').trim(), missing: untenantedReferences(sql) }))
      .filter((s) => s.missing.length > 0);
    expect(offending).toEqual([]);
    // The flow reached every tenant table, and the throttled statements too: a check of nothing passes nothing.
    expect(new Set(statements.flatMap(tablesOf))).toEqual(new Set(TENANT_TABLES));
    expect(statements.filter((sql) => tablesOf(sql).includes('throttle_counters')).length).toBeGreaterThanOrEqual(2);
    expect(statements.length).toBeGreaterThanOrEqual(15);
    // Delivery's own statements were all seen: the lease, the heads, the failed, delivered and dropped
    // batches, the release; and its cross-tenant ones, exempt by name.
    expect(delivery.filter((sql) => !isCrossTenantByDesign(sql)).length).toBeGreaterThanOrEqual(6);
    expect(delivery.filter((sql) => isCrossTenantByDesign(sql)).length).toBeGreaterThanOrEqual(4);
  });
});

describe('npm run db:distribute (the CLI, run by node)', () => {
  let build: string;
  let cli: string;
  beforeAll(() => {
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    build = mkdtempSync(join(ROOT, 'test-artifacts', 'distribute-'));
    cli = compileCli('distribute', build);
  });
  afterAll(() => rmSync(build, { recursive: true, force: true }));

  it('says there is nothing to distribute, changes nothing and exits 0 on PostgreSQL without Citus', async () => {
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [cli],
        {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', DATABASE_URL: inject('databaseUrl') },
          timeout: 20_000,
        },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(out).toEqual({
      code: 0,
      stdout: 'citus is not installed in this database: nothing to distribute\n',
      stderr: '',
    });
  });
});
