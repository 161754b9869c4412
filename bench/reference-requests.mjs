// The reference's request routes: create, list (with the `$filter` the bench sends) and get with
// `$expand=results`, on bare Fastify + pg with the service's statements, registry and mappers. The
// scenarios that use them are measured against these, not against a neighbouring route.
//
// `$filter` here is the subset a hand-written handler would accept: `property eq 'value'` joined by
// `and`, on the enum properties. That bounded grammar lets every list run as a named prepared statement.
import { pageConditions, pageOf } from '#dist/odata/keyset.js';
import { fitPage } from '#dist/odata/page-budget.js';
import {
  createRequestSql,
  GET_WITH_RESULTS_SQL,
  insertValues,
  listRequestsSql,
  toRequestEntity,
  toRequestWithResults,
} from '#dist/threat-assessment/persistence/requests.store.js';
import { REQUEST_TYPES, requestTypeOf } from '#dist/threat-assessment/request-types.js';
import { identitySetOf, newRequestEntity } from '#dist/threat-assessment/threat-assessment-requests.service.js';
import {
  MAIL_DESTINATION_ROUTING_REASONS,
  THREAT_ASSESSMENT_CONTENT_TYPES,
  THREAT_ASSESSMENT_REQUEST_SOURCES,
  THREAT_ASSESSMENT_STATUSES,
  THREAT_CATEGORIES,
  THREAT_EXPECTED_ASSESSMENTS,
} from '#dist/threat-assessment/threat-assessment.enums.js';
import { REQUESTS_FILTER } from '#dist/threat-assessment/threat-assessment.filters.js';
import {
  toThreatAssessmentRequestDto,
  toThreatAssessmentResultDto,
} from '#dist/threat-assessment/threat-assessment.mapper.js';
import { EXPANDED_RESULTS_LIMIT, RESULTS_QUERY } from '#dist/threat-assessment/threat-assessment.query-specs.js';
import { REQUESTS_PATH, resultsPageScope } from '#dist/threat-assessment/threat-assessment-requests.controller.js';

/**
 * @typedef {import('fastify').FastifyRequest} Request
 * @typedef {import('#dist/auth/caller.js').Caller} Caller
 * @typedef {import('#dist/odata/skiptoken.js').KeysetPosition} KeysetPosition
 * @typedef {import('#dist/threat-assessment/persistence/requests.store.js').RequestRow} RequestRow
 * @typedef {import('#dist/threat-assessment/persistence/requests.store.js').ExpandedRequestRow} ExpandedRequestRow
 * @typedef {import('#dist/threat-assessment/request-types.js').CreateThreatAssessmentRequestBody} CreateBody
 * @typedef {import('#dist/threat-assessment/threat-assessment-requests.service.js').RequestWithResults} RequestWithResults
 */

/**
 * What reference-server.mjs lends these routes.
 * @typedef {object} ReferenceContext
 * @property {(name: string, text: string, values: unknown[]) => Promise<import('pg').QueryResult>} query
 * @property {(item: { createdDateTime: Date, id: string }) => KeysetPosition} positionOf
 * @property {(request: Request, permissions: string[], options?: { delegatedOnly?: boolean }) => Promise<void>} authenticate
 * @property {(message: string) => Error} badRequest
 * @property {(requestId: string) => Error} notFound
 * @property {(request: Request) => import('#dist/common/http/public-url.js').PublicUrls} urlsOf
 * @property {(request: Request) => string} idParam
 * @property {(position: KeysetPosition, scope: string[]) => string} encodeSkiptoken
 * @property {(token: string, scope: string[]) => KeysetPosition} decodeSkiptoken
 * @property {(raw: unknown, extra?: string[]) => { top: number, order: 'asc' | 'desc', orderby?: string, skiptoken?: string, filter?: string }} parseListOptions
 * @property {object} paramsSchema
 * @property {{ properties: object }} resultSchema
 * @property {(items: object) => object} collectionSchema
 * @property {string} READ
 * @property {string} READ_WRITE
 */

/** @type {Record<string, { column: string, values: readonly string[] }>} */
const FILTERABLE = {
  contentType: { column: 'content_type', values: THREAT_ASSESSMENT_CONTENT_TYPES },
  expectedAssessment: { column: 'expected_assessment', values: THREAT_EXPECTED_ASSESSMENTS },
  category: { column: 'category', values: THREAT_CATEGORIES },
  status: { column: 'status', values: THREAT_ASSESSMENT_STATUSES },
  requestSource: { column: 'request_source', values: THREAT_ASSESSMENT_REQUEST_SOURCES },
};

