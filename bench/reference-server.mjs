// The benchmark's reference: the benchmarked routes on bare Fastify + pg, with the service's schema,
// validation rules, authentication and response bodies, and nothing else. It shows what the same work
// costs without Nest, class-validator and TypeORM: the service is measured against it. Results routes
// are here; request routes (create, list with $filter, get with $expand) in reference-requests.mjs.
//
// Fast paths used here, each one the service could use too: JSON schema validation and serialization
// compiled by Fastify (ajv, fast-json-stringify), named prepared statements (REFERENCE_PREPARED=false
// turns them off), and one round trip per request. Lists end their pages within the service's page
// budget, with its own fitPage.
//
// Environment: DATABASE_URL, PORT, HOST, AUTH_HS256_SECRET, AUTH_ISSUER, AUTH_AUDIENCE, SKIPTOKEN_SECRET,
// PUBLIC_BASE_URL, DB_POOL_SIZE (default 10, as the service), REFERENCE_PREPARED (default true).
import { randomBytes, randomUUID, webcrypto } from 'node:crypto';
import process from 'node:process';
import { TextEncoder } from 'node:util';
import Fastify from 'fastify';
import { jwtVerify } from 'jose';
import pg from 'pg';
// What must stay equal to the service comes from its build (the bench builds dist/ first): data shapes,
// statements, mappers, ids, page budget, links, $skiptoken codec, enums, permissions and $top bounds.
// Shared, not what is measured: what is measured is the framework around them.
import { PERMISSIONS } from '#dist/auth/caller.js';
import { PublicUrls } from '#dist/common/http/public-url.js';
import { setCorrelation } from '#dist/common/http/request-context.js';
import { uuidv7 } from '#dist/database/uuid-v7.js';
import { pageOf, pageConditions } from '#dist/odata/keyset.js';
import { fitPage } from '#dist/odata/page-budget.js';
import { DEFAULT_TOP, MAX_TOP } from '#dist/odata/query-options.js';
import { SkipTokenCodec } from '#dist/odata/skiptoken.js';
import { addResultSql, listResultsSql, toResultEntity } from '#dist/threat-assessment/persistence/results.store.js';
import { REQUESTS_PATH, resultsPageScope } from '#dist/threat-assessment/threat-assessment-requests.controller.js';
import { RESULT_ODATA_TYPE, THREAT_ASSESSMENT_RESULT_TYPES } from '#dist/threat-assessment/threat-assessment.enums.js';
import { RESULTS_FILTER } from '#dist/threat-assessment/threat-assessment.filters.js';
import { toThreatAssessmentResultDto } from '#dist/threat-assessment/threat-assessment.mapper.js';
import { withoutNotifications } from './without-notifications.mjs';
import { registerRequestRoutes } from './reference-requests.mjs';

/**
 * @typedef {import('fastify').FastifyRequest} Request
 * @typedef {import('fastify').FastifyReply} Reply
 * @typedef {import('#dist/odata/skiptoken.js').KeysetPosition} KeysetPosition
 * @typedef {import('#dist/odata/query-options.js').SortOrder} SortOrder
 * @typedef {{ top: number, order: SortOrder, orderby?: string, skiptoken?: string, filter?: string }} ListOptions
 * @typedef {{ status: number, code: string, message: string, headers?: Record<string, string>, details?: { target: string, message: string }[] }} GraphErrorShape
 */

const env = process.env;
const PREPARED = env.REFERENCE_PREPARED !== 'false';
const PUBLIC_BASE_URL = env.PUBLIC_BASE_URL?.replace(/\/+$/, '') || undefined;
const READ_WRITE = PERMISSIONS.readWrite;
const READ = PERMISSIONS.read;
const GUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const GUID_RE = new RegExp(GUID);
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;
const statementTimeout = 10_000;

