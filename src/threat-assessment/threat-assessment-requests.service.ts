import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Caller } from '../auth/caller.js';
import { uuidv7 } from '../database/uuid-v7.js';
import { IdempotencyKeys } from '../idempotency/idempotency-keys.service.js';
import type { IdempotencyClaim } from '../idempotency/idempotency.js';
import { canonicalEmail, canonicalUrl } from '../throttling/resource-key.js';
import { throttleGate, type ThrottleVerdict } from '../throttling/throttle-gate.js';
import { Throttler } from '../throttling/throttler.service.js';
import { type Page, pageConditions, pageOf } from '../odata/keyset.js';
import { PAGE_BUDGET_BYTES } from '../odata/page-budget.js';
import { dynamicStatementName, preparedQuery } from '../database/prepared-query.js';
import type { CollectionQuery } from '../odata/query-options.js';
import type { KeysetPosition } from '../odata/skiptoken.js';
import type { CreateThreatAssessmentRequestBody } from './dto/create-threat-assessment-request.dto.js';
import {
  EmailFileAssessmentRequestEntity,
  FileAssessmentRequestEntity,
  type IdentitySetColumn,
  MailAssessmentRequestEntity,
  ThreatAssessmentRequestEntity,
  UrlAssessmentRequestEntity,
} from './entities/threat-assessment-request.entity.js';
import { ThreatAssessmentResultEntity } from './entities/threat-assessment-result.entity.js';
import { ThreatAssessmentRequestNotFoundError } from './threat-assessment.errors.js';
import { REQUESTS_FILTER } from './threat-assessment.filters.js';
import { EXPANDED_RESULTS_LIMIT } from './threat-assessment.query-specs.js';
import { CONTENT_TYPE_OF, type RequestKind } from './threat-assessment.enums.js';

export interface RequestWithResults {
  request: ThreatAssessmentRequestEntity;
  /** With `$expand=results`: the oldest EXPANDED_RESULTS_LIMIT. */
  results?: ThreatAssessmentResultEntity[];
  /** Set exactly when more results follow: the position after the last of `results`. */
  moreResults?: KeysetPosition;
}

export interface RequestsPage extends Page<RequestWithResults> {
  count?: number;
}

const ENTITY_OF = {
  mailAssessmentRequest: MailAssessmentRequestEntity,
  emailFileAssessmentRequest: EmailFileAssessmentRequestEntity,
  fileAssessmentRequest: FileAssessmentRequestEntity,
  urlAssessmentRequest: UrlAssessmentRequestEntity,
} as const;

