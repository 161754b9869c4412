import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, type TestIdentity } from '../support/tokens.js';
import { insertRequests, insertResults } from '../support/seed.js';
import { countRows, PUBLIC_BASE, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { expectGraphError, URL_REQUEST } from '../support/graph.js';

const CONTEXT = `${PUBLIC_BASE}/v1.0/$metadata#informationProtection/threatAssessmentRequests`;

/** A url request as the service answers it, for rows this spec inserts directly. */
interface SeededRequest {
  '@odata.type': '#microsoft.graph.urlAssessmentRequest';
  id: string;
  createdDateTime: string;
  contentType: 'url';
  expectedAssessment: 'block';
  category: 'phishing';
  status: 'pending';
  requestSource: 'administrator';
  createdBy: { user: { id: string; displayName: string } };
  url: string;
}

/**
 * Inserts url requests directly, one second apart from `start` (oldest first): ordering and paging
 * assertions then depend on chosen instants, not on the clock.
 */
async function seedRequests(db: pg.Pool, who: TestIdentity, n: number, start = Date.parse('2026-01-01T00:00:00.000Z')) {
  const seeded: SeededRequest[] = Array.from({ length: n }, (_, i) => ({
    '@odata.type': '#microsoft.graph.urlAssessmentRequest',
    id: randomUUID(),
    createdDateTime: new Date(start + i * 1000).toISOString(),
    contentType: 'url',
    expectedAssessment: 'block',
    category: 'phishing',
    status: 'pending',
    requestSource: 'administrator',
    createdBy: { user: { id: who.userId, displayName: 'Test User' } },
    url: `http://test.com/${i}`,
  }));
  await insertRequests(db, who.tenantId, seeded);
  return seeded;
}

async function seedResults(
  db: pg.Pool,
  who: TestIdentity,
  requestId: string,
  n: number,
  start = Date.parse('2026-01-01T00:00:00.000Z'),
) {
  const seeded = Array.from({ length: n }, (_, i) => ({
    '@odata.type': '#microsoft.graph.threatAssessmentResult',
    id: randomUUID(),
    createdDateTime: new Date(start + i * 1000).toISOString(),
    resultType: 'rescan',
    message: `verdict ${i}`,
  }));
  await insertResults(
    db,
    who.tenantId,
    seeded.map((r) => ({ ...r, requestId })),
  );
  return seeded;
}

describe('OData query options', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const ids = (body: { value: { id: string }[] }) => body.value.map((item) => item.id);
  const newest = (rows: SeededRequest[]) => [...rows].reverse();
  /** Every 400 here is a read: nothing may have been written either. */
  const expectQueryError = async (path: string, who: TestIdentity, code: string, message?: RegExp) => {
    const requests = await countRows(t.db, 'threat_assessment_requests', who.tenantId);
    const results = await countRows(t.db, 'threat_assessment_results', who.tenantId);
    const res = await t.get(path, who);
    expectGraphError(res, 400, code, message);
    expect(await countRows(t.db, 'threat_assessment_requests', who.tenantId)).toBe(requests);
    expect(await countRows(t.db, 'threat_assessment_results', who.tenantId)).toBe(results);
    return res;
  };

  describe('option names', () => {
    it.each(['$top=2', '$TOP=2', '$Top=2', 'top=2', 'TOP=2', '%24top=2', '%24TOP=2', '%24Top=2'])(
      'reads %s as $top',
      async (option) => {
        const tenant = await newTenant();
        const rows = await seedRequests(t.db, tenant, 3);
        const res = await t.get(`${REQUESTS}?${option}`, tenant);
        expect(res.status, res.text).toBe(200);
        expect(res.body).toEqual({
          '@odata.context': CONTEXT,
          '@odata.nextLink': expect.stringMatching(new RegExp(`^${PUBLIC_BASE.replace(/\./g, '\\.')}/v1\\.0/`)),
          value: newest(rows).slice(0, 2),
        });
      },
    );

    it.each(['$orderby', '$OrderBy', 'orderby', '%24orderby', '%24ORDERBY'])('reads %s as $orderby', async (name) => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, 3);
      const res = await t.get(`${REQUESTS}?${name}=createdDateTime%20asc`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(ids(res.body)).toEqual(rows.map((r) => r.id));
    });

    it.each(['$select', '$SELECT', 'select', '%24select'])('reads %s as $select on an item', async (name) => {
      const tenant = await newTenant();
      const [row] = await seedRequests(t.db, tenant, 1);
      const res = await t.get(`${REQUESTS}/${row.id}?${name}=url`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        '@odata.context': `${CONTEXT}(url)/$entity`,
        '@odata.type': '#microsoft.graph.urlAssessmentRequest',
        id: row.id,
        url: row.url,
      });
    });

    it('ignores parameters that are not OData options', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, 2);
      const res = await t.get(`${REQUESTS}?api-version=2&foo=bar`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ '@odata.context': CONTEXT, value: newest(rows) });
      const item = await t.get(`${REQUESTS}/${rows[0].id}?foo=bar`, tenant);
      expect(item.status, item.text).toBe(200);
      const count = await t.get(`${REQUESTS}/$count?foo=bar`, tenant);
      expect(count.text).toBe('2');
    });

    it.each([
      ['$foo=1', /\$foo/],
      ['$levels=2', /levels/],
      ['$unknownOption', /\$unknownOption/],
    ])('answers 400 for the unknown or unsupported option %s', async (option, message) => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, 1);
      const res = await t.get(`${REQUESTS}?${option}`, tenant);
      expect(res.status).toBe(400);
      expect(['invalidRequest', 'notSupported']).toContain(res.body.error.code);
      await expectQueryError(`${REQUESTS}?${option}`, tenant, res.body.error.code as string, message);
    });

    it.each([
      ['$top=1&$top=2'],
      ['$top=1&top=2'],
      ['$top=1&%24TOP=2'],
      ['$select=id&$select=url'],
      ['$orderby=createdDateTime&$OrderBy=createdDateTime'],
    ])('answers 400 for a repeated option: %s', async (query) => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, 2);
      await expectQueryError(`${REQUESTS}?${query}`, tenant, 'invalidRequest', /more than once/);
    });

    it('answers 400 for collection options on an item', async () => {
      const tenant = await newTenant();
      const [row] = await seedRequests(t.db, tenant, 1);
      await expectQueryError(`${REQUESTS}/${row.id}?$top=1`, tenant, 'invalidRequest', /\$top/);
      await expectQueryError(`${REQUESTS}/${row.id}?$orderby=createdDateTime`, tenant, 'invalidRequest', /orderby/);
      await expectQueryError(`${REQUESTS}/${row.id}?$count=true`, tenant, 'invalidRequest', /count/);
    });
  });

  describe('$top', () => {
    it('defaults to 100 items a page', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, 101);
      const res = await t.get(REQUESTS, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body.value).toHaveLength(100);
      expect(res.body.value).toEqual(newest(rows).slice(0, 100));
      expect(res.body['@odata.nextLink']).toEqual(expect.stringContaining('$skiptoken='));
    });

    it('accepts 1 and 999, with a next link only while items remain', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, 3);
      const one = await t.get(`${REQUESTS}?$top=1`, tenant);
      expect(one.status, one.text).toBe(200);
      expect(one.body.value).toEqual([rows[2]]);
      expect(one.body['@odata.nextLink']).toBeTypeOf('string');
      const most = await t.get(`${REQUESTS}?$top=999`, tenant);
      expect(most.status, most.text).toBe(200);
      expect(most.body).toEqual({ '@odata.context': CONTEXT, value: newest(rows) });
      const exact = await t.get(`${REQUESTS}?$top=3`, tenant);
      expect(exact.body).toEqual({ '@odata.context': CONTEXT, value: newest(rows) });
    });

    it.each(['0', '1000', 'abc', '-1', '1.5', '', '+5', '1e2', '99999999999'])(
      'answers 400 for $top=%s',
      async (value) => {
        const tenant = await newTenant();
        await seedRequests(t.db, tenant, 1);
        await expectQueryError(`${REQUESTS}?$top=${encodeURIComponent(value)}`, tenant, 'invalidRequest', /\$top/);
      },
    );

    it('takes any spelling of $top and answers min($top, total) items for 1..999, else 400 (property)', async () => {
      const tenant = await newTenant();
      const rows = newest(await seedRequests(t.db, tenant, 12));
      // A name: `top` in any case, with `$` plain, percent-encoded or absent, and its `t` maybe percent-encoded.
      const name = fc
        .tuple(fc.constantFrom('$', '%24', ''), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }))
        .map(
          ([prefix, flags]) =>
            prefix + (flags[3] ? '%74' : flags[0] ? 'T' : 't') + (flags[1] ? 'O' : 'o') + (flags[2] ? 'P' : 'p'),
        );
      await fc.assert(
        fc.asyncProperty(name, fc.integer({ min: -5, max: 1100 }), async (option, top) => {
          const res = await t.get(`${REQUESTS}?${option}=${top}`, tenant);
          if (top < 1 || top > 999) {
            expectGraphError(res, 400, 'invalidRequest', /\$top/);
            return;
          }
          expect(res.status, res.text).toBe(200);
          expect(ids(res.body)).toEqual(rows.slice(0, top).map((r) => r.id));
          expect('@odata.nextLink' in res.body).toBe(top < rows.length);
        }),
        { numRuns: 60 },
      );
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(12);
    });

    it('bounds $top on the results list too', async () => {
      const tenant = await newTenant();
      const [request] = await seedRequests(t.db, tenant, 1);
      const results = await seedResults(t.db, tenant, request.id, 3);
      const res = await t.get(`${REQUESTS}/${request.id}/results?$top=2`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body.value).toEqual(results.slice(0, 2));
      await expectQueryError(`${REQUESTS}/${request.id}/results?$top=0`, tenant, 'invalidRequest', /\$top/);
      await expectQueryError(`${REQUESTS}/${request.id}/results?$top=1000`, tenant, 'invalidRequest', /\$top/);
    });
  });

  describe('$orderby', () => {
    it('lists requests newest first by default, and as asked with asc or desc', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, 5);
      const byDefault = await t.get(REQUESTS, tenant);
      expect(byDefault.body).toEqual({ '@odata.context': CONTEXT, value: newest(rows) });
      const asc = await t.get(`${REQUESTS}?$orderby=createdDateTime asc`, tenant);
      expect(asc.body).toEqual({ '@odata.context': CONTEXT, value: rows });
      const desc = await t.get(`${REQUESTS}?$orderby=createdDateTime%20desc`, tenant);
      expect(desc.body).toEqual({ '@odata.context': CONTEXT, value: newest(rows) });
      // OData's default direction is ascending.
      const bare = await t.get(`${REQUESTS}?$orderby=createdDateTime`, tenant);
      expect(ids(bare.body)).toEqual(rows.map((r) => r.id));
      const cased = await t.get(`${REQUESTS}?$orderby=CreatedDateTime+DESC`, tenant);
      expect(ids(cased.body)).toEqual(newest(rows).map((r) => r.id));
    });

    it('lists results oldest first by default, and newest first with desc', async () => {
      const tenant = await newTenant();
      const [request] = await seedRequests(t.db, tenant, 1);
      const results = await seedResults(t.db, tenant, request.id, 4);
      const context = `${PUBLIC_BASE}/v1.0/$metadata#informationProtection/threatAssessmentRequests('${request.id}')/results`;
      const byDefault = await t.get(`${REQUESTS}/${request.id}/results`, tenant);
      expect(byDefault.body).toEqual({ '@odata.context': context, value: results });
      const desc = await t.get(`${REQUESTS}/${request.id}/results?$orderby=createdDateTime desc`, tenant);
      expect(desc.body).toEqual({ '@odata.context': context, value: [...results].reverse() });
    });

    it.each([
      'createdDateTime sideways',
      'category',
      'id desc',
      'createdDateTime asc,id desc',
      'createdDateTimeasc',
      '',
    ])('answers 400 for $orderby=%s, saying what is supported', async (value) => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, 1);
      await expectQueryError(
        `${REQUESTS}?$orderby=${encodeURIComponent(value)}`,
        tenant,
        'invalidRequest',
        /createdDateTime/,
      );
    });
  });

  describe('$select', () => {
    it('keeps @odata.type, id and the selected properties on every listed item', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, 2);
      const res = await t.get(`${REQUESTS}?$select=url, createdDateTime`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        '@odata.context': `${CONTEXT}(url,createdDateTime)`,
        value: newest(rows).map((r) => ({
          '@odata.type': r['@odata.type'],
          id: r.id,
          url: r.url,
          createdDateTime: r.createdDateTime,
        })),
      });
    });

    it('treats * as every property', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, 1);
      const res = await t.get(`${REQUESTS}?$select=*`, tenant);
      expect(res.body).toEqual({ '@odata.context': CONTEXT, value: rows });
    });

    it('selects on the results list', async () => {
      const tenant = await newTenant();
      const [request] = await seedRequests(t.db, tenant, 1);
      const results = await seedResults(t.db, tenant, request.id, 2);
      const res = await t.get(`${REQUESTS}/${request.id}/results?$select=resultType`, tenant);
      expect(res.body).toEqual({
        '@odata.context': `${PUBLIC_BASE}/v1.0/$metadata#informationProtection/threatAssessmentRequests('${request.id}')/results(resultType)`,
        value: results.map((r) => ({ '@odata.type': r['@odata.type'], id: r.id, resultType: r.resultType })),
      });
    });

    it.each([
      ['severity', /'severity'/],
      ['url,severity', /'severity'/],
      ['results', /'results'/],
      ['url,', /empty/],
      ['', /empty/],
    ])('answers 400 naming the property for $select=%s on the requests list', async (value, message) => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, 1);
      await expectQueryError(`${REQUESTS}?$select=${encodeURIComponent(value)}`, tenant, 'invalidRequest', message);
    });

    it('answers 400 naming the property on an item and on the results list', async () => {
      const tenant = await newTenant();
      const [request] = await seedRequests(t.db, tenant, 1);
      await expectQueryError(`${REQUESTS}/${request.id}?$select=nope`, tenant, 'invalidRequest', /'nope'/);
      await expectQueryError(`${REQUESTS}/${request.id}/results?$select=url`, tenant, 'invalidRequest', /'url'/);
    });
  });

  describe('$expand', () => {
    it('expands results on the requests list, oldest first per request', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, 2);
      const results = await seedResults(t.db, tenant, rows[0].id, 2);
      const res = await t.get(`${REQUESTS}?$expand=results`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        '@odata.context': `${CONTEXT}(results())`,
        value: [
          { ...rows[1], results: [] },
          { ...rows[0], results },
        ],
      });
    });

    it.each([
      ['createdBy', /'createdBy'/],
      ['results,nope', /'nope'/],
      ['', /results/],
    ])('answers 400 on the requests list for $expand=%s', async (value, message) => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, 1);
      await expectQueryError(`${REQUESTS}?$expand=${encodeURIComponent(value)}`, tenant, 'invalidRequest', message);
    });

    it('answers 400 for $expand on an item other than results, and for any $expand on the results list', async () => {
      const tenant = await newTenant();
      const [request] = await seedRequests(t.db, tenant, 1);
      await expectQueryError(`${REQUESTS}/${request.id}?$expand=createdBy`, tenant, 'invalidRequest', /expand/);
      await expectQueryError(`${REQUESTS}/${request.id}/results?$expand=results`, tenant, 'invalidRequest', /expand/);
      await expectQueryError(`${REQUESTS}/${request.id}/results?$expand=request`, tenant, 'invalidRequest', /expand/);
    });
  });

  describe('$count', () => {
    it('adds @odata.count, the tenant’s total, with $count=true only', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, 3);
      await seedRequests(t.db, await newTenant(), 2);
      const counted = await t.get(`${REQUESTS}?$count=true&$top=1`, tenant);
      expect(counted.status, counted.text).toBe(200);
      expect(counted.body).toEqual({
        '@odata.context': CONTEXT,
        '@odata.count': 3,
        '@odata.nextLink': expect.any(String),
        value: [rows[2]],
      });
      const upper = await t.get(`${REQUESTS}?$count=TRUE`, tenant);
      expect(upper.body['@odata.count']).toBe(3);
      const off = await t.get(`${REQUESTS}?$count=false`, tenant);
      expect(off.body).toEqual({ '@odata.context': CONTEXT, value: newest(rows) });
      const none = await t.get(`${REQUESTS}?$count=true`, await newTenant());
      expect(none.body).toEqual({ '@odata.context': CONTEXT, '@odata.count': 0, value: [] });
    });

    it('adds @odata.count on the results list', async () => {
      const tenant = await newTenant();
      const [request] = await seedRequests(t.db, tenant, 1);
      await seedResults(t.db, tenant, request.id, 3);
      const res = await t.get(`${REQUESTS}/${request.id}/results?$count=true&$top=2`, tenant);
      expect(res.body['@odata.count']).toBe(3);
      expect(res.body.value).toHaveLength(2);
    });

    it.each(['maybe', '1', 'yes', ''])('answers 400 for $count=%s', async (value) => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, 1);
      await expectQueryError(`${REQUESTS}?$count=${value}`, tenant, 'invalidRequest', /\$count/);
    });
  });

  describe('$search, $filter and $skip', () => {
    it('answers 400 notSupported for $search on every route', async () => {
      const tenant = await newTenant();
      const [request] = await seedRequests(t.db, tenant, 1);
      for (const path of [
        `${REQUESTS}?$search="phish"`,
        `${REQUESTS}?search=phish`,
        `${REQUESTS}?%24SEARCH=phish`,
        `${REQUESTS}/$count?$search=phish`,
        `${REQUESTS}/${request.id}?$search=phish`,
        `${REQUESTS}/${request.id}/results?$search=phish`,
      ]) {
        await expectQueryError(path, tenant, 'notSupported', /\$search/);
      }
    });

    it('answers 400 for an empty $filter', async () => {
      const tenant = await newTenant();
      const [request] = await seedRequests(t.db, tenant, 1);
      await expectQueryError(`${REQUESTS}?$filter=`, tenant, 'invalidRequest', /filter/);
      await expectQueryError(`${REQUESTS}?$filter=%20%20`, tenant, 'invalidRequest', /filter/);
      await expectQueryError(`${REQUESTS}/${request.id}/results?$filter=`, tenant, 'invalidRequest', /filter/);
    });

    it('skips the first $skip items in the chosen order', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, 5);
      const res = await t.get(`${REQUESTS}?$skip=2`, tenant);
      expect(res.body).toEqual({ '@odata.context': CONTEXT, value: newest(rows).slice(2) });
      const asc = await t.get(`${REQUESTS}?$skip=1&$top=2&$orderby=createdDateTime asc`, tenant);
      expect(asc.body.value).toEqual(rows.slice(1, 3));
      expect(asc.body['@odata.nextLink']).toBeTypeOf('string');
      const past = await t.get(`${REQUESTS}?$skip=5&$count=true`, tenant);
      expect(past.body).toEqual({ '@odata.context': CONTEXT, '@odata.count': 5, value: [] });
      const zero = await t.get(`${REQUESTS}?$skip=0`, tenant);
      expect(zero.body.value).toEqual(newest(rows));
    });

    it.each(['-1', 'abc', '1.5', '100001'])('answers 400 for $skip=%s', async (value) => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, 1);
      await expectQueryError(`${REQUESTS}?$skip=${value}`, tenant, 'invalidRequest', /\$skip/);
    });

    it('accepts $format=json and answers 400 notSupported for other formats', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, 1);
      const res = await t.get(`${REQUESTS}?$format=json`, tenant);
      expect(res.body).toEqual({ '@odata.context': CONTEXT, value: rows });
      await expectQueryError(`${REQUESTS}?$format=xml`, tenant, 'notSupported', /xml/);
    });
  });

  it('keeps requests of other tenants out of every list', async () => {
    const tenant = await newTenant();
    const other = await newTenant();
    const mine = await seedRequests(t.db, tenant, 2);
    await seedRequests(t.db, other, 3);
    const created = await t.http.post(REQUESTS).set('authorization', `Bearer ${other.token}`).send(URL_REQUEST);
    expect(created.status).toBe(201);
    const res = await t.get(`${REQUESTS}?$count=true`, tenant);
    expect(res.body).toEqual({ '@odata.context': CONTEXT, '@odata.count': 2, value: newest(mine) });
  });
});