const pool = new pg.Pool({
  connectionString: env.DATABASE_URL,
  max: Number(env.DB_POOL_SIZE ?? 10),
  connectionTimeoutMillis: 5000,
  statement_timeout: statementTimeout,
  query_timeout: statementTimeout + 1000,
  keepAlive: true,
  application_name: 'bench-reference',
});

// The service's own statement (without key or limits): check the parent in the tenant, insert,
// complete a pending parent, record notifications; what is measured is everything around it. With
// REFERENCE_OUTBOX=off, without the notifications' CTEs: the outbox scenario's baseline.
const WITHOUT_OUTBOX = env.REFERENCE_OUTBOX === 'off';
const SERVICE_ADD_RESULT_SQL = addResultSql(false, false);
const ADD_RESULT_SQL = WITHOUT_OUTBOX ? withoutNotifications(SERVICE_ADD_RESULT_SQL) : SERVICE_ADD_RESULT_SQL;

/**
 * @template {import('pg').QueryResultRow} T
 * @param {string} name
 * @param {string} text
 * @param {unknown[]} values
 */
function query(name, text, values) {
  return pool.query(PREPARED ? { name, text, values } : { text, values });
}

// Authentication as the service's HS256 mode: jose, HS256 only, audience, issuer, 60 s tolerance. The key
// is imported once: given raw bytes, jose imports a WebCrypto key on every verification (~25 µs each).
const key = await webcrypto.subtle.importKey(
  'raw',
  new TextEncoder().encode(env.AUTH_HS256_SECRET ?? ''),
  { name: 'HMAC', hash: 'SHA-256' },
  false,
  ['verify'],
);
const audience = env.AUTH_AUDIENCE?.split(',')
  .map((a) => a.trim())
  .filter(Boolean);
const verifyOptions = { algorithms: ['HS256'], audience: audience?.length ? audience : undefined, clockTolerance: 60 };

