// The benchmark's reference: the benchmarked routes on bare Fastify + pg, with the service's schema,
// validation rules, authentication and response bodies, and nothing else. It shows what the same work
// costs without Nest, class-validator and TypeORM: the service is measured against it. Results routes
// are here; request routes (create, list with $filter, get with $expand) in reference-requests.mjs.
//
// Fast paths used here, each one the service could use too: JSON schema validation and serialization
// compiled by Fastify (ajv, fast-json-stringify), named prepared statements (REFERENCE_PREPARED=false
// turns them off), and one round trip per request (list: the parent check and the page in one query).
// Lists end their pages within the service's page budget, with its own fitPage.
//
// Environment: DATABASE_URL, PORT, HOST, AUTH_HS256_SECRET, AUTH_ISSUER, AUTH_AUDIENCE, SKIPTOKEN_SECRET,
// PUBLIC_BASE_URL, DB_POOL_SIZE (default 10, as the service), REFERENCE_PREPARED (default true).
import { randomBytes, randomUUID, webcrypto } from 'node:crypto';
import process from 'node:process';
import { TextEncoder } from 'node:util';
import Fastify from 'fastify';
import { jwtVerify } from 'jose';
import pg from 'pg';
// What must stay equal to the service comes from its build (the bench builds dist/ first): ids, page
// budget, $skiptoken codec, enums, permissions and $top bounds. Shared, not what is measured.
import { PERMISSIONS } from '#dist/auth/caller.js';
import { uuidv7 } from '#dist/database/uuid-v7.js';
import { fitPage } from '#dist/odata/page-budget.js';
import { DEFAULT_TOP, MAX_TOP } from '#dist/odata/query-options.js';
import { SkipTokenCodec } from '#dist/odata/skiptoken.js';
import { addResultSql } from '#dist/threat-assessment/persistence/results.store.js';
import { RESULT_ODATA_TYPE, THREAT_ASSESSMENT_RESULT_TYPES } from '#dist/threat-assessment/threat-assessment.enums.js';
import { registerRequestRoutes } from './reference-requests.mjs';

const env = process.env;
const PREPARED = env.REFERENCE_PREPARED !== 'false';
const PUBLIC_BASE_URL = env.PUBLIC_BASE_URL?.replace(/\/+$/, '') || undefined;
const REQUESTS_PATH = 'informationProtection/threatAssessmentRequests';
const READ_WRITE = PERMISSIONS.readWrite;
const READ = PERMISSIONS.read;
const GUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const GUID_RE = new RegExp(GUID);
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;
const CLIENT_REQUEST_ID = /^[\w.:/+=@-]{1,128}$/;
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
// complete a pending parent; what is measured is everything around it.
const ADD_RESULT_SQL = addResultSql(false, false);

/** One query: whether the parent is in the tenant, and the page (one row of NULLs when it is empty). */
function listSql(order, after) {
  const direction = order === 'desc' ? 'DESC' : 'ASC';
  const keyset = after ? `AND (created_date_time, id) ${order === 'desc' ? '<' : '>'} ($4::timestamptz, $5::uuid)` : '';
  return `
    SELECT p.found, x.id, x.created_date_time, x.result_type, x.message
    FROM (SELECT EXISTS (SELECT 1 FROM threat_assessment_requests WHERE tenant_id = $1 AND id = $2) AS found) p
    LEFT JOIN LATERAL (
      SELECT id, created_date_time, result_type, message FROM threat_assessment_results
      WHERE tenant_id = $1 AND request_id = $2 ${keyset}
      ORDER BY created_date_time ${direction}, id ${direction}
      LIMIT $3
    ) x ON p.found`;
}
const LIST_SQL = Object.fromEntries(
  ['asc', 'desc'].flatMap((order) => [false, true].map((after) => [`${order}:${after}`, listSql(order, after)])),
);

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
  constructor(status, code, message, headers) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** `delegatedOnly`: the operation has no application permission (create, as Graph). */
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
  const granted = delegated ? payload.scp.split(' ') : Array.isArray(payload.roles) ? payload.roles : [];
  if ((delegatedOnly && !delegated) || !permissions.some((p) => granted.includes(p))) {
    throw new GraphError(
      403,
      'accessDenied',
      `Missing permission: this operation needs one of ${permissions.join(', ')}.`,
    );
  }
  request.tenantId = tenantId;
  const id = delegated ? (payload.oid ?? payload.sub) : (payload.azp ?? payload.appid);
  const displayName = delegated ? payload.name : payload.app_displayname;
  const identity = typeof displayName === 'string' ? { id, displayName } : { id };
  request.identitySet = delegated ? { user: identity } : { application: identity };
}

