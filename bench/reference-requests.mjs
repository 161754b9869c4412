// The reference's request routes: create, list (with the `$filter` the bench sends) and get with
// `$expand=results`, on bare Fastify + pg with the service's rules and response bodies. The scenarios
// that use them are measured against these, not against a neighbouring route.
//
// `$filter` here is the subset a hand-written handler would accept: `property eq 'value'` joined by
// `and`, on the enum properties. That bounded grammar lets every list run as a named prepared statement.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { fitPage } from '#dist/odata/page-budget.js';
import { CONTENT_TYPE_OF, REQUEST_KINDS } from '#dist/threat-assessment/request-types.js';
import {
  MAIL_DESTINATION_ROUTING_REASONS,
  THREAT_ASSESSMENT_CONTENT_TYPES,
  THREAT_ASSESSMENT_REQUEST_SOURCES,
  THREAT_ASSESSMENT_STATUSES,
  THREAT_CATEGORIES,
  THREAT_EXPECTED_ASSESSMENTS,
} from '#dist/threat-assessment/threat-assessment.enums.js';
import { EXPANDED_RESULTS_LIMIT } from '#dist/threat-assessment/threat-assessment.query-specs.js';

const REQUEST_TYPES = Object.fromEntries(REQUEST_KINDS.map((kind) => [`#microsoft.graph.${kind}`, kind]));
const FILTERABLE = {
  contentType: { column: 'content_type', values: THREAT_ASSESSMENT_CONTENT_TYPES },
  expectedAssessment: { column: 'expected_assessment', values: THREAT_EXPECTED_ASSESSMENTS },
  category: { column: 'category', values: THREAT_CATEGORIES },
  status: { column: 'status', values: THREAT_ASSESSMENT_STATUSES },
  requestSource: { column: 'request_source', values: THREAT_ASSESSMENT_REQUEST_SOURCES },
};
const COLUMNS =
  'id, created_date_time, kind, content_type, expected_assessment, category, status, request_source, created_by, ' +
  'recipient_email, message_uri, destination_routing_reason, file_name, url';

const INSERT_SQL = `
  INSERT INTO threat_assessment_requests (id, tenant_id, kind, content_type, expected_assessment, category, status,
    request_source, created_by, recipient_email, message_uri, destination_routing_reason, file_name, url,
    content_size, content_sha256)
  VALUES ($1, $2, $3, $4, $5, $6, 'pending', 'administrator', $7, $8, $9, $10, $11, $12, $13, $14)
  RETURNING created_date_time`;

// The request and its oldest results in one round trip, one more than are expanded (to tell whether
// more follow); no row at all when the request is not in the tenant.
const GET_EXPANDED_SQL = `
  SELECT ${COLUMNS.replace(/(\w+)/g, 'r.$1')}, x.id AS result_id, x.created_date_time AS result_created_date_time,
         x.result_type, x.message
  FROM threat_assessment_requests r
  LEFT JOIN LATERAL (
    SELECT id, created_date_time, result_type, message FROM threat_assessment_results
    WHERE tenant_id = r.tenant_id AND request_id = r.id
    ORDER BY created_date_time, id
    LIMIT ${EXPANDED_RESULTS_LIMIT + 1}
  ) x ON true
  WHERE r.tenant_id = $1 AND r.id = $2`;

const str = { type: 'string' };
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
function bodyOf(type, own, required) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['@odata.type', 'expectedAssessment', 'category', ...required],
    properties: {
      '@odata.type': { const: type },
      expectedAssessment: enumOf(['block', 'unblock']),
      category: enumOf(FILTERABLE.category.values),
      ...serverOwned,
      ...own,
    },
  };
}
const createBodySchema = {
  type: 'object',
  required: ['@odata.type'],
  discriminator: { propertyName: '@odata.type' },
  oneOf: [
    bodyOf(
      '#microsoft.graph.mailAssessmentRequest',
      {
        recipientEmail: email,
        messageUri: httpUrl,
        destinationRoutingReason: enumOf(MAIL_DESTINATION_ROUTING_REASONS),
      },
      ['recipientEmail', 'messageUri'],
    ),
    bodyOf(
      '#microsoft.graph.emailFileAssessmentRequest',
      {
        recipientEmail: email,
        contentData: base64,
        destinationRoutingReason: enumOf(MAIL_DESTINATION_ROUTING_REASONS),
      },
      ['recipientEmail', 'contentData'],
    ),
    bodyOf(
      '#microsoft.graph.fileAssessmentRequest',
      {
        fileName: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f]+$' },
        contentData: base64,
      },
      ['fileName', 'contentData'],
    ),
    bodyOf('#microsoft.graph.urlAssessmentRequest', { url: httpUrl }, ['url']),
  ],
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