/** Requests of the caller's tenant: every query here is scoped by `tenant_id`. */
@Injectable()
export class ThreatAssessmentRequestsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly throttler: Throttler,
    private readonly idempotencyKeys: IdempotencyKeys,
  ) {}

  /**
   * With an idempotency claim, a retry of an earlier create answers that request again (`replayed`)
   * and writes nothing; the key is claimed in the transaction that inserts the request.
   */
  async create(
    caller: Caller,
    body: CreateThreatAssessmentRequestBody,
    claim?: IdempotencyClaim,
  ): Promise<{ request: ThreatAssessmentRequestEntity; replayed: boolean }> {
    if (claim) {
      const previous = await this.idempotencyKeys.previous(caller.tenantId, claim);
      if (previous) return { request: (await this.get(caller, previous, false)).request, replayed: true };
    }
    const kind = body['@odata.type'].slice('#microsoft.graph.'.length) as RequestKind;
    const fields = derivedFields(body);
    const resource = () => resourceKey(body, fields);
    const entity = Object.assign(new ENTITY_OF[kind](), {
      id: uuidv7(),
      tenantId: caller.tenantId,
      kind,
      contentType: CONTENT_TYPE_OF[kind],
      expectedAssessment: body.expectedAssessment,
      category: body.category,
      status: 'pending',
      // Graph: requests made through this API are administrator submissions.
      requestSource: 'administrator',
      createdBy: identitySetOf(caller),
      ...fields,
    } satisfies Partial<ThreatAssessmentRequestEntity>);
    const windows = this.throttler.createRequestWindows(resource);
    const values = windows ? [...insertValues(entity), ...windows] : insertValues(entity);
    const statement = windows ? INSERT_REQUEST_THROTTLED : INSERT_REQUEST;
    if (!claim) {
      const [row] = await preparedQuery<CreatedRow>(this.dataSource, statement.name, statement.text, values);
      await this.throttler.settle(caller.tenantId, row);
      entity.createdDateTime = row.created_date_time!;
      return { request: entity, replayed: false };
    }
    // Claim first: concurrent retries of one key wait here and then replay, uncounted by the throttle.
    const won = await this.dataSource.transaction(async (manager) => {
      if (!(await this.idempotencyKeys.claim(manager, caller.tenantId, claim, entity.id))) return false;
      const [row]: CreatedRow[] = await manager.query(statement.text, values);
      await this.throttler.settle(caller.tenantId, row, manager);
      entity.createdDateTime = row.created_date_time!;
      return true;
    });
    if (won) return { request: entity, replayed: false };
    // A concurrent attempt with the same key committed first: answer what it created.
    const previous = await this.idempotencyKeys.previous(caller.tenantId, claim);
    if (!previous) throw new ThreatAssessmentRequestNotFoundError(entity.id);
    return { request: (await this.get(caller, previous, false)).request, replayed: true };
  }

  /**
   * The read paths are hand-written SQL mapped to the entities: the query builder's SQL building and
   * single-table-inheritance hydration cost more than the rest of a request (profiled). Every text
   * runs as a prepared statement: the fixed ones by name, a `$filter`'s within a bounded budget.
   */
  async list(caller: Caller, query: CollectionQuery, after?: KeysetPosition): Promise<RequestsPage> {
    const values: unknown[] = [caller.tenantId, query.top + 1, query.skip];
    const where = pageConditions('r', values, REQUESTS_FILTER, query.filter, query.order, after);
    const direction = query.order === 'asc' ? 'ASC' : 'DESC';
    const text = `SELECT ${REQUEST_COLUMNS} FROM threat_assessment_requests r
      WHERE r.tenant_id = $1${where}
      ORDER BY r.created_date_time ${direction}, r.id ${direction}
      LIMIT $2 OFFSET $3`;
    const rows = await preparedQuery<RequestRow>(
      this.dataSource,
      query.filter === undefined
        ? `list_threat_assessment_requests_${direction}_${after ? 'after' : 'first'}`
        : dynamicStatementName('list_threat_assessment_requests', text),
      text,
      values,
    );
    let page = pageOf(rows.map(toRequestEntity), query.top);
    const results = query.expand.includes('results')
      ? await this.resultsOf(
          caller,
          page.items.map((r) => r.id),
        )
      : undefined;
    if (results?.partial !== undefined) {
      // Not loaded whole: the page ends before it, where the page budget would end it (or sooner).
      const items = page.items.slice(0, results.partial);
      page = { items, next: items.at(-1) };
    }
    const count = query.count ? await this.count(caller, query.filter) : undefined;
    return {
      items: page.items.map((request) => ({
        request,
        ...(results && expanded(results.byRequest.get(request.id) ?? [])),
      })),
      next: page.next,
      count,
    };
  }

  async count(caller: Caller, filter?: string): Promise<number> {
    const values: unknown[] = [caller.tenantId];
    const where = pageConditions('r', values, REQUESTS_FILTER, filter);
    const text = `SELECT count(*)::int AS n FROM threat_assessment_requests r WHERE r.tenant_id = $1${where}`;
    const rows = await preparedQuery<{ n: number }>(
      this.dataSource,
      filter === undefined
        ? 'count_threat_assessment_requests'
        : dynamicStatementName('count_threat_assessment_requests', text),
      text,
      values,
    );
    return rows[0].n;
  }

  async get(caller: Caller, id: string, expandResults: boolean): Promise<RequestWithResults> {
    if (expandResults) return this.getWithResults(caller, id);
    const rows = await preparedQuery<RequestRow>(
      this.dataSource,
      'get_threat_assessment_request',
      `SELECT ${REQUEST_COLUMNS} FROM threat_assessment_requests r WHERE r.tenant_id = $1 AND r.id = $2`,
      [caller.tenantId, id],
    );
    if (!rows[0]) throw new ThreatAssessmentRequestNotFoundError(id);
    return { request: toRequestEntity(rows[0]) };
  }

  /**
   * The request and its oldest results in one round trip: a row per result (one with NULLs if none),
   * one more than are expanded, to tell whether more follow.
   */
  private async getWithResults(caller: Caller, id: string): Promise<RequestWithResults> {
    const rows = await preparedQuery<RequestRow & Partial<ResultRow>>(
      this.dataSource,
      'get_threat_assessment_request_with_results',
      `SELECT ${REQUEST_COLUMNS}, x.result_id, x.result_created_date_time, x.result_type, x.message
       FROM threat_assessment_requests r
       LEFT JOIN LATERAL (
         SELECT id AS result_id, created_date_time AS result_created_date_time, result_type, message
         FROM threat_assessment_results
         WHERE tenant_id = r.tenant_id AND request_id = r.id
         ORDER BY created_date_time, id
         LIMIT ${EXPANDED_RESULTS_LIMIT + 1}
       ) x ON true
       WHERE r.tenant_id = $1 AND r.id = $2`,
      [caller.tenantId, id],
    );
    if (!rows[0]) throw new ThreatAssessmentRequestNotFoundError(id);
    const results = rows
      .filter((row): row is RequestRow & ResultRow => row.result_id != null)
      .map((row) => toResultEntity(caller.tenantId, id, row));
    return { request: toRequestEntity(rows[0]), ...expanded(results) };
  }

  /** Its results go with it (ON DELETE CASCADE). */
  async delete(caller: Caller, id: string): Promise<void> {
    const { affected } = await this.dataSource
      .getRepository(ThreatAssessmentRequestEntity)
      .delete({ tenantId: caller.tenantId, id });
    if (!affected) throw new ThreatAssessmentRequestNotFoundError(id);
  }

  /**
   * One query for the results of a whole page, oldest first: per request, one more than are expanded
   * (a LATERAL join on the tenant-leading index reads no further), never all of them. It stops once the
   * messages to show, in page order, pass the page budget: the page could not hold the request where
   * that happens (its JSON holds at least those bytes), nor any after it, so their results are not
   * loaded. `partial` is that request's index; never 0, since a request's 20 messages are at most
   * 320 KB (4,000 characters of at most 4 bytes).
   */
  private async resultsOf(
    caller: Caller,
    ids: string[],
  ): Promise<{ byRequest: Map<string, ThreatAssessmentResultEntity[]>; partial?: number }> {
    const byRequest = new Map<string, ThreatAssessmentResultEntity[]>();
    if (ids.length === 0) return { byRequest };
    const rows = await preparedQuery<ResultRow & { request_id: string; past_budget: boolean }>(
      this.dataSource,
      'results_of_threat_assessment_requests',
      `SELECT result_id, request_id, result_created_date_time, result_type, message,
         bytes_before + shown_bytes > $3 AS past_budget
       FROM (
         SELECT *, coalesce(sum(shown_bytes) OVER (ORDER BY ord, n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
           AS bytes_before
         FROM (
           SELECT x.id AS result_id, x.request_id, x.created_date_time AS result_created_date_time, x.result_type,
             p.ord, x.n,
             -- The row after the shown ones only says that more follow: its message is neither sent nor counted.
             CASE WHEN x.n <= ${EXPANDED_RESULTS_LIMIT} THEN x.message ELSE '' END AS message,
             CASE WHEN x.n <= ${EXPANDED_RESULTS_LIMIT} THEN octet_length(x.message) ELSE 0 END AS shown_bytes
           FROM unnest($2::uuid[]) WITH ORDINALITY AS p(id, ord)
           CROSS JOIN LATERAL (
             SELECT id, request_id, created_date_time, result_type, message,
               row_number() OVER (ORDER BY created_date_time, id) AS n
             FROM (
               SELECT id, request_id, created_date_time, result_type, message
               FROM threat_assessment_results
               WHERE tenant_id = $1 AND request_id = p.id
               ORDER BY created_date_time, id
               LIMIT ${EXPANDED_RESULTS_LIMIT + 1}
             ) limited
           ) x
         ) numbered
       ) summed
       WHERE bytes_before <= $3
       ORDER BY ord, n`,
      [caller.tenantId, ids, PAGE_BUDGET_BYTES],
    );
    const past = rows.find((row) => row.past_budget);
    for (const row of rows) {
      const result = toResultEntity(caller.tenantId, row.request_id, row);
      const list = byRequest.get(row.request_id) ?? [];
      list.push(result);
      byRequest.set(row.request_id, list);
    }
    return { byRequest, ...(past ? { partial: ids.indexOf(past.request_id) } : {}) };
  }
}

