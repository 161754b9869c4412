import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appToken, newTenant, type TestIdentity } from '../support/tokens.js';
import { countRows, PUBLIC_BASE, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { expectGraphError, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';

describe('POST …/threatAssessmentRequests/{id}/results (the seed operation)', () => {
  let t: TestApp;
  let tenant: TestIdentity;

  beforeAll(async () => {
    t = await startTestApp();
    tenant = await newTenant();
  });
  afterAll(() => t.close());

  const create = async (body: object, who = tenant) => {
    const res = await t.http.post(REQUESTS).set('authorization', `Bearer ${who.token}`).send(body);
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string; status: string };
  };
  const postResult = (requestId: string, body: object, token = tenant.token) =>
    t.http.post(`${REQUESTS}/${requestId}/results`).set('authorization', `Bearer ${token}`).send(body);
  const resultCount = async (requestId: string) => {
    const { rows } = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM threat_assessment_results WHERE request_id = $1',
      [requestId],
    );
    return rows[0].n;
  };
  const statusOf = async (requestId: string) => {
    const { rows } = await t.db.query<{ status: string }>(
      'SELECT status FROM threat_assessment_requests WHERE id = $1',
      [requestId],
    );
    return rows[0].status;
  };

  it('records the result, answers 201 with Location and @odata.context, and completes the request', async () => {
    const request = await create(MAIL_REQUEST);
    expect(request.status).toBe('pending');
    const res = await postResult(request.id, {
      '@odata.type': '#microsoft.graph.threatAssessmentResult',
      resultType: 'checkPolicy',
      message: 'No policy was hit.',
    }).set('client-request-id', 'my-correlation-1');
    expect(res.status, res.text).toBe(201);
    const id = (res.body as { id: string }).id;
    expect(res.body).toEqual({
      '@odata.context': `${PUBLIC_BASE}/v1.0/$metadata#informationProtection/threatAssessmentRequests('${request.id}')/results/$entity`,
      '@odata.type': '#microsoft.graph.threatAssessmentResult',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      createdDateTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      resultType: 'checkPolicy',
      message: 'No policy was hit.',
    });
    expect(res.headers.location).toBe(`${PUBLIC_BASE}${REQUESTS}/${request.id}/results/${id}`);
    expect(res.headers['client-request-id']).toBe('my-correlation-1');
    expect(await statusOf(request.id)).toBe('completed');
    const stored = await t.db.query(
      'SELECT tenant_id, request_id, result_type, message FROM threat_assessment_results WHERE id = $1',
      [id],
    );
    expect(stored.rows).toEqual([
      { tenant_id: tenant.tenantId, request_id: request.id, result_type: 'checkPolicy', message: 'No policy was hit.' },
    ]);
  });

  it('accepts the seed document’s $ref form as the same operation', async () => {
    const request = await create(URL_REQUEST);
    const res = await t.http
      .post(`${REQUESTS}/${request.id}/results/$ref`)
      .set('authorization', `Bearer ${tenant.token}`)
      .send({ resultType: 'rescan', message: 'Not Spam' });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ resultType: 'rescan', message: 'Not Spam' });
  });

  it('ignores server-owned id and createdDateTime in the body', async () => {
    const request = await create(URL_REQUEST);
    const res = await postResult(request.id, {
      id: '4a4c6bb3-6bb3-4a4c-b36b-4c4ab36b4c4a',
      createdDateTime: '2017-01-01T00:00:46Z',
      resultType: 'rescan',
      message: 'x',
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.id).not.toBe('4a4c6bb3-6bb3-4a4c-b36b-4c4ab36b4c4a');
    expect(res.body.createdDateTime).not.toMatch(/^2017/);
  });

  it('lets an application with ThreatAssessment.ReadWrite.All post verdicts', async () => {
    const request = await create(URL_REQUEST);
    const token = await appToken(tenant.tenantId, ['ThreatAssessment.ReadWrite.All']);
    const res = await postResult(request.id, { resultType: 'rescan', message: 'engine verdict' }, token);
    expect(res.status, res.text).toBe(201);
  });

  it('answers 404 itemNotFound and writes nothing when the request does not exist', async () => {
    const before = await countRows(t.db, 'threat_assessment_results', tenant.tenantId);
    const res = await postResult('0f8fad5b-d9cb-469f-a165-70867728950e', { resultType: 'rescan', message: 'x' });
    expectGraphError(res, 404, 'itemNotFound');
    expect(await countRows(t.db, 'threat_assessment_results', tenant.tenantId)).toBe(before);
  });

  it("answers 404 for another tenant's request and writes nothing", async () => {
    const request = await create(MAIL_REQUEST);
    const other = await newTenant();
    const res = await postResult(request.id, { resultType: 'rescan', message: 'x' }, other.token);
    expectGraphError(res, 404, 'itemNotFound');
    expect(await countRows(t.db, 'threat_assessment_results', other.tenantId)).toBe(0);
    expect(await resultCount(request.id)).toBe(0);
  });

  it('answers 400 for a malformed id, never 500', async () => {
    const res = await postResult('not-a-guid', { resultType: 'rescan', message: 'x' });
    expectGraphError(res, 400, 'invalidRequest', /GUID/);
  });

  it('answers 400 for checkPolicy on a non-mail request and writes nothing', async () => {
    const request = await create(URL_REQUEST);
    const res = await postResult(request.id, { resultType: 'checkPolicy', message: 'x' });
    expectGraphError(res, 400, 'invalidRequest', /checkPolicy/);
    expect(await resultCount(request.id)).toBe(0);
    expect(await statusOf(request.id)).toBe('pending');
  });

  it.each([
    [{ message: 'x' }, 'resultType'],
    [{ resultType: 'String', message: 'x' }, 'resultType'],
    [{ resultType: 'CheckPolicy', message: 'x' }, 'resultType'],
    [{ resultType: 'rescan' }, 'message'],
    [{ resultType: 'rescan', message: '' }, 'message'],
    [{ resultType: 'rescan', message: 'x'.repeat(4001) }, 'message'],
    [{ resultType: 'rescan', message: 42 }, 'message'],
    [{ resultType: 'rescan', message: 'x', extra: true }, 'extra'],
    [{ '@odata.type': '#microsoft.graph.threatAssessmentRequest', resultType: 'rescan', message: 'x' }, '@odata.type'],
  ])('answers 400 naming the field for %j and writes nothing', async (body, field) => {
    const request = await create(MAIL_REQUEST);
    const res = await postResult(request.id, body);
    expectGraphError(res, 400, 'invalidRequest');
    expect((res.body.error.details as { target: string }[]).map((d) => d.target)).toContain(field);
    expect(await resultCount(request.id)).toBe(0);
  });

  it('answers 400 for malformed JSON, 415 for another content type, and writes nothing', async () => {
    const request = await create(MAIL_REQUEST);
    const post = (contentType: string, text: string) =>
      t.http
        .post(`${REQUESTS}/${request.id}/results`)
        .set('authorization', `Bearer ${tenant.token}`)
        .set('content-type', contentType)
        .send(text);
    expectGraphError(await post('application/json', '{"resultType":'), 400, 'invalidRequest', /JSON/);
    expectGraphError(await post('text/plain', 'resultType=rescan'), 415, 'unsupportedMediaType');
    expectGraphError(await post('application/json', '[1,2]'), 400, 'invalidRequest');
    expect(await resultCount(request.id)).toBe(0);
  });

  it('records 200 concurrent POSTs to one parent as 200 rows, without an error', async () => {
    const request = await create(MAIL_REQUEST);
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        postResult(request.id, { resultType: i % 2 ? 'rescan' : 'checkPolicy', message: `verdict ${i}` }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(200).fill(201));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(200);
    expect(await resultCount(request.id)).toBe(200);
    expect(await statusOf(request.id)).toBe('completed');
  });
});
