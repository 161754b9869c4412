import { Injectable } from '@nestjs/common';
import { Database, type Queryable } from '../../database/database.js';
import { dynamicStatementName } from '../../database/prepared-query.js';
import { claimCte } from '../../idempotency/idempotency-keys.store.js';
import type { IdempotencyClaim } from '../../idempotency/idempotency.js';
import { pageConditions } from '../../odata/keyset.js';
import { PAGE_BUDGET_BYTES } from '../../odata/page-budget.js';
import type { CollectionQuery } from '../../odata/query-options.js';
import type { KeysetPosition } from '../../odata/skiptoken.js';
import { throttleGate, type ThrottleVerdict, type ThrottleWindows } from '../../throttling/throttle-counters.store.js';
import {
  EmailFileAssessmentRequestEntity,
  FileAssessmentRequestEntity,
  type IdentitySetColumn,
  MailAssessmentRequestEntity,
  ThreatAssessmentRequestEntity,
  UrlAssessmentRequestEntity,
} from '../entities/threat-assessment-request.entity.js';
import { ThreatAssessmentResultEntity } from '../entities/threat-assessment-result.entity.js';
import { REQUESTS_FILTER } from '../threat-assessment.filters.js';
import { writeStatements } from './write-statements.js';
import { EXPANDED_RESULTS_LIMIT } from '../threat-assessment.query-specs.js';
import type { RequestKind } from '../threat-assessment.enums.js';

export const ENTITY_OF = {
  mailAssessmentRequest: MailAssessmentRequestEntity,
  emailFileAssessmentRequest: EmailFileAssessmentRequestEntity,
  fileAssessmentRequest: FileAssessmentRequestEntity,
  urlAssessmentRequest: UrlAssessmentRequestEntity,
} as const;

/**
 * The insert, by hand and prepared: the repository's insert builds its SQL through the query builder on
 * every call and sends it unnamed, so PostgreSQL plans it every time. The values come from the entity;
 * `created_date_time` comes from the database clock, returned, never read back. With limits, the same
 * statement counts them (throttleGate): a refused or failed insert counts nothing. With an
 * Idempotency-Key, the same statement claims it (claimCte), and inserts and counts only if it won.
 */
const INSERT_COLUMNS = `id, tenant_id, kind, content_type, expected_assessment, category, status, request_source,
  created_by, recipient_email, message_uri, destination_routing_reason, file_name, url, content_size, content_sha256`;
const PLAIN_INSERT = `INSERT INTO threat_assessment_requests (${INSERT_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
  RETURNING threat_assessment_requests.created_date_time`;

export function createRequestSql(withClaim: boolean, throttled: boolean): string {
  if (!withClaim && !throttled) return PLAIN_INSERT;
  const claimed = 'EXISTS (SELECT 1 FROM claim)';
  const gate = throttleGate({ tenant: '$2::uuid', first: withClaim ? 20 : 17, when: withClaim ? claimed : 'true' });
  const claim = claimCte({
    tenant: '$2::uuid',
    key: '$17',
    requestHash: '$18',
    resourceId: '$1::uuid',
    ttlSeconds: '$19',
  });
  const ctes = [...(withClaim ? [claim] : []), ...(throttled ? [gate.ctes] : [])].join(', ');
  const conditions = [...(withClaim ? [claimed] : []), ...(throttled ? [gate.accepted] : [])].join(' AND ');
  return `WITH ${ctes}, inserted AS (
    INSERT INTO threat_assessment_requests (${INSERT_COLUMNS})
    SELECT $1::uuid, $2::uuid, $3::varchar, $4::varchar, $5::varchar, $6::varchar, $7::varchar, $8::varchar,
      $9::jsonb, $10::varchar, $11::varchar, $12::varchar, $13::varchar, $14::varchar, $15::int, $16::bytea
    WHERE ${conditions}
    RETURNING threat_assessment_requests.created_date_time
  )
  SELECT (SELECT created_date_time FROM inserted) AS created_date_time${throttled ? `, ${gate.columns}` : ''}`;
}

const createRequest = writeStatements('create_threat_assessment_request', createRequestSql);

/** `created_date_time` is null only when the claim was lost or the gate refused the insert. */
export type CreatedRow = { created_date_time: Date | null } & Partial<ThrottleVerdict>;

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

