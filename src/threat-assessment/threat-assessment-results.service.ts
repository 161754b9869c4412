import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Caller } from '../auth/caller.js';
import { uuidv7 } from '../database/uuid-v7.js';
import { IdempotencyKeys } from '../idempotency/idempotency-keys.service.js';
import type { IdempotencyClaim } from '../idempotency/idempotency.js';
import { throttleGate, type ThrottleVerdict } from '../throttling/throttle-gate.js';
import { Throttler } from '../throttling/throttler.service.js';
import { dynamicStatementName, preparedQuery } from '../database/prepared-query.js';
import { type Page, pageConditions, pageOf } from '../odata/keyset.js';
import type { CollectionQuery } from '../odata/query-options.js';
import type { KeysetPosition } from '../odata/skiptoken.js';
import type { CreateThreatAssessmentResultDto } from './dto/create-threat-assessment-result.dto.js';
import { ThreatAssessmentRequestEntity } from './entities/threat-assessment-request.entity.js';
import { ThreatAssessmentResultEntity } from './entities/threat-assessment-result.entity.js';
import {
  CheckPolicyRequiresMailError,
  ThreatAssessmentRequestNotFoundError,
  ThreatAssessmentResultNotFoundError,
} from './threat-assessment.errors.js';
import { applyFilter, RESULTS_FILTER } from './threat-assessment.filters.js';

/**
 * Records a result and moves a pending parent to `completed`, in one statement and so one transaction.
 * Raw SQL on purpose: the hot path of the service takes one round trip instead of the ORM's five
 * (BEGIN, SELECT, INSERT, UPDATE, COMMIT). `parent` is empty when the request is not in the tenant;
 * `inserted` is empty when the checkPolicy rule refuses, when `claim` (an Idempotency-Key, when one
 * is sent) was already taken, or when the throttle refuses. With limits, the same statement counts
 * them (throttleGate), only for a result it may record: a missing parent, a refused checkPolicy or a
 * lost claim counts nothing, and a failure rolls the count back. A request deleted meanwhile trips
 * the foreign key (23503): 404.
 */
function addResultSql(withClaim: boolean, throttled: boolean): string {
  const allowed = `($4::varchar <> 'checkPolicy' OR content_type = 'mail')`;
  const gate = throttleGate({
    tenant: '$1',
    first: withClaim ? 9 : 6,
    when: withClaim ? 'EXISTS (SELECT 1 FROM claim)' : `EXISTS (SELECT 1 FROM parent WHERE ${allowed})`,
  });
  return `
  WITH parent AS (
    SELECT id, tenant_id, content_type, status
    FROM threat_assessment_requests
    WHERE tenant_id = $1 AND id = $2
  )${
    withClaim
      ? `, claim AS (
    INSERT INTO idempotency_keys AS k (tenant_id, key, request_hash, resource_id, expires_at)
    SELECT tenant_id, $6, $7, $3, now() + make_interval(secs => $8) FROM parent WHERE ${allowed}
    ON CONFLICT (tenant_id, key) DO UPDATE
      SET request_hash = EXCLUDED.request_hash, resource_id = EXCLUDED.resource_id,
          created_at = now(), expires_at = EXCLUDED.expires_at
      WHERE k.expires_at < now()
    RETURNING 1
  )`
      : ''
  }${throttled ? `, ${gate.ctes}` : ''}, inserted AS (
    INSERT INTO threat_assessment_results (id, tenant_id, request_id, result_type, message)
    SELECT $3::uuid, tenant_id, id, $4::varchar, $5::varchar FROM parent
    WHERE ${allowed}${withClaim ? ' AND EXISTS (SELECT 1 FROM claim)' : ''}${throttled ? ` AND ${gate.accepted}` : ''}
    RETURNING created_date_time
  ), completed AS (
    UPDATE threat_assessment_requests r SET status = 'completed'
    FROM parent p
    WHERE r.tenant_id = p.tenant_id AND r.id = p.id AND r.status = 'pending' AND EXISTS (SELECT 1 FROM inserted)
  )
  SELECT p.content_type, i.created_date_time${throttled ? `, ${gate.columns}` : ''} FROM parent p LEFT JOIN inserted i ON true`;
}

const ADD_RESULT = {
  plain: { name: 'add_threat_assessment_result', text: addResultSql(false, false) },
  throttled: { name: 'add_threat_assessment_result_throttled', text: addResultSql(false, true) },
};
const ADD_RESULT_IDEMPOTENT = { plain: addResultSql(true, false), throttled: addResultSql(true, true) };

type AddedRow = { content_type: string; created_date_time: Date | null } & Partial<ThrottleVerdict>;

