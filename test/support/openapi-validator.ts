import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { expect } from 'vitest';
import { createOpenApiDocument } from '../../src/app.setup.js';

/**
 * Checks every response the app sends against the OpenAPI document the app serves: the status is
 * documented for the operation, the media type is one the operation declares, the body validates
 * against the declared schema (objects closed: an undocumented property fails), required headers are
 * present, and every 4xx/5xx is Graph's error envelope. The document must tell the truth.
 */

type Schema = Record<string, unknown>;
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface MediaTypeObject {
  schema?: Schema;
}
interface ResponseObject {
  content?: Record<string, MediaTypeObject>;
  headers?: Record<string, { required?: boolean }>;
}
export interface OperationObject {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  requestBody?: { content?: Record<string, MediaTypeObject> };
  responses: Record<string, ResponseObject>;
}

/** One response as the app sent it (after routing: `/beta` is already rewritten to `/v1.0`). */
export interface SentResponse {
  method: string;
  /** The path the client called, without the query. */
  path: string;
  query: string;
  /** Fastify's route pattern (`/v1.0/…/:id`); undefined when no route matched (404/405 handler). */
  route: string | undefined;
  status: number;
  headers: Record<string, unknown>;
  body: string | undefined;
}

export type Verdict =
  { outcome: 'validated'; operation: string; errors: string[] } | { outcome: 'skipped'; reason: string };

const ENVELOPE = '#/components/schemas/GraphErrorResponseDto';
const REF_PREFIX = '#/components/schemas/';
/** Keywords OpenAPI 3.0 adds to JSON Schema that carry no validation. */
const OPENAPI_ANNOTATIONS = ['example', 'xml', 'externalDocs'];

export class OpenApiValidator {
  private readonly ajv: Ajv;
  private readonly operations = new Map<string, OperationObject>();
  /** First path segments the document covers (`/v1.0`, `/health`): a route there must be documented. */
  private readonly documentedRoots = new Set<string>();
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(readonly document: OpenAPIObject) {
    this.ajv = new Ajv({ allErrors: true, strictTypes: false, strictTuples: false, strictRequired: false });
    (formatsPlugin as unknown as { default: (ajv: Ajv) => void }).default(this.ajv);
    this.ajv.addVocabulary(OPENAPI_ANNOTATIONS);
    const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
    const definitions = Object.fromEntries(
      Object.entries(schemas).map(([name, schema]) => [name, toJsonSchema(schema)]),
    );
    this.ajv.addSchema({ $id: 'document.json', definitions });
    for (const [path, item] of Object.entries(document.paths)) {
      this.documentedRoots.add(firstSegment(path));
      for (const [method, operation] of Object.entries(item as Record<string, OperationObject>)) {
        if (typeof operation === 'object' && 'responses' in operation)
          this.operations.set(`${method.toUpperCase()} ${path}`, operation);
      }
    }
    // `/beta` serves the `/v1.0` operations.
    if (this.documentedRoots.has('/v1.0')) this.documentedRoots.add('/beta');
    // Compile every response schema now: a schema Ajv cannot compile fails at once, not mid-suite.
    for (const operation of this.operations.values()) {
      for (const response of Object.values(operation.responses)) {
        for (const media of Object.values(response.content ?? {})) {
          if (media.schema) this.validate(media.schema, undefined);
        }
      }
    }
  }