function unauthorized(message) {
  return new GraphError(401, 'InvalidAuthenticationToken', message, { 'www-authenticate': 'Bearer' });
}

// Without a secret, a random key: the codec's development key file is the service's, not the reference's.
const skiptokens = new SkipTokenCodec(
  /** @type {import('#dist/config/app-config.js').AppConfig} */ ({
    skiptokenSecret: env.SKIPTOKEN_SECRET || randomBytes(32).toString('hex'),
  }),
);
function encodeSkiptoken(position, scope) {
  return skiptokens.encode(position, scope);
}
function decodeSkiptoken(token, scope) {
  try {
    return skiptokens.decode(token, scope);
  } catch (error) {
    throw badRequest(/** @type {Error} */ (error).message);
  }
}

function badRequest(message, details) {
  const error = new GraphError(400, 'invalidRequest', message);
  error.details = details;
  return error;
}

/** Collection options: `$top`, `$orderby`, `$skiptoken` and `extra`, by any case, with or without `$`. */
function parseListOptions(raw, extra = []) {
  const options = {};
  for (const [name, value] of Object.entries(raw)) {
    const key = name.replace(/^\$/, '').toLowerCase();
    if (!['top', 'orderby', 'skiptoken', ...extra].includes(key)) {
      if (name.startsWith('$'))
        throw badRequest(`The query option '${name.slice(0, 50)}' is not supported by the reference.`);
      continue;
    }
    if (Array.isArray(value) || key in options) throw badRequest(`The query option '$${key}' is given more than once.`);
    options[key] = value;
  }
  let top = DEFAULT_TOP;
  if (options.top !== undefined) {
    if (!/^\d{1,9}$/.test(options.top.trim()) || Number(options.top) < 1 || Number(options.top) > MAX_TOP) {
      throw badRequest(`$top must be an integer from 1 to ${MAX_TOP}.`);
    }
    top = Number(options.top);
  }
  let order = 'asc';
  if (options.orderby !== undefined) {
    const match = /^\s*createdDateTime(?:\s+(asc|desc))?\s*$/i.exec(options.orderby);
    if (!match) throw badRequest("$orderby supports only 'createdDateTime asc' or 'createdDateTime desc'.");
    order = match[1]?.toLowerCase() ?? 'asc';
  }
  if (options.skiptoken === '') throw badRequest('$skiptoken is empty.');
  return { top, order, orderby: options.orderby, skiptoken: options.skiptoken, filter: options.filter };
}

function base(request) {
  return `${PUBLIC_BASE_URL ?? `${request.protocol}://${request.host}`}/v1.0`;
}

