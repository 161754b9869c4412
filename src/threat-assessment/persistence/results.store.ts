import { Injectable } from '@nestjs/common';
import { Database, type Queryable } from '../../database/database.js';
import { filteredStatementName } from '../../database/prepared-query.js';
import { claimCte } from '../../idempotency/idempotency-keys.store.js';
import type { IdempotencyClaim } from '../../idempotency/idempotency.js';
import { pageConditions } from '../../odata/keyset.js';
import type { CollectionQuery } from '../../odata/query-options.js';
import type { KeysetPosition } from '../../odata/skiptoken.js';
import { throttleGate, type ThrottleVerdict, type ThrottleWindows } from '../../throttling/throttle-counters.store.js';
import { ThreatAssessmentResultEntity } from '../entities/threat-assessment-result.entity.js';
import { writeStatements } from './write-statements.js';
import {
  changeNotificationsCte,
  REQUESTS_RESOURCE,
  resultsResourceSql,
} from '../../notifications/persistence/record-notifications.js';
import { RESULTS_FILTER } from '../threat-assessment.filters.js';

/**
 * Records a result and moves a pending parent to `completed`, in one statement and so one transaction.
 * Raw SQL on purpose: the hot path of the service takes one round trip instead of the ORM's five
 * (BEGIN, SELECT, INSERT, UPDATE, COMMIT). `parent` is empty when the request is not in the tenant;
 * `inserted` is empty when the checkPolicy rule refuses, when `claim` (an Idempotency-Key, when one
 * is sent) was already taken, or when the throttle refuses. With limits, the same statement counts
 * them (throttleGate), only for a result it may record: a missing parent, a refused checkPolicy or a
 * lost claim counts nothing, and a failure rolls the count back. A request deleted meanwhile trips
 * the foreign key (23503): 404. The same statement records the notifications: a results `created` for
 * each subscription to the request's results, and an `updated` for each subscription to the collection
 * when this result is the one that completed the request (of concurrent first results, the row lock
 * lets one move it; the others find it completed and record no `updated`).
 */
export function addResultSql(withClaim: boolean, throttled: boolean): string {
  const allowed = `($4::varchar <> 'checkPolicy' OR content_type = 'mail')`;
  const gate = throttleGate({
    tenant: '$1',
    first: withClaim ? 10 : 7,
    when: withClaim ? 'EXISTS (SELECT 1 FROM claim)' : `EXISTS (SELECT 1 FROM parent WHERE ${allowed})`,
  });
  const claim = claimCte({
    tenant: '$1::uuid',
    key: '$7',
    requestHash: '$8',
    resourceId: '$3',
    ttlSeconds: '$9',
    from: `parent WHERE ${allowed}`,
  });
  const resultCreated = changeNotificationsCte({
    name: 'result_notified',
    source: 'inserted CROSS JOIN parent',
    tenantSql: '$1::uuid',
    resourceSql: resultsResourceSql('$2::uuid'),
    event: 'created',
    requestIdSql: '$2::uuid',
    resultIdSql: '$3::uuid',
    requestKindSql: 'parent.kind',
    traceparentSql: '$6::varchar',
  });
  const requestUpdated = changeNotificationsCte({
    name: 'request_notified',
    source: 'completed',
    tenantSql: '$1::uuid',
    resourceSql: `'${REQUESTS_RESOURCE}'`,
    event: 'updated',
    requestIdSql: '$2::uuid',
    requestKindSql: 'completed.kind',
    traceparentSql: '$6::varchar',
  });
  return `
  WITH parent AS (
    SELECT id, tenant_id, kind, content_type, status
    FROM threat_assessment_requests
    WHERE tenant_id = $1 AND id = $2
  )${withClaim ? `, ${claim}` : ''}${throttled ? `, ${gate.ctes}` : ''}, inserted AS (
    INSERT INTO threat_assessment_results (id, tenant_id, request_id, result_type, message)
    SELECT $3::uuid, $1::uuid, $2::uuid, $4::varchar, $5::varchar FROM parent
    WHERE ${allowed}${withClaim ? ' AND EXISTS (SELECT 1 FROM claim)' : ''}${throttled ? ` AND ${gate.accepted}` : ''}
    RETURNING threat_assessment_results.created_date_time
  ), completed AS (
    UPDATE threat_assessment_requests r SET status = 'completed'
    WHERE r.tenant_id = $1 AND r.id = $2 AND r.status = 'pending' AND EXISTS (SELECT 1 FROM inserted)
    RETURNING r.kind
  ), ${resultCreated}, ${requestUpdated}
  SELECT p.content_type, i.created_date_time${throttled ? `, ${gate.columns}` : ''} FROM parent p LEFT JOIN inserted i ON true`;
}

export const addResult = writeStatements('add_threat_assessment_result', addResultSql);

/** No row: the parent is not in the tenant. `created_date_time` null: nothing recorded (see addResultSql). */
export type AddedRow = { content_type: string; created_date_time: Date | null } & Partial<ThrottleVerdict>;