/** A request's expanded results from up to one more than are shown: the extra one says that more follow. */
function expanded(results: ThreatAssessmentResultEntity[]): Pick<RequestWithResults, 'results' | 'moreResults'> {
  const page = pageOf(results, EXPANDED_RESULTS_LIMIT);
  return page.next ? { results: page.items, moreResults: page.next } : { results: page.items };
}

/**
 * The insert, by hand and prepared: the repository's insert builds its SQL through the query builder on
 * every call and sends it unnamed, so PostgreSQL plans it every time. The values come from the entity;
 * `created_date_time` comes from the database clock, returned, never read back. With limits, the same
 * statement counts them (throttleGate): a refused or failed insert counts nothing.
 */
const INSERT_COLUMNS = `id, tenant_id, kind, content_type, expected_assessment, category, status, request_source,
  created_by, recipient_email, message_uri, destination_routing_reason, file_name, url, content_size, content_sha256`;
const INSERT_REQUEST = {
  name: 'create_threat_assessment_request',
  text: `INSERT INTO threat_assessment_requests (${INSERT_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
  RETURNING created_date_time`,
};
const CREATE_GATE = throttleGate({ tenant: '$2::uuid', first: 17 });
const INSERT_REQUEST_THROTTLED = {
  name: 'create_threat_assessment_request_throttled',
  text: `WITH ${CREATE_GATE.ctes}, inserted AS (
    INSERT INTO threat_assessment_requests (${INSERT_COLUMNS})
    SELECT $1::uuid, $2::uuid, $3::varchar, $4::varchar, $5::varchar, $6::varchar, $7::varchar, $8::varchar,
      $9::jsonb, $10::varchar, $11::varchar, $12::varchar, $13::varchar, $14::varchar, $15::int, $16::bytea
    WHERE ${CREATE_GATE.accepted}
    RETURNING created_date_time
  )
  SELECT (SELECT created_date_time FROM inserted) AS created_date_time, ${CREATE_GATE.columns}`,
};