// The service's insert, without key or limits.
const INSERT_SQL = createRequestSql(false, false);

const str = { type: 'string' };
/** @param {readonly string[]} values */
const enumOf = (values) => ({ type: 'string', enum: values });
const httpUrl = { type: 'string', maxLength: 2048, format: 'uri', pattern: '^[hH][tT][tT][pP][sS]?://' };
const base64 = {
  type: 'string',
  minLength: 1,
  pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$',
};
const email = { type: 'string', maxLength: 320, format: 'email' };
// Server-owned: accepted from clients that echo objects back, and ignored.
const serverOwned = Object.fromEntries(
  ['id', 'createdDateTime', 'status', 'contentType', 'requestSource', 'createdBy', 'results'].map((p) => [p, {}]),
);
/** Each type's own create properties (JSON schemas) and the ones it requires, by kind. */
const OWN = {
  mailAssessmentRequest: {
    properties: {
      recipientEmail: email,
      messageUri: httpUrl,
      destinationRoutingReason: enumOf(MAIL_DESTINATION_ROUTING_REASONS),
    },
    required: ['recipientEmail', 'messageUri'],
  },
  emailFileAssessmentRequest: {
    properties: {
      recipientEmail: email,
      contentData: base64,
      destinationRoutingReason: enumOf(MAIL_DESTINATION_ROUTING_REASONS),
    },
    required: ['recipientEmail', 'contentData'],
  },
  fileAssessmentRequest: {
    properties: {
      fileName: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f]+$' },
      contentData: base64,
    },
    required: ['fileName', 'contentData'],
  },
  urlAssessmentRequest: { properties: { url: httpUrl }, required: ['url'] },
};
const createBodySchema = {
  type: 'object',
  required: ['@odata.type'],
  discriminator: { propertyName: '@odata.type' },
  oneOf: REQUEST_TYPES.map((type) => ({
    type: 'object',
    additionalProperties: false,
    required: ['@odata.type', 'expectedAssessment', 'category', ...OWN[type.kind].required],
    properties: {
      '@odata.type': { const: type.odataType },
      expectedAssessment: enumOf(['block', 'unblock']),
      category: enumOf(FILTERABLE.category.values),
      ...serverOwned,
      ...OWN[type.kind].properties,
    },
  })),
};

const identity = { type: 'object', properties: { id: str, displayName: str } };
const requestProperties = {
  '@odata.type': str,
  id: str,
  createdDateTime: str,
  contentType: str,
  expectedAssessment: str,
  category: str,
  status: str,
  requestSource: str,
  createdBy: { type: 'object', properties: { user: identity, application: identity } },
  recipientEmail: str,
  destinationRoutingReason: { type: ['string', 'null'] },
  messageUri: str,
  fileName: str,
  contentData: str,
  url: str,
};

/**
 * `a eq 'x' and b eq 'y'` on the enum properties: [[column, value], …], sorted by column.
 * @param {string} text
 * @param {(message: string) => Error} badRequest
 * @returns {[string, string][]}
 */
function parseFilter(text, badRequest) {
  const terms = text.trim().split(/\s+and\s+/i);
  /** @type {Map<string, string>} */
  const seen = new Map();
  for (const term of terms) {
    const match = /^(\w+)\s+eq\s+'([^']*)'$/.exec(term.trim());
    const field = match && FILTERABLE[match[1]];
    if (!match || !field) throw badRequest("The reference supports only $filter=property eq 'value' [and …].");
    if (!field.values.includes(match[2])) throw badRequest(`'${match[2]}' is not a value of ${match[1]}.`);
    seen.set(field.column, match[2]);
  }
  return [...seen].sort(([a], [b]) => a.localeCompare(b));
}

/** @param {RequestWithResults['request']} request */
const requestPosition = (request) => ({ createdDateTime: request.createdDateTime, id: request.id });

/**
 * @param {import('fastify').FastifyInstance} app
 * @param {ReferenceContext} ctx
 */
