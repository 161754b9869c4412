import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectGraphError, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { countRows, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

describe('Idempotency-Key on POST', () => {
  let t: TestApp;
  let tenant: TestIdentity;

  beforeAll(async () => {
    // A resource may be submitted once: a retry must be answered as a replay, not throttled.
    t = await startTestApp({ THROTTLE_RESOURCE_LIMITS: '1/900' });
    tenant = await newTenant();
  });
  afterAll(() => t.close());

  const create = (body: object, key?: string, who = tenant) => {
    const req = t.http.post(REQUESTS).set('authorization', `Bearer ${who.token}`);
    return (key ? req.set('idempotency-key', key) : req).send(body);
  };
  const addResult = (requestId: string, body: object, key: string) =>
    t.http
      .post(`${REQUESTS}/${requestId}/results`)
      .set('authorization', `Bearer ${tenant.token}`)
      .set('idempotency-key', key)
      .send(body);

  it('answers a retried create with the first response and writes nothing new', async () => {
    const key = randomUUID();
    const body = { ...URL_REQUEST, url: `https://a.example/${key}` };
    const first = await create(body, key);
    expect(first.status, first.text).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const before = await countRows(t.db, 'threat_assessment_requests', tenant.tenantId);
    const retry = await create(
      { url: body.url, category: body.category, expectedAssessment: 'block', '@odata.type': body['@odata.type'] },
      key,
    );
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.headers.location).toBe(first.headers.location);
    expect(retry.body).toEqual(first.body);
    expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(before);
  });

  it('answers 404 to a create replayed after the request it created was deleted, and creates nothing', async () => {
    const key = randomUUID();
    const body = { ...URL_REQUEST, url: `https://deleted.example/${key}` };
    const first = await create(body, key);
    expect(first.status, first.text).toBe(201);
    const deleted = await t.http.delete(`${REQUESTS}/${first.body.id}`).set('authorization', `Bearer ${tenant.token}`);
    expect(deleted.status).toBe(204);
    const before = await countRows(t.db, 'threat_assessment_requests', tenant.tenantId);
    expectGraphError(await create(body, key), 404, 'itemNotFound');
    expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(before);
  });

  it('answers 422 for the same key with a different body, and writes nothing', async () => {
    const key = randomUUID();
    expect((await create({ ...URL_REQUEST, url: `https://b.example/${key}` }, key)).status).toBe(201);
    const before = await countRows(t.db, 'threat_assessment_requests', tenant.tenantId);
    expectGraphError(
      await create({ ...URL_REQUEST, url: `https://c.example/${key}` }, key),
      422,
      'invalidRequest',
      /Idempotency-Key/,
    );
    expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(before);
  });

  it('keeps keys per tenant', async () => {
    const key = randomUUID();
    const other = await newTenant();
    const mine = await create({ ...URL_REQUEST, url: `https://d.example/${key}` }, key);
    const theirs = await create({ ...URL_REQUEST, url: `https://d.example/${key}` }, key, other);
    expect([mine.status, theirs.status]).toEqual([201, 201]);
    expect(theirs.body.id).not.toBe(mine.body.id);
  });

  it('creates exactly one request for 20 concurrent attempts with one key', async () => {
    const key = randomUUID();
    const body = { ...URL_REQUEST, url: `https://e.example/${key}` };
    const before = await countRows(t.db, 'threat_assessment_requests', tenant.tenantId);
    const responses = await Promise.all(Array.from({ length: 20 }, () => create(body, key)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(19);
    expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(before + 1);
  });

  it('forgets a key once it has expired', async () => {
    const key = randomUUID();
    const first = await create(MAIL_REQUEST, key);
    expect(first.status).toBe(201);
    await t.db.query(
      "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND key = $2",
      [tenant.tenantId, key],
    );
    await t.db.query('DELETE FROM throttle_counters WHERE tenant_id = $1', [tenant.tenantId]);
    const second = await create(MAIL_REQUEST, key);
    expect(second.status, second.text).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
  });

  const uniqueMail = () => ({ ...MAIL_REQUEST, messageUri: `${MAIL_REQUEST.messageUri}${randomUUID()}` });

  it('answers a retried result with the first result, and 200 concurrent retries record one row', async () => {
    const request = (await create(uniqueMail())).body as { id: string };
    const key = randomUUID();
    const body = { resultType: 'checkPolicy', message: 'No policy was hit.' };
    const responses = await Promise.all(Array.from({ length: 200 }, () => addResult(request.id, body, key)));
    expect(responses.map((r) => `${r.status} ${r.status === 201 ? '' : r.text}`)).toEqual(Array(200).fill('201 '));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(new Set(responses.map((r) => r.body.createdDateTime)).size).toBe(1);
    const { rows } = await t.db.query(
      'SELECT count(*)::int AS n FROM threat_assessment_results WHERE request_id = $1',
      [request.id],
    );
    expect(rows[0].n).toBe(1);
  });

  it('answers 422 for a result key reused on another request, and writes nothing', async () => {
    const first = (await create(uniqueMail())).body as { id: string };
    const second = (await create(uniqueMail())).body as { id: string };
    const key = randomUUID();
    const body = { resultType: 'rescan', message: 'x' };
    expect((await addResult(first.id, body, key)).status).toBe(201);
    expectGraphError(await addResult(second.id, body, key), 422, 'invalidRequest');
    const { rows } = await t.db.query(
      'SELECT count(*)::int AS n FROM threat_assessment_results WHERE request_id = $1',
      [second.id],
    );
    expect(rows[0].n).toBe(0);
  });

  it('does not claim a key for a refused result: after a 400 the same key still works', async () => {
    const urlRequest = (await create({ ...URL_REQUEST, url: `https://f.example/${randomUUID()}` })).body as {
      id: string;
    };
    const key = randomUUID();
    expectGraphError(
      await addResult(urlRequest.id, { resultType: 'checkPolicy', message: 'x' }, key),
      400,
      'invalidRequest',
    );
    expect((await addResult(urlRequest.id, { resultType: 'checkPolicy', message: 'x' }, key)).status).toBe(400);
    const { rows } = await t.db.query(
      'SELECT count(*)::int AS n FROM idempotency_keys WHERE tenant_id = $1 AND key = $2',
      [tenant.tenantId, key],
    );
    expect(rows[0].n).toBe(0);
  });

  it.each([['x'.repeat(256)], ['with space'], ['tab\tkey']])('answers 400 for the malformed key %j', async (key) => {
    const res = await t.http
      .post(REQUESTS)
      .set('authorization', `Bearer ${tenant.token}`)
      .set('idempotency-key', key)
      .send(URL_REQUEST);
    expectGraphError(res, 400, 'invalidRequest', /Idempotency-Key/);
  });
});
