import { Injectable } from '@nestjs/common';
import type { Caller } from '../auth/caller.js';
import { uuidv7 } from '../database/uuid-v7.js';
import { IdempotencyKeys } from '../idempotency/idempotency-keys.service.js';
import { currentTraceparent } from '../observability/traceparent.js';
import type { IdempotencyClaim } from '../idempotency/idempotency.js';
import { Throttler } from '../throttling/throttler.service.js';
import { type Page, pageOf } from '../odata/keyset.js';
import type { CollectionQuery } from '../odata/query-options.js';
import type { KeysetPosition } from '../odata/skiptoken.js';
import type { CreateThreatAssessmentResultDto } from './dto/create-threat-assessment-result.dto.js';
import { ThreatAssessmentResultEntity } from './entities/threat-assessment-result.entity.js';
import { ResultsStore } from './persistence/results.store.js';
import {
  CheckPolicyRequiresMailError,
  ThreatAssessmentRequestNotFoundError,
  ThreatAssessmentResultNotFoundError,
} from './threat-assessment.errors.js';

@Injectable()
export class ThreatAssessmentResultsService {
  constructor(
    private readonly store: ResultsStore,
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
    const result = Object.assign(new ThreatAssessmentResultEntity(), {
      id: uuidv7(),
      tenantId: caller.tenantId,
      requestId,
      resultType: body.resultType,
      message: body.message,
    });
    const windows = this.throttler.addResultWindows();
    let written;
    try {
      written = await this.idempotencyKeys.write(caller.tenantId, claim, (on, inTransaction) =>
        this.store.add(on, { ...result, traceparent: currentTraceparent() }, claim, windows).then(async (row) => {
          // Counted after the claim, in its statement: retries that replay are not counted.
          if (row) await this.throttler.settle(caller.tenantId, row, inTransaction);
          return row;
        }),
      );
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new ThreatAssessmentRequestNotFoundError(requestId);
      throw error;
    }
    if ('previous' in written) return { result: await this.get(caller, requestId, written.previous), replayed: true };
    const row = written.value;
    if (!row) throw new ThreatAssessmentRequestNotFoundError(requestId);
    if (!row.created_date_time) {
      if (body.resultType === 'checkPolicy' && row.content_type !== 'mail')
        throw new CheckPolicyRequiresMailError(row.content_type);
      // The key was claimed by a concurrent attempt that committed first: answer what it recorded.
      const previous = claim && (await this.idempotencyKeys.previous(caller.tenantId, claim));
      if (!previous) throw new ThreatAssessmentRequestNotFoundError(requestId);
      return { result: await this.get(caller, requestId, previous), replayed: true };
    }
    result.createdDateTime = row.created_date_time;
    return { result, replayed: false };
  }

  async list(
    caller: Caller,
    requestId: string,
    query: CollectionQuery,
    after?: KeysetPosition,
  ): Promise<Page<ThreatAssessmentResultEntity> & { count?: number }> {
    const results = await this.store.list(caller.tenantId, requestId, query, after);
    if (!results) throw new ThreatAssessmentRequestNotFoundError(requestId);
    const count = query.count ? await this.count(caller, requestId, query.filter) : undefined;
    return { ...pageOf(results, query.top), count };
  }

  async count(caller: Caller, requestId: string, filter?: string): Promise<number> {
    const count = await this.store.count(caller.tenantId, requestId, filter);
    if (count === undefined) throw new ThreatAssessmentRequestNotFoundError(requestId);
    return count;
  }

  async get(caller: Caller, requestId: string, resultId: string): Promise<ThreatAssessmentResultEntity> {
    const { parent, result } = await this.store.get(caller.tenantId, requestId, resultId);
    if (!parent) throw new ThreatAssessmentRequestNotFoundError(requestId);
    if (!result) throw new ThreatAssessmentResultNotFoundError(requestId, resultId);
    return result;
  }
}

function isForeignKeyViolation(error: unknown): boolean {
  const cause = (error as { driverError?: { code?: string }; code?: string } | null) ?? {};
  return (cause.driverError?.code ?? cause.code) === '23503';
}
