import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMAIL_FILE_REQUEST, FILE_REQUEST, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const SERVER_OWNED = [
  'id',
  'status',
  'tenantId',
  'tenant_id',
  'createdBy',
  'createdDateTime',
  'requestSource',
  'contentType',
  'kind',
];
const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  ...SERVER_OWNED,
  '@odata.type',
  '@odata.context',
  'results',
  'contentData',
];

/** JSON text with hostile keys written literally (JSON.stringify would drop a real __proto__). */
function toJsonText(entries: [string, unknown][]): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`;
}

const value = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    '#microsoft.graph.urlAssessmentRequest',
    'block',
    'spam',
    'checkPolicy',
    'completed',
    '00000000-0000-0000-0000-000000000000',
  ),
  fc.record({ user: fc.record({ id: fc.uuid(), displayName: fc.string() }) }),
  fc.constant({ polluted: true }),
);
const hostile = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 12 })), value), {
  maxLength: 8,
});
/** Half the runs send only fields the service owns (and must ignore), so the 201 branch is well exercised. */
const entries = (owned: string[]) =>
  fc.oneof(hostile, fc.array(fc.tuple(fc.constantFrom(...owned), value), { maxLength: 4 }));

/** Arbitrary JSON, alone or on top of a valid body, at every POST: never a 500, never a server field taken. */
describe('POST bodies, property-based', () => {
  let t: TestApp;
  let tenant: TestIdentity;
  let mailId: string;

  beforeAll(async () => {
    t = await startTestApp();
    tenant = await newTenant();
    mailId = (await t.http.post(REQUESTS).set('authorization', `Bearer ${tenant.token}`).send(MAIL_REQUEST)).body.id;
  });
  afterAll(() => t.close());

  const send = (path: string, text: string) =>
    t.http.post(path).set('authorization', `Bearer ${tenant.token}`).set('content-type', 'application/json').send(text);

  const expectSafe = (res: { status: number; body: { error?: { code?: string } } }) => {
    expect(res.status).not.toBe(500);
    if (res.status >= 400) expect(typeof res.body.error?.code).toBe('string');
    else expect(res.status).toBe(201);
  };

  it('answers 201 or a 4xx envelope to any create body, and never takes a server-owned field (400 runs)', async () => {
    const base = fc.constantFrom<object | null>(null, MAIL_REQUEST, EMAIL_FILE_REQUEST, FILE_REQUEST, URL_REQUEST);
    let created201 = 0;
    await fc.assert(
      fc.asyncProperty(
        base,
        entries(['id', 'createdDateTime', 'status', 'contentType', 'requestSource', 'createdBy']),
        async (body, extra) => {
          const res = await send(REQUESTS, toJsonText([...Object.entries(body ?? {}), ...extra]));
          expectSafe(res);
          if (res.status !== 201) return;
          created201++;
          const created = res.body as Record<string, unknown>;
          expect(created.status).toBe('pending');
          expect(created.requestSource).toBe('administrator');
          expect(created.createdBy).toEqual({ user: { id: tenant.userId, displayName: 'Test User' } });
          expect(created).not.toHaveProperty('polluted');
          expect(created).not.toHaveProperty('tenantId');
          if ('contentData' in created) expect(created.contentData).toBe('');
          const { rows } = await t.db.query('SELECT tenant_id, status FROM threat_assessment_requests WHERE id = $1', [
            created.id,
          ]);
          expect(rows).toEqual([{ tenant_id: tenant.tenantId, status: 'pending' }]);
          expect(extra.filter(([k]) => k === 'id').map(([, v]) => v)).not.toContain(created.id);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        },
      ),
      { numRuns: 400, seed: SEED },
    );
    // The property must reach the success branch often, or it proves little about server-owned fields.
    expect(created201).toBeGreaterThan(40);
  }, 120_000);

  it('answers 201 or a 4xx envelope to any result body, and never takes a server-owned field (400 runs)', async () => {
    const base = fc.constantFrom<object | null>(
      null,
      { resultType: 'rescan', message: 'ok' },
      { resultType: 'checkPolicy', message: 'ok' },
    );
    let recorded = 0;
    await fc.assert(
      fc.asyncProperty(base, entries(['id', 'createdDateTime']), fc.boolean(), async (body, extra, ref) => {
        const path = `${REQUESTS}/${mailId}/results${ref ? '/$ref' : ''}`;
        const res = await send(path, toJsonText([...Object.entries(body ?? {}), ...extra]));
        expectSafe(res);
        if (res.status !== 201) return;
        recorded++;
        const { rows } = await t.db.query('SELECT tenant_id, request_id FROM threat_assessment_results WHERE id = $1', [
          res.body.id,
        ]);
        expect(rows).toEqual([{ tenant_id: tenant.tenantId, request_id: mailId }]);
        expect(Object.keys(res.body).sort()).toEqual([
          '@odata.context',
          '@odata.type',
          'createdDateTime',
          'id',
          'message',
          'resultType',
        ]);
        expect(extra.filter(([k]) => k === 'id').map(([, v]) => v)).not.toContain(res.body.id);
      }),
      { numRuns: 400, seed: SEED },
    );
    expect(recorded).toBeGreaterThan(40);
  }, 120_000);

  it('refuses prototype pollution at the parser: __proto__ and constructor.prototype are 400', async () => {
    for (const text of [
      '{"__proto__":{"polluted":true},"resultType":"rescan","message":"x"}',
      '{"constructor":{"prototype":{"polluted":true}},"resultType":"rescan","message":"x"}',
    ]) {
      const res = await send(`${REQUESTS}/${mailId}/results`, text);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalidRequest');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
