import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../../src/auth/caller.js';
import { expectGraphError, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { PUBLIC_BASE, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { appToken, newTenant, type TestIdentity, userToken } from '../support/tokens.js';

const GUID_ANYWHERE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const RESULT = { resultType: 'rescan', message: 'verdict' };

/** A tenant's data made through the API: two requests, results on both, ids in creation order. */
interface TenantData {
  who: TestIdentity;
  requests: string[];
  /** Results by request id. */
  results: Record<string, string[]>;
}

type Method = 'get' | 'post' | 'delete';

/** Every route that names a request (and a result), as a caller of another tenant would call it. */
const ITEM_ROUTES: [string, Method, (requestId: string, resultId: string) => string, object?][] = [
  ['GET …/{id}', 'get', (id) => `${REQUESTS}/${id}`],
  ['GET …/{id}?$expand=results', 'get', (id) => `${REQUESTS}/${id}?$expand=results`],
  ['GET …/{id}?$select=id,status', 'get', (id) => `${REQUESTS}/${id}?$select=id,status`],
  ['DELETE …/{id}', 'delete', (id) => `${REQUESTS}/${id}`],
  ['POST …/{id}/results', 'post', (id) => `${REQUESTS}/${id}/results`, RESULT],
  ['POST …/{id}/results/$ref', 'post', (id) => `${REQUESTS}/${id}/results/$ref`, RESULT],
  ['GET …/{id}/results', 'get', (id) => `${REQUESTS}/${id}/results`],
  ['GET …/{id}/results?$count=true&$top=1', 'get', (id) => `${REQUESTS}/${id}/results?$count=true&$top=1`],
  ['GET …/{id}/results/$count', 'get', (id) => `${REQUESTS}/${id}/results/$count`],
  ['GET …/{id}/results/{resultId}', 'get', (id, resultId) => `${REQUESTS}/${id}/results/${resultId}`],
];

/** Every column of every row of a tenant, so that any change at all shows. */
async function rowsOf(t: TestApp, tenantId: string) {
  const requests = await t.db.query('SELECT * FROM threat_assessment_requests WHERE tenant_id = $1 ORDER BY id', [
    tenantId,
  ]);
  const results = await t.db.query('SELECT * FROM threat_assessment_results WHERE tenant_id = $1 ORDER BY id', [
    tenantId,
  ]);
  return { requests: requests.rows as unknown[], results: results.rows as unknown[] };
}

/** An error message with its ids blanked: another tenant's id must read exactly like a missing one. */
const shapeOf = (res: Response) =>
  String((res.body as { error?: { message?: string } }).error?.message).replace(GUID_ANYWHERE, '<id>');

describe('tenant isolation', () => {
  let t: TestApp;
  let a: TenantData;
  let b: TenantData;

  const bearer = (token: string) => `Bearer ${token}`;
  const send = (method: Method, path: string, token: string, body?: object) => {
    const req = t.http[method](path).set('authorization', bearer(token));
    return body ? req.send(body) : req;
  };

  async function makeTenant(): Promise<TenantData> {
    const who = await newTenant();
    const requests: string[] = [];
    const results: Record<string, string[]> = {};
    for (const [body, verdicts] of [
      [MAIL_REQUEST, 2],
      [URL_REQUEST, 1],
    ] as const) {
      const created = await send('post', REQUESTS, who.token, body);
      expect(created.status, created.text).toBe(201);
      const id = (created.body as { id: string }).id;
      requests.push(id);
      results[id] = [];
      for (let i = 0; i < verdicts; i++) {
        const result = await send('post', `${REQUESTS}/${id}/results`, who.token, RESULT);
        expect(result.status, result.text).toBe(201);
        results[id].push((result.body as { id: string }).id);
      }
    }
    return { who, requests, results };
  }

  beforeAll(async () => {
    t = await startTestApp();
    a = await makeTenant();
    b = await makeTenant();
  });
  afterAll(() => t.close());

  describe.each([
    ['a user of tenant B with ThreatAssessment.ReadWrite.All', () => b.who.token],
    [
      'an application of tenant B with Read.All and ReadWrite.All',
      () => appToken(b.who.tenantId, [PERMISSIONS.read, PERMISSIONS.readWrite]),
    ],
  ])('%s', (_, tokenOfB) => {
    it.each(ITEM_ROUTES)(
      "answers 404 itemNotFound to %s on A's ids, exactly as for missing ids, and changes nothing",
      async (__, method, path, body) => {
        const token = await tokenOfB();
        const beforeA = await rowsOf(t, a.who.tenantId);
        const beforeB = await rowsOf(t, b.who.tenantId);
        const [mailA, urlA] = a.requests;
        const [mailB] = b.requests;
        const attempts: [string, string][] = [
          [mailA, a.results[mailA][0]],
          [urlA, a.results[urlA][0]],
          [mailA.toUpperCase(), a.results[mailA][1].toUpperCase()],
          // B's own request with A's result, and A's request with B's result: a result is found through its tenant's parent only.
          [mailA, b.results[mailB][0]],
        ];
        if (path(mailB, 'x').endsWith('/x')) attempts.push([mailB, a.results[mailA][0]]);
        const missing = await send(method, path(randomUUID(), randomUUID()), token, body);
        expectGraphError(missing, 404, 'itemNotFound');
        for (const [requestId, resultId] of attempts) {
          const res = await send(method, path(requestId, resultId), token, body);
          expectGraphError(res, 404, 'itemNotFound', /does not exist/);
          if (requestId !== mailB) expect(shapeOf(res)).toBe(shapeOf(missing));
        }
        expect(await rowsOf(t, a.who.tenantId)).toEqual(beforeA);
        expect(await rowsOf(t, b.who.tenantId)).toEqual(beforeB);
      },
    );

    it("lists and counts B's requests and results only", async () => {
      const token = await tokenOfB();
      const bNewestFirst = [...b.requests].reverse();
      const list = await send('get', `${REQUESTS}?$count=true`, token);
      expect(list.status, list.text).toBe(200);
      expect(list.body['@odata.count']).toBe(2);
      expect((list.body.value as { id: string }[]).map((r) => r.id)).toEqual(bNewestFirst);

      const expanded = await send('get', `${REQUESTS}?$expand=results`, token);
      expect(expanded.status, expanded.text).toBe(200);
      expect(
        (expanded.body.value as { id: string; results: { id: string }[] }[]).map((r) => [
          r.id,
          r.results.map((x) => x.id),
        ]),
      ).toEqual(bNewestFirst.map((id) => [id, b.results[id]]));

      const count = await send('get', `${REQUESTS}/$count`, token);
      expect(count.status, count.text).toBe(200);
      expect(count.text).toBe('2');

      for (const id of b.requests) {
        const results = await send('get', `${REQUESTS}/${id}/results?$count=true`, token);
        expect(results.status, results.text).toBe(200);
        expect(results.body['@odata.count']).toBe(b.results[id].length);
        expect((results.body.value as { id: string }[]).map((r) => r.id)).toEqual(b.results[id]);
        const resultCount = await send('get', `${REQUESTS}/${id}/results/$count`, token);
        expect(resultCount.text).toBe(String(b.results[id].length));
      }
    });

    it('pages through B’s requests only, and refuses A’s next links', async () => {
      const token = await tokenOfB();
      const seen: string[] = [];
      let path: string | undefined = `${REQUESTS}?$top=1`;
      while (path) {
        const page = await send('get', path, token);
        expect(page.status, page.text).toBe(200);
        seen.push(...(page.body.value as { id: string }[]).map((r) => r.id));
        const next = page.body['@odata.nextLink'] as string | undefined;
        path = next?.slice(PUBLIC_BASE.length);
      }
      expect(seen).toEqual([...b.requests].reverse());

      const [mailA] = a.requests;
      for (const collection of [REQUESTS, `${REQUESTS}/${mailA}/results`]) {
        const ofA = await send('get', `${collection}?$top=1`, a.who.token);
        expect(ofA.status, ofA.text).toBe(200);
        const link = (ofA.body['@odata.nextLink'] as string).slice(PUBLIC_BASE.length);
        // The cursor is checked before the parent is looked up: 400 for A's request as for any other.
        expectGraphError(await send('get', link, token), 400, 'invalidRequest', /\$skiptoken/);
      }
    });
  });

  it("still shows A everything of A's, unchanged, after B's attempts", async () => {
    const list = await send('get', `${REQUESTS}?$expand=results`, a.who.token);
    expect(list.status, list.text).toBe(200);
    expect(
      (list.body.value as { id: string; status: string; results: { id: string }[] }[]).map((r) => [
        r.id,
        r.status,
        r.results.map((x) => x.id),
      ]),
    ).toEqual([...a.requests].reverse().map((id) => [id, 'completed', a.results[id]]));
    const rows = await rowsOf(t, a.who.tenantId);
    expect(rows.requests).toHaveLength(2);
    expect(rows.results).toHaveLength(3);
    const { rows: stray } = await t.db.query(
      'SELECT count(*)::int AS n FROM threat_assessment_results r JOIN threat_assessment_requests q ON q.id = r.request_id WHERE r.tenant_id <> q.tenant_id',
    );
    expect(stray).toEqual([{ n: 0 }]);
  });

  it('scopes by tenant, not by user: one user id in two tenants sees each tenant’s data apart', async () => {
    const oid = randomUUID();
    const [one, two] = [randomUUID(), randomUUID()];
    const tokenOne = await userToken(one, [PERMISSIONS.readWrite], oid);
    const tokenTwo = await userToken(two, [PERMISSIONS.readWrite], oid);
    const created = await send('post', REQUESTS, tokenOne, URL_REQUEST);
    expect(created.status, created.text).toBe(201);
    const id = (created.body as { id: string }).id;

    const listTwo = await send('get', REQUESTS, tokenTwo);
    expect(listTwo.status, listTwo.text).toBe(200);
    expect(listTwo.body.value).toEqual([]);
    expect((await send('get', `${REQUESTS}/$count`, tokenTwo)).text).toBe('0');
    expectGraphError(await send('get', `${REQUESTS}/${id}`, tokenTwo), 404, 'itemNotFound');
    expectGraphError(await send('delete', `${REQUESTS}/${id}`, tokenTwo), 404, 'itemNotFound');
    expect((await rowsOf(t, one)).requests).toHaveLength(1);
    expect(await rowsOf(t, two)).toEqual({ requests: [], results: [] });
  });
});
