import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';

interface Operation {
  operationId: string;
  summary: string;
  parameters?: { name: string; in: string }[];
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { enum?: string[]; properties?: Record<string, unknown>; required?: string[] }>;
    securitySchemes: Record<string, unknown>;
  };
}

const R = '/v1.0/informationProtection/threatAssessmentRequests';
const S = '/v1.0/subscriptions';
const OPERATIONS: [string, string, number, number[]][] = [
  ['post', R, 201, [400, 401, 403, 404, 413, 415, 422, 429, 500, 503]],
  ['get', R, 200, [400, 401, 403, 500, 503]],
  ['get', `${R}/$count`, 200, [400, 401, 403, 500, 503]],
  ['get', `${R}/{id}`, 200, [400, 401, 403, 404, 500, 503]],
  ['delete', `${R}/{id}`, 204, [400, 401, 403, 404, 413, 415, 500, 503]],
  ['post', `${R}/{id}/results`, 201, [400, 401, 403, 404, 413, 415, 422, 429, 500, 503]],
  ['post', `${R}/{id}/results/$ref`, 201, [400, 401, 403, 404, 413, 415, 422, 429, 500, 503]],
  ['get', `${R}/{id}/results`, 200, [400, 401, 403, 404, 500, 503]],
  ['get', `${R}/{id}/results/$count`, 200, [400, 401, 403, 404, 500, 503]],
  ['get', `${R}/{id}/results/{resultId}`, 200, [400, 401, 403, 404, 500, 503]],
  ['post', S, 201, [400, 401, 403, 404, 409, 413, 415, 429, 500, 503]],
  ['get', S, 200, [400, 401, 403, 500, 503]],
  ['get', `${S}/{id}`, 200, [400, 401, 403, 404, 500, 503]],
  ['patch', `${S}/{id}`, 200, [400, 401, 403, 404, 409, 413, 415, 429, 500, 503]],
  ['delete', `${S}/{id}`, 204, [400, 401, 403, 404, 413, 415, 500, 503]],
  ['post', `${S}/{id}/reauthorize`, 204, [400, 401, 403, 404, 500, 503]],
];