  check(response: SentResponse): Verdict {
    const method = response.method === 'HEAD' ? 'GET' : response.method;
    if (response.route === undefined) return this.checkUnrouted(response);
    const path = response.route.replace(/:(\w+)/g, '{$1}');
    const key = `${method} ${path}`;
    const operation = this.operations.get(key);
    if (!operation) {
      if (!this.documentedRoots.has(firstSegment(response.path)))
        return { outcome: 'skipped', reason: `not an API route: ${key}` };
      // CORS preflights are answered by the CORS layer for any route, outside what operations describe.
      if (method === 'OPTIONS') return { outcome: 'skipped', reason: `preflight: ${key}` };
      return {
        outcome: 'validated',
        operation: key,
        errors: [`${key} is not in the document (undocumented route or method)`],
      };
    }
    const name = operation.operationId ?? key;
    const documented =
      operation.responses[String(response.status)] ??
      operation.responses[`${String(response.status)[0]}XX`] ??
      operation.responses.default;
    if (!documented) {
      return {
        outcome: 'validated',
        operation: name,
        errors: [
          `status ${response.status} is not documented for ${name} (documented: ${Object.keys(operation.responses).join(', ')})`,
        ],
      };
    }
    const errors = [
      ...this.checkHeaders(documented, response),
      ...(response.method === 'HEAD' ? [] : this.checkBody(documented, response)),
    ];
    if (response.status >= 400) errors.push(...this.checkEnvelope(documented, response));
    return { outcome: 'validated', operation: name, errors: [...new Set(errors)] };
  }

  /** Every example the document shows (request bodies and responses), checked like a response: readers copy them. */
  exampleErrors(): string[] {
    const errors: string[] = [];
    for (const [key, operation] of this.operations) {
      const bodies = Object.entries(operation.requestBody?.content ?? {}).map(
        ([media, object]) => [`${key} request ${media}`, object] as const,
      );
      const responses = Object.entries(operation.responses).flatMap(([status, response]) =>
        Object.entries(response.content ?? {}).map(([media, object]) => [`${key} ${status} ${media}`, object] as const),
      );
      for (const [where, media] of [...bodies, ...responses]) {
        const { example, examples } = media as MediaTypeObject & {
          example?: unknown;
          examples?: Record<string, { value: unknown }>;
        };
        const shown = [
          ...(example === undefined ? [] : [['example', example] as const]),
          ...Object.entries(examples ?? {}).map(([name, { value }]) => [name, value] as const),
        ];
        if (shown.length && !media.schema) errors.push(`${where}: an example without a schema`);
        for (const [name, value] of shown) {
          for (const error of media.schema ? this.validate(media.schema, value) : [])
            errors.push(`${where} (${name}): ${error}`);
        }
      }
    }
    return errors;
  }

  /** Operation ids and what each one shows, for tests that read the document. */
  operationsByKey(): ReadonlyMap<string, OperationObject> {
    return this.operations;
  }

  /**
   * No route matched: the app's 404/405 answer, or the router's refusal of a URL it cannot route
   * (400 for bad percent-encoding, 414 for an over-long segment), each in the envelope.
   */
  private checkUnrouted(response: SentResponse): Verdict {
    const key = `${response.method} ${response.path} (no route)`;
    const errors = [400, 404, 405, 414].includes(response.status)
      ? this.checkEnvelope({ content: { 'application/json': { schema: { $ref: ENVELOPE } } } }, response)
      : [`${key} answered ${response.status}; only 400, 404, 405 or 414 is expected without a route`];
    return { outcome: 'validated', operation: key, errors };
  }

  private checkHeaders(documented: ResponseObject, response: SentResponse): string[] {
    return Object.entries(documented.headers ?? {})
      .filter(([name, header]) => header.required && response.headers[name.toLowerCase()] === undefined)
      .map(([name]) => `header ${name} is documented as required but missing`);
  }

  private checkBody(documented: ResponseObject, response: SentResponse): string[] {
    const body = response.body ?? '';
    const declared = documented.content ?? {};
    if (Object.keys(declared).length === 0)
      return body === '' ? [] : [`a body is sent but none is documented: ${truncate(body)}`];
    const contentType = contentTypeOf(response);
    const mediaType = contentType.split(';')[0].trim().toLowerCase();
    const media = declared[mediaType];
    if (!media)
      return [`Content-Type '${contentType}' is not documented (documented: ${Object.keys(declared).join(', ')})`];
    let value: unknown;
    if (mediaType === 'application/json') {
      try {
        value = JSON.parse(body) as Json;
      } catch {
        return [`the body is not JSON: ${truncate(body)}`];
      }
    } else if (mediaType === 'text/plain' && media.schema?.type === 'integer') {
      if (!/^(0|[1-9]\d*)$/.test(body)) return [`the body is not an integer: ${truncate(body)}`];
      value = Number(body);
    } else {
      value = body;
    }
    return media.schema ? this.validate(media.schema, value) : [];
  }

