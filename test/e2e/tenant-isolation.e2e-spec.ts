import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

interface Seeded {
  who: TestIdentity;
  requests: string[];
  results: { requestId: string; id: string }[];
  /** A next link this tenant was given, to be replayed by others. */
  nextLink: string;
}

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);

/** Every route, called with another tenant's token and that tenant's ids, filters and next links. */
describe('Tenant isolation, adversarially (property-based)', () => {
  let t: TestApp;
  let tenants: Seeded[];
  let snapshot: string;

  const authed = (who: TestIdentity, req: ReturnType<TestApp['http']['get']>) =>
    req.set('authorization', `Bearer ${who.token}`);
  const fingerprint = async (tenantIds: string[]) => {
    const { rows } = await t.db.query(
      `SELECT (SELECT json_agg(r ORDER BY r.id) FROM threat_assessment_requests r WHERE tenant_id = ANY($1)) AS requests,
              (SELECT json_agg(x ORDER BY x.id) FROM threat_assessment_results x WHERE tenant_id = ANY($1)) AS results`,
      [tenantIds],
    );
    return createHash('sha256').update(JSON.stringify(rows[0])).digest('hex');
  };

  beforeAll(async () => {
    t = await startTestApp();
    tenants = [];
    for (let n = 0; n < 4; n++) {
      const who = await newTenant();
      const requests: string[] = [];
      const results: Seeded['results'] = [];
      for (let i = 0; i < 4; i++) {
        const body = i % 2 ? MAIL_REQUEST : { ...URL_REQUEST, url: `https://t${n}.example/${i}` };
        const res = await authed(who, t.http.post(REQUESTS)).send(body);
        requests.push(res.body.id);
        const result = await authed(who, t.http.post(`${REQUESTS}/${res.body.id}/results`)).send({
          resultType: 'rescan',
          message: `t${n}`,
        });
        results.push({ requestId: res.body.id, id: result.body.id });
      }
      const page = await authed(who, t.http.get(`${REQUESTS}?$top=1&$filter=status eq 'completed'`));
      tenants.push({ who, requests, results, nextLink: page.body['@odata.nextLink'] });
    }
    snapshot = await fingerprint(tenants.map((s) => s.who.tenantId));
  });
  afterAll(() => t.close());

  it('never returns, counts or changes another tenant’s data (500 runs)', async () => {
    const victimIds = (v: Seeded) => new Set([...v.requests, ...v.results.map((r) => r.id)]);
    const operation = fc.constantFrom(
      'getRequest',
      'getRequestExpanded',
      'deleteRequest',
      'addResult',
      'addResultRef',
      'listResults',
      'countResults',
      'getResult',
      'listRequests',
      'countRequests',
      'replayNextLink',
      'filterById',
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(3), fc.nat(2), operation, fc.nat(3), async (a, offset, op, pick) => {
        const attacker = tenants[a];
        const victim = tenants[(a + 1 + offset) % 4];
        const requestId = victim.requests[pick];
        const result = victim.results[pick];
        const as = (req: ReturnType<TestApp['http']['get']>) => authed(attacker.who, req);
        let res;
        switch (op) {
          case 'getRequest':
            res = await as(t.http.get(`${REQUESTS}/${requestId}`));
            break;
          case 'getRequestExpanded':
            res = await as(t.http.get(`${REQUESTS}/${requestId}?$expand=results`));
            break;
          case 'deleteRequest':
            res = await as(t.http.delete(`${REQUESTS}/${requestId}`));
            break;
          case 'addResult':
            res = await as(t.http.post(`${REQUESTS}/${requestId}/results`)).send({
              resultType: 'rescan',
              message: 'intrusion',
            });
            break;
          case 'addResultRef':
            res = await as(t.http.post(`${REQUESTS}/${requestId}/results/$ref`)).send({
              resultType: 'rescan',
              message: 'intrusion',
            });
            break;
          case 'listResults':
            res = await as(t.http.get(`${REQUESTS}/${result.requestId}/results`));
            break;
          case 'countResults':
            res = await as(t.http.get(`${REQUESTS}/${result.requestId}/results/$count`));
            break;
          case 'getResult':
            res = await as(t.http.get(`${REQUESTS}/${result.requestId}/results/${result.id}`));
            break;
          case 'listRequests': {
            res = await as(t.http.get(`${REQUESTS}?$expand=results&$count=true&$top=999`));
            expect(res.status).toBe(200);
            expect(res.body['@odata.count']).toBe(attacker.requests.length);
            const seen = res.body.value.flatMap((r: { id: string; results: { id: string }[] }) => [
              r.id,
              ...r.results.map((x) => x.id),
            ]);
            expect(seen.filter((id: string) => victimIds(victim).has(id))).toEqual([]);
            return;
          }
          case 'countRequests':
            res = await as(t.http.get(`${REQUESTS}/$count?$filter=status eq 'completed' or status eq 'pending'`));
            expect(res.status).toBe(200);
            expect(Number(res.text)).toBe(attacker.requests.length);
            return;
          case 'replayNextLink': {
            const path = new URL(victim.nextLink).pathname + new URL(victim.nextLink).search;
            res = await as(t.http.get(path));
            expect(res.status).toBe(400);
            expect(res.body.error.code).toBe('invalidRequest');
            return;
          }
          case 'filterById':
            res = await as(t.http.get(`${REQUESTS}?$filter=createdDateTime ge 2000-01-01T00:00:00Z&$top=999`));
            expect(res.status).toBe(200);
            expect(res.body.value.map((r: { id: string }) => r.id).sort()).toEqual([...attacker.requests].sort());
            return;
        }
        expect(res.status, `${op}: ${res.text}`).toBe(404);
        expect(res.body.error.code).toBe('itemNotFound');
        // The 404 reads like one for an id that never existed: nothing of the victim shows.
        expect(res.text).not.toContain(victim.who.tenantId);
        expect(res.text).not.toMatch(/"(status|resultType|createdBy|category)"/);
      }),
      { numRuns: 500, seed: SEED },
    );
    // Nothing of any tenant changed: no delete, no result added, no status moved.
    expect(await fingerprint(tenants.map((s) => s.who.tenantId))).toBe(snapshot);
  }, 120_000);

  it('still serves each tenant its own data afterwards', async () => {
    for (const s of tenants) {
      const res = await authed(s.who, t.http.get(`${REQUESTS}?$top=999`));
      expect(res.body.value.map((r: { id: string }) => r.id).sort()).toEqual([...s.requests].sort());
    }
  });
});