export interface NewResult {
  /** The W3C traceparent of the request, recorded with its notifications; undefined: not traced. */
  traceparent?: string;
  tenantId: string;
  requestId: string;
  id: string;
  resultType: ThreatAssessmentResultEntity['resultType'];
  message: string;
}

export interface ResultRow {
  id: string | null;
  created_date_time: Date;
  result_type: ThreatAssessmentResultEntity['resultType'];
  message: string;
}

const RESULT_COLUMNS = 'x.id, x.created_date_time, x.result_type, x.message';

/**
 * A page of a request's results, and whether the request is in the tenant: no row when it is not, one
 * row of NULLs when its page is empty. `where` holds the conditions after the parent's, `$3` the limit,
 * `$4` the offset.
 */
export function listResultsSql(where: string, direction: 'ASC' | 'DESC'): string {
  return `SELECT ${RESULT_COLUMNS}
       FROM threat_assessment_requests p
       LEFT JOIN LATERAL (
         SELECT ${RESULT_COLUMNS}
         FROM threat_assessment_results x
         WHERE x.tenant_id = $1 AND x.request_id = p.id${where}
         ORDER BY x.created_date_time ${direction}, x.id ${direction}
         LIMIT $3 OFFSET $4
       ) x ON true
       WHERE p.tenant_id = $1 AND p.id = $2`;
}

export function toResultEntity(tenantId: string, requestId: string, row: ResultRow): ThreatAssessmentResultEntity {
  return Object.assign(new ThreatAssessmentResultEntity(), {
    id: row.id!,
    tenantId,
    requestId,
    createdDateTime: row.created_date_time,
    resultType: row.result_type,
    message: row.message,
  });
}

/**
 * Results of a request. Each statement reads the parent in the tenant too, so that "no row" means the
 * request is missing, in the same round trip.
 */
@Injectable()
export class ResultsStore {
  constructor(private readonly database: Database) {}

  /** On `on` (a transaction when a claim is sent, so that a refusal also gives the key back). */
  async add(
    on: Queryable,
    result: NewResult,
    claim: IdempotencyClaim | undefined,
    windows: ThrottleWindows | undefined,
  ): Promise<AddedRow | undefined> {
    const statement = addResult(
      [result.tenantId, result.requestId, result.id, result.resultType, result.message, result.traceparent ?? null],
      claim,
      windows,
    );
    const [row] = await on.query<AddedRow>(statement.name, statement.text, statement.values);
    return row;
  }

  /**
   * The parent's existence and the page of its results in one statement (a LATERAL join on the
   * tenant-leading index); undefined when the parent is missing.
   */
  async list(
    tenantId: string,
    requestId: string,
    query: CollectionQuery,
    after?: KeysetPosition,
  ): Promise<ThreatAssessmentResultEntity[] | undefined> {
    const values: unknown[] = [tenantId, requestId, query.top + 1, query.skip];
    const where = pageConditions('x', values, RESULTS_FILTER, query.filter, query.order, after);
    const direction = query.order === 'asc' ? 'ASC' : 'DESC';
    const text = listResultsSql(where, direction);
    const rows = await this.database.query<ResultRow>(
      filteredStatementName(query.filter, text, 'list_threat_assessment_results', direction, after ? 'after' : 'first'),
      text,
      values,
    );
    if (rows.length === 0) return undefined;
    return rows.filter((row) => row.id !== null).map((row) => toResultEntity(tenantId, requestId, row));
  }

  /** Undefined when the parent is missing. */
  async count(tenantId: string, requestId: string, filter?: string): Promise<number | undefined> {
    const values: unknown[] = [tenantId, requestId];
    const where = pageConditions('x', values, RESULTS_FILTER, filter);
    const text = `SELECT (
         SELECT count(*)::int FROM threat_assessment_results x
         WHERE x.tenant_id = $1 AND x.request_id = p.id${where}
       ) AS n
       FROM threat_assessment_requests p
       WHERE p.tenant_id = $1 AND p.id = $2`;
    const [row] = await this.database.query<{ n: number }>(
      filteredStatementName(filter, text, 'count_threat_assessment_results'),
      text,
      values,
    );
    return row?.n;
  }

  /** `parent` false: the request is missing; `result` undefined: the request has no such result. */
  async get(
    tenantId: string,
    requestId: string,
    resultId: string,
  ): Promise<{ parent: boolean; result?: ThreatAssessmentResultEntity }> {
    const [row] = await this.database.query<ResultRow>(
      'get_threat_assessment_result',
      `SELECT ${RESULT_COLUMNS}
       FROM threat_assessment_requests p
       LEFT JOIN threat_assessment_results x ON x.tenant_id = $1 AND x.request_id = p.id AND x.id = $3
       WHERE p.tenant_id = $1 AND p.id = $2`,
      [tenantId, requestId, resultId],
    );
    if (!row) return { parent: false };
    return row.id === null ? { parent: true } : { parent: true, result: toResultEntity(tenantId, requestId, row) };
  }
}