/** `created_date_time` is null only when the gate refused the insert. */
type CreatedRow = { created_date_time: Date | null } & Partial<ThrottleVerdict>;

function insertValues(entity: ThreatAssessmentRequestEntity): unknown[] {
  const typed = entity as Partial<
    MailAssessmentRequestEntity &
      EmailFileAssessmentRequestEntity &
      FileAssessmentRequestEntity &
      UrlAssessmentRequestEntity
  >;
  return [
    entity.id,
    entity.tenantId,
    entity.kind,
    entity.contentType,
    entity.expectedAssessment,
    entity.category,
    entity.status,
    entity.requestSource,
    entity.createdBy,
    typed.recipientEmail ?? null,
    typed.messageUri ?? null,
    typed.destinationRoutingReason ?? null,
    typed.fileName ?? null,
    typed.url ?? null,
    typed.contentSize ?? null,
    typed.contentSha256 ?? null,
  ];
}

/** What a response needs; the content digest and size stay in the table. */
const REQUEST_COLUMNS = [
  'id',
  'tenant_id',
  'created_date_time',
  'kind',
  'content_type',
  'expected_assessment',
  'category',
  'status',
  'request_source',
  'created_by',
  'recipient_email',
  'message_uri',
  'destination_routing_reason',
  'file_name',
  'url',
]
  .map((column) => `r.${column}`)
  .join(', ');