/** The service's response shape for a stored request (its mapper, field for field). */
function toRequest(row) {
  const common = {
    '@odata.type': `#microsoft.graph.${row.kind}`,
    id: row.id,
    createdDateTime: row.created_date_time.toISOString(),
    contentType: row.content_type,
    expectedAssessment: row.expected_assessment,
    category: row.category,
    status: row.status,
    requestSource: row.request_source,
    createdBy: row.created_by,
  };
  switch (row.kind) {
    case 'mailAssessmentRequest':
      return {
        ...common,
        recipientEmail: row.recipient_email,
        destinationRoutingReason: row.destination_routing_reason,
        messageUri: row.message_uri,
      };
    case 'emailFileAssessmentRequest':
      return {
        ...common,
        recipientEmail: row.recipient_email,
        destinationRoutingReason: row.destination_routing_reason,
        contentData: '',
      };
    case 'fileAssessmentRequest':
      return { ...common, fileName: row.file_name, contentData: '' };
    default:
      return { ...common, url: row.url };
  }
}

/** `a eq 'x' and b eq 'y'` on the enum properties: [[column, value], …], sorted by column. */
function parseFilter(text, badRequest) {
  const terms = text.trim().split(/\s+and\s+/i);
  const seen = new Map();
  for (const term of terms) {
    const match = /^(\w+)\s+eq\s+'([^']*)'$/.exec(term.trim());
    const field = match && FILTERABLE[match[1]];
    if (!field) throw badRequest("The reference supports only $filter=property eq 'value' [and …].");
    if (!field.values.includes(match[2])) throw badRequest(`'${match[2]}' is not a value of ${match[1]}.`);
    seen.set(field.column, match[2]);
  }
  return [...seen].sort(([a], [b]) => a.localeCompare(b));
}

