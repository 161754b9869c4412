import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_BUDGET_BYTES } from '../../src/odata/page-budget.js';
import { EXPANDED_RESULTS_LIMIT } from '../../src/threat-assessment/threat-assessment.query-specs.js';
import { insertRequests, insertResults } from '../support/seed.js';
import { statementsSent } from '../support/statements-sent.js';
import { PUBLIC_BASE, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

/** What a page adds around its items: `@odata.context`, `@odata.count`, `@odata.nextLink`, braces. */
const ENVELOPE_BYTES = 1024;
const START = Date.parse('2026-01-01T00:00:00.000Z');

interface Item {
  id: string;
  createdDateTime?: string;
  results?: { id: string }[];
  'results@odata.nextLink'?: string;
  [property: string]: unknown;
}
interface Page {
  '@odata.count'?: number;
  '@odata.nextLink'?: string;
  value: Item[];
}
interface Walked {
  pages: Page[];
  /** The byte length of each page's body. */
  bodies: number[];
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');
/** Text order, as PostgreSQL orders lower-case uuids. */
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Results of one request, three to a millisecond (a cut may fall inside an instant); oldest first. */
async function seedResults(t: TestApp, who: TestIdentity, requestIds: string[], perRequest: number, message: string) {
  const rows = requestIds.flatMap((requestId) =>
    Array.from({ length: perRequest }, (_, i) => ({
      id: randomUUID(),
      requestId,
      at: new Date(START + Math.floor(i / 3)).toISOString(),
    })),
  );
  await insertResults(
    t.db,
    who.tenantId,
    rows.map((r) => ({ ...r, createdDateTime: r.at, message })),
  );
  return rows
    .sort((a, b) => compare(a.requestId, b.requestId) || compare(a.at, b.at) || compare(a.id, b.id))
    .map((r) => r.id);
}

/** `n` url requests a millisecond apart, newest last; their ids newest first, as the list orders them. */
async function seedRequests(t: TestApp, who: TestIdentity, n: number, url = 'http://test.com') {
  const rows = Array.from({ length: n }, (_, i) => ({ id: randomUUID(), createdDateTime: new Date(START + i), url }));
  await insertRequests(t.db, who.tenantId, rows);
  return rows.map((r): string => r.id).reverse();
}

describe('a page ends within the page budget', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  /** Follows next links to the end; each link keeps the original options (less `$skip`) and adds one `$skiptoken`. */
  async function walk(path: string, query: string, who: TestIdentity): Promise<Walked> {
    const walked: Walked = { pages: [], bodies: [] };
    let next: string | undefined = `${path}?${query}`;
    while (next) {
      expect(walked.pages.length, 'the walk does not end').toBeLessThan(500);
      const res = await t.get(next, who);
      expect(res.status, res.text.slice(0, 500)).toBe(200);
      walked.pages.push(res.body as Page);
      walked.bodies.push(Buffer.byteLength(res.text, 'utf8'));
      const link = (res.body as Page)['@odata.nextLink'];
      if (link === undefined) break;
      const url = new URL(link);
      expect(url.origin + url.pathname).toBe(`${PUBLIC_BASE}${path}`);
      expect([...url.searchParams].filter(([name]) => name !== '$skiptoken')).toEqual(
        [...new URLSearchParams(query)].filter(([name]) => name !== '$skip'),
      );
      next = `${url.pathname}${url.search}`;
    }
    return walked;
  }

  /**
   * Every page within the budget plus the envelope, and full: each but the last ends where the next
   * item would not have fitted, so fewer items than `$top` mean the budget ended the page.
   */
  function expectFull({ pages, bodies }: Walked, top: number) {
    pages.forEach((page, i) => {
      expect(bodies[i]).toBeLessThanOrEqual(PAGE_BUDGET_BYTES + ENVELOPE_BYTES);
      expect(bytes(page.value)).toBeLessThanOrEqual(PAGE_BUDGET_BYTES);
      const following = pages[i + 1]?.value[0];
      if (following && page.value.length < top) {
        expect(bytes(page.value) + 1 + bytes(following)).toBeGreaterThan(PAGE_BUDGET_BYTES);
      }
    });
  }
  const idsOf = ({ pages }: Walked) => pages.flatMap((page) => page.value.map((item) => item.id));

  /** One request with `n` results of 4,000 characters: a page's budget holds a few hundred. */
  async function requestWithLongResults(who: TestIdentity, n: number) {
    const [id] = await seedRequests(t, who, 1);
    return { id, results: await seedResults(t, who, [id], n, 'm'.repeat(4000)) };
  }

  describe('GET …/threatAssessmentRequests/{id}/results', () => {
    it('answers 400 results of 4,000 characters in pages under 1 MiB, and the links lead to each once, in order', async () => {
      const tenant = await newTenant();
      const { id, results } = await requestWithLongResults(tenant, 400);
      const walked = await walk(`${REQUESTS}/${id}/results`, '$top=999&$count=true', tenant);
      expect(walked.pages[0].value.length).toBeLessThan(400);
      expect(walked.pages[0].value.length).toBeGreaterThan(200);
      expect(walked.pages).toHaveLength(2);
      expectFull(walked, 999);
      expect(idsOf(walked)).toEqual(results);
      for (const page of walked.pages) expect(page['@odata.count']).toBe(400);
    });

    it('counts bytes: characters that JSON escapes to 6 bytes, and that UTF-8 writes in 3', async () => {
      const tenant = await newTenant();
      const [escaped, euro] = await seedRequests(t, tenant, 2);
      const cases = [
        // Some 24,150 bytes a result: 43 a page.
        {
          id: escaped,
          results: await seedResults(t, tenant, [escaped], 100, '\u0001'.repeat(4000)),
          pages: [43, 43, 14],
        },
        // Some 12,150 bytes: 86 a page.
        { id: euro, results: await seedResults(t, tenant, [euro], 100, '€'.repeat(4000)), pages: [86, 14] },
      ];
      for (const { id, results, pages } of cases) {
        // At the default $top of 100.
        const walked = await walk(`${REQUESTS}/${id}/results`, '', tenant);
        expect(walked.pages.map((page) => page.value.length)).toEqual(pages);
        expectFull(walked, 100);
        expect(idsOf(walked)).toEqual(results);
      }
    });

    it('cuts newest first and with $filter alike, the links signed for that order and filter', async () => {
      const tenant = await newTenant();
      const { id, results } = await requestWithLongResults(tenant, 300);
      const walked = await walk(
        `${REQUESTS}/${id}/results`,
        `$orderby=${encodeURIComponent('createdDateTime desc')}&$filter=${encodeURIComponent("resultType eq 'rescan'")}&$top=999`,
        tenant,
      );
      expect(walked.pages.length).toBe(2);
      expectFull(walked, 999);
      expect(idsOf(walked)).toEqual([...results].reverse());
    });

    it('skips once with $skip, then the links continue after the last item that fitted', async () => {
      const tenant = await newTenant();
      const { id, results } = await requestWithLongResults(tenant, 400);
      const walked = await walk(`${REQUESTS}/${id}/results`, '$skip=7&$top=999', tenant);
      expect(walked.pages).toHaveLength(2);
      expectFull(walked, 999);
      expect(idsOf(walked)).toEqual(results.slice(7));
    });

    it('measures what is sent: with $select leaving the message out, all 400 fit one page', async () => {
      const tenant = await newTenant();
      const { id, results } = await requestWithLongResults(tenant, 400);
      const walked = await walk(`${REQUESTS}/${id}/results`, '$select=resultType&$top=999', tenant);
      expect(walked.pages).toHaveLength(1);
      expect(idsOf(walked)).toEqual(results);
    });
  });

  describe('GET …/threatAssessmentRequests?$expand=results', () => {
    it('counts the expanded results: 60 requests of 20 results of 4,000 characters, in pages under 1 MiB', async () => {
      const tenant = await newTenant();
      const requests = await seedRequests(t, tenant, 60);
      const results = await seedResults(t, tenant, requests, EXPANDED_RESULTS_LIMIT + 1, 'm'.repeat(4000));
      const walked = await walk(REQUESTS, '$top=999&$expand=results&$count=true', tenant);
      // Some 83 KB a request: 12 a page.
      expect(walked.pages.map((page) => page.value.length)).toEqual([12, 12, 12, 12, 12]);
      expectFull(walked, 999);
      expect(idsOf(walked)).toEqual(requests);
      const byRequest = new Map(
        [...requests]
          .sort(compare)
          .map((id, i) => [
            id,
            results.slice(i * (EXPANDED_RESULTS_LIMIT + 1), i * (EXPANDED_RESULTS_LIMIT + 1) + EXPANDED_RESULTS_LIMIT),
          ]),
      );
      for (const page of walked.pages) {
        expect(page['@odata.count']).toBe(60);
        for (const item of page.value) {
          expect(item.results!.map((r) => r.id)).toEqual(byRequest.get(item.id));
          expect(item['results@odata.nextLink']).toMatch(new RegExp(`/${item.id}/results\\?\\$skiptoken=`));
        }
      }
    });

    it('answers every expanded request whole, whatever the mix of sizes, and cuts newest first or oldest first', async () => {
      const tenant = await newTenant();
      const requests = await seedRequests(t, tenant, 90);
      // Request i: i % 23 results (some with more than are expanded), of 1 to 4,000 characters.
      const expected = new Map<string, string[]>();
      for (const [i, id] of requests.entries()) {
        const ids = await seedResults(t, tenant, [id], i % 23, 'x'.repeat(((i * 997) % 4000) + 1));
        expected.set(id, ids.slice(0, EXPANDED_RESULTS_LIMIT));
      }
      for (const order of ['', `&$orderby=${encodeURIComponent('createdDateTime asc')}`]) {
        const walked = await walk(REQUESTS, `$top=999&$expand=results${order}`, tenant);
        expect(walked.pages.length).toBeGreaterThan(1);
        expectFull(walked, 999);
        expect(idsOf(walked)).toEqual(order ? [...requests].reverse() : requests);
        for (const item of walked.pages.flatMap((page) => page.value)) {
          expect(item.results!.map((r) => r.id)).toEqual(expected.get(item.id));
          expect('results@odata.nextLink' in item).toBe(requests.indexOf(item.id) % 23 > EXPANDED_RESULTS_LIMIT);
        }
      }
    });

    it('loads from the table no more expanded messages than the budget holds, however large $top', async () => {
      const tenant = await newTenant();
      const requests = await seedRequests(t, tenant, 60);
      await seedResults(t, tenant, requests, EXPANDED_RESULTS_LIMIT + 1, 'm'.repeat(4000));
      const sent = await statementsSent(t, async () => {
        expect((await t.get(`${REQUESTS}?$top=999&$expand=results`, tenant)).status).toBe(200);
      });
      const [read] = sent.filter(({ sql }) => sql.includes('threat_assessment_results'));
      const { rows } = await t.db.query<{ bytes: number }>(
        `SELECT sum(octet_length(message))::int AS bytes FROM (${read.sql}) loaded`,
        read.parameters,
      );
      // The messages up to the budget and the one that passes it; all 60 × 20 would be 4.8 MB.
      expect(rows[0].bytes).toBeGreaterThan(PAGE_BUDGET_BYTES);
      expect(rows[0].bytes).toBeLessThanOrEqual(PAGE_BUDGET_BYTES + 4000);
    });
  });

  describe('GET …/threatAssessmentRequests', () => {
    it('cuts a page of 500 requests with 2,000-character URLs, and the links lead to each once, in order', async () => {
      const tenant = await newTenant();
      const requests = await seedRequests(t, tenant, 500, `http://test.com/${'u'.repeat(1984)}`);
      const walked = await walk(REQUESTS, '$top=999', tenant);
      expect(walked.pages).toHaveLength(2);
      expectFull(walked, 999);
      expect(idsOf(walked)).toEqual(requests);
    });

    it('answers an ordinary $top=999 page whole', async () => {
      const tenant = await newTenant();
      const requests = await seedRequests(t, tenant, 999);
      const walked = await walk(REQUESTS, '$top=999', tenant);
      expect(walked.pages).toHaveLength(1);
      expect(idsOf(walked)).toEqual(requests);
    });
  });
});