interface RequestRow {
  id: string;
  tenant_id: string;
  created_date_time: Date;
  kind: RequestKind;
  content_type: ThreatAssessmentRequestEntity['contentType'];
  expected_assessment: ThreatAssessmentRequestEntity['expectedAssessment'];
  category: ThreatAssessmentRequestEntity['category'];
  status: ThreatAssessmentRequestEntity['status'];
  request_source: ThreatAssessmentRequestEntity['requestSource'];
  created_by: IdentitySetColumn;
  recipient_email: string | null;
  message_uri: string | null;
  destination_routing_reason: MailAssessmentRequestEntity['destinationRoutingReason'];
  file_name: string | null;
  url: string | null;
}

interface ResultRow {
  result_id: string;
  result_created_date_time: Date;
  result_type: ThreatAssessmentResultEntity['resultType'];
  message: string;
}

function toResultEntity(tenantId: string, requestId: string, row: ResultRow): ThreatAssessmentResultEntity {
  return Object.assign(new ThreatAssessmentResultEntity(), {
    id: row.result_id,
    tenantId,
    requestId,
    createdDateTime: row.result_created_date_time,
    resultType: row.result_type,
    message: row.message,
  });
}

function toRequestEntity(row: RequestRow): ThreatAssessmentRequestEntity {
  return Object.assign(new ENTITY_OF[row.kind](), {
    id: row.id,
    tenantId: row.tenant_id,
    createdDateTime: row.created_date_time,
    kind: row.kind,
    contentType: row.content_type,
    expectedAssessment: row.expected_assessment,
    category: row.category,
    status: row.status,
    requestSource: row.request_source,
    createdBy: row.created_by,
    ...(row.recipient_email === null ? {} : { recipientEmail: row.recipient_email }),
    ...(row.message_uri === null ? {} : { messageUri: row.message_uri }),
    ...(row.kind === 'mailAssessmentRequest' || row.kind === 'emailFileAssessmentRequest'
      ? { destinationRoutingReason: row.destination_routing_reason }
      : {}),
    ...(row.file_name === null ? {} : { fileName: row.file_name }),
    ...(row.url === null ? {} : { url: row.url }),
  });
}

export function identitySetOf(caller: Caller): IdentitySetColumn {
  const identity = { id: caller.id, ...(caller.displayName ? { displayName: caller.displayName } : {}) };
  return caller.kind === 'user' ? { user: identity } : { application: identity };
}

/** The derived type's own fields; `contentData` becomes its size and SHA-256 and goes no further. */
function derivedFields(body: CreateThreatAssessmentRequestBody) {
  switch (body['@odata.type']) {
    case '#microsoft.graph.mailAssessmentRequest':
      return {
        recipientEmail: body.recipientEmail,
        messageUri: body.messageUri,
        destinationRoutingReason: body.destinationRoutingReason ?? null,
      };
    case '#microsoft.graph.emailFileAssessmentRequest':
      return {
        recipientEmail: body.recipientEmail,
        destinationRoutingReason: body.destinationRoutingReason ?? null,
        ...digest(body.contentData),
      };
    case '#microsoft.graph.fileAssessmentRequest':
      return { fileName: body.fileName, ...digest(body.contentData) };
    case '#microsoft.graph.urlAssessmentRequest':
      return { url: body.url };
  }
}

/**
 * What Graph's per-resource limit counts: a message and its recipient, a URL, a file's content; each in
 * its canonical spelling, so that respelling a resource does not make it another.
 */
function resourceKey(body: CreateThreatAssessmentRequestBody, fields: ReturnType<typeof derivedFields>): string {
  const identity: string[] = [body['@odata.type']];
  if ('recipientEmail' in body) identity.push(canonicalEmail(body.recipientEmail));
  if ('messageUri' in body) identity.push(canonicalUrl(body.messageUri));
  if ('url' in body) identity.push(canonicalUrl(body.url));
  if ('contentSha256' in fields) identity.push(fields.contentSha256.toString('hex'));
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}

function digest(contentData: string): { contentSize: number; contentSha256: Buffer } {
  const bytes = Buffer.from(contentData, 'base64');
  return { contentSize: bytes.length, contentSha256: createHash('sha256').update(bytes).digest() };
}