describe('GET /docs-json (the OpenAPI document generated from the code)', () => {
  let t: TestApp;
  let doc: Document;

  beforeAll(async () => {
    t = await startTestApp();
    const res = await t.http.get('/docs-json');
    expect(res.status).toBe(200);
    doc = res.body as Document;
  });
  afterAll(() => t.close());

  it('is OpenAPI 3 with a bearer security scheme that every API operation requires', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
    });
    for (const [method, path] of OPERATIONS) expect(doc.paths[path]?.[method]?.security).toEqual([{ bearer: [] }]);
  });

  it.each(OPERATIONS)(
    'documents %s %s with its success and every error status, errors in the envelope',
    (method, path, success, errors) => {
      const operation = doc.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation.operationId).toMatch(/^(informationProtection|subscriptions)\./);
      expect(
        Object.keys(operation.responses)
          .map(Number)
          .sort((a, b) => a - b),
      ).toEqual([success, ...errors].sort((a, b) => a - b));
      for (const status of errors) {
        expect(operation.responses[String(status)].content!['application/json'].schema.$ref).toBe(
          '#/components/schemas/GraphErrorResponseDto',
        );
      }
    },
  );

  it.each([
    ['get', R, 'ThreatAssessmentRequestCollectionDto'],
    ['get', `${R}/{id}`, undefined],
    ['get', `${R}/{id}/results`, 'ThreatAssessmentResultCollectionDto'],
    ['get', `${R}/{id}/results/{resultId}`, 'ThreatAssessmentResultDto'],
  ])('documents %s %s with $select as the full body or its projection', (method, path, component) => {
    const schema = doc.paths[path][method].responses['200'].content!['application/json'].schema as {
      anyOf: { $ref?: string; oneOf?: { $ref: string }[] }[];
    };
    expect(schema.anyOf).toHaveLength(2);
    const [full, projection] = schema.anyOf;
    if (component) {
      expect(full.$ref).toBe(`#/components/schemas/${component}`);
      expect(projection.$ref).toBe(`#/components/schemas/${component}Selection`);
    } else {
      expect(projection.oneOf!.map((s) => s.$ref)).toEqual(full.oneOf!.map((s) => `${s.$ref}Selection`));
    }
    const schemas = doc.components.schemas as Record<string, { required?: string[]; properties?: object }>;
    for (const name of ['MailAssessmentRequestDto', 'ThreatAssessmentResultDto']) {
      expect(schemas[`${name}Selection`].required).toEqual(
        schemas[name].required!.filter((p) => p === 'id' || p.startsWith('@odata.')),
      );
      expect(Object.keys(schemas[`${name}Selection`].properties!)).toEqual(Object.keys(schemas[name].properties!));
    }
  });

  it('documents only these API paths (no undocumented or stray route)', () => {
    expect(
      Object.keys(doc.paths)
        .filter((p) => p.startsWith('/v1.0'))
        .sort(),
    ).toEqual([...new Set(OPERATIONS.map(([, p]) => p))].sort());
  });

  it('describes the create body as oneOf the four request types, discriminated by @odata.type', () => {
    const schema = doc.paths[R].post.requestBody!.content['application/json'].schema;
    expect(schema).toEqual({
      oneOf: [
        { $ref: '#/components/schemas/CreateMailAssessmentRequestDto' },
        { $ref: '#/components/schemas/CreateEmailFileAssessmentRequestDto' },
        { $ref: '#/components/schemas/CreateFileAssessmentRequestDto' },
        { $ref: '#/components/schemas/CreateUrlAssessmentRequestDto' },
      ],
      discriminator: {
        propertyName: '@odata.type',
        mapping: {
          '#microsoft.graph.mailAssessmentRequest': '#/components/schemas/CreateMailAssessmentRequestDto',
          '#microsoft.graph.emailFileAssessmentRequest': '#/components/schemas/CreateEmailFileAssessmentRequestDto',
          '#microsoft.graph.fileAssessmentRequest': '#/components/schemas/CreateFileAssessmentRequestDto',
          '#microsoft.graph.urlAssessmentRequest': '#/components/schemas/CreateUrlAssessmentRequestDto',
        },
      },
    });
    for (const ref of (schema.oneOf as { $ref: string }[]).map((s) => s.$ref.split('/').pop()!)) {
      expect(doc.components.schemas[ref].required).toEqual(
        expect.arrayContaining(['@odata.type', 'expectedAssessment', 'category']),
      );
    }
  });

  it('names the enums and spells their members as Graph does', () => {
    const enums = doc.components.schemas;
    expect(enums.threatCategory.enum).toEqual(['undefined', 'spam', 'phishing', 'malware', 'unknownFutureValue']);
    expect(enums.threatExpectedAssessment.enum).toEqual(['block', 'unblock']);
    expect(enums.threatAssessmentContentType.enum).toEqual(['mail', 'url', 'file']);
    expect(enums.threatAssessmentStatus.enum).toEqual(['pending', 'completed']);
    expect(enums.threatAssessmentRequestSource.enum).toEqual(['undefined', 'user', 'administrator']);
    expect(enums.threatAssessmentResultType.enum).toEqual(['checkPolicy', 'rescan', 'unknownFutureValue']);
    expect(enums.mailDestinationRoutingReason.enum).toHaveLength(16);
  });

  it('has the error envelope schema', () => {
    expect(doc.components.schemas.GraphErrorResponseDto.required).toEqual(['error']);
    expect(doc.components.schemas.GraphErrorDto.required).toEqual(
      expect.arrayContaining(['code', 'message', 'innerError']),
    );
    expect(Object.keys(doc.components.schemas.GraphInnerErrorDto.properties!)).toEqual([
      'date',
      'request-id',
      'client-request-id',
    ]);
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await t.http.get('/docs').redirects(1);
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger-ui');
  });
});
