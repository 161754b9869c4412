import { Injectable } from '@nestjs/common';
import { Database, type Queryable } from '../../database/database.js';
import { filteredStatementName } from '../../database/prepared-query.js';
import { claimCte } from '../../idempotency/idempotency-keys.store.js';
import type { IdempotencyClaim } from '../../idempotency/idempotency.js';
import { pageConditions } from '../../odata/keyset.js';
import { PAGE_BUDGET_BYTES } from '../../odata/page-budget.js';
import type { CollectionQuery } from '../../odata/query-options.js';
import type { KeysetPosition } from '../../odata/skiptoken.js';
import { throttleGate, type ThrottleVerdict, type ThrottleWindows } from '../../throttling/throttle-counters.store.js';
import type { IdentitySetColumn, ThreatAssessmentRequestEntity } from '../entities/threat-assessment-request.entity.js';
import { ThreatAssessmentResultEntity } from '../entities/threat-assessment-result.entity.js';
import { REQUESTS_FILTER } from '../threat-assessment.filters.js';
import { writeStatements } from './write-statements.js';
import { changeNotificationsCte, REQUESTS_RESOURCE } from '../../notifications/persistence/record-notifications.js';
import { EXPANDED_RESULTS_LIMIT } from '../threat-assessment.query-specs.js';
import {
  type ReadColumn,
  type RequestKind,
  requestTypeOfKind,
  TYPE_COLUMN_LIST,
  type TypeProperty,
} from '../request-types.js';

/**
 * The insert, by hand and prepared: the repository's insert builds its SQL through the query builder on
 * every call and sends it unnamed, so PostgreSQL plans it every time. The values come from the entity;
 * `created_date_time` comes from the database clock, returned, never read back. With limits, the same
 * statement counts them (throttleGate): a refused or failed insert counts nothing. With an
 * Idempotency-Key, the same statement claims it (claimCte), and inserts and counts only if it won. It
 * also records a `created` notification for each subscription to the collection.
 */
const INSERT_COLUMNS = `id, tenant_id, kind, content_type, expected_assessment, category, status, request_source,
  created_by, ${TYPE_COLUMN_LIST.map((c) => c.column).join(', ')}`;
/** The shared columns take $1 to $9, the derived types' the next, then the traceparent; the claim's and the gate's follow. */
const SHARED_PARAMETERS = 9;
const INSERT_PARAMETERS = SHARED_PARAMETERS + TYPE_COLUMN_LIST.length;
const TRACEPARENT = `$${INSERT_PARAMETERS + 1}::varchar`;
const TYPED_PARAMETERS = TYPE_COLUMN_LIST.map((c, i) => `$${SHARED_PARAMETERS + 1 + i}::${c.sqlType}`).join(', ');
const CREATED_NOTIFICATIONS = changeNotificationsCte({
  name: 'notified',
  source: 'inserted',
  tenantSql: '$2::uuid',
  resourceSql: `'${REQUESTS_RESOURCE}'`,
  event: 'created',
  requestIdSql: '$1::uuid',
  requestKindSql: '$3::varchar',
  traceparentSql: TRACEPARENT,
});

const DELETED_NOTIFICATIONS = `WITH removed AS (
    UPDATE subscriptions s SET retired_at = now()
    WHERE s.tenant_id = $1 AND s.request_id = $2 AND s.retired_at IS NULL
    RETURNING s.tenant_id, s.id, s.lifecycle_notification_url, s.expiration_date_time
  ), removal_notified AS (
    INSERT INTO notifications (id, tenant_id, subscription_id, channel, event, request_id, traceparent)
    SELECT gen_random_uuid(), tenant_id, id, 'lifecycle', 'subscriptionRemoved', $2::uuid, $4::varchar FROM removed
    WHERE lifecycle_notification_url IS NOT NULL AND expiration_date_time > now()
  ), ${changeNotificationsCte({
    name: 'notified',
    source: '(VALUES (1)) AS deleted (one)',
    tenantSql: '$1::uuid',
    resourceSql: `'${REQUESTS_RESOURCE}'`,
    event: 'deleted',
    requestIdSql: '$2::uuid',
    requestKindSql: '$3::varchar',
    traceparentSql: '$4::varchar',
  })}
  SELECT count(*)::int AS removed FROM removed`;