class GraphError extends Error {
  /** @type {{ target: string, message: string }[] | undefined} */
  details;
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {Record<string, string>} [headers]
   */
  constructor(status, code, message, headers) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/**
 * `delegatedOnly`: the operation has no application permission (create, as Graph).
 * @param {Request} request
 * @param {string[]} permissions
 */
async function authenticate(request, permissions, { delegatedOnly = false } = {}) {
  const header = request.headers.authorization;
  const match = header && header.length <= 16 * 1024 ? BEARER.exec(header) : null;
  if (!match) throw unauthorized('The Authorization header must be "Bearer {token}".');
  let payload;
  try {
    ({ payload } = await jwtVerify(match[1], key, verifyOptions));
  } catch {
    throw unauthorized('The access token is malformed or invalid.');
  }
  const tenantId = typeof payload.tid === 'string' ? payload.tid.toLowerCase() : '';
  if (typeof payload.exp !== 'number' || !GUID_RE.test(tenantId))
    throw unauthorized('The access token is not accepted.');
  if (env.AUTH_ISSUER && payload.iss !== env.AUTH_ISSUER.replace('{tenantid}', tenantId)) {
    throw unauthorized('The access token was issued by an untrusted issuer.');
  }
  const delegated = typeof payload.scp === 'string';
  /** @type {unknown[]} */
  const granted =
    typeof payload.scp === 'string' ? payload.scp.split(' ') : Array.isArray(payload.roles) ? payload.roles : [];
  if ((delegatedOnly && !delegated) || !permissions.some((p) => granted.includes(p))) {
    throw new GraphError(
      403,
      'accessDenied',
      `Missing permission: this operation needs one of ${permissions.join(', ')}.`,
    );
  }
  request.tenantId = tenantId;
  const id = String(delegated ? (payload.oid ?? payload.sub) : (payload.azp ?? payload.appid));
  const displayName = delegated ? payload.name : payload.app_displayname;
  request.caller = {
    tenantId,
    kind: delegated ? 'user' : 'application',
    id,
    ...(typeof displayName === 'string' ? { displayName } : {}),
    permissions: new Set(/** @type {string[]} */ (granted)),
  };
}

/** @param {string} message */
function unauthorized(message) {
  return new GraphError(401, 'InvalidAuthenticationToken', message, { 'www-authenticate': 'Bearer' });
}

// Without a secret, a random key: the codec's development key file is the service's, not the reference's.
const skiptokens = new SkipTokenCodec(
  /** @type {import('#dist/config/app-config.js').AppConfig} */ ({
    skiptokenSecret: env.SKIPTOKEN_SECRET || randomBytes(32).toString('hex'),
  }),
);
/**
 * @param {KeysetPosition} position
 * @param {string[]} scope
 */
function encodeSkiptoken(position, scope) {
  return skiptokens.encode(position, scope);
}
/**
 * @param {string} token
 * @param {string[]} scope
 */
function decodeSkiptoken(token, scope) {
  try {
    return skiptokens.decode(token, scope);
  } catch (error) {
    throw badRequest(/** @type {Error} */ (error).message);
  }
}

/**
 * @param {string} message
 * @param {{ target: string, message: string }[]} [details]
 */
function badRequest(message, details) {
  const error = new GraphError(400, 'invalidRequest', message);
  error.details = details;
  return error;
}

/**
 * Collection options: `$top`, `$orderby`, `$skiptoken` and `extra`, by any case, with or without `$`.
 * @param {unknown} raw
 * @param {string[]} [extra]
 * @returns {ListOptions}
 */
function parseListOptions(raw, extra = []) {
  /** @type {Record<string, string>} */
  const options = {};
  for (const [name, value] of Object.entries(/** @type {Record<string, unknown>} */ (raw))) {
    const key = name.replace(/^\$/, '').toLowerCase();
    if (!['top', 'orderby', 'skiptoken', ...extra].includes(key)) {
      if (name.startsWith('$'))
        throw badRequest(`The query option '${name.slice(0, 50)}' is not supported by the reference.`);
      continue;
    }
    if (typeof value !== 'string' || key in options)
      throw badRequest(`The query option '$${key}' is given more than once.`);
    options[key] = value;
  }
  let top = DEFAULT_TOP;
  if (options.top !== undefined) {
    if (!/^\d{1,9}$/.test(options.top.trim()) || Number(options.top) < 1 || Number(options.top) > MAX_TOP) {
      throw badRequest(`$top must be an integer from 1 to ${MAX_TOP}.`);
    }
    top = Number(options.top);
  }
  /** @type {SortOrder} */
  let order = 'asc';
  if (options.orderby !== undefined) {
    const match = /^\s*createdDateTime(?:\s+(asc|desc))?\s*$/i.exec(options.orderby);
    if (!match) throw badRequest("$orderby supports only 'createdDateTime asc' or 'createdDateTime desc'.");
    order = match[1]?.toLowerCase() === 'desc' ? 'desc' : 'asc';
  }
  if (options.skiptoken === '') throw badRequest('$skiptoken is empty.');
  return { top, order, orderby: options.orderby, skiptoken: options.skiptoken, filter: options.filter };
}

/** @param {Request} request */
function urlsOf(request) {
  return new PublicUrls(request, PUBLIC_BASE_URL);
}

const resultSchema = {
  type: 'object',
  properties: {
    '@odata.type': { type: 'string' },
    id: { type: 'string' },
    createdDateTime: { type: 'string' },
    resultType: { type: 'string' },
    message: { type: 'string' },
  },
};
/**
 * A collection response: its context, next link and items.
 * @param {object} items
 */
const collectionSchema = (items) => ({
  type: 'object',
  properties: {
    '@odata.context': { type: 'string' },
    '@odata.nextLink': { type: 'string' },
    value: { type: 'array', items },
  },
});
const paramsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: GUID } },
};
const addBodySchema = {
  type: 'object',
  required: ['resultType', 'message'],
  additionalProperties: false,
  properties: {
    '@odata.type': { const: RESULT_ODATA_TYPE },
    // Server-owned: accepted from clients that echo objects back, and ignored.
    id: {},
    createdDateTime: {},
    resultType: { enum: THREAT_ASSESSMENT_RESULT_TYPES },
    message: { type: 'string', minLength: 1, maxLength: 4000 },
  },
};

