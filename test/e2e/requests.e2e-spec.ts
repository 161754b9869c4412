import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appToken, newTenant, type TestIdentity } from '../support/tokens.js';
import { countRows, PUBLIC_BASE, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { EMAIL_FILE_REQUEST, expectGraphError, FILE_REQUEST, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { insertResults } from '../support/seed.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const CONTEXT = `${PUBLIC_BASE}/v1.0/$metadata#informationProtection/threatAssessmentRequests`;
const ENTITY_CONTEXT = `${CONTEXT}/$entity`;
const MISSING_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

type Body = Record<string, unknown>;

const bearer = (who: TestIdentity) => `Bearer ${who.token}`;
const without = (body: Body, ...keys: string[]) =>
  Object.fromEntries(Object.entries(body).filter(([k]) => !keys.includes(k)));
const sha256 = (base64: string) => createHash('sha256').update(Buffer.from(base64, 'base64')).digest();
const createdBy = (who: TestIdentity) => ({ user: { id: who.userId, displayName: 'Test User' } });

/** What the service answers for each Graph example body: the posted fields plus every server-set one. */
function expectedCreated(body: Body, who: TestIdentity): Body {
  const server = {
    '@odata.context': ENTITY_CONTEXT,
    id: expect.stringMatching(GUID),
    createdDateTime: expect.stringMatching(ISO_MS),
    status: 'pending',
    requestSource: 'administrator',
    createdBy: createdBy(who),
  };
  switch (body['@odata.type']) {
    case '#microsoft.graph.mailAssessmentRequest':
      return {
        ...body,
        ...server,
        contentType: 'mail',
        destinationRoutingReason: body.destinationRoutingReason ?? null,
      };
    case '#microsoft.graph.emailFileAssessmentRequest':
      return {
        ...body,
        ...server,
        contentType: 'mail',
        destinationRoutingReason: body.destinationRoutingReason ?? null,
        contentData: '',
      };
    case '#microsoft.graph.fileAssessmentRequest':
      return { ...body, ...server, contentType: 'file', contentData: '' };
    case '#microsoft.graph.urlAssessmentRequest':
      return { ...body, ...server, contentType: 'url' };
    default:
      throw new Error(`no expectation for ${String(body['@odata.type'])}`);
  }
}

describe('threatAssessmentRequests', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const post = (body: unknown, who: TestIdentity) =>
    t.http
      .post(REQUESTS)
      .set('authorization', bearer(who))
      .send(body as object);
  const get = (path: string, who: TestIdentity) => t.http.get(path).set('authorization', bearer(who));
  const create = async (body: Body, who: TestIdentity) => {
    const res = await post(body, who);
    expect(res.status, res.text).toBe(201);
    return res.body as Body & { id: string; createdDateTime: string };
  };
  const requestRow = async (id: string) => {
    const { rows } = await t.db.query('SELECT * FROM threat_assessment_requests WHERE id = $1', [id]);
    return rows[0] as Record<string, unknown> | undefined;
  };
  /** Inserts a result directly, at a chosen instant: ordering tests must not depend on the clock. */
  const insertResult = async (
    who: TestIdentity,
    requestId: string,
    at: Date,
    resultType: string,
    message: string,
    id = randomUUID(),
  ) => {
    await insertResults(t.db, who.tenantId, [{ id, requestId, createdDateTime: at, resultType, message }]);
    return {
      '@odata.type': '#microsoft.graph.threatAssessmentResult',
      id,
      createdDateTime: at.toISOString(),
      resultType,
      message,
    };
  };

  describe('POST …/threatAssessmentRequests', () => {
    it.each([
      ['mailAssessmentRequest', MAIL_REQUEST],
      ['emailFileAssessmentRequest', EMAIL_FILE_REQUEST],
      ['fileAssessmentRequest', FILE_REQUEST],
      ['urlAssessmentRequest', URL_REQUEST],
    ])('creates a %s: 201, the whole body with every server-set field, Location and one row', async (kind, body) => {
      const tenant = await newTenant();
      const before = Date.now();
      const res = await post(body, tenant);
      const after = Date.now();
      expect(res.status, res.text).toBe(201);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual(expectedCreated(body, tenant));
      const { id, createdDateTime } = res.body as { id: string; createdDateTime: string };
      expect(Date.parse(createdDateTime)).toBeGreaterThanOrEqual(before - 2000);
      expect(Date.parse(createdDateTime)).toBeLessThanOrEqual(after + 2000);
      expect(res.headers.location).toBe(`${PUBLIC_BASE}${REQUESTS}/${id}`);

      const row = await requestRow(id);
      expect(row).toMatchObject({
        tenant_id: tenant.tenantId,
        kind,
        status: 'pending',
        request_source: 'administrator',
        created_by: createdBy(tenant),
        created_date_time: new Date(createdDateTime),
      });
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(1);
    });

    it('echoes destinationRoutingReason when sent, on mail and emailFile requests', async () => {
      const tenant = await newTenant();
      for (const body of [
        { ...MAIL_REQUEST, destinationRoutingReason: 'notJunk' },
        { ...EMAIL_FILE_REQUEST, destinationRoutingReason: 'autoPurgeToDeleted' },
      ]) {
        const res = await post(body, tenant);
        expect(res.status, res.text).toBe(201);
        expect(res.body).toEqual(expectedCreated(body, tenant));
        expect((await requestRow(res.body.id))!.destination_routing_reason).toBe(body.destinationRoutingReason);
      }
    });

    it.each([
      ['emailFile', EMAIL_FILE_REQUEST],
      ['file', FILE_REQUEST],
    ])(
      'never stores %s contentData in clear: only its size and the SHA-256 of the decoded bytes',
      async (_kind, body) => {
        const tenant = await newTenant();
        const created = await create(body, tenant);
        const decoded = Buffer.from(body.contentData, 'base64');
        const row = await requestRow(created.id);
        expect(row!.content_size).toBe(decoded.length);
        expect(Buffer.isBuffer(row!.content_sha256)).toBe(true);
        expect((row!.content_sha256 as Buffer).equals(sha256(body.contentData))).toBe(true);
        const { rows } = await t.db.query(
          'SELECT row_to_json(r)::text AS json FROM threat_assessment_requests r WHERE id = $1',
          [created.id],
        );
        const json = rows[0].json as string;
        expect(json).not.toContain(body.contentData);
        expect(json).not.toContain(decoded.toString('utf8').slice(0, 12));
        expect(json).not.toContain(decoded.toString('hex').slice(0, 24));
        // Neither is it answered later.
        const again = await get(`${REQUESTS}/${created.id}`, tenant);
        expect(again.body.contentData).toBe('');
      },
    );

    it('answers 403 accessDenied to an application token (Graph: create is delegated only) and writes nothing', async () => {
      const tenant = await newTenant();
      const token = await appToken(tenant.tenantId, ['ThreatAssessment.ReadWrite.All']);
      const res = await t.http.post(REQUESTS).set('authorization', `Bearer ${token}`).send(URL_REQUEST);
      expectGraphError(res, 403, 'accessDenied', /application/);
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(0);
    });

    it.each<[string, unknown, string]>([
      ['no @odata.type', without(MAIL_REQUEST, '@odata.type'), '@odata.type'],
      [
        'an unknown @odata.type',
        { ...MAIL_REQUEST, '@odata.type': '#microsoft.graph.smsAssessmentRequest' },
        '@odata.type',
      ],
      [
        'the abstract @odata.type',
        { ...MAIL_REQUEST, '@odata.type': '#microsoft.graph.threatAssessmentRequest' },
        '@odata.type',
      ],
      [
        'the result @odata.type',
        { ...URL_REQUEST, '@odata.type': '#microsoft.graph.threatAssessmentResult' },
        '@odata.type',
      ],
      [
        'a wrongly cased @odata.type',
        { ...URL_REQUEST, '@odata.type': '#microsoft.graph.URLAssessmentRequest' },
        '@odata.type',
      ],
      ['a number as @odata.type', { ...URL_REQUEST, '@odata.type': 42 }, '@odata.type'],
      ['an object prototype key as @odata.type', { ...URL_REQUEST, '@odata.type': 'toString' }, '@odata.type'],
      ['an empty object', {}, '@odata.type'],
      ['mail without recipientEmail', without(MAIL_REQUEST, 'recipientEmail'), 'recipientEmail'],
      ['mail without messageUri', without(MAIL_REQUEST, 'messageUri'), 'messageUri'],
      ['mail without expectedAssessment', without(MAIL_REQUEST, 'expectedAssessment'), 'expectedAssessment'],
      ['mail without category', without(MAIL_REQUEST, 'category'), 'category'],
      ['emailFile without recipientEmail', without(EMAIL_FILE_REQUEST, 'recipientEmail'), 'recipientEmail'],
      ['emailFile without contentData', without(EMAIL_FILE_REQUEST, 'contentData'), 'contentData'],
      ['file without fileName', without(FILE_REQUEST, 'fileName'), 'fileName'],
      ['file without contentData', without(FILE_REQUEST, 'contentData'), 'contentData'],
      ['url without url', without(URL_REQUEST, 'url'), 'url'],
      ['url without expectedAssessment', without(URL_REQUEST, 'expectedAssessment'), 'expectedAssessment'],
      ['expectedAssessment "Block"', { ...URL_REQUEST, expectedAssessment: 'Block' }, 'expectedAssessment'],
      ['expectedAssessment "allow"', { ...URL_REQUEST, expectedAssessment: 'allow' }, 'expectedAssessment'],
      ['category "Phishing"', { ...URL_REQUEST, category: 'Phishing' }, 'category'],
      ['category as a number', { ...URL_REQUEST, category: 1 }, 'category'],
      [
        'destinationRoutingReason "NotJunk"',
        { ...MAIL_REQUEST, destinationRoutingReason: 'NotJunk' },
        'destinationRoutingReason',
      ],
      [
        'a recipientEmail that is no address',
        { ...MAIL_REQUEST, recipientEmail: 'tifc.contoso.com' },
        'recipientEmail',
      ],
      [
        'a recipientEmail that is no address (emailFile)',
        { ...EMAIL_FILE_REQUEST, recipientEmail: 'tifc@' },
        'recipientEmail',
      ],
      ['an ftp url', { ...URL_REQUEST, url: 'ftp://test.com/x' }, 'url'],
      ['a javascript: url', { ...URL_REQUEST, url: 'javascript:alert(1)' }, 'url'],
      ['a url without scheme', { ...URL_REQUEST, url: 'test.com' }, 'url'],
      ['a messageUri that is not http(s)', { ...MAIL_REQUEST, messageUri: 'file:///etc/passwd' }, 'messageUri'],
      ['contentData that is not base64 (file)', { ...FILE_REQUEST, contentData: 'not base64!' }, 'contentData'],
      ['contentData that is not base64 (emailFile)', { ...EMAIL_FILE_REQUEST, contentData: '####' }, 'contentData'],
      ['empty contentData', { ...FILE_REQUEST, contentData: '' }, 'contentData'],
      ['an empty fileName', { ...FILE_REQUEST, fileName: '' }, 'fileName'],
      ['a fileName with a control character', { ...FILE_REQUEST, fileName: 'a\nb.txt' }, 'fileName'],
      ['an unknown property', { ...URL_REQUEST, severity: 'high' }, 'severity'],
      ['another type’s property (contentData on url)', { ...URL_REQUEST, contentData: 'VGhpcw==' }, 'contentData'],
      [
        'another type’s property (destinationRoutingReason on file)',
        { ...FILE_REQUEST, destinationRoutingReason: 'none' },
        'destinationRoutingReason',
      ],
      ['another type’s property (url on mail)', { ...MAIL_REQUEST, url: 'http://test.com' }, 'url'],
    ])('answers 400 naming the field for %s, and writes nothing', async (_name, body, field) => {
      const tenant = await newTenant();
      const res = await post(body, tenant);
      expectGraphError(res, 400, 'invalidRequest');
      expect((res.body.error.details as { target: string }[]).map((d) => d.target)).toContain(field);
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(0);
    });

    it('says why an abstract @odata.type is refused', async () => {
      const tenant = await newTenant();
      const res = await post({ ...MAIL_REQUEST, '@odata.type': '#microsoft.graph.threatAssessmentRequest' }, tenant);
      expectGraphError(res, 400, 'invalidRequest', /abstract/);
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(0);
    });

    it.each([
      ['an array', '[{"@odata.type":"#microsoft.graph.urlAssessmentRequest"}]'],
      ['null', 'null'],
      ['a string', '"http://test.com"'],
      ['malformed JSON', '{"@odata.type":'],
    ])('answers 400 for %s as the body, and writes nothing', async (_name, text) => {
      const tenant = await newTenant();
      const res = await t.http
        .post(REQUESTS)
        .set('authorization', bearer(tenant))
        .set('content-type', 'application/json')
        .send(text);
      expectGraphError(res, 400, 'invalidRequest');
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(0);
    });

    it('ignores server-owned properties sent by the client instead of taking them', async () => {
      const tenant = await newTenant();
      const forgedId = randomUUID();
      const res = await post(
        {
          ...MAIL_REQUEST,
          id: forgedId,
          status: 'completed',
          createdBy: { user: { id: 'c52ce8db-3e4b-4181-93c4-7d6b6bffaf60', displayName: 'Ronald Admin' } },
          createdDateTime: '2019-11-27T03:30:18.6890937Z',
          contentType: 'url',
          requestSource: 'user',
          results: [{ resultType: 'rescan', message: 'forged' }],
        },
        tenant,
      );
      expect(res.status, res.text).toBe(201);
      expect(res.body).toEqual(expectedCreated(MAIL_REQUEST, tenant));
      expect(res.body.id).not.toBe(forgedId);
      expect(res.body.createdDateTime).not.toMatch(/^2019/);
      expect(await requestRow(forgedId)).toBeUndefined();
      expect(await requestRow(res.body.id)).toMatchObject({
        status: 'pending',
        content_type: 'mail',
        request_source: 'administrator',
        created_by: createdBy(tenant),
      });
      expect(await countRows(t.db, 'threat_assessment_results', tenant.tenantId)).toBe(0);
    });
  });

  describe('GET …/threatAssessmentRequests/{id}', () => {
    it.each([
      ['mailAssessmentRequest', { ...MAIL_REQUEST, destinationRoutingReason: 'notJunk' }],
      ['emailFileAssessmentRequest', EMAIL_FILE_REQUEST],
      ['fileAssessmentRequest', FILE_REQUEST],
      ['urlAssessmentRequest', URL_REQUEST],
    ])('answers a %s exactly as it was created', async (_kind, body) => {
      const tenant = await newTenant();
      const created = await create(body, tenant);
      const res = await get(`${REQUESTS}/${created.id}`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual(created);
      expect(res.body).toEqual(expectedCreated(body, tenant));
    });

    it('finds an id written in upper case', async () => {
      const tenant = await newTenant();
      const created = await create(URL_REQUEST, tenant);
      const res = await get(`${REQUESTS}/${created.id.toUpperCase()}`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual(created);
    });

    it('answers $select with only @odata.type, id and the selected properties, named in @odata.context', async () => {
      const tenant = await newTenant();
      const created = await create(MAIL_REQUEST, tenant);
      const res = await get(`${REQUESTS}/${created.id}?$select=status,recipientEmail,createdBy`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        '@odata.context': `${CONTEXT}(status,recipientEmail,createdBy)/$entity`,
        '@odata.type': '#microsoft.graph.mailAssessmentRequest',
        id: created.id,
        status: 'pending',
        recipientEmail: MAIL_REQUEST.recipientEmail,
        createdBy: createdBy(tenant),
      });
    });

    it('matches $select names case-insensitively and writes them canonically', async () => {
      const tenant = await newTenant();
      const created = await create(FILE_REQUEST, tenant);
      const res = await get(`${REQUESTS}/${created.id}?$select=FILENAME,contentdata`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        '@odata.context': `${CONTEXT}(fileName,contentData)/$entity`,
        '@odata.type': '#microsoft.graph.fileAssessmentRequest',
        id: created.id,
        fileName: 'test.txt',
        contentData: '',
      });
    });

    it('answers $expand=results with the results oldest first (then by id) and results@odata.context', async () => {
      const tenant = await newTenant();
      const created = await create(MAIL_REQUEST, tenant);
      const base = Date.parse(created.createdDateTime) - 60_000;
      // Inserted out of order; two share a millisecond and are told apart by id. Random ids (in a known
      // order), so that the test also passes again on a database that keeps earlier runs' rows.
      const [lowId, highId] = [randomUUID(), randomUUID()].sort();
      const third = await insertResult(tenant, created.id, new Date(base + 2000), 'rescan', 'third', randomUUID());
      const first = await insertResult(tenant, created.id, new Date(base), 'checkPolicy', 'first', randomUUID());
      const secondB = await insertResult(tenant, created.id, new Date(base + 1000), 'rescan', 'second b', highId);
      const secondA = await insertResult(tenant, created.id, new Date(base + 1000), 'rescan', 'second a', lowId);
      const added = await t.http
        .post(`${REQUESTS}/${created.id}/results`)
        .set('authorization', bearer(tenant))
        .send({ resultType: 'checkPolicy', message: 'No policy was hit.' });
      expect(added.status, added.text).toBe(201);
      const latest = without(added.body as Body, '@odata.context');

      const res = await get(`${REQUESTS}/${created.id}?$expand=results`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        ...created,
        '@odata.context': `${CONTEXT}(results())/$entity`,
        status: 'completed',
        'results@odata.context': `${PUBLIC_BASE}/v1.0/$metadata#informationProtection/threatAssessmentRequests('${created.id}')/microsoft.graph.mailAssessmentRequest/results`,
        results: [first, secondA, secondB, third, latest],
      });
    });

    it('answers $expand=results with an empty list when there are none, and combines with $select', async () => {
      const tenant = await newTenant();
      const created = await create(URL_REQUEST, tenant);
      const res = await get(`${REQUESTS}/${created.id}?$select=status&$expand=results`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({
        '@odata.context': `${CONTEXT}(status,results())/$entity`,
        '@odata.type': '#microsoft.graph.urlAssessmentRequest',
        id: created.id,
        status: 'pending',
        'results@odata.context': `${PUBLIC_BASE}/v1.0/$metadata#informationProtection/threatAssessmentRequests('${created.id}')/microsoft.graph.urlAssessmentRequest/results`,
        results: [],
      });
    });

    it('answers 404 itemNotFound for an unknown id and for another tenant’s request', async () => {
      const tenant = await newTenant();
      const created = await create(URL_REQUEST, tenant);
      expectGraphError(await get(`${REQUESTS}/${MISSING_ID}`, tenant), 404, 'itemNotFound', new RegExp(MISSING_ID));
      const other = await newTenant();
      expectGraphError(await get(`${REQUESTS}/${created.id}`, other), 404, 'itemNotFound');
      expectGraphError(await get(`${REQUESTS}/${created.id}?$expand=results`, other), 404, 'itemNotFound');
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(1);
      expect(await countRows(t.db, 'threat_assessment_requests', other.tenantId)).toBe(0);
    });

    it.each(['not-a-guid', '12345', '0f8fad5b-d9cb-469f-a165-70867728950', "0f8fad5b-d9cb-469f-a165-70867728950e'--"])(
      'answers 400 invalidRequest for the non-GUID id %s, never 500',
      async (id) => {
        const tenant = await newTenant();
        expectGraphError(await get(`${REQUESTS}/${encodeURIComponent(id)}`, tenant), 400, 'invalidRequest', /GUID/);
      },
    );
  });

  describe('GET …/threatAssessmentRequests/{id}/results/{resultId}', () => {
    it('answers one result, with $select, and 404 for an unknown one or another request’s', async () => {
      const tenant = await newTenant();
      const created = await create(MAIL_REQUEST, tenant);
      const sibling = await create(MAIL_REQUEST, tenant);
      const result = await insertResult(
        tenant,
        created.id,
        new Date('2026-01-02T03:04:05.678Z'),
        'checkPolicy',
        'No policy was hit.',
      );
      const context = `${PUBLIC_BASE}/v1.0/$metadata#informationProtection/threatAssessmentRequests('${created.id}')/results`;

      const res = await get(`${REQUESTS}/${created.id}/results/${result.id}`, tenant);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ '@odata.context': `${context}/$entity`, ...result });

      const selected = await get(`${REQUESTS}/${created.id}/results/${result.id}?$select=message`, tenant);
      expect(selected.status, selected.text).toBe(200);
      expect(selected.body).toEqual({
        '@odata.context': `${context}(message)/$entity`,
        '@odata.type': '#microsoft.graph.threatAssessmentResult',
        id: result.id,
        message: 'No policy was hit.',
      });

      expectGraphError(await get(`${REQUESTS}/${created.id}/results/${MISSING_ID}`, tenant), 404, 'itemNotFound');
      expectGraphError(await get(`${REQUESTS}/${sibling.id}/results/${result.id}`, tenant), 404, 'itemNotFound');
      expectGraphError(await get(`${REQUESTS}/${MISSING_ID}/results/${result.id}`, tenant), 404, 'itemNotFound');
      expectGraphError(
        await get(`${REQUESTS}/${created.id}/results/${result.id}`, await newTenant()),
        404,
        'itemNotFound',
      );
      expectGraphError(await get(`${REQUESTS}/${created.id}/results`, await newTenant()), 404, 'itemNotFound');
      expectGraphError(await get(`${REQUESTS}/${MISSING_ID}/results`, tenant), 404, 'itemNotFound');
      expectGraphError(await get(`${REQUESTS}/${created.id}/results/nope`, tenant), 400, 'invalidRequest', /resultId/);
      expect(await countRows(t.db, 'threat_assessment_results', tenant.tenantId)).toBe(1);
    });
  });

  describe('DELETE …/threatAssessmentRequests/{id}', () => {
    it('answers 204 with no body, then 404; the request and its results are gone from the database', async () => {
      const tenant = await newTenant();
      const created = await create(MAIL_REQUEST, tenant);
      const kept = await create(URL_REQUEST, tenant);
      for (const resultType of ['checkPolicy', 'rescan']) {
        const added = await t.http
          .post(`${REQUESTS}/${created.id}/results`)
          .set('authorization', bearer(tenant))
          .send({ resultType, message: 'x' });
        expect(added.status, added.text).toBe(201);
      }
      await insertResult(tenant, kept.id, new Date(), 'rescan', 'stays');

      const res = await t.http.delete(`${REQUESTS}/${created.id}`).set('authorization', bearer(tenant));
      expect(res.status, res.text).toBe(204);
      expect(res.text).toBe('');
      expect(res.headers['request-id']).toMatch(GUID);

      expectGraphError(await get(`${REQUESTS}/${created.id}`, tenant), 404, 'itemNotFound');
      expectGraphError(await get(`${REQUESTS}/${created.id}/results`, tenant), 404, 'itemNotFound');
      expectGraphError(
        await t.http.delete(`${REQUESTS}/${created.id}`).set('authorization', bearer(tenant)),
        404,
        'itemNotFound',
      );
      expect(await requestRow(created.id)).toBeUndefined();
      const { rows } = await t.db.query(
        'SELECT count(*)::int AS n FROM threat_assessment_results WHERE request_id = $1',
        [created.id],
      );
      expect(rows[0].n).toBe(0);
      // Only that request went.
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(1);
      expect(await countRows(t.db, 'threat_assessment_results', tenant.tenantId)).toBe(1);
    });

    it('answers 404 for another tenant’s request and deletes nothing', async () => {
      const tenant = await newTenant();
      const created = await create(URL_REQUEST, tenant);
      await insertResult(tenant, created.id, new Date(), 'rescan', 'x');
      const other = await newTenant();
      expectGraphError(
        await t.http.delete(`${REQUESTS}/${created.id}`).set('authorization', bearer(other)),
        404,
        'itemNotFound',
      );
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(1);
      expect(await countRows(t.db, 'threat_assessment_results', tenant.tenantId)).toBe(1);
    });

    it('answers 400 for a non-GUID id and deletes nothing', async () => {
      const tenant = await newTenant();
      await create(URL_REQUEST, tenant);
      expectGraphError(
        await t.http.delete(`${REQUESTS}/not-a-guid`).set('authorization', bearer(tenant)),
        400,
        'invalidRequest',
        /GUID/,
      );
      expect(await countRows(t.db, 'threat_assessment_requests', tenant.tenantId)).toBe(1);
    });
  });

  describe('GET …/$count', () => {
    const count = async (path: string, who: TestIdentity) => {
      const res = await get(path, who);
      expect(res.status, res.text).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.text).toMatch(/^\d+$/);
      return res.text;
    };

    it('counts the requests of the caller’s tenant only, as a text/plain integer', async () => {
      const tenant = await newTenant();
      const other = await newTenant();
      for (const body of [MAIL_REQUEST, EMAIL_FILE_REQUEST, URL_REQUEST]) await create(body, tenant);
      await create(FILE_REQUEST, other);
      expect(await count(`${REQUESTS}/$count`, tenant)).toBe('3');
      expect(await count(`${REQUESTS}/$count`, other)).toBe('1');
      expect(await count(`${REQUESTS}/$count`, await newTenant())).toBe('0');
    });

    it('counts the results of one request, and answers 404 for another tenant’s request', async () => {
      const tenant = await newTenant();
      const created = await create(MAIL_REQUEST, tenant);
      const sibling = await create(MAIL_REQUEST, tenant);
      await insertResult(tenant, created.id, new Date(), 'rescan', 'a');
      await insertResult(tenant, created.id, new Date(), 'checkPolicy', 'b');
      await insertResult(tenant, sibling.id, new Date(), 'rescan', 'c');
      expect(await count(`${REQUESTS}/${created.id}/results/$count`, tenant)).toBe('2');
      expect(await count(`${REQUESTS}/${sibling.id}/results/$count`, tenant)).toBe('1');
      const other = await newTenant();
      expectGraphError(await get(`${REQUESTS}/${created.id}/results/$count`, other), 404, 'itemNotFound');
      expectGraphError(await get(`${REQUESTS}/${MISSING_ID}/results/$count`, tenant), 404, 'itemNotFound');
      expectGraphError(await get(`${REQUESTS}/not-a-guid/results/$count`, tenant), 400, 'invalidRequest', /GUID/);
      expect(await countRows(t.db, 'threat_assessment_results', tenant.tenantId)).toBe(3);
    });

    it('answers 400 for an empty $filter and for options $count does not take', async () => {
      const tenant = await newTenant();
      expectGraphError(await get(`${REQUESTS}/$count?$filter=`, tenant), 400, 'invalidRequest', /filter/);
      expectGraphError(await get(`${REQUESTS}/$count?$top=1`, tenant), 400, 'invalidRequest', /top/);
    });
  });
});