export function registerRequestRoutes(app, ctx) {
  const { query, authenticate, badRequest, notFound, urlsOf, idParam, encodeSkiptoken, decodeSkiptoken } = ctx;
  const { paramsSchema, resultSchema, collectionSchema, READ, READ_WRITE } = ctx;
  const prefix = `/v1.0/${REQUESTS_PATH}`;

  app.post(prefix, {
    preValidation: (request) => authenticate(request, [READ_WRITE], { delegatedOnly: true }),
    schema: {
      body: createBodySchema,
      response: { 201: { type: 'object', properties: { '@odata.context': str, ...requestProperties } } },
    },
    handler: async (request, reply) => {
      const body = /** @type {CreateBody} */ (request.body);
      const type = requestTypeOf(body['@odata.type']);
      const entity = newRequestEntity(
        type,
        type.columnsOf(body),
        body,
        request.tenantId,
        identitySetOf(/** @type {Caller} */ (request.caller)),
      );
      const { rows } = await query('ref_create_request', INSERT_SQL, insertValues(entity, undefined));
      entity.createdDateTime = rows[0].created_date_time;
      const urls = urlsOf(request);
      void reply.code(201).header('location', urls.resource(`${REQUESTS_PATH}/${entity.id}`));
      return { '@odata.context': urls.context(`${REQUESTS_PATH}/$entity`), ...toThreatAssessmentRequestDto(entity) };
    },
  });

  app.get(prefix, {
    preValidation: (request) => authenticate(request, [READ, READ_WRITE]),
    schema: { response: { 200: collectionSchema({ type: 'object', properties: requestProperties }) } },
    handler: async (request) => {
      const options = ctx.parseListOptions(request.query, ['filter']);
      const order = options.orderby ? options.order : 'desc';
      const terms = options.filter === undefined ? [] : parseFilter(options.filter, badRequest);
      const scope = [request.tenantId, 'requests', order, options.filter ?? ''];
      const after = options.skiptoken ? decodeSkiptoken(options.skiptoken, scope) : undefined;
      const values = [request.tenantId, options.top + 1, 0, ...terms.map(([, value]) => value)];
      const where =
        terms.map(([column], i) => ` AND r.${column} = $${i + 4}`).join('') +
        pageConditions('r', values, REQUESTS_FILTER, undefined, order, after);
      const direction = order === 'desc' ? 'DESC' : 'ASC';
      const name = `ref_list_requests_${direction}_${terms.map(([column]) => column).join('_')}_${Boolean(after)}`;
      const { rows } = await query(name, listRequestsSql(where, direction), values);
      const page = fitPage(pageOf(/** @type {RequestRow[]} */ (rows).map(toRequestEntity), options.top), {
        wire: toThreatAssessmentRequestDto,
        position: requestPosition,
      });
      const urls = urlsOf(request);
      return {
        '@odata.context': urls.context(REQUESTS_PATH),
        ...(page.next ? { '@odata.nextLink': urls.nextLink(REQUESTS_PATH, encodeSkiptoken(page.next, scope)) } : {}),
        value: page.items,
      };
    },
  });

  app.get(`${prefix}/:id`, {
    preValidation: (request) => authenticate(request, [READ, READ_WRITE]),
    schema: {
      params: paramsSchema,
      response: {
        200: {
          type: 'object',
          properties: {
            '@odata.context': str,
            ...requestProperties,
            results: { type: 'array', items: resultSchema },
            'results@odata.context': str,
            'results@odata.nextLink': str,
          },
        },
      },
    },
    handler: async (request) => {
      const id = idParam(request);
      const expand = /** @type {{ $expand?: string }} */ (request.query).$expand;
      if (expand !== undefined && expand !== 'results') throw badRequest('The reference expands only results.');
      // One statement either way (the bench always expands); without $expand the results are dropped.
      const { rows } = await query('ref_get_request_expanded', GET_WITH_RESULTS_SQL, [request.tenantId, id]);
      if (!rows[0]) throw notFound(id);
      const found = toRequestWithResults(request.tenantId, id, /** @type {ExpandedRequestRow[]} */ (rows));
      const item = toThreatAssessmentRequestDto(found.request);
      const urls = urlsOf(request);
      if (!expand) return { '@odata.context': urls.context(`${REQUESTS_PATH}/$entity`), ...item };
      // As the service: more than are expanded continue on the request's results list, oldest first.
      const results = pageOf(found.results, EXPANDED_RESULTS_LIMIT);
      const more =
        results.next &&
        encodeSkiptoken(results.next, resultsPageScope(request.tenantId, id, RESULTS_QUERY.defaultOrder));
      return {
        '@odata.context': urls.context(`${REQUESTS_PATH}(results())/$entity`),
        ...item,
        results: results.items.map(toThreatAssessmentResultDto),
        'results@odata.context': urls.context(`${REQUESTS_PATH}('${id}')/${item['@odata.type'].slice(1)}/results`),
        ...(more
          ? { 'results@odata.nextLink': urls.resource(`${REQUESTS_PATH}/${id}/results?$skiptoken=${more}`) }
          : {}),
      };
    },
  });
}
