import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, type TestIdentity } from '../support/tokens.js';
import { insertRequests, insertResults } from '../support/seed.js';
import { countRows, PUBLIC_BASE, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { expectGraphError } from '../support/graph.js';

interface Row {
  id: string;
  createdDateTime: string;
}

interface Page {
  '@odata.context': string;
  '@odata.count'?: number;
  '@odata.nextLink'?: string;
  value: (Row & Record<string, unknown>)[];
}

/** Several rows per instant when `perInstant` > 1: the keyset must still tell them apart by id. */
function instants(n: number, perInstant: number, start = Date.parse('2026-03-01T12:00:00.123Z')): Date[] {
  return Array.from({ length: n }, (_, i) => new Date(start + Math.floor(i / perInstant) * 1000));
}

/** Inserts url requests directly, at the given instants (SQL: the API cannot force equal timestamps). */
async function seedRequests(db: pg.Pool, who: TestIdentity, at: Date[]): Promise<Row[]> {
  const rows = at.map((date) => ({ id: randomUUID(), createdDateTime: date.toISOString() }));
  const createdBy = { user: { id: who.userId, displayName: 'Test User' } };
  await insertRequests(
    db,
    who.tenantId,
    rows.map((row) => ({ ...row, createdBy })),
  );
  return rows;
}

async function seedResults(db: pg.Pool, who: TestIdentity, requestId: string, at: Date[]): Promise<Row[]> {
  const rows = at.map((date) => ({ id: randomUUID(), createdDateTime: date.toISOString() }));
  await insertResults(
    db,
    who.tenantId,
    rows.map((r) => ({ ...r, requestId })),
  );
  return rows;
}

/** The service's order: `createdDateTime`, then id (lower-case GUID text sorts like PostgreSQL's uuid). */
function sorted(rows: Row[], order: 'asc' | 'desc'): string[] {
  const sign = order === 'asc' ? 1 : -1;
  return [...rows]
    .sort(
      (a, b) => sign * (a.createdDateTime.localeCompare(b.createdDateTime) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    )
    .map((r) => r.id);
}

const skiptokenOf = (link: string) => new URL(link).searchParams.get('$skiptoken')!;

describe('paging with @odata.nextLink', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  /**
   * Follows next links from `path?query` to the end, checking each link: absolute, on the public base,
   * the same path, the original options repeated (less `$skip`) and one `$skiptoken` added.
   */
  async function walk(path: string, query: string, who: TestIdentity): Promise<Page[]> {
    const pages: Page[] = [];
    const original = [...new URLSearchParams(query)].filter(
      ([name]) => !['skip', 'skiptoken'].includes(name.replace(/^\$/, '').toLowerCase()),
    );
    let next: string | undefined = query ? `${path}?${query}` : path;
    while (next) {
      const res = await t.get(next, who);
      expect(res.status, res.text).toBe(200);
      const page = res.body as Page;
      pages.push(page);
      expect(pages.length, 'too many pages: the walk does not end').toBeLessThan(200);
      const link = page['@odata.nextLink'];
      if (link === undefined) break;
      expect(link.startsWith(`${PUBLIC_BASE}${path}?`), link).toBe(true);
      const url = new URL(link);
      expect(url.origin + url.pathname).toBe(`${PUBLIC_BASE}${path}`);
      const params = [...url.searchParams];
      expect(params.filter(([name]) => name === '$skiptoken')).toHaveLength(1);
      expect(params.filter(([name]) => name !== '$skiptoken')).toEqual(original);
      next = `${url.pathname}${url.search}`;
    }
    return pages;
  }

  /** Every item exactly once, in order; every page full but the last, which alone has no next link. */
  function expectWalk(pages: Page[], expected: string[], top: number) {
    expect(pages.flatMap((p) => p.value.map((item) => item.id))).toEqual(expected);
    expect(pages).toHaveLength(Math.max(1, Math.ceil(expected.length / top)));
    pages.forEach((page, i) => {
      const last = i === pages.length - 1;
      expect(page.value.length).toBe(last ? expected.length - top * (pages.length - 1) : top);
      expect('@odata.nextLink' in page).toBe(!last);
    });
  }

  describe('requests', () => {
    it('visits 250 requests created in one millisecond exactly once, newest first by default ($top=7)', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, instants(250, 250));
      const pages = await walk(REQUESTS, '$top=7', tenant);
      expectWalk(pages, sorted(rows, 'desc'), 7);
    });

    it('visits them exactly once oldest first with $orderby=createdDateTime asc', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, instants(250, 250));
      const pages = await walk(REQUESTS, '$orderby=createdDateTime%20asc&$top=7', tenant);
      expectWalk(pages, sorted(rows, 'asc'), 7);
    });

    it('pages across runs of equal timestamps and distinct ones, both ways', async () => {
      const tenant = await newTenant();
      // 10 instants of 9 rows, a page boundary falling inside most runs, plus lone rows.
      const rows = [
        ...(await seedRequests(t.db, tenant, instants(90, 9))),
        ...(await seedRequests(t.db, tenant, instants(11, 1, Date.parse('2026-02-01T00:00:00.000Z')))),
      ];
      expectWalk(await walk(REQUESTS, '$top=4', tenant), sorted(rows, 'desc'), 4);
      expectWalk(await walk(REQUESTS, '$orderby=createdDateTime asc&$top=4', tenant), sorted(rows, 'asc'), 4);
    });

    it('has no next link on a last page that is exactly full', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, instants(21, 3));
      const pages = await walk(REQUESTS, '$top=7', tenant);
      expectWalk(pages, sorted(rows, 'desc'), 7);
      expect(pages).toHaveLength(3);
      const single = await t.get(`${REQUESTS}?$top=21`, tenant);
      expect(single.body['@odata.nextLink']).toBeUndefined();
      expect(single.body.value).toHaveLength(21);
    });

    it('pages with the default $top of 100', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, instants(230, 230));
      expectWalk(await walk(REQUESTS, '', tenant), sorted(rows, 'desc'), 100);
    });

    it('answers the same @odata.count on every page, and repeats every option in the link', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, instants(40, 8));
      await seedRequests(t.db, await newTenant(), instants(5, 5));
      const pages = await walk(REQUESTS, '$count=true&$select=status&$top=9&foo=bar', tenant);
      expectWalk(pages, sorted(rows, 'desc'), 9);
      for (const page of pages) {
        expect(page['@odata.count']).toBe(40);
        expect(page['@odata.context']).toBe(
          `${PUBLIC_BASE}/v1.0/$metadata#informationProtection/threatAssessmentRequests(status)`,
        );
        for (const item of page.value) expect(Object.keys(item).sort()).toEqual(['@odata.type', 'id', 'status']);
      }
    });

    it('keeps the option names as the client wrote them, and takes $skipToken in any case', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, instants(10, 10));
      const first = await t.get(`${REQUESTS}?%24TOP=4&$OrderBy=createdDateTime%20asc`, tenant);
      expect(first.status, first.text).toBe(200);
      const link = first.body['@odata.nextLink'] as string;
      expect(link).toMatch(
        new RegExp(
          `^${PUBLIC_BASE.replace(/\./g, '\\.')}${REQUESTS.replace(/\./g, '\\.')}\\?%24TOP=4&\\$OrderBy=createdDateTime%20asc&\\$skiptoken=[\\w.-]+$`,
        ),
      );
      const token = skiptokenOf(link);
      const expected = sorted(rows, 'asc');
      for (const name of ['$skiptoken', '$skipToken', '$SKIPTOKEN', 'skiptoken', '%24skiptoken']) {
        const res = await t.get(`${REQUESTS}?$top=4&$orderby=createdDateTime asc&${name}=${token}`, tenant);
        expect(res.status, res.text).toBe(200);
        expect(res.body.value.map((item: Row) => item.id)).toEqual(expected.slice(4, 8));
      }
    });

    it('neither repeats nor skips an item when newer requests arrive between pages', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, instants(30, 6));
      const first = await t.get(`${REQUESTS}?$top=10`, tenant);
      await seedRequests(t.db, tenant, instants(5, 5, Date.parse('2026-04-01T00:00:00.000Z')));
      const rest = await walk(REQUESTS, `$top=10&$skiptoken=${skiptokenOf(first.body['@odata.nextLink'])}`, tenant);
      const seen = [...first.body.value, ...rest.flatMap((p) => p.value)].map((item: Row) => item.id);
      expect(seen).toEqual(sorted(rows, 'desc'));
    });

    it('combines $skip with paging: skips once, then visits the rest exactly once', async () => {
      const tenant = await newTenant();
      const rows = await seedRequests(t.db, tenant, instants(40, 10));
      const pages = await walk(REQUESTS, '$skip=5&$top=7', tenant);
      expect(pages[0]['@odata.nextLink']).not.toMatch(/[?&]\$skip=/);
      expectWalk(pages, sorted(rows, 'desc').slice(5), 7);
      const asc = await walk(REQUESTS, '$orderby=createdDateTime asc&$top=6&%24Skip=13', tenant);
      expectWalk(asc, sorted(rows, 'asc').slice(13), 6);
    });
  });

  describe('results', () => {
    const requestOf = async (who: TestIdentity) =>
      (await seedRequests(t.db, who, [new Date('2026-01-01T00:00:00Z')]))[0].id;

    it('visits 250 results recorded in one millisecond exactly once, oldest first by default ($top=7)', async () => {
      const tenant = await newTenant();
      const requestId = await requestOf(tenant);
      const rows = await seedResults(t.db, tenant, requestId, instants(250, 250));
      // Results of a sibling request never leak in.
      await seedResults(t.db, tenant, await requestOf(tenant), instants(20, 20));
      const pages = await walk(`${REQUESTS}/${requestId}/results`, '$top=7&$count=true', tenant);
      expectWalk(pages, sorted(rows, 'asc'), 7);
      for (const page of pages) {
        expect(page['@odata.count']).toBe(250);
        expect(page['@odata.context']).toBe(
          `${PUBLIC_BASE}/v1.0/$metadata#informationProtection/threatAssessmentRequests('${requestId}')/results`,
        );
      }
    });

    it('visits them exactly once newest first with $orderby=createdDateTime desc, across mixed instants', async () => {
      const tenant = await newTenant();
      const requestId = await requestOf(tenant);
      const rows = [
        ...(await seedResults(t.db, tenant, requestId, instants(60, 12))),
        ...(await seedResults(t.db, tenant, requestId, instants(7, 1, Date.parse('2026-05-01T00:00:00.000Z')))),
      ];
      const pages = await walk(`${REQUESTS}/${requestId}/results`, '$orderby=createdDateTime desc&$top=5', tenant);
      expectWalk(pages, sorted(rows, 'desc'), 5);
    });

    it('combines $skip with paging on results', async () => {
      const tenant = await newTenant();
      const requestId = await requestOf(tenant);
      const rows = await seedResults(t.db, tenant, requestId, instants(30, 30));
      expectWalk(
        await walk(`${REQUESTS}/${requestId}/results`, '$skip=3&$top=8', tenant),
        sorted(rows, 'asc').slice(3),
        8,
      );
    });
  });

  describe('$skiptoken that does not belong', () => {
    const firstLink = async (path: string, who: TestIdentity) => {
      const res = await t.get(path, who);
      expect(res.status, res.text).toBe(200);
      return res.body['@odata.nextLink'] as string;
    };
    /** Refused as 400 invalidRequest naming $skiptoken, and nothing written. */
    const expectRefused = async (path: string, who: TestIdentity) => {
      const before = await countRows(t.db, 'threat_assessment_requests', who.tenantId);
      const res = await t.get(path, who);
      expectGraphError(res, 400, 'invalidRequest', /\$skiptoken/);
      expect(await countRows(t.db, 'threat_assessment_requests', who.tenantId)).toBe(before);
    };
    const flip = (text: string, at: number) => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const c = text[at];
      return text.slice(0, at) + alphabet[(alphabet.indexOf(c) + 17) % 64] + text.slice(at + 1);
    };

    it('refuses a token with one character of its payload or of its signature changed', async () => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, instants(10, 10));
      const token = skiptokenOf(await firstLink(`${REQUESTS}?$top=3`, tenant));
      const [payload, signature] = token.split('.') as [string, string];
      for (const at of [0, Math.floor(payload.length / 2), payload.length - 1]) {
        await expectRefused(`${REQUESTS}?$top=3&$skiptoken=${flip(payload, at)}.${signature}`, tenant);
      }
      for (const at of [0, Math.floor(signature.length / 2)]) {
        await expectRefused(`${REQUESTS}?$top=3&$skiptoken=${payload}.${flip(signature, at)}`, tenant);
      }
    });

    it('refuses a token whose signature is not byte-for-byte the one issued', async () => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, instants(10, 10));
      const token = skiptokenOf(await firstLink(`${REQUESTS}?$top=3`, tenant));
      const [payload, signature] = token.split('.') as [string, string];
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      // The last character of a 32-byte base64url signature carries two unused bits.
      const last = alphabet.indexOf(signature.at(-1)!);
      const sameBytes = `${signature.slice(0, -1)}${alphabet[last ^ 1]}`;
      expect(Buffer.from(sameBytes, 'base64url').equals(Buffer.from(signature, 'base64url'))).toBe(true);
      for (const forged of [sameBytes, `${signature}=`, `${signature.slice(0, 10)}*${signature.slice(10)}`]) {
        await expectRefused(`${REQUESTS}?$top=3&$skiptoken=${payload}.${encodeURIComponent(forged)}`, tenant);
      }
    });

    it('refuses every one-character change to a token, never answering 200 or 500 (property)', async () => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, instants(10, 10));
      const token = skiptokenOf(await firstLink(`${REQUESTS}?$top=3`, tenant));
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
      const changed = fc
        .tuple(fc.nat({ max: token.length - 1 }), fc.constantFrom(...alphabet))
        .filter(([at, c]) => token[at] !== c)
        .map(([at, c]) => token.slice(0, at) + c + token.slice(at + 1));
      await fc.assert(
        fc.asyncProperty(changed, async (forged) => {
          const res = await t.get(`${REQUESTS}?$top=3&$skiptoken=${forged}`, tenant);
          expectGraphError(res, 400, 'invalidRequest', /\$skiptoken/);
        }),
        { numRuns: 80 },
      );
    });

    it.each(['garbage', 'a.b', 'a.b.c', '.', `${'A'.repeat(600)}.x`, 'eyJ4IjoxfQ.AAAA'])(
      'refuses the made-up token %s',
      async (token) => {
        const tenant = await newTenant();
        await expectRefused(`${REQUESTS}?$skiptoken=${encodeURIComponent(token)}`, tenant);
      },
    );

    it('refuses an empty $skiptoken', async () => {
      const tenant = await newTenant();
      await expectRefused(`${REQUESTS}?$skiptoken=`, tenant);
    });

    it('refuses a token of tenant A used by tenant B, even at the same position', async () => {
      const a = await newTenant();
      const b = await newTenant();
      await seedRequests(t.db, a, instants(10, 10));
      await seedRequests(t.db, b, instants(10, 10));
      const token = skiptokenOf(await firstLink(`${REQUESTS}?$top=3`, a));
      await expectRefused(`${REQUESTS}?$top=3&$skiptoken=${token}`, b);
      const ok = await t.get(`${REQUESTS}?$top=3&$skiptoken=${token}`, a);
      expect(ok.status, ok.text).toBe(200);
    });

    it('refuses a token used with another $orderby', async () => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, instants(10, 10));
      const desc = skiptokenOf(await firstLink(`${REQUESTS}?$top=3`, tenant));
      await expectRefused(`${REQUESTS}?$top=3&$orderby=createdDateTime asc&$skiptoken=${desc}`, tenant);
      const asc = skiptokenOf(await firstLink(`${REQUESTS}?$top=3&$orderby=createdDateTime asc`, tenant));
      await expectRefused(`${REQUESTS}?$top=3&$skiptoken=${asc}`, tenant);
      // Writing the default explicitly is the same order.
      const same = await t.get(`${REQUESTS}?$top=3&$orderby=createdDateTime desc&$skiptoken=${desc}`, tenant);
      expect(same.status, same.text).toBe(200);
    });

    it('refuses a token of another collection: requests vs results, and another request’s results', async () => {
      const tenant = await newTenant();
      const [x, y] = await seedRequests(t.db, tenant, instants(10, 1));
      await seedResults(t.db, tenant, x.id, instants(10, 10));
      await seedResults(t.db, tenant, y.id, instants(10, 10));
      const ofX = skiptokenOf(await firstLink(`${REQUESTS}/${x.id}/results?$top=3`, tenant));
      const ofRequests = skiptokenOf(await firstLink(`${REQUESTS}?$top=3`, tenant));
      await expectRefused(`${REQUESTS}/${y.id}/results?$top=3&$skiptoken=${ofX}`, tenant);
      await expectRefused(`${REQUESTS}?$top=3&$skiptoken=${ofX}`, tenant);
      await expectRefused(`${REQUESTS}/${x.id}/results?$top=3&$skiptoken=${ofRequests}`, tenant);
    });

    it('refuses a token from a service with another SKIPTOKEN_SECRET', async () => {
      const tenant = await newTenant();
      await seedRequests(t.db, tenant, instants(10, 10));
      const other = await startTestApp({ SKIPTOKEN_SECRET: 'another-skiptoken-secret-0123456789-abcdefgh' });
      try {
        const res = await other.get(`${REQUESTS}?$top=3`, tenant);
        const token = skiptokenOf(res.body['@odata.nextLink']);
        await expectRefused(`${REQUESTS}?$top=3&$skiptoken=${token}`, tenant);
      } finally {
        await other.close();
      }
    });
  });
});
