import { randomUUID } from 'node:crypto';
import { Client, PageIterator, type Context, type Middleware } from '@microsoft/microsoft-graph-client';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RequestKind } from '../../src/threat-assessment/request-types.js';
import { expectGraphError } from '../support/graph.js';
import { insertRequests, insertResults } from '../support/seed.js';
import { PUBLIC_BASE, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

const CONTEXT = `${PUBLIC_BASE}/v1.0/$metadata#informationProtection/threatAssessmentRequests`;

interface SeedRequest {
  label: string;
  kind: RequestKind;
  category: string;
  expectedAssessment: string;
  status: string;
  requestSource: string;
  createdDateTime: string;
}

interface Seeded extends SeedRequest {
  id: string;
}

/**
 * Inserts requests directly, in one statement: the filter is about reading, and only SQL can set the
 * instant, the status and a requestSource other than 'administrator'.
 */
async function seedRequests(db: pg.Pool, tenantId: string, rows: readonly SeedRequest[]): Promise<Seeded[]> {
  const seeded = rows.map((row) => ({ ...row, id: randomUUID() }));
  await insertRequests(
    db,
    tenantId,
    seeded.map((row) => ({
      ...row,
      createdBy: { user: { id: randomUUID(), displayName: 'Seeder' } },
      url: `http://${row.label}.test`,
      fileName: `${row.label}.txt`,
    })),
  );
  return seeded;
}

interface SeedResult {
  label: string;
  resultType: string;
  createdDateTime: string;
}

async function seedResults(db: pg.Pool, tenantId: string, requestId: string, rows: readonly SeedResult[]) {
  const seeded = rows.map((row) => ({ ...row, id: randomUUID() }));
  await insertResults(
    db,
    tenantId,
    seeded.map((row) => ({ ...row, requestId, message: `verdict ${row.label}` })),
  );
  return seeded;
}

const seed = (
  label: string,
  kind: RequestKind,
  category: string,
  expectedAssessment: string,
  status: string,
  requestSource: string,
  createdDateTime: string,
): SeedRequest => ({ label, kind, category, expectedAssessment, status, requestSource, createdDateTime });

/**
 * Eight requests without two at the same instant, so that every expected list below is in one order.
 * Newest first (the default order): u3, f2, e1, u1, m2, m1, f1, u2.
 */
const FIXTURE: readonly SeedRequest[] = [
  seed('m1', 'mailAssessmentRequest', 'spam', 'block', 'pending', 'administrator', '2025-12-31T23:59:59.999Z'),
  seed('m2', 'mailAssessmentRequest', 'phishing', 'unblock', 'completed', 'user', '2026-01-01T00:00:00.000Z'),
  seed('e1', 'emailFileAssessmentRequest', 'spam', 'block', 'completed', 'administrator', '2026-02-01T10:00:00.000Z'),
  seed('f1', 'fileAssessmentRequest', 'malware', 'block', 'pending', 'undefined', '2025-06-01T00:00:00.000Z'),
  seed('f2', 'fileAssessmentRequest', 'spam', 'unblock', 'pending', 'user', '2026-03-15T12:30:00.500Z'),
  seed('u1', 'urlAssessmentRequest', 'phishing', 'block', 'pending', 'administrator', '2026-01-01T00:00:00.001Z'),
  seed('u2', 'urlAssessmentRequest', 'spam', 'block', 'completed', 'administrator', '2024-11-29T08:00:00.000Z'),
  seed('u3', 'urlAssessmentRequest', 'unknownFutureValue', 'unblock', 'pending', 'user', '2026-04-01T00:00:00.000Z'),
];

/** Results of m1, oldest first (their default order). */
const RESULTS_FIXTURE: readonly SeedResult[] = [
  { label: 'r1', resultType: 'checkPolicy', createdDateTime: '2026-01-02T00:00:00.000Z' },
  { label: 'r2', resultType: 'rescan', createdDateTime: '2026-01-03T00:00:00.000Z' },
  { label: 'r3', resultType: 'rescan', createdDateTime: '2026-01-03T00:00:00.001Z' },
  { label: 'r4', resultType: 'unknownFutureValue', createdDateTime: '2026-01-04T00:00:00.000Z' },
];

type Item = Record<string, unknown> & { id: string };
interface Collection {
  '@odata.context': string;
  '@odata.count'?: number;
  '@odata.nextLink'?: string;
  value: Item[];
}

/** What `fetch` puts on the wire for a URL the Graph SDK built: spaces as %20, quotes as %27. */
const graphEncode = (filter: string) => encodeURIComponent(filter).replaceAll("'", '%27');

/** The path and query of an absolute link, to replay against the test server. */
const pathOf = (link: string) => {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
};

describe('$filter', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  /** A fresh tenant holding FIXTURE, and m1's results. */
  async function fixture() {
    const tenant = await newTenant();
    const requests = await seedRequests(t.db, tenant.tenantId, FIXTURE);
    const m1 = requests.find((r) => r.label === 'm1')!;
    const results = await seedResults(t.db, tenant.tenantId, m1.id, RESULTS_FIXTURE);
    const labelOf = new Map([...requests, ...results].map((row) => [row.id, row.label]));
    const byLabel = new Map([...requests, ...results].map((row) => [row.label, row]));
    return {
      tenant,
      m1,
      /** The labels of a collection's items, in the order answered. */
      labels: (body: Collection) => body.value.map((item) => labelOf.get(item.id) ?? `?${item.id}`),
      idOf: (label: string) => byLabel.get(label)!.id,
    };
  }

  const list = async (path: string, who: TestIdentity): Promise<Collection> => {
    const res = await t.get(path, who);
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    return res.body as Collection;
  };

  const count = async (path: string, who: TestIdentity): Promise<number> => {
    const res = await t.get(path, who);
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.text).toMatch(/^(0|[1-9]\d*)$/);
    return Number(res.text);
  };

  describe('GET …/threatAssessmentRequests?$filter=…', () => {
    it.each([
      ["contentType eq 'mail'", ['e1', 'm2', 'm1']],
      ["contentType in ('mail','url')", ['u3', 'e1', 'u1', 'm2', 'm1', 'u2']],
      ["contentType in ('file')", ['f2', 'f1']],
      ["status ne 'completed' and category eq 'spam'", ['f2', 'm1']],
      ["not (contentType eq 'mail' or status eq 'completed')", ['u3', 'f2', 'u1', 'f1']],
      ["not contentType eq 'url'", ['f2', 'e1', 'm2', 'm1', 'f1']],
      ["not not contentType eq 'url'", ['u3', 'u1', 'u2']],
      ["requestSource eq 'undefined' or expectedAssessment eq 'unblock'", ['u3', 'f2', 'm2', 'f1']],
      ["category eq 'unknownFutureValue'", ['u3']],
      // and binds tighter than or; parentheses override it.
      ["contentType eq 'file' or contentType eq 'url' and category eq 'spam'", ['f2', 'f1', 'u2']],
      ["(contentType eq 'file' or contentType eq 'url') and category eq 'spam'", ['f2', 'u2']],
      [
        "(contentType eq 'file' or contentType eq 'url') and (category eq 'spam' or category eq 'phishing')",
        ['f2', 'u1', 'u2'],
      ],
      // Keywords in any case, no space around quotes and parentheses.
      ["contentType EQ 'url' AND NOT status Eq 'completed'", ['u3', 'u1']],
      ["contentType eq'mail'and(status eq'pending')", ['m1']],
      ["  category eq 'spam'  ", ['f2', 'e1', 'm1', 'u2']],
      // Date-times are unquoted, Graph-style; a quoted one is read the same way.
      ['createdDateTime ge 2026-01-01T00:00:00Z', ['u3', 'f2', 'e1', 'u1', 'm2']],
      ["createdDateTime ge '2026-01-01T00:00:00Z'", ['u3', 'f2', 'e1', 'u1', 'm2']],
      ['createdDateTime gt 2026-01-01T00:00:00Z', ['u3', 'f2', 'e1', 'u1']],
      ['createdDateTime lt 2026-01-01T00:00:00Z', ['m1', 'f1', 'u2']],
      ['createdDateTime le 2026-01-01T00:00:00.000Z', ['m2', 'm1', 'f1', 'u2']],
      ['createdDateTime eq 2026-01-01T00:00:00.001Z', ['u1']],
      [
        'createdDateTime ne 2026-01-01T00:00:00.001Z and createdDateTime ge 2026-01-01T00:00Z',
        ['u3', 'f2', 'e1', 'm2'],
      ],
      ['createdDateTime gt 2026-01-01T01:00:00+01:00', ['u3', 'f2', 'e1', 'u1']],
      ['createdDateTime lt 2025-12-31t18:59:59.999-05:00', ['f1', 'u2']],
      // Finer than the stored milliseconds: compared exactly, never rounded.
      ['createdDateTime eq 2025-12-31T23:59:59.9990000Z', ['m1']],
      ['createdDateTime eq 2025-12-31T23:59:59.9995Z', []],
      ['createdDateTime ne 2025-12-31T23:59:59.9995Z', ['u3', 'f2', 'e1', 'u1', 'm2', 'm1', 'f1', 'u2']],
      ['createdDateTime le 2025-12-31T23:59:59.9995Z', ['m1', 'f1', 'u2']],
      ['createdDateTime gt 2025-12-31T23:59:59.9995Z', ['u3', 'f2', 'e1', 'u1', 'm2']],
      ['createdDateTime ge 2025-12-31T23:59:59.999000000001Z', ['u3', 'f2', 'e1', 'u1', 'm2']],
      // Far instants still reach PostgreSQL as valid timestamps.
      ['createdDateTime gt 0001-01-01T00:00:00+23:59', ['u3', 'f2', 'e1', 'u1', 'm2', 'm1', 'f1', 'u2']],
      ['createdDateTime lt 9999-12-31T23:59:59.999-23:59', ['u3', 'f2', 'e1', 'u1', 'm2', 'm1', 'f1', 'u2']],
      ["isof('microsoft.graph.urlAssessmentRequest')", ['u3', 'u1', 'u2']],
      ["isof('#microsoft.graph.urlAssessmentRequest')", ['u3', 'u1', 'u2']],
      ['isof(microsoft.graph.urlAssessmentRequest)', ['u3', 'u1', 'u2']],
      ["ISOF('microsoft.graph.emailFileAssessmentRequest')", ['e1']],
      [
        "isof('microsoft.graph.mailAssessmentRequest') or isof('microsoft.graph.fileAssessmentRequest') and category eq 'spam'",
        ['f2', 'm2', 'm1'],
      ],
      [
        "not isof('microsoft.graph.urlAssessmentRequest') and createdDateTime lt 2026-01-01T00:00:00.001Z",
        ['m2', 'm1', 'f1'],
      ],
    ])('answers and counts the requests matching %s', async (filter, expected) => {
      const { tenant, labels } = await fixture();
      const body = await list(`${REQUESTS}?$filter=${encodeURIComponent(filter)}`, tenant);
      expect(labels(body)).toEqual(expected);
      expect(Object.keys(body)).toEqual(['@odata.context', 'value']);
      expect(body['@odata.context']).toBe(CONTEXT);
      expect(await count(`${REQUESTS}/$count?$filter=${encodeURIComponent(filter)}`, tenant)).toBe(expected.length);
    });

    it('answers whole items, and sees only the caller’s tenant', async () => {
      const { tenant, labels, idOf } = await fixture();
      const other = await newTenant();
      await seedRequests(t.db, other.tenantId, FIXTURE);
      const body = await list(
        `${REQUESTS}?$filter=${encodeURIComponent("isof('microsoft.graph.fileAssessmentRequest') or category eq 'phishing'")}`,
        tenant,
      );
      expect(labels(body)).toEqual(['f2', 'u1', 'm2', 'f1']);
      expect(body.value[0]).toEqual({
        '@odata.type': '#microsoft.graph.fileAssessmentRequest',
        id: idOf('f2'),
        createdDateTime: '2026-03-15T12:30:00.500Z',
        contentType: 'file',
        expectedAssessment: 'unblock',
        category: 'spam',
        status: 'pending',
        requestSource: 'user',
        createdBy: { user: { id: expect.any(String), displayName: 'Seeder' } },
        fileName: 'f2.txt',
        contentData: '',
      });
    });

    it('reads filters percent-encoded as the Graph SDK sends them, and $ names encoded too', async () => {
      const { tenant, labels } = await fixture();
      const cases: [string, string[]][] = [
        ["contentType eq 'mail'", ['e1', 'm2', 'm1']],
        ["contentType in ('mail','url')", ['u3', 'e1', 'u1', 'm2', 'm1', 'u2']],
        ["status ne 'completed' and category eq 'spam'", ['f2', 'm1']],
        ['createdDateTime ge 2026-01-01T00:00:00Z', ['u3', 'f2', 'e1', 'u1', 'm2']],
        ["isof('#microsoft.graph.urlAssessmentRequest')", ['u3', 'u1', 'u2']],
      ];
      for (const [filter, expected] of cases) {
        expect(labels(await list(`${REQUESTS}?$filter=${graphEncode(filter)}`, tenant)), filter).toEqual(expected);
        expect(labels(await list(`${REQUESTS}?%24filter=${graphEncode(filter)}`, tenant)), filter).toEqual(expected);
        expect(labels(await list(`${REQUESTS}?$FILTER=${graphEncode(filter)}`, tenant)), filter).toEqual(expected);
        expect(labels(await list(`${REQUESTS}?filter=${graphEncode(filter)}`, tenant)), filter).toEqual(expected);
        // HTML forms write spaces as +.
        expect(
          labels(await list(`${REQUESTS}?$filter=${encodeURIComponent(filter).replaceAll('%20', '+')}`, tenant)),
          filter,
        ).toEqual(expected);
      }
      expect(labels(await list(`${REQUESTS}?$filter=contentType%20eq%20%27mail%27`, tenant))).toEqual([
        'e1',
        'm2',
        'm1',
      ]);
      // The + of an offset must be sent as %2B: a raw + reads as a space, as in any query string.
      expect(
        labels(await list(`${REQUESTS}?$filter=createdDateTime%20gt%202026-01-01T01:00:00%2B01:00`, tenant)),
      ).toEqual(['u3', 'f2', 'e1', 'u1']);
      expectGraphError(
        await t.get(`${REQUESTS}?$filter=createdDateTime%20gt%202026-01-01T01:00:00+01:00`, tenant),
        400,
        'invalidRequest',
        /^Invalid date-time literal at position 19; .*a '\+' in a URL reads as a space: send it as %2B$/,
      );
    });

    it('is what the Graph SDK sends, and its PageIterator walks the filtered pages', async () => {
      const { tenant, labels } = await fixture();
      const transport = new SupertestTransport(t, tenant);
      const client = Client.initWithMiddleware({ middleware: transport, baseUrl: PUBLIC_BASE, defaultVersion: 'v1.0' });
      const api = '/informationProtection/threatAssessmentRequests';

      const first = (await client
        .api(api)
        .filter("contentType in ('mail','url') and status eq 'pending'")
        .get()) as Collection;
      expect(labels(first)).toEqual(['u3', 'u1', 'm1']);
      expect(transport.paths[0]).toBe(
        `${REQUESTS}?$filter=contentType%20in%20(%27mail%27,%27url%27)%20and%20status%20eq%20%27pending%27`,
      );
      expect(await client.api(`${api}/$count`).filter("category eq 'spam'").get()).toBe('4');

      const page = (await client
        .api(api)
        .filter("not contentType eq 'file'")
        .orderby('createdDateTime asc')
        .top(2)
        .count(true)
        .get()) as Collection;
      const seen: string[] = [];
      await new PageIterator(client, page, (item) => {
        seen.push(labels({ value: [item as Item] } as Collection)[0]);
        return true;
      }).iterate();
      expect(seen).toEqual(['u2', 'm1', 'm2', 'u1', 'e1', 'u3']);
      expect(transport.paths.slice(3)).toHaveLength(2);
      for (const path of transport.paths.slice(3)) {
        expect(new URL(path, PUBLIC_BASE).searchParams.get('$filter')).toBe("not contentType eq 'file'");
      }
    });

    it('combines with $orderby, $top, $select and $count=true', async () => {
      const { tenant, labels, idOf } = await fixture();
      const filter = encodeURIComponent("category eq 'spam' or category eq 'phishing'");
      const asc = await list(`${REQUESTS}?$filter=${filter}&$orderby=createdDateTime asc&$top=3&$count=true`, tenant);
      expect(labels(asc)).toEqual(['u2', 'm1', 'm2']);
      expect(asc['@odata.count']).toBe(6);
      expect(asc['@odata.nextLink']).toMatch(
        /^https:\/\/threat-assessment\.test\/v1\.0\/informationProtection\/threatAssessmentRequests\?/,
      );

      const desc = await list(`${REQUESTS}?$filter=${filter}&$orderby=createdDateTime desc&$top=3`, tenant);
      expect(labels(desc)).toEqual(['f2', 'e1', 'u1']);

      const selected = await list(
        `${REQUESTS}?$filter=${encodeURIComponent("contentType eq 'url' and status eq 'pending'")}&$select=category,Status`,
        tenant,
      );
      expect(selected).toEqual({
        '@odata.context': `${CONTEXT}(category,status)`,
        value: [
          {
            '@odata.type': '#microsoft.graph.urlAssessmentRequest',
            id: idOf('u3'),
            category: 'unknownFutureValue',
            status: 'pending',
          },
          {
            '@odata.type': '#microsoft.graph.urlAssessmentRequest',
            id: idOf('u1'),
            category: 'phishing',
            status: 'pending',
          },
        ],
      });

      // No match still carries its count.
      const none = await list(
        `${REQUESTS}?$filter=${encodeURIComponent("category eq 'malware' and status eq 'completed'")}&$count=true`,
        tenant,
      );
      expect(none).toEqual({ '@odata.context': CONTEXT, '@odata.count': 0, value: [] });
    });

    it('combines with $expand=results, expanding only the matching requests', async () => {
      const { tenant, labels, idOf, m1 } = await fixture();
      const body = await list(
        `${REQUESTS}?$filter=${encodeURIComponent("contentType eq 'mail' and status eq 'pending'")}&$expand=results&$select=id`,
        tenant,
      );
      expect(body['@odata.context']).toBe(`${CONTEXT}(id,results())`);
      expect(labels(body)).toEqual(['m1']);
      expect(body.value[0]).toEqual({
        '@odata.type': '#microsoft.graph.mailAssessmentRequest',
        id: m1.id,
        results: RESULTS_FIXTURE.map((r) => ({
          '@odata.type': '#microsoft.graph.threatAssessmentResult',
          id: idOf(r.label),
          createdDateTime: r.createdDateTime,
          resultType: r.resultType,
          message: `verdict ${r.label}`,
        })),
      });
      const others = await list(
        `${REQUESTS}?$filter=${encodeURIComponent("contentType eq 'mail'")}&$expand=results&$select=status`,
        tenant,
      );
      expect(labels(others)).toEqual(['e1', 'm2', 'm1']);
      expect(others.value.map((item) => (item.results as unknown[]).length)).toEqual([0, 0, 4]);
    });
  });

  describe('GET …/threatAssessmentRequests/{id}/results?$filter=…', () => {
    it.each([
      ["resultType eq 'rescan'", ['r2', 'r3']],
      ["resultType ne 'rescan'", ['r1', 'r4']],
      ["resultType in ('checkPolicy','unknownFutureValue')", ['r1', 'r4']],
      ["not (resultType eq 'rescan' or resultType eq 'checkPolicy')", ['r4']],
      ["resultType eq 'rescan' and createdDateTime gt 2026-01-03T00:00:00Z", ['r3']],
      ['createdDateTime ge 2026-01-03T00:00:00.0005Z', ['r3', 'r4']],
      ['createdDateTime lt 2026-01-01T00:00:00Z', []],
    ])('answers and counts the results matching %s', async (filter, expected) => {
      const { tenant, labels, m1 } = await fixture();
      const body = await list(`${REQUESTS}/${m1.id}/results?$filter=${graphEncode(filter)}`, tenant);
      expect(labels(body)).toEqual(expected);
      expect(body['@odata.context']).toBe(`${CONTEXT}('${m1.id}')/results`);
      expect(await count(`${REQUESTS}/${m1.id}/results/$count?$filter=${graphEncode(filter)}`, tenant)).toBe(
        expected.length,
      );
    });

    it('combines with $orderby, $top, $select and $count=true, and never reaches another request’s results', async () => {
      const { tenant, labels, m1, idOf } = await fixture();
      const sibling = await seedRequests(t.db, tenant.tenantId, [{ ...FIXTURE[0], label: 'sibling' }]);
      await seedResults(t.db, tenant.tenantId, sibling[0].id, RESULTS_FIXTURE);
      const filter = graphEncode("resultType eq 'rescan' or resultType eq 'unknownFutureValue'");
      const body = await list(
        `${REQUESTS}/${m1.id}/results?$filter=${filter}&$orderby=createdDateTime desc&$top=2&$count=true&$select=resultType`,
        tenant,
      );
      expect(labels(body)).toEqual(['r4', 'r3']);
      expect(body['@odata.count']).toBe(3);
      expect(body.value[0]).toEqual({
        '@odata.type': '#microsoft.graph.threatAssessmentResult',
        id: idOf('r4'),
        resultType: 'unknownFutureValue',
      });
      const next = await list(pathOf(body['@odata.nextLink']!), tenant);
      expect(labels(next)).toEqual(['r2']);
      expect(next['@odata.nextLink']).toBeUndefined();
    });

    it('refuses isof and the requests’ properties, naming them', async () => {
      const { tenant, m1 } = await fixture();
      const results = `${REQUESTS}/${m1.id}/results`;
      expectGraphError(
        await t.get(`${results}?$filter=${graphEncode("isof('microsoft.graph.urlAssessmentRequest')")}`, tenant),
        400,
        'invalidRequest',
        /isof is not supported on this collection/,
      );
      expectGraphError(
        await t.get(`${results}/$count?$filter=${graphEncode("contentType eq 'mail'")}`, tenant),
        400,
        'invalidRequest',
        /^Unknown property 'contentType' in \$filter at position 0; filterable properties are: resultType, createdDateTime$/,
      );
      expectGraphError(
        await t.get(`${results}?$filter=${graphEncode("resultType eq 'Rescan'")}`, tenant),
        400,
        'invalidRequest',
        /did you mean 'rescan'\?/,
      );
    });

    it('answers 404 for an unknown request, listed or counted', async () => {
      const tenant = await newTenant();
      const missing = `${REQUESTS}/${randomUUID()}/results`;
      expectGraphError(
        await t.get(`${missing}?$filter=${graphEncode("resultType eq 'rescan'")}`, tenant),
        404,
        'itemNotFound',
      );
      expectGraphError(
        await t.get(`${missing}/$count?$filter=${graphEncode("resultType eq 'rescan'")}`, tenant),
        404,
        'itemNotFound',
      );
    });
  });

  describe('errors', () => {
    it.each([
      [
        "colour eq 'red'",
        /^Unknown property 'colour' in \$filter at position 0; filterable properties are: contentType, expectedAssessment, category, status, requestSource, createdDateTime$/,
      ],
      [
        "status eq 'pending' and contenttype eq 'mail'",
        /^Unknown property 'contenttype' in \$filter at position 24; did you mean 'contentType'\?$/,
      ],
      ["id eq 'x'", /Unknown property 'id'/],
      [
        "contentType eq 'mail' and",
        /^Expected a property, 'not', 'isof' or '\(' at position 25, found the end of \$filter$/,
      ],
      ['contentType eq "mail"', /^Unexpected character '"' at position 15; string literals take single quotes$/],
      ["contentType eq 'mail", /^Unterminated string literal starting at position 15$/],
      ["(contentType eq 'mail'", /^Expected '\)' at position 22$/],
      ["contentType eq 'mail')", /^Expected 'and', 'or' or the end of \$filter at position 21, found '\)'$/],
      ["contentType = 'mail'", /^Unexpected character '=' at position 12$/],
      [
        "contentType has 'mail'",
        /^Expected an operator \(eq, ne, gt, ge, lt, le or in\) after 'contentType' at position 12, found 'has'$/,
      ],
      ['contentType in ()', /^Expected a literal at position 16, found '\)'$/],
      ["startswith(category,'s')", /^Function 'startswith' is not supported in \$filter at position 0$/],
      ['category eq null', /'null' is not supported here/],
      ['category eq spam', /^Expected a literal at position 12: found 'spam'; string values take single quotes$/],
      [
        "contentType eq 'pdf'",
        /^'pdf' is not a value of 'contentType' at position 15; expected one of: mail, url, file$/,
      ],
      ["status gt 'pending'", /^'gt' is not supported on 'status' \(at position 0\)$/],
      ['createdDateTime in (2026-01-01T00:00:00Z)', /'in' is not supported on 'createdDateTime'/],
      [
        'createdDateTime ge 2026-13-01T00:00:00Z',
        /^Invalid date-time '2026-13-01T00:00:00Z' for 'createdDateTime' at position 19/,
      ],
      ['createdDateTime ge 2026-01-01', /^Invalid date-time literal at position 19/],
      [
        "isof('microsoft.graph.threatAssessmentRequest')",
        /^Unknown type 'microsoft.graph.threatAssessmentRequest' in isof at position 0/,
      ],
      ["isof('microsoft.graph.urlAssessmentRequest','x')", /isof takes a single type name/],
    ])('answers 400 invalidRequest for %j, saying where', async (filter, message) => {
      const tenant = await newTenant();
      expectGraphError(
        await t.get(`${REQUESTS}?$filter=${graphEncode(filter)}`, tenant),
        400,
        'invalidRequest',
        message,
      );
      expectGraphError(
        await t.get(`${REQUESTS}/$count?$filter=${graphEncode(filter)}`, tenant),
        400,
        'invalidRequest',
        message,
      );
    });

    it('answers 400 for an empty or repeated $filter', async () => {
      const tenant = await newTenant();
      expectGraphError(await t.get(`${REQUESTS}?$filter=`, tenant), 400, 'invalidRequest', /\$filter is empty/);
      expectGraphError(await t.get(`${REQUESTS}?$filter=%20%20`, tenant), 400, 'invalidRequest', /\$filter is empty/);
      expectGraphError(
        await t.get(
          `${REQUESTS}?$filter=${graphEncode("status eq 'pending'")}&filter=${graphEncode("status eq 'pending'")}`,
          tenant,
        ),
        400,
        'invalidRequest',
        /given more than once/,
      );
    });

    const comparisons = (n: number) => Array.from({ length: n }, () => "status eq 'pending'").join(' or ');
    const nested = (levels: number) => `${'('.repeat(levels)}contentType eq 'mail'${')'.repeat(levels)}`;
    const ofLength = (n: number) => {
      const [head, tail] = ["contentType eq 'mail'", "or status eq 'completed'"];
      return `${head}${' '.repeat(n - head.length - tail.length)}${tail}`;
    };

    it('accepts the bounds themselves: 2,048 characters, depth 10, 50 comparisons', async () => {
      const { tenant, labels } = await fixture();
      expect(ofLength(2048)).toHaveLength(2048);
      expect(labels(await list(`${REQUESTS}?$filter=${graphEncode(ofLength(2048))}`, tenant))).toEqual([
        'e1',
        'm2',
        'm1',
        'u2',
      ]);
      expect(labels(await list(`${REQUESTS}?$filter=${graphEncode(nested(10))}`, tenant))).toEqual(['e1', 'm2', 'm1']);
      expect(labels(await list(`${REQUESTS}?$filter=${graphEncode(`not ${nested(9)}`)}`, tenant))).toHaveLength(5);
      expect(await count(`${REQUESTS}/$count?$filter=${graphEncode(comparisons(50))}`, tenant)).toBe(5);
    });

    it.each([
      ['2,049 characters', ofLength(2049), /^\$filter is longer than 2048 characters$/],
      ['2,049 open parentheses', '('.repeat(2049), /longer than 2048/],
      ['depth 11', nested(11), /^\$filter nests more than 10 levels deep at position 10$/],
      ['depth 11 through not', `not ${nested(10)}`, /nests more than 10 levels deep/],
      ['2,048 open parentheses', '('.repeat(2048), /nests more than 10 levels deep/],
      ['51 comparisons', comparisons(51), /^\$filter has more than 50 comparisons; the next one is at position 1150$/],
      [
        '51 values in an in list',
        `status in (${Array.from({ length: 51 }, () => "'pending'").join(',')})`,
        /'in' takes at most 50 values/,
      ],
      ['a 4,097-character option', 'x'.repeat(4097), /longer than 4096 characters/],
    ])('refuses %s with 400 invalidRequest, fast', async (_, filter, message) => {
      const tenant = await newTenant();
      for (const path of [
        `${REQUESTS}?$filter=${graphEncode(filter)}`,
        `${REQUESTS}/$count?$filter=${graphEncode(filter)}`,
      ]) {
        const started = performance.now();
        const res = await t.get(path, tenant);
        expect(performance.now() - started).toBeLessThan(1000);
        expectGraphError(res, 400, 'invalidRequest', message);
        // The message echoes at most a short slice of the input.
        expect(res.text.length).toBeLessThan(1000);
      }
    });
  });

  describe('paging through a filter', () => {
    /**
     * 40 requests, 25 of them url; 12 of those (and 3 others) share one millisecond, so that only the
     * id can separate them.
     */
    async function pagingFixture() {
      const tenant = await newTenant();
      const shared = '2026-05-05T05:05:05.555Z';
      const rows: SeedRequest[] = Array.from({ length: 40 }, (_, i) => ({
        label: `p${i}`,
        kind:
          i < 25
            ? 'urlAssessmentRequest'
            : (['mailAssessmentRequest', 'fileAssessmentRequest', 'emailFileAssessmentRequest'] as const)[i % 3],
        category: 'spam',
        expectedAssessment: 'block',
        status: 'pending',
        requestSource: 'administrator',
        createdDateTime:
          i < 12 || (i >= 25 && i < 28) ? shared : new Date(Date.UTC(2026, 4, 1 + (i % 9), i)).toISOString(),
      }));
      const seeded = await seedRequests(t.db, tenant.tenantId, rows);
      const matching = seeded.filter((r) => r.kind === 'urlAssessmentRequest');
      const sorted = (order: 'asc' | 'desc') => {
        const ids = [...matching]
          .sort(
            (a, b) =>
              Date.parse(a.createdDateTime) - Date.parse(b.createdDateTime) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
          )
          .map((r) => r.id);
        return order === 'asc' ? ids : ids.reverse();
      };
      return { tenant, sorted };
    }

    /** Follows nextLinks from `path`; returns every id in the order seen, and the links. */
    async function walk(path: string, who: TestIdentity, top: number) {
      const ids: string[] = [];
      const links: string[] = [];
      let next: string | undefined = path;
      while (next) {
        const body = await list(next, who);
        ids.push(...body.value.map((item) => item.id));
        const link: string | undefined = body['@odata.nextLink'];
        // A link only after a full page: it means more items exist.
        expect(body.value.length).toBeLessThanOrEqual(top);
        if (link) {
          links.push(link);
          expect(body.value).toHaveLength(top);
        }
        next = link && pathOf(link);
        expect(links.length).toBeLessThan(50);
      }
      return { ids, links };
    }

    it.each([
      ['asc', 4, "contentType eq 'url'"],
      ['desc', 4, "isof('microsoft.graph.urlAssessmentRequest')"],
      ['asc', 1, "contentType in ('url') and status eq 'pending'"],
      ['desc', 5, "not (contentType eq 'mail' or contentType eq 'file')"],
      ['desc', 25, "contentType eq 'url'"],
      ['asc', 24, "contentType eq 'url'"],
    ] as const)('visits every matching item exactly once: $orderby %s, $top %i, %s', async (order, top, filter) => {
      const { tenant, sorted } = await pagingFixture();
      const { ids, links } = await walk(
        `${REQUESTS}?$filter=${graphEncode(filter)}&$orderby=createdDateTime%20${order}&$top=${top}`,
        tenant,
        top,
      );
      expect(ids).toEqual(sorted(order));
      expect(new Set(ids).size).toBe(25);
      expect(links).toHaveLength(Math.ceil(25 / top) - 1);
      for (const link of links) {
        expect(link.startsWith(`${PUBLIC_BASE}${REQUESTS}?`)).toBe(true);
        const params = new URL(link).searchParams;
        expect(params.get('$filter')).toBe(filter);
        expect(params.get('$top')).toBe(String(top));
        expect(params.get('$skiptoken')).toMatch(/^[\w-]+\.[\w-]+$/);
      }
    });

    it('keeps $count=true and $select on every page', async () => {
      const { tenant, sorted } = await pagingFixture();
      let path: string | undefined =
        `${REQUESTS}?$filter=${graphEncode("contentType eq 'url'")}&$top=10&$count=true&$select=url`;
      const ids: string[] = [];
      while (path) {
        const body = await list(path, tenant);
        expect(body['@odata.count']).toBe(25);
        for (const item of body.value) expect(Object.keys(item)).toEqual(['@odata.type', 'id', 'url']);
        ids.push(...body.value.map((item) => item.id));
        path = body['@odata.nextLink'] && pathOf(body['@odata.nextLink']);
      }
      expect(ids).toEqual(sorted('desc'));
    });

    it('carries $filter into the nextLink when an earlier parameter holds a raw ?', async () => {
      const { tenant } = await pagingFixture();
      const first = await list(`${REQUESTS}?$top=4&state=a?b&$filter=${graphEncode("contentType eq 'url'")}`, tenant);
      const link = new URL(first['@odata.nextLink']!);
      expect(link.searchParams.get('$filter')).toBe("contentType eq 'url'");
      expect((await list(pathOf(link.href), tenant)).value).toHaveLength(4);
    });

    it('writes a nextLink that is a valid URI, whatever raw characters the query held', async () => {
      // Its own app: the document says nextLink is a URI, and close() fails on every response that is not.
      const own = await startTestApp();
      try {
        const tenant = await newTenant();
        await seedRequests(own.db, tenant.tenantId, FIXTURE);
        for (const extra of ['state={a|b}', 'state=%ZZ', 'state=a^b`c']) {
          const res = await own.get(`${REQUESTS}?$top=2&${extra}`, tenant);
          expect(res.status, res.text).toBe(200);
          const link = (res.body as Collection)['@odata.nextLink']!;
          expect(link.slice(link.indexOf('?') + 1)).toMatch(/^(?:[\w\-.~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/);
        }
      } finally {
        await own.close();
      }
    });

    it('refuses a nextLink whose $filter, $orderby or tenant was changed, keeping its $skiptoken', async () => {
      const { tenant } = await pagingFixture();
      const first = await list(`${REQUESTS}?$filter=${graphEncode("contentType eq 'url'")}&$top=4`, tenant);
      const link = new URL(first['@odata.nextLink']!);
      expect(link.searchParams.get('$skiptoken')).toBeTruthy();

      const altered = (change: (params: URLSearchParams) => void) => {
        const url = new URL(link);
        change(url.searchParams);
        return `${url.pathname}${url.search}`;
      };
      const refused = [
        altered((p) => p.set('$filter', "contentType eq 'mail'")),
        altered((p) => p.set('$filter', "contentType eq 'url' or contentType eq 'mail'")),
        altered((p) => p.set('$filter', "contentType in ('url')")),
        altered((p) => p.delete('$filter')),
        altered((p) => p.set('$orderby', 'createdDateTime asc')),
      ];
      for (const path of refused) {
        expectGraphError(
          await t.get(path, tenant),
          400,
          'invalidRequest',
          /^The \$skiptoken is invalid, or does not belong to this query\.$/,
        );
      }
      expectGraphError(await t.get(pathOf(link.href), await newTenant()), 400, 'invalidRequest', /\$skiptoken/);
      // The link itself still works, and a filter added to an unfiltered link is refused too.
      expect((await list(pathOf(link.href), tenant)).value).toHaveLength(4);
      const unfiltered = await list(`${REQUESTS}?$top=4`, tenant);
      const addFilter = new URL(unfiltered['@odata.nextLink']!);
      addFilter.searchParams.set('$filter', "contentType eq 'url'");
      expectGraphError(await t.get(pathOf(addFilter.href), tenant), 400, 'invalidRequest', /\$skiptoken/);
    });
  });
});

/**
 * The Graph SDK's last hop, replaced: URLs are normalized as `fetch` would put them on the wire and
 * replayed against the test server with the tenant's token.
 */
class SupertestTransport implements Middleware {
  readonly paths: string[] = [];

  constructor(
    private readonly t: TestApp,
    private readonly who: TestIdentity,
  ) {}

  async execute(context: Context): Promise<void> {
    const url = new URL(String(context.request));
    const path = `${url.pathname}${url.search}`;
    this.paths.push(path);
    const res = await this.t.http.get(path).set('authorization', `Bearer ${this.who.token}`);
    context.response = new Response(res.text, {
      status: res.status,
      headers: { 'content-type': String(res.headers['content-type']) },
    });
  }
}
