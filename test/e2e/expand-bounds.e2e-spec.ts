import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPANDED_RESULTS_LIMIT } from '../../src/threat-assessment/threat-assessment.query-specs.js';
import { expectGraphError } from '../support/graph.js';
import { insertRequests, insertResults } from '../support/seed.js';
import { statementsSent } from '../support/statements-sent.js';
import { PUBLIC_BASE, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

const LIMIT = EXPANDED_RESULTS_LIMIT;
const PATH = 'informationProtection/threatAssessmentRequests';
const CONTEXT = `${PUBLIC_BASE}/v1.0/$metadata#${PATH}`;
const START = Date.parse('2026-01-01T00:00:00.000Z');

interface Result {
  '@odata.type': '#microsoft.graph.threatAssessmentResult';
  id: string;
  createdDateTime: string;
  resultType: 'rescan';
  message: string;
}
interface Item {
  id: string;
  results?: Result[];
  'results@odata.nextLink'?: string;
  [property: string]: unknown;
}
interface Collection<T> {
  '@odata.context': string;
  '@odata.nextLink'?: string;
  value: T[];
}

/** A url request, `ageSeconds` old; one row, as the service would answer it. */
async function seedRequest(t: TestApp, who: TestIdentity, ageSeconds = 0): Promise<string> {
  const id = randomUUID();
  await insertRequests(t.db, who.tenantId, [{ id, createdDateTime: new Date(START - ageSeconds * 1000) }]);
  return id;
}

/**
 * `n` results, three to a millisecond: the expansion's last result shares its instant with the next
 * one, so the link must continue by id as well. Returned oldest first, as the service orders them.
 */
async function seedResults(t: TestApp, who: TestIdentity, requestId: string, n: number, messageLength = 10) {
  const results: Result[] = Array.from({ length: n }, (_, i) => ({
    '@odata.type': '#microsoft.graph.threatAssessmentResult',
    id: randomUUID(),
    createdDateTime: new Date(START + Math.floor(i / 3)).toISOString(),
    resultType: 'rescan',
    message: `${i}`.padEnd(messageLength, '.'),
  }));
  await insertResults(
    t.db,
    who.tenantId,
    results.map((r) => ({ ...r, requestId })),
  );
  return results.sort((a, b) =>
    a.createdDateTime === b.createdDateTime ? (a.id < b.id ? -1 : 1) : a.createdDateTime < b.createdDateTime ? -1 : 1,
  );
}

describe('$expand=results is bounded', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const pathOf = (link: string) => {
    expect(link.startsWith(PUBLIC_BASE)).toBe(true);
    return link.slice(PUBLIC_BASE.length);
  };
  /** Follows a nested next link, then the list's, collecting every result. */
  async function follow(link: string, who: TestIdentity, extra = ''): Promise<Result[]> {
    const collected: Result[] = [];
    let next: string | undefined = `${pathOf(link)}${extra}`;
    for (let pages = 0; next; pages++) {
      expect(pages).toBeLessThan(2000);
      const res = await t.get(next, who);
      expect(res.status, res.text).toBe(200);
      const body = res.body as Collection<Result>;
      collected.push(...body.value);
      next = body['@odata.nextLink'] && pathOf(body['@odata.nextLink']);
    }
    return collected;
  }
  const linkPattern = (requestId: string, version = 'v1.0') =>
    new RegExp(
      `^${PUBLIC_BASE.replace(/\./g, '\\.')}/${version}/${PATH}/${requestId}/results\\?\\$skiptoken=[\\w.-]+$`,
    );

  describe('GET …/threatAssessmentRequests/{id}?$expand=results', () => {
    it(`answers the oldest ${LIMIT} results and results@odata.nextLink, which continues with the rest`, async () => {
      const tenant = await newTenant();
      const id = await seedRequest(t, tenant);
      const results = await seedResults(t, tenant, id, LIMIT + 5);
      const res = await t.get(`${REQUESTS}/${id}?$expand=results`, tenant);
      expect(res.status, res.text).toBe(200);
      const body = res.body as Item;
      expect(body).toEqual({
        '@odata.context': `${CONTEXT}(results())/$entity`,
        '@odata.type': '#microsoft.graph.urlAssessmentRequest',
        id,
        createdDateTime: new Date(START).toISOString(),
        contentType: 'url',
        expectedAssessment: 'block',
        category: 'phishing',
        status: 'pending',
        requestSource: 'administrator',
        createdBy: expect.any(Object),
        url: 'http://test.com',
        results: results.slice(0, LIMIT),
        'results@odata.context': `${CONTEXT}('${id}')/microsoft.graph.urlAssessmentRequest/results`,
        'results@odata.nextLink': expect.stringMatching(linkPattern(id)),
      });
      expect(Object.keys(body).slice(-3)).toEqual(['results', 'results@odata.context', 'results@odata.nextLink']);

      const rest = await t.get(pathOf(body['results@odata.nextLink']!), tenant);
      expect(rest.status, rest.text).toBe(200);
      expect(rest.body).toEqual({ '@odata.context': `${CONTEXT}('${id}')/results`, value: results.slice(LIMIT) });
    });

    it('leads, page after page, to every result exactly once and in order, with any $top on the link', async () => {
      const tenant = await newTenant();
      const id = await seedRequest(t, tenant);
      const results = await seedResults(t, tenant, id, 3 * LIMIT + 7);
      const link = ((await t.get(`${REQUESTS}/${id}?$expand=results`, tenant)).body as Item)['results@odata.nextLink']!;
      for (const top of ['', '&$top=1', '&$top=2', '&$top=7']) {
        expect([...results.slice(0, LIMIT), ...(await follow(link, tenant, top))]).toEqual(results);
      }
    });

    it(`has no results@odata.nextLink with at most ${LIMIT} results (0, 1, ${LIMIT - 1}, ${LIMIT})`, async () => {
      const tenant = await newTenant();
      for (const n of [0, 1, LIMIT - 1, LIMIT]) {
        const id = await seedRequest(t, tenant);
        const results = await seedResults(t, tenant, id, n);
        const res = await t.get(`${REQUESTS}/${id}?$expand=results`, tenant);
        expect(res.status, res.text).toBe(200);
        expect((res.body as Item).results).toEqual(results);
        expect(Object.keys(res.body as Item)).not.toContain('results@odata.nextLink');
      }
    });

    it('combines with $select: the selected properties, the results and both annotations', async () => {
      const tenant = await newTenant();
      const id = await seedRequest(t, tenant);
      const results = await seedResults(t, tenant, id, LIMIT + 1);
      const res = await t.get(`${REQUESTS}/${id}?$select=status&$expand=results`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        '@odata.context': `${CONTEXT}(status,results())/$entity`,
        '@odata.type': '#microsoft.graph.urlAssessmentRequest',
        id,
        status: 'pending',
        results: results.slice(0, LIMIT),
        'results@odata.context': `${CONTEXT}('${id}')/microsoft.graph.urlAssessmentRequest/results`,
        'results@odata.nextLink': expect.stringMatching(linkPattern(id)),
      });
      // The link carries no option of the request's own: $select and $expand do not apply to results.
      expect(await follow((res.body as Item)['results@odata.nextLink']!, tenant)).toEqual(results.slice(LIMIT));
    });

    it('writes /beta into the link under /beta, and the link serves there', async () => {
      const tenant = await newTenant();
      const id = await seedRequest(t, tenant);
      const results = await seedResults(t, tenant, id, LIMIT + 2);
      const res = await t.get(`/beta/${PATH}/${id}?$expand=results`, tenant);
      expect(res.status, res.text).toBe(200);
      const link = (res.body as Item)['results@odata.nextLink']!;
      expect(link).toMatch(linkPattern(id, 'beta'));
      const rest = await t.get(pathOf(link), tenant);
      expect(rest.status, rest.text).toBe(200);
      expect(rest.body).toEqual({
        '@odata.context': `${PUBLIC_BASE}/beta/$metadata#${PATH}('${id}')/results`,
        value: results.slice(LIMIT),
      });
    });

    it('answers a 1,500-result request in a bounded body, and the links lead to all 1,500', async () => {
      const tenant = await newTenant();
      const id = await seedRequest(t, tenant);
      const results = await seedResults(t, tenant, id, 1500, 4000);
      const res = await t.get(`${REQUESTS}/${id}?$expand=results`, tenant);
      expect(res.status).toBe(200);
      const body = res.body as Item;
      expect(body.results).toEqual(results.slice(0, LIMIT));
      // About LIMIT results' worth (some 4,150 bytes each here); all 1,500 would be 6 MB.
      expect(res.text.length).toBeLessThan((LIMIT + 1) * 4200);
      const rest = await follow(body['results@odata.nextLink']!, tenant, '&$top=999');
      expect(rest.length).toBe(1500 - LIMIT);
      expect(rest.map((r) => r.id)).toEqual(results.slice(LIMIT).map((r) => r.id));
    });
  });

  describe('GET …/threatAssessmentRequests?$expand=results', () => {
    it(`bounds each request to ${LIMIT} results, with its own link when it has more`, async () => {
      const tenant = await newTenant();
      const many = await seedRequest(t, tenant, 3);
      const exact = await seedRequest(t, tenant, 2);
      const none = await seedRequest(t, tenant, 1);
      const manyResults = await seedResults(t, tenant, many, LIMIT + 5);
      const exactResults = await seedResults(t, tenant, exact, LIMIT);
      const first = await t.get(`${REQUESTS}?$expand=results&$top=2`, tenant);
      expect(first.status, first.text).toBe(200);
      const page = first.body as Collection<Item>;
      expect(page.value.map((item) => [item.id, item.results, item['results@odata.nextLink']])).toEqual([
        [none, [], undefined],
        [exact, exactResults, undefined],
      ]);
      const second = await t.get(pathOf(page['@odata.nextLink']!), tenant);
      expect(second.status, second.text).toBe(200);
      const [item] = (second.body as Collection<Item>).value;
      expect((second.body as Collection<Item>).value).toHaveLength(1);
      expect(item.id).toBe(many);
      expect(item.results).toEqual(manyResults.slice(0, LIMIT));
      expect(Object.keys(item).slice(-2)).toEqual(['results', 'results@odata.nextLink']);
      expect(item['results@odata.nextLink']).toMatch(linkPattern(many));
      expect(await follow(item['results@odata.nextLink']!, tenant)).toEqual(manyResults.slice(LIMIT));
    });

    it('combines with $select', async () => {
      const tenant = await newTenant();
      const id = await seedRequest(t, tenant);
      const results = await seedResults(t, tenant, id, LIMIT + 3);
      const res = await t.get(`${REQUESTS}?$select=status&$expand=results`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        '@odata.context': `${CONTEXT}(status,results())`,
        value: [
          {
            '@odata.type': '#microsoft.graph.urlAssessmentRequest',
            id,
            status: 'pending',
            results: results.slice(0, LIMIT),
            'results@odata.nextLink': expect.stringMatching(linkPattern(id)),
          },
        ],
      });
    });

    it(`reads at most ${LIMIT + 1} results per request from the table, never all of them`, async () => {
      const tenant = await newTenant();
      const ids = [await seedRequest(t, tenant, 2), await seedRequest(t, tenant, 1)];
      for (const id of ids) await seedResults(t, tenant, id, 300);
      const sent = await statementsSent(t, async () => {
        expect((await t.get(`${REQUESTS}?$expand=results`, tenant)).status).toBe(200);
        expect((await t.get(`${REQUESTS}/${ids[0]}?$expand=results`, tenant)).status).toBe(200);
      });
      const reads = sent.filter(({ sql }) => sql.includes('threat_assessment_results'));
      expect(reads).toHaveLength(2);
      for (const [{ sql, parameters }, requests] of reads.map((read, i) => [read, i === 0 ? 2 : 1] as const)) {
        const { rows } = await t.db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
          parameters,
        );
        expect(resultRowsRead(rows[0]['QUERY PLAN'][0].Plan), sql).toBeLessThanOrEqual(requests * (LIMIT + 1));
      }
    });
  });

  describe('the link belongs to its tenant and request', () => {
    it('is refused with another tenant’s token, on another request, and with another order or $filter', async () => {
      const tenant = await newTenant();
      const id = await seedRequest(t, tenant);
      await seedResults(t, tenant, id, LIMIT + 1);
      const link = pathOf(
        ((await t.get(`${REQUESTS}/${id}?$expand=results`, tenant)).body as Item)['results@odata.nextLink']!,
      );
      const skiptoken = new URL(link, PUBLIC_BASE).searchParams.get('$skiptoken')!;
      expectGraphError(await t.get(link, await newTenant()), 400, 'invalidRequest', /skiptoken/);
      const other = await seedRequest(t, tenant);
      expectGraphError(
        await t.get(`${REQUESTS}/${other}/results?$skiptoken=${skiptoken}`, tenant),
        400,
        'invalidRequest',
        /skiptoken/,
      );
      expectGraphError(
        await t.get(`${link}&$orderby=createdDateTime desc`, tenant),
        400,
        'invalidRequest',
        /skiptoken/,
      );
      expectGraphError(
        await t.get(`${link}&$filter=resultType eq 'rescan'`, tenant),
        400,
        'invalidRequest',
        /skiptoken/,
      );
    });
  });
});

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

/** Rows the plan's scans of the results table returned, over all their loops. */
function resultRowsRead(plan: PlanNode): number {
  const own =
    plan['Relation Name'] === 'threat_assessment_results'
      ? (plan['Actual Rows'] ?? 0) * (plan['Actual Loops'] ?? 1)
      : 0;
  return own + (plan.Plans ?? []).reduce((sum, child) => sum + resultRowsRead(child), 0);
}