const app = Fastify({
  bodyLimit: 8 * 1024 * 1024,
  genReqId: () => randomUUID(),
  requestIdHeader: false,
  onProtoPoisoning: 'error',
  onConstructorPoisoning: 'error',
  routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  // Fastify's defaults would strip unknown properties and coerce types; the service refuses both.
  ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, discriminator: true } },
});

app.decorateRequest('clientRequestId', '');
app.decorateRequest('apiVersion', 'v1.0');
app.decorateRequest('tenantId', '');
app.decorateRequest('caller', undefined);
app.addHook('onRequest', (request, reply, done) => {
  setCorrelation(request, reply);
  done();
});
app.removeAllContentTypeParsers();
app.addContentTypeParser('application/json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

/**
 * What Fastify hands the error handler: a GraphError, a schema validation failure, or its own 4xx.
 * @typedef {Error & { validation?: import('fastify').FastifySchemaValidationError[], validationContext?: string, statusCode?: number }} HandledError
 */
app.setErrorHandler((/** @type {HandledError} */ error, request, reply) => {
  let graph = error instanceof GraphError ? error : undefined;
  if (!graph && error.validation) {
    const details = error.validation.map((v) => ({
      target: String(
        (v.instancePath.replace(/^\//, '') || v.params?.missingProperty || v.params?.additionalProperty) ?? '',
      ),
      message:
        v.keyword === 'additionalProperties'
          ? `property ${v.params.additionalProperty} should not exist`
          : (v.message ?? ''),
    }));
    graph =
      error.validationContext === 'params'
        ? badRequest("'id' must be a GUID")
        : badRequest(details.map((d) => d.message).join('; '), details);
  }
  if (!graph && typeof error.statusCode === 'number' && error.statusCode < 500) {
    graph = new GraphError(
      error.statusCode === 415 ? 415 : 400,
      error.statusCode === 415 ? 'unsupportedMediaType' : 'invalidRequest',
      'The request is malformed or incorrect.',
    );
  }
  if (!graph) {
    request.log.error(error);
    graph = new GraphError(500, 'generalException', 'An unexpected error occurred.');
  }
  const code = graph.code;
  void reply
    .status(graph.status)
    .headers(graph.headers ?? {})
    .type('application/json; charset=utf-8')
    .send({
      error: {
        code,
        message: graph.message,
        ...(graph.details?.length ? { details: graph.details.map((d) => ({ code, ...d })) } : {}),
        innerError: {
          date: new Date().toISOString().slice(0, 19),
          'request-id': request.id,
          'client-request-id': request.clientRequestId,
        },
      },
    });
});

const RESULTS = `/v1.0/${REQUESTS_PATH}/:id/results`;

/**
 * A page's keyset position: the page after it starts there.
 * @param {{ createdDateTime: Date, id: string }} item
 * @returns {KeysetPosition}
 */
function positionOf(item) {
  return { createdDateTime: item.createdDateTime, id: item.id };
}

/** @param {Request} request */
function idParam(request) {
  return /** @type {{ id: string }} */ (request.params).id.toLowerCase();
}

/**
 * @param {Request} request
 * @param {Reply} reply
 */
async function addResult(request, reply) {
  const requestId = idParam(request);
  const { resultType, message } =
    /** @type {{ resultType: import('#dist/threat-assessment/threat-assessment.enums.js').ThreatAssessmentResultType, message: string }} */ (
      request.body
    );
  const id = uuidv7();
  let rows;
  try {
    ({ rows } = await query('ref_add_result', ADD_RESULT_SQL, [
      request.tenantId,
      requestId,
      id,
      resultType,
      message,
      // The traceparent, which only the notifications' CTEs use.
      null,
    ]));
  } catch (error) {
    if (/** @type {{ code?: string }} */ (error).code === '23503') throw notFound(requestId);
    throw error;
  }
  const row = /** @type {import('#dist/threat-assessment/persistence/results.store.js').AddedRow | undefined} */ (
    rows[0]
  );
  if (!row) throw notFound(requestId);
  if (!row.created_date_time) {
    throw badRequest(
      `resultType 'checkPolicy' is only for mail assessments; this request's contentType is '${row.content_type}'.`,
    );
  }
  const urls = urlsOf(request);
  void reply.code(201).header('location', urls.resource(`${REQUESTS_PATH}/${requestId}/results/${id}`));
  return {
    '@odata.context': urls.context(`${REQUESTS_PATH}('${requestId}')/results/$entity`),
    ...toThreatAssessmentResultDto(
      toResultEntity(request.tenantId, requestId, {
        id,
        created_date_time: row.created_date_time,
        result_type: resultType,
        message,
      }),
    ),
  };
}

// Authentication before validation, as the service's guard runs before its pipes: no token is 401, not 400.
const addRoute = {
  /** @param {Request} request */
  preValidation: (request) => authenticate(request, [READ_WRITE]),
  schema: {
    params: paramsSchema,
    body: addBodySchema,
    response: {
      201: { type: 'object', properties: { '@odata.context': { type: 'string' }, ...resultSchema.properties } },
    },
  },
  handler: addResult,
};
app.post(RESULTS, addRoute);
app.post(`${RESULTS}/$ref`, addRoute);

app.get(RESULTS, {
  preValidation: (request) => authenticate(request, [READ, READ_WRITE]),
  schema: {
    params: paramsSchema,
    response: { 200: collectionSchema(resultSchema) },
  },
  handler: async (request) => {
    const requestId = idParam(request);
    const options = parseListOptions(request.query);
    const scope = resultsPageScope(request.tenantId, requestId, options.order);
    const after = options.skiptoken ? decodeSkiptoken(options.skiptoken, scope) : undefined;
    /** @type {unknown[]} */
    const values = [request.tenantId, requestId, options.top + 1, 0];
    const where = pageConditions('x', values, RESULTS_FILTER, undefined, options.order, after);
    const direction = options.order === 'desc' ? 'DESC' : 'ASC';
    const { rows } = await query(`ref_list_${direction}_${Boolean(after)}`, listResultsSql(where, direction), values);
    if (rows.length === 0) throw notFound(requestId);
    const entities = /** @type {import('#dist/threat-assessment/persistence/results.store.js').ResultRow[]} */ (rows)
      .filter((row) => row.id !== null)
      .map((row) => toResultEntity(request.tenantId, requestId, row));
    const page = fitPage(pageOf(entities, options.top), { wire: toThreatAssessmentResultDto, position: positionOf });
    const urls = urlsOf(request);
    const path = `${REQUESTS_PATH}/${requestId}/results`;
    return {
      '@odata.context': urls.context(`${REQUESTS_PATH}('${requestId}')/results`),
      ...(page.next ? { '@odata.nextLink': urls.nextLink(path, encodeSkiptoken(page.next, scope)) } : {}),
      value: page.items,
    };
  },
});

/** @param {string} requestId */
function notFound(requestId) {
  return new GraphError(404, 'itemNotFound', `The threatAssessmentRequest '${requestId}' does not exist.`);
}

registerRequestRoutes(app, {
  query,
  positionOf,
  authenticate,
  badRequest,
  notFound,
  urlsOf,
  idParam,
  encodeSkiptoken,
  decodeSkiptoken,
  parseListOptions,
  paramsSchema,
  resultSchema,
  collectionSchema,
  READ,
  READ_WRITE,
});

app.get('/health/live', async () => ({ status: 'ok' }));

const close = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.once('SIGTERM', () => void close());
process.once('SIGINT', () => void close());

await app.listen({ port: Number(env.PORT ?? 3100), host: env.HOST ?? '127.0.0.1' });
process.stdout.write(`reference listening on ${env.PORT ?? 3100}\n`);