export function createRequestSql(withClaim: boolean, throttled: boolean): string {
  const claimed = 'EXISTS (SELECT 1 FROM claim)';
  const first = INSERT_PARAMETERS + 2;
  const gate = throttleGate({
    tenant: '$2::uuid',
    first: withClaim ? first + 3 : first,
    when: withClaim ? claimed : 'true',
  });
  const claim = claimCte({
    tenant: '$2::uuid',
    key: `$${first}`,
    requestHash: `$${first + 1}`,
    resourceId: '$1::uuid',
    ttlSeconds: `$${first + 2}`,
  });
  const ctes = [...(withClaim ? [claim] : []), ...(throttled ? [gate.ctes] : [])].map((cte) => `${cte}, `).join('');
  const conditions = [...(withClaim ? [claimed] : []), ...(throttled ? [gate.accepted] : [])];
  return `WITH ${ctes}inserted AS (
    INSERT INTO threat_assessment_requests (${INSERT_COLUMNS})
    SELECT $1::uuid, $2::uuid, $3::varchar, $4::varchar, $5::varchar, $6::varchar, $7::varchar, $8::varchar,
      $9::jsonb, ${TYPED_PARAMETERS}
    ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
    RETURNING threat_assessment_requests.created_date_time
  ), ${CREATED_NOTIFICATIONS}
  SELECT (SELECT created_date_time FROM inserted) AS created_date_time${throttled ? `, ${gate.columns}` : ''}`;
}

const createRequest = writeStatements('create_threat_assessment_request', createRequestSql);

/** `created_date_time` is null only when the claim was lost or the gate refused the insert. */
export type CreatedRow = { created_date_time: Date | null } & Partial<ThrottleVerdict>;

/** The insert's parameters before any claim's or gate's: INSERT_COLUMNS' order, then the traceparent. */
export function insertValues(entity: ThreatAssessmentRequestEntity, traceparent: string | undefined): unknown[] {
  const typed = entity as Partial<Record<TypeProperty, unknown>>;
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
    ...TYPE_COLUMN_LIST.map((c) => typed[c.property] ?? null),
    traceparent ?? null,
  ];
}

/** What a response needs; the content digest and size stay in the table. */
export const REQUEST_COLUMNS = [
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
  ...TYPE_COLUMN_LIST.filter((c) => c.read).map((c) => c.column),
]
  .map((column) => `r.${column}`)
  .join(', ');

export type RequestRow = SharedRequestRow & Record<ReadColumn, string | null>;

interface SharedRequestRow {
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
}

