import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GRAPH_ENTITY_TYPES,
  GRAPH_ENUMS,
  IDENTITY_SET_PROPERTIES,
  type GraphPropertyType,
} from '../fixtures/graph-threat-assessment-types.js';
import { EMAIL_FILE_REQUEST, FILE_REQUEST, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { EXPANDED_RESULTS_LIMIT } from '../../src/threat-assessment/threat-assessment.query-specs.js';
import { REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { appToken, newTenant, type TestIdentity } from '../support/tokens.js';

/**
 * Instance annotations, which a client reads as such and not as properties: the payload's own, and those
 * of the `results` navigation property (its context, and its next link when a request has more results
 * than an expansion shows).
 */
const ANNOTATION = /^@odata\.(context|type|count|nextLink)$|^results@odata\.(context|nextLink)$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DATE_TIME_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?(Z|[+-]\d\d:\d\d)$/;

/** Deserializes like a strict Kiota client: unknown properties, wrong types and unknown enum members fail. */
function parseEntity(item: Record<string, unknown>, path: string): string[] {
  const problems: string[] = [];
  const type = item['@odata.type'];
  const properties = typeof type === 'string' ? GRAPH_ENTITY_TYPES[type] : undefined;
  if (!properties) return [`${path}: unknown @odata.type ${String(type)}`];
  for (const [name, value] of Object.entries(item)) {
    if (ANNOTATION.test(name)) continue;
    const kind = properties[name];
    if (!kind) problems.push(`${path}.${name}: not a property of ${String(type)}`);
    else problems.push(...parseValue(kind, value, `${path}.${name}`));
  }
  return problems;
}

function parseValue(kind: GraphPropertyType, value: unknown, path: string): string[] {
  if (value === null) return kind === 'Guid' ? [`${path}: null key`] : [];
  switch (kind) {
    case 'String':
      return typeof value === 'string' ? [] : [`${path}: not a String`];
    case 'Guid':
      return typeof value === 'string' && GUID.test(value) ? [] : [`${path}: not a Guid`];
    case 'DateTimeOffset':
      return typeof value === 'string' && DATE_TIME_OFFSET.test(value) ? [] : [`${path}: not a DateTimeOffset`];
    case 'identitySet': {
      if (typeof value !== 'object') return [`${path}: not an identitySet`];
      return Object.entries(value as Record<string, unknown>).flatMap(([name, identity]) =>
        IDENTITY_SET_PROPERTIES.includes(name) &&
        typeof identity === 'object' &&
        identity !== null &&
        Object.keys(identity).every((k) => k === 'id' || k === 'displayName')
          ? []
          : [`${path}.${name}: not an identity`],
      );
    }
    case 'results':
      return Array.isArray(value)
        ? value.flatMap((r, i) =>
            parseEntity(
              { '@odata.type': '#microsoft.graph.threatAssessmentResult', ...(r as object) },
              `${path}[${i}]`,
            ),
          )
        : [`${path}: not a collection`];
    default:
      return (GRAPH_ENUMS[kind] as readonly string[]).includes(value as string)
        ? []
        : [`${path}: ${JSON.stringify(value)} is not a ${kind} member`];
  }
}

function parseCollection(body: Record<string, unknown>): string[] {
  const extra = Object.keys(body).filter((k) => k !== 'value' && !ANNOTATION.test(k));
  if (extra.length || !Array.isArray(body.value)) return [`collection shape: ${JSON.stringify(Object.keys(body))}`];
  return (body.value as Record<string, unknown>[]).flatMap((item, i) => parseEntity(item, `value[${i}]`));
}

describe("Responses parse against Graph's own description of the types", () => {
  let t: TestApp;
  let tenant: TestIdentity;
  const ids: string[] = [];
  const get = (path: string) => t.get(path, tenant);

  beforeAll(async () => {
    t = await startTestApp();
    tenant = await newTenant();
    const bodies = [
      MAIL_REQUEST,
      { ...MAIL_REQUEST, destinationRoutingReason: 'junk' },
      EMAIL_FILE_REQUEST,
      FILE_REQUEST,
      URL_REQUEST,
    ];
    for (const body of bodies) {
      const res = await t.http.post(REQUESTS).set('authorization', `Bearer ${tenant.token}`).send(body);
      expect(res.status).toBe(201);
      expect(parseEntity(res.body, 'created')).toEqual([]);
      ids.push(res.body.id);
    }
    const engine = await appToken(tenant.tenantId, ['ThreatAssessment.ReadWrite.All']);
    for (const [i, resultType] of ['checkPolicy', 'rescan', 'unknownFutureValue'].entries()) {
      const res = await t.http
        .post(`${REQUESTS}/${ids[0]}/results`)
        .set('authorization', `Bearer ${i ? engine : tenant.token}`)
        .send({ resultType, message: randomUUID() });
      expect(res.status).toBe(201);
      expect(parseEntity(res.body, 'result')).toEqual([]);
    }
  });
  afterAll(() => t.close());

  it('parses every request type, its enums and createdBy', async () => {
    for (const id of ids) {
      const res = await get(`${REQUESTS}/${id}`);
      expect(parseEntity(res.body, id)).toEqual([]);
    }
  });

  it('parses collections, with $expand, $select and $count', async () => {
    for (const query of ['', '?$expand=results', '?$select=id,status,contentType&$count=true', '?$top=2']) {
      const res = await get(`${REQUESTS}${query}`);
      expect(parseCollection(res.body)).toEqual([]);
    }
    const results = await get(`${REQUESTS}/${ids[0]}/results?$count=true`);
    expect(results.body['@odata.count']).toBe(3);
    expect(parseCollection({ ...results.body, value: results.body.value })).toEqual([]);
  });

  it('parses an expanded request and its results, oldest first', async () => {
    const res = await get(`${REQUESTS}/${ids[0]}?$expand=results`);
    expect(parseEntity(res.body, 'expanded')).toEqual([]);
    expect(res.body.results.map((r: { resultType: string }) => r.resultType)).toEqual([
      'checkPolicy',
      'rescan',
      'unknownFutureValue',
    ]);
  });

  it('parses a request with more results than an expansion shows, and its results@odata.nextLink', async () => {
    const created = await t.http.post(REQUESTS).set('authorization', `Bearer ${tenant.token}`).send(URL_REQUEST);
    expect(created.status).toBe(201);
    const engine = await appToken(tenant.tenantId, ['ThreatAssessment.ReadWrite.All']);
    for (let i = 0; i <= EXPANDED_RESULTS_LIMIT; i++) {
      const res = await t.http
        .post(`${REQUESTS}/${created.body.id}/results`)
        .set('authorization', `Bearer ${engine}`)
        .send({ resultType: 'rescan', message: `verdict ${i}` });
      expect(res.status).toBe(201);
    }
    const single = await get(`${REQUESTS}/${created.body.id}?$expand=results`);
    expect(single.body).toHaveProperty(['results@odata.nextLink']);
    expect(parseEntity(single.body, 'expanded')).toEqual([]);
    const list = await get(`${REQUESTS}?$expand=results&$top=1`);
    expect(list.body.value[0]).toHaveProperty(['results@odata.nextLink']);
    expect(parseCollection(list.body)).toEqual([]);
  });

  it('catches a response that a strict client would reject (the checker can fail)', () => {
    expect(
      parseEntity({ '@odata.type': '#microsoft.graph.urlAssessmentRequest', id: randomUUID(), status: 'Pending' }, 'x'),
    ).toEqual(['x.status: "Pending" is not a threatAssessmentStatus member']);
    expect(parseEntity({ '@odata.type': '#microsoft.graph.urlAssessmentRequest', tenantId: 'x' }, 'x')).toEqual([
      'x.tenantId: not a property of #microsoft.graph.urlAssessmentRequest',
    ]);
    // Only the annotations Graph writes: another property's next link is a property it does not know.
    expect(
      parseEntity({ '@odata.type': '#microsoft.graph.urlAssessmentRequest', 'createdBy@odata.nextLink': 'x' }, 'x'),
    ).toEqual(['x.createdBy@odata.nextLink: not a property of #microsoft.graph.urlAssessmentRequest']);
  });
});
