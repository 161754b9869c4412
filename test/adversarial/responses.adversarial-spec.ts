import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture } from './support/api.js';
import { MAX_RESPONSE_BYTES, PUBLIC_BASE_URL, requestsPath, VERSIONS } from './support/constants.js';
import { expectAnswer } from './support/envelope.js';
import { holds } from './support/properties.js';
import { classOfInputs } from './support/suite.js';
import { newTenant, type Tenant } from './support/tokens.js';

/** Results seeded per request: more than any page the service should answer in one go. */
const SEEDED_RESULTS = 300;
const MESSAGE_BYTES = 1000;
const REQUESTS_WITH_RESULTS = 5;

interface Page {
  value?: { id: string }[];
  results?: { id: string }[];
  '@odata.nextLink'?: string;
  'results@odata.nextLink'?: string;
}

/**
 * Issue point 5: every response is bounded. A request with hundreds of results (seeded in SQL: the
 * API would take as long as its throttle allows) answers $expand=results with a bounded page and a
 * results@odata.nextLink that leads to the rest; no read of the seeded data exceeds 1 MB.
 */
describe('(f) responses are bounded', () => {
  const { ctx, figures, client } = classOfInputs('responses', '(f) responses');
  let tenant: Tenant;
  let requestIds: string[];
  let db: pg.Pool;

  beforeAll(async () => {
    tenant = await newTenant();
    requestIds = [];
    for (let i = 0; i < REQUESTS_WITH_RESULTS; i++) requestIds.push((await createFixture(client, tenant)).requestId);
    db = new pg.Pool({ connectionString: ctx.databaseUrl, max: 2, application_name: 'adversarial-tests' });
    // One result each came through the API (the fixture); the rest straight into the table, a millisecond apart.
    await db.query(
      `INSERT INTO threat_assessment_results (id, tenant_id, request_id, created_date_time, result_type, message)
       SELECT gen_random_uuid(), $1, r, now() + i * interval '1 ms', 'rescan', lpad(i::text, $3, 'x')
       FROM unnest($2::uuid[]) AS r, generate_series(2, $4) AS i`,
      [tenant.tenantId, requestIds, MESSAGE_BYTES, SEEDED_RESULTS],
    );
  });
  afterAll(async () => {
    await db?.end();
  });

  const local = (link: string) => {
    if (!link.startsWith(`${PUBLIC_BASE_URL}/`)) throw new Error(`a link not under PUBLIC_BASE_URL: ${link}`);
    return link.slice(PUBLIC_BASE_URL.length);
  };

  it(`GET a request with $expand=results answers a bounded page of its ${SEEDED_RESULTS} results and a results@odata.nextLink that leads to all of them`, async () => {
    const first = await client.call(
      'GET',
      `${requestsPath()}/${requestIds[0]}?$expand=results`,
      { token: tenant.token },
      'GET $expand=results',
    );
    expectAnswer(first, 'GET a request with $expand=results', {
      statuses: [200],
      maxMs: 2000,
      maxBytes: MAX_RESPONSE_BYTES,
    });
    const body = first.json as Page;
    const results = body.results ?? [];
    figures.data.extra.expandFirstPage = {
      results: results.length,
      bytes: first.body.length,
      nextLink: body['results@odata.nextLink'] ?? null,
    };
    expect(results.length, `all ${results.length} results in one answer of ${first.body.length} bytes`).toBeLessThan(
      SEEDED_RESULTS,
    );
    expect(body['results@odata.nextLink'], 'results@odata.nextLink').toEqual(expect.stringMatching(/^https:\/\//));
    // Follow the links as a client would, at most 50 pages: every result exactly once.
    const seen = results.map((r) => r.id);
    let next = body['results@odata.nextLink'];
    for (let page = 0; next && page < 50; page++) {
      const answer = await client.call('GET', local(next), { token: tenant.token }, 'GET results@odata.nextLink');
      expectAnswer(answer, `GET ${next}`, { statuses: [200], maxMs: 2000, maxBytes: MAX_RESPONSE_BYTES });
      const json = answer.json as Page;
      seen.push(...(json.value ?? json.results ?? []).map((r) => r.id));
      next = json['@odata.nextLink'] ?? json['results@odata.nextLink'];
    }
    expect(new Set(seen).size, 'distinct results reached').toBe(SEEDED_RESULTS);
    expect(seen.length, 'results reached, repeats included').toBe(SEEDED_RESULTS);
  });

  it('GET the list with $expand=results&$top=999 stays under 1 MB, each request with a bounded page of results and its next link', async () => {
    const answer = await client.call(
      'GET',
      `${requestsPath()}?$expand=results&$top=999`,
      { token: tenant.token },
      'GET list $expand=results&$top=999',
    );
    figures.data.extra.expandList = { bytes: answer.body.length, status: answer.status };
    expectAnswer(answer, 'GET the list with $expand=results&$top=999', {
      statuses: [200],
      maxMs: 2000,
      maxBytes: MAX_RESPONSE_BYTES,
    });
    const items = ((answer.json as Page).value ?? []) as Page[];
    expect(items.length).toBe(REQUESTS_WITH_RESULTS);
    for (const item of items) {
      expect(item.results?.length ?? 0, 'results of one listed request').toBeLessThan(SEEDED_RESULTS);
      expect(item['results@odata.nextLink'], 'results@odata.nextLink of a listed request').toEqual(
        expect.stringMatching(/^https:\/\//),
      );
    }
  });

  it('every read of the seeded data, whatever $top, $select, $expand and $filter, answers under 1 MB within 2 s', async () => {
    await holds(
      figures,
      'bounded reads of seeded data',
      fc.record({
        route: fc.constantFrom('list requests', 'get request', 'list results', 'get result', 'count results'),
        top: fc.option(fc.integer({ min: 1, max: 999 })),
        select: fc.option(fc.subarray(['id', 'status', 'createdDateTime', 'message', 'resultType'], { minLength: 1 })),
        expand: fc.boolean(),
        filter: fc.option(
          fc.constantFrom("resultType eq 'rescan'", "status eq 'completed'", 'createdDateTime gt 2000-01-01T00:00:00Z'),
        ),
        pick: fc.nat(),
        version: fc.constantFrom(...VERSIONS),
      }),
      async ({ route, top, select, expand, filter, pick, version }) => {
        const id = requestIds[pick % requestIds.length];
        const base = requestsPath(version);
        const path = {
          'list requests': base,
          'get request': `${base}/${id}`,
          'list results': `${base}/${id}/results`,
          'get result': `${base}/${id}/results/${id}`,
          'count results': `${base}/${id}/results/$count`,
        }[route];
        const options = [
          top !== null ? `$top=${top}` : '',
          select ? `$select=${select.join(',')}` : '',
          expand ? '$expand=results' : '',
          filter ? `$filter=${encodeURIComponent(filter)}` : '',
        ].filter(Boolean);
        const target = options.length ? `${path}?${options.join('&')}` : path;
        const what = `GET ${target}`;
        const answer = await client.call('GET', target, { token: tenant.token }, what);
        // 400 for an option the route does not take, 404 for a result id that is a request's.
        expectAnswer(answer, what, { statuses: [200, 400, 404], maxMs: 2000, maxBytes: MAX_RESPONSE_BYTES });
      },
      { numRuns: 300, maxMs: 40_000 },
    );
  });
});