export interface ExpandedResultRow {
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

/** The shared columns, then the row's own type's: another type's columns are not its fields. */
export function toRequestEntity(row: RequestRow): ThreatAssessmentRequestEntity {
  const type = requestTypeOfKind(row.kind);
  const entity = Object.assign(new type.entity(), {
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
  });
  const typed = entity as unknown as Record<TypeProperty, unknown>;
  for (const [property, column] of type.readColumns) typed[property] = row[column];
  return entity;
}

/** A page of a tenant's requests: `where` holds the conditions after the tenant's, `$2` the limit, `$3` the offset. */
export function listRequestsSql(where: string, direction: 'ASC' | 'DESC'): string {
  return `SELECT ${REQUEST_COLUMNS} FROM threat_assessment_requests r
      WHERE r.tenant_id = $1${where}
      ORDER BY r.created_date_time ${direction}, r.id ${direction}
      LIMIT $2 OFFSET $3`;
}

/**
 * The request and its oldest results in one round trip: a row per result (one with NULLs if none),
 * one more than are expanded, to tell whether more follow; no row when the tenant has no such request.
 */
export const GET_WITH_RESULTS_SQL = `SELECT ${REQUEST_COLUMNS}, x.result_id, x.result_created_date_time, x.result_type, x.message
       FROM threat_assessment_requests r
       LEFT JOIN LATERAL (
         SELECT id AS result_id, created_date_time AS result_created_date_time, result_type, message
         FROM threat_assessment_results
         WHERE tenant_id = $1 AND request_id = r.id
         ORDER BY created_date_time, id
         LIMIT ${EXPANDED_RESULTS_LIMIT + 1}
       ) x ON true
       WHERE r.tenant_id = $1 AND r.id = $2`;

export type ExpandedRequestRow = RequestRow & Partial<ExpandedResultRow>;

/** The rows of GET_WITH_RESULTS_SQL (at least one) as the request and its results. */
export function toRequestWithResults(
  tenantId: string,
  id: string,
  rows: ExpandedRequestRow[],
): { request: ThreatAssessmentRequestEntity; results: ThreatAssessmentResultEntity[] } {
  const results = rows
    .filter((row): row is RequestRow & ExpandedResultRow => row.result_id != null)
    .map((row) => toResultEntity(tenantId, id, row));
  return { request: toRequestEntity(rows[0]), results };
}

/** Requests of a tenant: every statement here is scoped by `tenant_id`. */
@Injectable()
export class RequestsStore {
  constructor(private readonly database: Database) {}

  /** On `on` (a transaction when a claim is sent, so that a refusal also gives the key back). */
  async create(
    on: Queryable,
    entity: ThreatAssessmentRequestEntity,
    traceparent: string | undefined,
    claim: IdempotencyClaim | undefined,
    windows: ThrottleWindows | undefined,
  ): Promise<CreatedRow> {
    const statement = createRequest(insertValues(entity, traceparent), claim, windows);
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
    const text = listRequestsSql(where, direction);
    const rows = await this.database.query<RequestRow>(
      filteredStatementName(
        query.filter,
        text,
        'list_threat_assessment_requests',
        direction,
        after ? 'after' : 'first',
      ),
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
      filteredStatementName(filter, text, 'count_threat_assessment_requests'),
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

  /** The request and its oldest results in one round trip (GET_WITH_RESULTS_SQL). */
  async getWithResults(
    tenantId: string,
    id: string,
  ): Promise<{ request: ThreatAssessmentRequestEntity; results: ThreatAssessmentResultEntity[] } | undefined> {
    const rows = await this.database.query<ExpandedRequestRow>(
      'get_threat_assessment_request_with_results',
      GET_WITH_RESULTS_SQL,
      [tenantId, id],
    );
    return rows.length > 0 ? toRequestWithResults(tenantId, id, rows) : undefined;
  }

  /**
   * Its results go with it (ON DELETE CASCADE), and so do the subscriptions to them: retired, each with
   * a `subscriptionRemoved` lifecycle notification, beside a `deleted` for each subscription to the
   * collection. Two statements in one transaction: a subscription to the results being created at
   * that moment holds a share lock on the request (SubscriptionsStore), so the delete waits for it to
   * commit, and only a statement that starts after the delete sees it and retires it. False when the
   * tenant has no such request.
   */
  async delete(tenantId: string, id: string, traceparent: string | undefined): Promise<boolean> {
    return this.database.transaction(async (tx) => {
      const [deleted] = await tx.query<{ kind: RequestKind }>(
        'delete_threat_assessment_request',
        'DELETE FROM threat_assessment_requests r WHERE r.tenant_id = $1 AND r.id = $2 RETURNING r.kind',
        [tenantId, id],
      );
      if (!deleted) return false;
      await tx.query('notify_threat_assessment_request_deleted', DELETED_NOTIFICATIONS, [
        tenantId,
        id,
        deleted.kind,
        traceparent ?? null,
      ]);
      return true;
    });
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