export interface RequestRow {
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

interface ExpandedResultRow {
  result_id: string;
  result_created_date_time: Date;
  result_type: ThreatAssessmentResultEntity['resultType'];
  message: string;
}

function toResultEntity(tenantId: string, requestId: string, row: ExpandedResultRow): ThreatAssessmentResultEntity {
  return Object.assign(new ThreatAssessmentResultEntity(), {
    id: row.result_id,
    tenantId,
    requestId,
    createdDateTime: row.result_created_date_time,
    resultType: row.result_type,
    message: row.message,
  });
}

export function toRequestEntity(row: RequestRow): ThreatAssessmentRequestEntity {
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

/** Requests of a tenant: every statement here is scoped by `tenant_id`. */
@Injectable()
export class RequestsStore {
  constructor(private readonly database: Database) {}

  /** On `on` (a transaction when a claim is sent, so that a refusal also gives the key back). */
  async create(
    on: Queryable,
    entity: ThreatAssessmentRequestEntity,
    claim: IdempotencyClaim | undefined,
    windows: ThrottleWindows | undefined,
  ): Promise<CreatedRow> {
    const statement = createRequest(insertValues(entity), claim, windows);
    const [row] = await on.query<CreatedRow>(statement.name, statement.text, statement.values);
    return row;
  }

  /**
   * The read paths are hand-written SQL mapped to the entities: the query builder's SQL building and
   * single-table-inheritance hydration cost more than the rest of a request (profiled). Every text
   * runs as a prepared statement: the fixed ones by name, a `$filter`'s within a bounded budget.
   */
  async list(
    tenantId: string,
    query: CollectionQuery,
    after?: KeysetPosition,
  ): Promise<ThreatAssessmentRequestEntity[]> {
    const values: unknown[] = [tenantId, query.top + 1, query.skip];
    const where = pageConditions('r', values, REQUESTS_FILTER, query.filter, query.order, after);
    const direction = query.order === 'asc' ? 'ASC' : 'DESC';
    const text = `SELECT ${REQUEST_COLUMNS} FROM threat_assessment_requests r
      WHERE r.tenant_id = $1${where}
      ORDER BY r.created_date_time ${direction}, r.id ${direction}
      LIMIT $2 OFFSET $3`;
    const rows = await this.database.query<RequestRow>(
      query.filter === undefined
        ? `list_threat_assessment_requests_${direction}_${after ? 'after' : 'first'}`
        : dynamicStatementName('list_threat_assessment_requests', text),
      text,
      values,
    );
    return rows.map(toRequestEntity);
  }

  async count(tenantId: string, filter?: string): Promise<number> {
    const values: unknown[] = [tenantId];
    const where = pageConditions('r', values, REQUESTS_FILTER, filter);
    const text = `SELECT count(*)::int AS n FROM threat_assessment_requests r WHERE r.tenant_id = $1${where}`;
    const rows = await this.database.query<{ n: number }>(
      filter === undefined
        ? 'count_threat_assessment_requests'
        : dynamicStatementName('count_threat_assessment_requests', text),
      text,
      values,
    );
    return rows[0].n;
  }

  async get(tenantId: string, id: string): Promise<ThreatAssessmentRequestEntity | undefined> {
    const [row] = await this.database.query<RequestRow>(
      'get_threat_assessment_request',
      `SELECT ${REQUEST_COLUMNS} FROM threat_assessment_requests r WHERE r.tenant_id = $1 AND r.id = $2`,
      [tenantId, id],
    );
    return row && toRequestEntity(row);
  }

  /**
   * The request and its oldest results in one round trip: a row per result (one with NULLs if none),
   * one more than are expanded, to tell whether more follow.
   */
  async getWithResults(
    tenantId: string,
    id: string,
  ): Promise<{ request: ThreatAssessmentRequestEntity; results: ThreatAssessmentResultEntity[] } | undefined> {
    const rows = await this.database.query<RequestRow & Partial<ExpandedResultRow>>(
      'get_threat_assessment_request_with_results',
      `SELECT ${REQUEST_COLUMNS}, x.result_id, x.result_created_date_time, x.result_type, x.message
       FROM threat_assessment_requests r
       LEFT JOIN LATERAL (
         SELECT id AS result_id, created_date_time AS result_created_date_time, result_type, message
         FROM threat_assessment_results
         WHERE tenant_id = $1 AND request_id = r.id
         ORDER BY created_date_time, id
         LIMIT ${EXPANDED_RESULTS_LIMIT + 1}
       ) x ON true
       WHERE r.tenant_id = $1 AND r.id = $2`,
      [tenantId, id],
    );
    if (!rows[0]) return undefined;
    const results = rows
      .filter((row): row is RequestRow & ExpandedResultRow => row.result_id != null)
      .map((row) => toResultEntity(tenantId, id, row));
    return { request: toRequestEntity(rows[0]), results };
  }

  /** Its results go with it (ON DELETE CASCADE). False when the tenant has no such request. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    const rows = await this.database.query<{ id: string }>(
      'delete_threat_assessment_request',
      'DELETE FROM threat_assessment_requests r WHERE r.tenant_id = $1 AND r.id = $2 RETURNING r.id',
      [tenantId, id],
    );
    return rows.length > 0;
  }

  /**
   * One query for the results of a whole page, oldest first: per request, one more than are expanded
   * (a LATERAL join on the tenant-leading index reads no further), never all of them. It stops once the
   * messages to show, in page order, pass the page budget: the page could not hold the request where
   * that happens (its JSON holds at least those bytes), nor any after it, so their results are not
   * loaded. `partial` is that request's index; never 0, since a request's 20 messages are at most
   * 320 KB (4,000 characters of at most 4 bytes).
   */
  async resultsOf(
    tenantId: string,
    ids: string[],
  ): Promise<{ byRequest: Map<string, ThreatAssessmentResultEntity[]>; partial?: number }> {
    const byRequest = new Map<string, ThreatAssessmentResultEntity[]>();
    if (ids.length === 0) return { byRequest };
    const rows = await this.database.query<ExpandedResultRow & { request_id: string; past_budget: boolean }>(
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
      [tenantId, ids, PAGE_BUDGET_BYTES],
    );
    const past = rows.find((row) => row.past_budget);
    for (const row of rows) {
      const result = toResultEntity(tenantId, row.request_id, row);
      const list = byRequest.get(row.request_id) ?? [];
      list.push(result);
      byRequest.set(row.request_id, list);
    }
    return { byRequest, ...(past ? { partial: ids.indexOf(past.request_id) } : {}) };
  }
}