  private checkEnvelope(documented: ResponseObject, response: SentResponse): string[] {
    const schema = documented.content?.['application/json']?.schema;
    if (schema?.$ref !== ENVELOPE) return [`status ${response.status} is not documented with the error envelope`];
    if (!contentTypeOf(response).startsWith('application/json')) return ['an error is not application/json'];
    try {
      return this.validate({ $ref: ENVELOPE }, JSON.parse(response.body ?? '') as Json);
    } catch {
      return ['an error body is not JSON'];
    }
  }

  private validate(schema: Schema, value: unknown): string[] {
    const cacheKey = JSON.stringify(schema);
    let validate = this.compiled.get(cacheKey);
    if (!validate) {
      validate = this.ajv.compile(toJsonSchema(schema));
      this.compiled.set(cacheKey, validate);
    }
    if (validate(value)) return [];
    // An `if`/`then` failure repeats the error of its `then`.
    return (validate.errors ?? []).filter((error) => error.keyword !== 'if').map((error) => describe(error, value));
  }
}

/**
 * OpenAPI 3.0 schema → JSON Schema for Ajv: `$ref`s into the compiled definitions, `nullable` as a
 * null alternative, `oneOf` + `discriminator` as one `if`/`then` per mapping (exact errors instead of
 * "must match exactly one schema"), and objects closed unless they say otherwise. A `$select` answer
 * is checked like any other: the document describes its projection.
 */
function toJsonSchema(input: unknown): Schema {
  const convert = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(convert);
    if (typeof node !== 'object' || node === null) return node;
    // Vendor extensions (`x-enumNames`) carry no validation.
    const schema = Object.fromEntries(Object.entries(node as Schema).filter(([key]) => !key.startsWith('x-')));
    if (typeof schema.$ref === 'string') {
      if (!schema.$ref.startsWith(REF_PREFIX)) throw new Error(`unsupported $ref ${schema.$ref}`);
      return { $ref: `document.json#/definitions/${schema.$ref.slice(REF_PREFIX.length)}` };
    }
    if (schema.nullable === true) {
      delete schema.nullable;
      return { anyOf: [convert(schema), { type: 'null' }] };
    }
    delete schema.nullable;
    const discriminator = schema.discriminator as
      { propertyName: string; mapping?: Record<string, string> } | undefined;
    if (discriminator && Array.isArray(schema.oneOf)) {
      const mapping = discriminator.mapping ?? {};
      const property = discriminator.propertyName;
      delete schema.discriminator;
      delete schema.oneOf;
      return {
        ...convertKeywords(schema, convert),
        type: 'object',
        required: [property],
        properties: { [property]: { type: 'string', enum: Object.keys(mapping) } },
        allOf: Object.entries(mapping).map(([value, ref]) => ({
          if: { required: [property], properties: { [property]: { const: value } } },
          then: convert({ $ref: ref }),
        })),
      };
    }
    const converted = convertKeywords(schema, convert);
    if (
      converted.properties &&
      converted.additionalProperties === undefined &&
      !converted.allOf &&
      !converted.anyOf &&
      !converted.oneOf
    ) {
      converted.additionalProperties = false;
    }
    return converted;
  };
  return convert(input) as Schema;
}

function convertKeywords(schema: Schema, convert: (node: unknown) => unknown): Schema {
  const out: Schema = { ...schema };
  if (schema.properties) {
    out.properties = Object.fromEntries(Object.entries(schema.properties as Schema).map(([k, v]) => [k, convert(v)]));
  }
  for (const key of ['items', 'not', 'additionalProperties'] as const) {
    if (typeof schema[key] === 'object') out[key] = convert(schema[key]);
  }
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[key])) out[key] = convert(schema[key]);
  }
  return out;
}