@Injectable()
export class ThreatAssessmentResultsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly throttler: Throttler,
    private readonly idempotencyKeys: IdempotencyKeys,
  ) {}

  /** With an idempotency claim, a retry answers the result the first attempt recorded (`replayed`). */
  async add(
    caller: Caller,
    requestId: string,
    body: CreateThreatAssessmentResultDto,
    claim?: IdempotencyClaim,
  ): Promise<{ result: ThreatAssessmentResultEntity; replayed: boolean }> {
    if (claim) {
      const previous = await this.idempotencyKeys.previous(caller.tenantId, claim);
      if (previous) return { result: await this.get(caller, requestId, previous), replayed: true };
    }
    const id = uuidv7();
    const windows = this.throttler.addResultWindows();
    const params = [caller.tenantId, requestId, id, body.resultType, body.message];
    let rows: AddedRow[];
    try {
      if (claim) {
        // Counted after the claim, in its transaction: retries that replay are not counted.
        rows = await this.dataSource.transaction(async (manager) => {
          const written: AddedRow[] = await manager.query(
            windows ? ADD_RESULT_IDEMPOTENT.throttled : ADD_RESULT_IDEMPOTENT.plain,
            [...params, claim.key, claim.requestHash, claim.ttlSeconds, ...(windows ?? [])],
          );
          if (written[0]) await this.throttler.settle(caller.tenantId, written[0], manager);
          return written;
        });
      } else {
        const statement = windows ? ADD_RESULT.throttled : ADD_RESULT.plain;
        rows = await preparedQuery(this.dataSource, statement.name, statement.text, [...params, ...(windows ?? [])]);
        if (rows[0]) await this.throttler.settle(caller.tenantId, rows[0]);
      }
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new ThreatAssessmentRequestNotFoundError(requestId);
      throw error;
    }
    const row = rows[0];
    if (!row) throw new ThreatAssessmentRequestNotFoundError(requestId);
    if (!row.created_date_time) {
      if (body.resultType === 'checkPolicy' && row.content_type !== 'mail')
        throw new CheckPolicyRequiresMailError(row.content_type);
      // The key was claimed by a concurrent attempt that committed first: answer what it recorded.
      const previous = claim && (await this.idempotencyKeys.previous(caller.tenantId, claim));
      if (!previous) throw new ThreatAssessmentRequestNotFoundError(requestId);
      return { result: await this.get(caller, requestId, previous), replayed: true };
    }
    const result = Object.assign(new ThreatAssessmentResultEntity(), {
      id,
      tenantId: caller.tenantId,
      requestId,
      createdDateTime: row.created_date_time,
      resultType: body.resultType,
      message: body.message,
    });
    return { result, replayed: false };
  }

  /**
   * One statement: the parent's existence in the tenant and the page of its results (a LATERAL join
   * on the tenant-leading index). Hand-written SQL on the hot read path: building and hydrating the
   * equivalent two TypeORM queries cost more than the rest of the request (profiled).
   */
  async list(
    caller: Caller,
    requestId: string,
    query: CollectionQuery,
    after?: KeysetPosition,
  ): Promise<Page<ThreatAssessmentResultEntity> & { count?: number }> {
    const values: unknown[] = [caller.tenantId, requestId, query.top + 1, query.skip];
    const where = pageConditions('x', values, RESULTS_FILTER, query.filter, query.order, after);
    const direction = query.order === 'asc' ? 'ASC' : 'DESC';
    const text = `SELECT x.id, x.created_date_time, x.result_type, x.message
       FROM threat_assessment_requests p
       LEFT JOIN LATERAL (
         SELECT x.id, x.created_date_time, x.result_type, x.message
         FROM threat_assessment_results x
         WHERE x.tenant_id = p.tenant_id AND x.request_id = p.id${where}
         ORDER BY x.created_date_time ${direction}, x.id ${direction}
         LIMIT $3 OFFSET $4
       ) x ON true
       WHERE p.tenant_id = $1 AND p.id = $2`;
    const rows = await preparedQuery<ResultRow>(
      this.dataSource,
      query.filter === undefined
        ? `list_threat_assessment_results_${direction}_${after ? 'after' : 'first'}`
        : dynamicStatementName('list_threat_assessment_results', text),
      text,
      values,
    );
    if (rows.length === 0) throw new ThreatAssessmentRequestNotFoundError(requestId);
    const results = rows.filter((row) => row.id !== null).map((row) => toEntity(caller.tenantId, requestId, row));
    const count = query.count ? await this.scoped(caller, requestId, query.filter).getCount() : undefined;
    return { ...pageOf(results, query.top), count };
  }

  async count(caller: Caller, requestId: string, filter?: string): Promise<number> {
    await this.assertRequestExists(caller, requestId);
    return this.scoped(caller, requestId, filter).getCount();
  }

  async get(caller: Caller, requestId: string, resultId: string): Promise<ThreatAssessmentResultEntity> {
    const result = await this.scoped(caller, requestId).andWhere('x.id = :resultId', { resultId }).getOne();
    if (result) return result;
    await this.assertRequestExists(caller, requestId);
    throw new ThreatAssessmentResultNotFoundError(requestId, resultId);
  }

  private async assertRequestExists(caller: Caller, requestId: string): Promise<void> {
    const exists = await this.dataSource
      .getRepository(ThreatAssessmentRequestEntity)
      .existsBy({ tenantId: caller.tenantId, id: requestId });
    if (!exists) throw new ThreatAssessmentRequestNotFoundError(requestId);
  }

  private scoped(caller: Caller, requestId: string, filter?: string) {
    const qb = this.dataSource
      .getRepository(ThreatAssessmentResultEntity)
      .createQueryBuilder('x')
      .where('x.tenantId = :tenantId AND x.requestId = :requestId', { tenantId: caller.tenantId, requestId });
    return applyFilter(qb, filter, RESULTS_FILTER);
  }
}

interface ResultRow {
  id: string | null;
  created_date_time: Date;
  result_type: ThreatAssessmentResultEntity['resultType'];
  message: string;
}

function toEntity(tenantId: string, requestId: string, row: ResultRow): ThreatAssessmentResultEntity {
  return Object.assign(new ThreatAssessmentResultEntity(), {
    id: row.id!,
    tenantId,
    requestId,
    createdDateTime: row.created_date_time,
    resultType: row.result_type,
    message: row.message,
  });
}

function isForeignKeyViolation(error: unknown): boolean {
  const cause = (error as { driverError?: { code?: string }; code?: string } | null) ?? {};
  return (cause.driverError?.code ?? cause.code) === '23503';
}