/** The request's own options minus `$skip`/`$skiptoken`, plus the new `$skiptoken` (as the service's PublicUrls). */
function nextLink(request, path, skiptoken) {
  const query = request.url.split('?')[1] ?? '';
  const kept = query.split('&').filter((pair) => {
    if (pair === '') return false;
    let name = pair.split('=')[0];
    try {
      name = decodeURIComponent(name.replace(/\+/g, ' '));
    } catch {
      // kept as written
    }
    return !['skip', 'skiptoken'].includes(name.replace(/^\$/, '').toLowerCase());
  });
  kept.push(`$skiptoken=${skiptoken}`);
  return `${base(request)}/${path}?${kept.join('&')}`;
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
app.decorateRequest('tenantId', '');
app.decorateRequest('identitySet', null);
app.addHook('onRequest', (request, reply, done) => {
  const sent = request.headers['client-request-id'];
  request.clientRequestId = typeof sent === 'string' && CLIENT_REQUEST_ID.test(sent) ? sent : request.id;
  reply.header('request-id', request.id);
  reply.header('client-request-id', request.clientRequestId);
  done();
});
app.removeAllContentTypeParsers();
app.addContentTypeParser('application/json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

app.setErrorHandler((/** @type {any} */ error, request, reply) => {
  let graph = error instanceof GraphError ? error : undefined;
  if (!graph && error.validation) {
    const details = error.validation.map((v) => ({
      target: (v.instancePath.replace(/^\//, '') || v.params?.missingProperty || v.params?.additionalProperty) ?? '',
      message:
        v.keyword === 'additionalProperties' ? `property ${v.params.additionalProperty} should not exist` : v.message,
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
  void reply
    .status(graph.status)
    .headers(graph.headers ?? {})
    .type('application/json; charset=utf-8')
    .send({
      error: {
        code: graph.code,
        message: graph.message,
        ...(graph.details?.length ? { details: graph.details.map((d) => ({ code: graph.code, ...d })) } : {}),
        innerError: {
          date: new Date().toISOString().slice(0, 19),
          'request-id': request.id,
          'client-request-id': request.clientRequestId,
        },
      },
    });
});

const RESULTS = `/v1.0/${REQUESTS_PATH}/:id/results`;

/** A row's keyset position: the page after it starts there. */
function positionOf(row) {
  return { createdDateTime: row.created_date_time, id: row.id };
}

function toResult(row) {
  return {
    '@odata.type': RESULT_ODATA_TYPE,
    id: row.id,
    createdDateTime: row.created_date_time.toISOString(),
    resultType: row.result_type,
    message: row.message,
  };
}

async function addResult(request, reply) {
  const requestId = request.params.id.toLowerCase();
  const { resultType, message } = request.body;
  const id = uuidv7();
  let rows;
  try {
    ({ rows } = await query('ref_add_result', ADD_RESULT_SQL, [request.tenantId, requestId, id, resultType, message]));
  } catch (error) {
    if (/** @type {{ code?: string }} */ (error).code === '23503') throw notFound(requestId);
    throw error;
  }
  const row = rows[0];
  if (!row) throw notFound(requestId);
  if (!row.created_date_time) {
    throw badRequest(
      `resultType 'checkPolicy' is only for mail assessments; this request's contentType is '${row.content_type}'.`,
    );
  }
  const prefix = base(request);
  void reply.code(201).header('location', `${prefix}/${REQUESTS_PATH}/${requestId}/results/${id}`);
  return {
    '@odata.context': `${prefix}/$metadata#${REQUESTS_PATH}('${requestId}')/results/$entity`,
    '@odata.type': RESULT_ODATA_TYPE,
    id,
    createdDateTime: row.created_date_time.toISOString(),
    resultType,
    message,
  };
}

// Authentication before validation, as the service's guard runs before its pipes: no token is 401, not 400.
const addRoute = {
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
    response: {
      200: {
        type: 'object',
        properties: {
          '@odata.context': { type: 'string' },
          '@odata.nextLink': { type: 'string' },
          value: { type: 'array', items: resultSchema },
        },
      },
    },
  },
  handler: async (request) => {
    const requestId = /** @type {{ id: string }} */ (request.params).id.toLowerCase();
    const options = parseListOptions(request.query);
    const scope = [request.tenantId, `results:${requestId}`, options.order, ''];
    const after = options.skiptoken ? decodeSkiptoken(options.skiptoken, scope) : undefined;
    /** @type {unknown[]} */
    const values = [request.tenantId, requestId, options.top + 1];
    if (after) values.push(after.createdDateTime, after.id);
    const name = `ref_list_${options.order}_${Boolean(after)}`;
    const { rows } = await query(name, LIST_SQL[`${options.order}:${Boolean(after)}`], values);
    if (!rows[0]?.found) throw notFound(requestId);
    const items = rows.filter((row) => row.id !== null);
    const shown = items.slice(0, options.top);
    const page = fitPage(
      { items: shown, next: items.length > options.top ? positionOf(shown.at(-1)) : undefined },
      { wire: toResult, position: positionOf },
    );
    const path = `${REQUESTS_PATH}/${requestId}/results`;
    return {
      '@odata.context': `${base(request)}/$metadata#${REQUESTS_PATH}('${requestId}')/results`,
      ...(page.next ? { '@odata.nextLink': nextLink(request, path, encodeSkiptoken(page.next, scope)) } : {}),
      value: page.items,
    };
  },
});

registerRequestRoutes(app, {
  query,
  positionOf,
  authenticate,
  badRequest,
  notFound,
  base,
  nextLink,
  encodeSkiptoken,
  decodeSkiptoken,
  parseListOptions,
  uuidv7,
  paramsSchema,
  resultSchema,
  READ,
  READ_WRITE,
  REQUESTS_PATH,
  RESULT_ODATA_TYPE,
});

app.get('/health/live', async () => ({ status: 'ok' }));

function notFound(requestId) {
  return new GraphError(404, 'itemNotFound', `The threatAssessmentRequest '${requestId}' does not exist.`);
}

const close = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.once('SIGTERM', () => void close());
process.once('SIGINT', () => void close());

await app.listen({ port: Number(env.PORT ?? 3100), host: env.HOST ?? '127.0.0.1' });
process.stdout.write(`reference listening on ${env.PORT ?? 3100}\n`);