function describe(error: ErrorObject, value: unknown): string {
  const where = error.instancePath || '(body)';
  const extra =
    error.keyword === 'additionalProperties'
      ? ` '${(error.params as { additionalProperty: string }).additionalProperty}'`
      : error.keyword === 'enum'
        ? ` ${JSON.stringify((error.params as { allowedValues: unknown[] }).allowedValues)}`
        : '';
  const actual = error.instancePath ? pointer(value, error.instancePath) : undefined;
  return `${where} ${error.message ?? error.keyword}${extra}${actual !== undefined ? ` (got ${truncate(JSON.stringify(actual))})` : ''}`;
}

function pointer(value: unknown, path: string): unknown {
  return path
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>(
      (node, part) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined),
      value,
    );
}

function contentTypeOf(response: SentResponse): string {
  const value = response.headers['content-type'];
  return typeof value === 'string' ? value : '';
}

function firstSegment(path: string): string {
  return `/${path.split('/')[1] ?? ''}`;
}

function truncate(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Apps of one test file serve the same document: compile it once. */
const validators = new Map<string, OpenApiValidator>();
function validatorFor(document: OpenAPIObject): OpenApiValidator {
  const key = JSON.stringify(document);
  let validator = validators.get(key);
  if (!validator) validators.set(key, (validator = new OpenApiValidator(document)));
  return validator;
}

export interface OpenApiConformance {
  readonly validator: OpenApiValidator;
  /** Responses checked against the document. */
  readonly validated: number;
  /** Responses outside the documented routes (`/docs`, static files). */
  readonly skipped: number;
  readonly failures: readonly string[];
  /** Prints the count and throws when any response contradicted the document. */
  assertConforming(): void;
}

/**
 * Adds an `onSend` hook (tests only) that checks every response the app sends, from supertest and from
 * a browser alike. Call before `app.init()`; call `assertConforming()` when the app is closed.
 */
export function checkOpenApiConformance(app: NestFastifyApplication): OpenApiConformance {
  // Built at the first response: the document is the one the initialised app serves.
  let built: OpenApiValidator | undefined;
  const validatorOf = () => (built ??= validatorFor(createOpenApiDocument(app)));
  const failures: string[] = [];
  let validated = 0;
  let skipped = 0;
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook(
    'onSend',
    (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => {
      try {
        record(request, reply, payload);
      } catch (error) {
        // Never let the check change the response; a broken check fails the suite instead.
        failures.push(
          `${request.method} ${request.url}: the OpenAPI check itself failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
      }
      done(null, payload);
    },
  );
  const record = (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const [path = '/', query = ''] = request.url.split(/\?(.*)/s);
    const verdict = validatorOf().check({
      method: request.method,
      path,
      query,
      route: request.routeOptions.url,
      status: reply.statusCode,
      headers: reply.getHeaders(),
      body:
        typeof payload === 'string'
          ? payload
          : Buffer.isBuffer(payload)
            ? payload.toString('utf8')
            : payload == null
              ? ''
              : undefined,
    });
    if (verdict.outcome === 'skipped') {
      skipped += 1;
    } else {
      validated += 1;
      if (verdict.errors.length) {
        const test = expect.getState().currentTestName ?? '(outside a test)';
        failures.push(
          `${request.method} ${request.url} → ${reply.statusCode} [${verdict.operation}] in "${test}":\n    ${verdict.errors.join('\n    ')}`,
        );
      }
    }
  };
  return {
    get validator() {
      return validatorOf();
    },
    get validated() {
      return validated;
    },
    get skipped() {
      return skipped;
    },
    failures,
    assertConforming() {
      const file = expect.getState().testPath?.replace(`${process.cwd()}/`, '') ?? '';
      console.log(
        `openapi: ${validated} responses validated${skipped ? `, ${skipped} outside the API skipped` : ''} (${file})`,
      );
      if (failures.length) {
        throw new Error(
          `${failures.length} of ${validated} responses contradict the OpenAPI document (fix the document or the service):\n  ${failures.join('\n  ')}`,
        );
      }
    },
  };
}