export function registerRequestRoutes(app, ctx) {
  const { query, authenticate, badRequest, notFound, base, nextLink, encodeSkiptoken, decodeSkiptoken, positionOf } =
    ctx;
  const { uuidv7, paramsSchema, resultSchema, READ, READ_WRITE, REQUESTS_PATH, RESULT_ODATA_TYPE } = ctx;
  const prefix = `/v1.0/${REQUESTS_PATH}`;

  app.post(prefix, {
    preValidation: (request) => authenticate(request, [READ_WRITE], { delegatedOnly: true }),
    schema: {
      body: createBodySchema,
      response: { 201: { type: 'object', properties: { '@odata.context': str, ...requestProperties } } },
    },
    handler: async (request, reply) => {
      const body = request.body;
      const kind = REQUEST_TYPES[body['@odata.type']];
      const bytes = body.contentData === undefined ? undefined : Buffer.from(body.contentData, 'base64');
      const id = uuidv7();
      const mail = kind === 'mailAssessmentRequest' || kind === 'emailFileAssessmentRequest';
      const row = {
        id,
        kind,
        content_type: CONTENT_TYPE_OF[kind],
        expected_assessment: body.expectedAssessment,
        category: body.category,
        status: 'pending',
        request_source: 'administrator',
        created_by: request.identitySet,
        recipient_email: body.recipientEmail ?? null,
        message_uri: body.messageUri ?? null,
        destination_routing_reason: mail ? (body.destinationRoutingReason ?? null) : null,
        file_name: body.fileName ?? null,
        url: body.url ?? null,
      };
      const { rows } = await query('ref_create_request', INSERT_SQL, [
        id,
        request.tenantId,
        kind,
        row.content_type,
        row.expected_assessment,
        row.category,
        row.created_by,
        row.recipient_email,
        row.message_uri,
        row.destination_routing_reason,
        row.file_name,
        row.url,
        bytes?.length ?? null,
        bytes && createHash('sha256').update(bytes).digest(),
      ]);
      row.created_date_time = rows[0].created_date_time;
      const url = base(request);
      void reply.code(201).header('location', `${url}/${REQUESTS_PATH}/${id}`);
      return { '@odata.context': `${url}/$metadata#${REQUESTS_PATH}/$entity`, ...toRequest(row) };
    },
  });

  app.get(prefix, {
    preValidation: (request) => authenticate(request, [READ, READ_WRITE]),
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            '@odata.context': str,
            '@odata.nextLink': str,
            value: { type: 'array', items: { type: 'object', properties: requestProperties } },
          },
        },
      },
    },
    handler: async (request) => {
      const options = ctx.parseListOptions(request.query, ['filter']);
      const order = options.orderby ? options.order : 'desc';
      const terms = options.filter === undefined ? [] : parseFilter(options.filter, badRequest);
      const scope = [request.tenantId, 'requests', order, options.filter ?? ''];
      const after = options.skiptoken ? decodeSkiptoken(options.skiptoken, scope) : undefined;
      const values = [request.tenantId, options.top + 1, ...terms.map(([, value]) => value)];
      let where = terms.map(([column], i) => ` AND ${column} = $${i + 3}`).join('');
      if (after) {
        values.push(after.createdDateTime, after.id);
        where += ` AND (created_date_time, id) ${order === 'desc' ? '<' : '>'} ($${values.length - 1}, $${values.length})`;
      }
      const direction = order === 'desc' ? 'DESC' : 'ASC';
      const text = `SELECT ${COLUMNS} FROM threat_assessment_requests WHERE tenant_id = $1${where}
        ORDER BY created_date_time ${direction}, id ${direction} LIMIT $2`;
      const name = `ref_list_requests_${direction}_${terms.map(([column]) => column).join('_')}_${Boolean(after)}`;
      const { rows } = await query(name, text, values);
      const shown = rows.slice(0, options.top);
      const page = fitPage(
        { items: shown, next: rows.length > options.top ? positionOf(shown.at(-1)) : undefined },
        { wire: toRequest, position: positionOf },
      );
      return {
        '@odata.context': `${base(request)}/$metadata#${REQUESTS_PATH}`,
        ...(page.next
          ? { '@odata.nextLink': nextLink(request, REQUESTS_PATH, encodeSkiptoken(page.next, scope)) }
          : {}),
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
      const id = request.params.id.toLowerCase();
      const expand = request.query.$expand;
      if (expand !== undefined && expand !== 'results') throw badRequest('The reference expands only results.');
      // One statement either way (the bench always expands); without $expand the results are dropped.
      const { rows } = await query('ref_get_request_expanded', GET_EXPANDED_SQL, [request.tenantId, id]);
      if (!rows[0]) throw notFound(id);
      const item = toRequest(rows[0]);
      const url = base(request);
      if (!expand) return { '@odata.context': `${url}/$metadata#${REQUESTS_PATH}/$entity`, ...item };
      const results = rows.filter((row) => row.result_id !== null);
      const shown = results.slice(0, EXPANDED_RESULTS_LIMIT);
      const last = shown.at(-1);
      // As the service: more than are expanded continue on the request's results list, oldest first.
      const more =
        results.length > EXPANDED_RESULTS_LIMIT
          ? encodeSkiptoken({ createdDateTime: last.result_created_date_time, id: last.result_id }, [
              request.tenantId,
              `results:${id}`,
              'asc',
              '',
            ])
          : undefined;
      return {
        '@odata.context': `${url}/$metadata#${REQUESTS_PATH}(results())/$entity`,
        ...item,
        results: shown.map((row) => ({
          '@odata.type': RESULT_ODATA_TYPE,
          id: row.result_id,
          createdDateTime: row.result_created_date_time.toISOString(),
          resultType: row.result_type,
          message: row.message,
        })),
        'results@odata.context': `${url}/$metadata#${REQUESTS_PATH}('${id}')/${item['@odata.type'].slice(1)}/results`,
        ...(more ? { 'results@odata.nextLink': `${url}/${REQUESTS_PATH}/${id}/results?$skiptoken=${more}` } : {}),
      };
    },
  });
}
