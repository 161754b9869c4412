import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import pg from 'pg';
import supertest from 'supertest';
import { DataSource, type Logger } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../src/app.setup.js';
import { loadConfig } from '../../src/config/app-config.js';
import { runMigrations } from '../../src/database/run-migrations.js';
import { REQUESTS } from '../support/test-app.js';
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, userToken } from '../support/tokens.js';

/**
 * The queries behind every route, planned over a large table: no sequential scan of either big table.
 * A schema of its own (search_path) holds 100,000 requests and 300,000 results over 50 tenants, seeded
 * by the bench's SQL (bench/seed.sql) and analyzed; the production app runs on it, each route is called
 * over HTTP, the SQL it sends is captured from TypeORM's logger, and each statement is EXPLAINed with
 * its own parameters (and as a generic plan, which prepared statements get, on PostgreSQL 16+).
 */
const BIG_TABLES = new Set(['threat_assessment_requests', 'threat_assessment_results']);
const SEED = { requests: 100_000, results: 300_000, tenants: 50, share: 1 / 50 };

interface Captured {
  sql: string;
  parameters: unknown[];
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** Tenant t of the seed: md5('bench-tenant-' || t) read as a uuid. */
function seedTenant(t: number): string {
  const h = createHash('md5').update(`bench-tenant-${t}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function withSearchPath(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  return parsed.toString();
}

function seqScans(node: PlanNode): string[] {
  const own =
    node['Node Type'] === 'Seq Scan' && node['Relation Name'] && BIG_TABLES.has(node['Relation Name'])
      ? [node['Relation Name']]
      : [];
  return [...own, ...(node.Plans ?? []).flatMap(seqScans)];
}

/** Every scan of a table in the plan: its node type, and the index it reads if any. */
function relationScans(node: PlanNode): { type: string; relation: string; index?: string }[] {
  const own = node['Relation Name']
    ? [
        {
          type: node['Node Type'],
          relation: node['Relation Name'],
          ...(node['Index Name'] ? { index: node['Index Name'] } : {}),
        },
      ]
    : [];
  return [...own, ...(node.Plans ?? []).flatMap(relationScans)];
}

function outline(node: PlanNode, depth = 0): string {
  const line = `${'  '.repeat(depth)}${node['Node Type']}${node['Relation Name'] ? ` on ${node['Relation Name']}` : ''}`;
  return [line, ...(node.Plans ?? []).map((child) => outline(child, depth + 1))].join('\n');
}

describe('query plans over a large seeded table', () => {
  const schema = `explain_${randomBytes(6).toString('hex')}`;
  const tenantId = seedTenant(0);
  const captured: Captured[] = [];
  let url: string;
  let db: pg.Client;
  let app: NestFastifyApplication;
  let http: ReturnType<typeof supertest>;
  let token: string;
  let serverVersion: number;
  let parentId: string;
  let mailParentId: string;

  beforeAll(async () => {
    const base = inject('databaseUrl');
    url = withSearchPath(base, schema);
    db = new pg.Client({ connectionString: url });
    await db.connect();
    await db.query(`CREATE SCHEMA ${schema}`);
    await runMigrations(url);

    const { rows: role } = await db.query<{ rolsuper: boolean; version: string }>(
      "SELECT rolsuper, current_setting('server_version_num') AS version FROM pg_roles WHERE rolname = current_user",
    );
    serverVersion = Number(role[0].version);
    await db.query('BEGIN');
    // Consistent by construction: as a superuser, the per-row foreign-key checks are skipped while seeding.
    if (role[0].rolsuper) await db.query('SET LOCAL session_replication_role = replica');
    for (const [name, value] of Object.entries(SEED)) {
      await db.query('SELECT set_config($1, $2, true)', [`bench.${name}`, String(value)]);
    }
    await db.query(readFileSync(new URL('../../bench/seed.sql', import.meta.url), 'utf8'));
    await db.query('COMMIT');
    await db.query('VACUUM (ANALYZE) threat_assessment_requests, threat_assessment_results');

    const { rows: parents } = await db.query<{ id: string; content_type: string }>(
      `SELECT DISTINCT ON (content_type = 'mail') id, content_type FROM threat_assessment_requests r
       WHERE tenant_id = $1 AND EXISTS (SELECT 1 FROM threat_assessment_results x WHERE x.tenant_id = r.tenant_id AND x.request_id = r.id)
       ORDER BY content_type = 'mail', id`,
      [tenantId],
    );
    parentId = parents.find((p) => p.content_type !== 'mail')!.id;
    mailParentId = parents.find((p) => p.content_type === 'mail')!.id;

    const config = loadConfig({
      NODE_ENV: 'test',
      AUTH_HS256_SECRET: TEST_SECRET,
      AUTH_ISSUER: TEST_ISSUER,
      AUTH_AUDIENCE: TEST_AUDIENCE,
      SKIPTOKEN_SECRET: 'explain-skiptoken-secret-0123456789-abcdefgh',
      DATABASE_URL: url,
      LOG_LEVEL: 'silent',
    });
    app = await createApp(config, url);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    http = supertest(app.getHttpServer());
    token = await userToken(tenantId, ['ThreatAssessment.ReadWrite.All']);

    // Every statement the app sends from here on, with its parameters.
    const capture: Logger = {
      logQuery: (sql, parameters) =>
        void captured.push({ sql, parameters: Array.isArray(parameters) ? parameters : [] }),
      logQueryError: () => undefined,
      logQuerySlow: () => undefined,
      logSchemaBuild: () => undefined,
      logMigration: () => undefined,
      log: () => undefined,
    };
    const dataSource: { logger: Logger } = app.get(DataSource);
    dataSource.logger = capture;
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    await db?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db?.end();
  });

  /** Calls the route, then plans each statement it sent that reads or writes a big table. */
  async function plansOf(
    call: () => supertest.Test,
    status: number,
  ): Promise<{ sql: string; plan: PlanNode; generic?: PlanNode }[]> {
    captured.length = 0;
    const res = await call().set('authorization', `Bearer ${token}`);
    expect(res.status, res.text).toBe(status);
    const statements = captured.filter(
      ({ sql }) =>
        /^\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b/i.test(sql) && [...BIG_TABLES].some((table) => sql.includes(table)),
    );
    expect(statements.length, 'the route sent no statement on the big tables').toBeGreaterThan(0);
    const plans = [];
    for (const { sql, parameters } of statements) {
      const { rows } = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (FORMAT JSON) ${sql}`,
        parameters,
      );
      let generic: PlanNode | undefined;
      if (serverVersion >= 160000 && parameters.length > 0) {
        // The plan a prepared statement settles on after five runs, whatever the parameters.
        const result = await db
          .query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON, GENERIC_PLAN) ${sql}`)
          .catch((error: { code?: string }) => {
            // A parameter whose type only its value tells (42P18) has no generic plan to show.
            if (error.code === '42P18') return undefined;
            throw error;
          });
        generic = result?.rows[0]['QUERY PLAN'][0].Plan;
      }
      plans.push({ sql, plan: rows[0]['QUERY PLAN'][0].Plan, generic });
    }
    return plans;
  }

  function expectNoSeqScan(plans: { sql: string; plan: PlanNode; generic?: PlanNode }[]): void {
    for (const { sql, plan, generic } of plans) {
      expect(seqScans(plan), `${sql}\n\n${outline(plan)}`).toEqual([]);
      if (generic) expect(seqScans(generic), `generic plan of\n${sql}\n\n${outline(generic)}`).toEqual([]);
    }
  }

  const filter = (text: string) => encodeURIComponent(text);

  it('lists requests (first page) with an index scan', async () => {
    expectNoSeqScan(await plansOf(() => http.get(REQUESTS), 200));
  });

  it('lists requests with $filter and $top with an index scan', async () => {
    expectNoSeqScan(
      await plansOf(
        () => http.get(`${REQUESTS}?$top=25&$filter=${filter("contentType eq 'mail' and status eq 'completed'")}`),
        200,
      ),
    );
    expectNoSeqScan(
      await plansOf(
        () =>
          http.get(
            `${REQUESTS}?$top=10&$filter=${filter("createdDateTime ge 2020-01-01T00:00:00Z and isof('microsoft.graph.urlAssessmentRequest')")}`,
          ),
        200,
      ),
    );
  });

  it('follows a next link deep into the list with an index scan', async () => {
    const first = await http.get(`${REQUESTS}?$top=999`).set('authorization', `Bearer ${token}`);
    expect(first.status, first.text).toBe(200);
    const next = new URL((first.body as { '@odata.nextLink': string })['@odata.nextLink']);
    expectNoSeqScan(await plansOf(() => http.get(`${next.pathname}${next.search}`), 200));
  });

  it('expands results of a page and of one request with index scans', async () => {
    expectNoSeqScan(await plansOf(() => http.get(`${REQUESTS}?$expand=results&$top=50`), 200));
    expectNoSeqScan(await plansOf(() => http.get(`${REQUESTS}/${parentId}?$expand=results`), 200));
  });

  it('counts requests, with and without $filter, without a sequential scan', async () => {
    expectNoSeqScan(await plansOf(() => http.get(`${REQUESTS}/$count`), 200));
    expectNoSeqScan(await plansOf(() => http.get(`${REQUESTS}/$count?$filter=${filter("status eq 'pending'")}`), 200));
    expectNoSeqScan(
      await plansOf(() => http.get(`${REQUESTS}?$count=true&$top=5&$filter=${filter("category eq 'phishing'")}`), 200),
    );
  });

  it('counts requests with $filter from the tenant index alone, never reading the table', async () => {
    const plans = await plansOf(
      () => http.get(`${REQUESTS}/$count?$filter=${filter("status eq 'completed' and contentType eq 'mail'")}`),
      200,
    );
    for (const { sql, plan, generic } of plans) {
      for (const [label, node] of [
        ['custom', plan],
        ['generic', generic],
      ] as const) {
        if (!node) continue;
        const scans = relationScans(node).filter((scan) => scan.relation === 'threat_assessment_requests');
        expect(scans, `${label} plan of\n${sql}\n\n${outline(node)}`).toEqual([
          {
            type: 'Index Only Scan',
            relation: 'threat_assessment_requests',
            index: 'ix_threat_assessment_requests_tenant_created',
          },
        ]);
      }
    }
  });

  it('adds a result (the seed operation) without a sequential scan', async () => {
    const body = {
      '@odata.type': '#microsoft.graph.threatAssessmentResult',
      resultType: 'checkPolicy',
      message: 'No policy was hit.',
    };
    expectNoSeqScan(await plansOf(() => http.post(`${REQUESTS}/${mailParentId}/results`).send(body), 201));
    expectNoSeqScan(
      await plansOf(
        () => http.post(`${REQUESTS}/${parentId}/results`).send({ resultType: 'rescan', message: 'x' }),
        201,
      ),
    );
  });

  it('lists, counts and gets results of a request with index scans', async () => {
    expectNoSeqScan(await plansOf(() => http.get(`${REQUESTS}/${parentId}/results`), 200));
    expectNoSeqScan(
      await plansOf(() => http.get(`${REQUESTS}/${parentId}/results?$orderby=createdDateTime desc&$top=1`), 200),
    );
    expectNoSeqScan(await plansOf(() => http.get(`${REQUESTS}/${parentId}/results/$count`), 200));
    const list = await http.get(`${REQUESTS}/${parentId}/results`).set('authorization', `Bearer ${token}`);
    const resultId = (list.body as { value: { id: string }[] }).value[0].id;
    expectNoSeqScan(await plansOf(() => http.get(`${REQUESTS}/${parentId}/results/${resultId}`), 200));
  });

  it('gets, creates and deletes a request without a sequential scan', async () => {
    expectNoSeqScan(await plansOf(() => http.get(`${REQUESTS}/${parentId}`), 200));
    const created = await plansOf(
      () =>
        http.post(REQUESTS).send({
          '@odata.type': '#microsoft.graph.urlAssessmentRequest',
          url: 'http://test.com',
          expectedAssessment: 'block',
          category: 'phishing',
        }),
      201,
    );
    expectNoSeqScan(created);
    expectNoSeqScan(await plansOf(() => http.delete(`${REQUESTS}/${parentId}`), 204));
  });

  it('cascades a delete to the results by index (the foreign key’s own query)', async () => {
    // What ON DELETE CASCADE runs for each deleted request; EXPLAIN of the DELETE itself does not show it.
    const { rows } = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
      'EXPLAIN (FORMAT JSON) DELETE FROM ONLY threat_assessment_results WHERE $1::uuid = request_id AND $2::uuid = tenant_id',
      [mailParentId, tenantId],
    );
    const plan = rows[0]['QUERY PLAN'][0].Plan;
    expect(seqScans(plan), outline(plan)).toEqual([]);
  });
});
