import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Caller } from '../auth/caller.js';
import { uuidv7 } from '../database/uuid-v7.js';
import { IdempotencyKeys } from '../idempotency/idempotency-keys.service.js';
import type { IdempotencyClaim } from '../idempotency/idempotency.js';
import { currentTraceparent } from '../observability/traceparent.js';
import { Throttler } from '../throttling/throttler.service.js';
import { type Page, pageOf } from '../odata/keyset.js';
import type { CollectionQuery } from '../odata/query-options.js';
import type { KeysetPosition } from '../odata/skiptoken.js';
import type { IdentitySetColumn, ThreatAssessmentRequestEntity } from './entities/threat-assessment-request.entity.js';
import type { ThreatAssessmentResultEntity } from './entities/threat-assessment-result.entity.js';
import { RequestsStore } from './persistence/requests.store.js';
import { type CreateThreatAssessmentRequestBody, requestTypeOf, type RequestType } from './request-types.js';
import { ThreatAssessmentRequestNotFoundError } from './threat-assessment.errors.js';
import { EXPANDED_RESULTS_LIMIT } from './threat-assessment.query-specs.js';

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

/** Requests of the caller's tenant. */
@Injectable()
export class ThreatAssessmentRequestsService {
  constructor(
    private readonly store: RequestsStore,
    private readonly throttler: Throttler,
    private readonly idempotencyKeys: IdempotencyKeys,
  ) {}

  /**
   * With an idempotency claim, a retry of an earlier create answers that request again (`replayed`)
   * and writes nothing; the key is claimed by the statement that inserts the request.
   */
  async create(
    caller: Caller,
    body: CreateThreatAssessmentRequestBody,
    claim?: IdempotencyClaim,
  ): Promise<{ request: ThreatAssessmentRequestEntity; replayed: boolean }> {
    const type = requestTypeOf(body['@odata.type']);
    const columns = type.columnsOf(body);
    const entity = newRequestEntity(type, columns, body, caller.tenantId, identitySetOf(caller));
    const windows = this.throttler.createRequestWindows(() => resourceKey(type, body, columns));
    const written = await this.idempotencyKeys.write(caller.tenantId, claim, async (on, inTransaction) => {
      const row = await this.store.create(on, entity, currentTraceparent(), claim, windows);
      // Counted after the claim, in its statement: concurrent retries that replay are not counted.
      await this.throttler.settle(caller.tenantId, row, inTransaction);
      return row;
    });
    if ('previous' in written) return this.replay(caller, written.previous);
    const created = written.value.created_date_time;
    if (created) {
      entity.createdDateTime = created;
      return { request: entity, replayed: false };
    }
    // A concurrent attempt with the same key committed first: answer what it created.
    const previous = claim && (await this.idempotencyKeys.previous(caller.tenantId, claim));
    if (!previous) throw new ThreatAssessmentRequestNotFoundError(entity.id);
    return this.replay(caller, previous);
  }

  private async replay(
    caller: Caller,
    id: string,
  ): Promise<{ request: ThreatAssessmentRequestEntity; replayed: true }> {
    return { request: (await this.get(caller, id, false)).request, replayed: true };
  }

  async list(caller: Caller, query: CollectionQuery, after?: KeysetPosition): Promise<RequestsPage> {
    let page = pageOf(await this.store.list(caller.tenantId, query, after), query.top);
    const results = query.expand.includes('results')
      ? await this.store.resultsOf(
          caller.tenantId,
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

  count(caller: Caller, filter?: string): Promise<number> {
    return this.store.count(caller.tenantId, filter);
  }

  async get(caller: Caller, id: string, expandResults: boolean): Promise<RequestWithResults> {
    if (expandResults) {
      const found = await this.store.getWithResults(caller.tenantId, id);
      if (!found) throw new ThreatAssessmentRequestNotFoundError(id);
      return { request: found.request, ...expanded(found.results) };
    }
    const request = await this.store.get(caller.tenantId, id);
    if (!request) throw new ThreatAssessmentRequestNotFoundError(id);
    return { request };
  }

  /** Its results go with it. */
  async delete(caller: Caller, id: string): Promise<void> {
    if (!(await this.store.delete(caller.tenantId, id, currentTraceparent())))
      throw new ThreatAssessmentRequestNotFoundError(id);
  }
}

/** A request's expanded results from up to one more than are shown: the extra one says that more follow. */
function expanded(results: ThreatAssessmentResultEntity[]): Pick<RequestWithResults, 'results' | 'moreResults'> {
  const page = pageOf(results, EXPANDED_RESULTS_LIMIT);
  return page.next ? { results: page.items, moreResults: page.next } : { results: page.items };
}

/** A new request of `type` from its create body and `columns` (its `columnsOf`), not yet stored. */
export function newRequestEntity(
  type: RequestType,
  columns: ReturnType<RequestType['columnsOf']>,
  body: CreateThreatAssessmentRequestBody,
  tenantId: string,
  createdBy: IdentitySetColumn,
): ThreatAssessmentRequestEntity {
  return Object.assign(new type.entity(), {
    id: uuidv7(),
    tenantId,
    kind: type.kind,
    contentType: type.contentType,
    expectedAssessment: body.expectedAssessment,
    category: body.category,
    status: 'pending',
    // Graph: requests made through this API are administrator submissions.
    requestSource: 'administrator',
    createdBy,
    ...columns,
  } satisfies Partial<ThreatAssessmentRequestEntity>);
}

export function identitySetOf(caller: Caller): IdentitySetColumn {
  const identity = { id: caller.id, ...(caller.displayName ? { displayName: caller.displayName } : {}) };
  return caller.kind === 'user' ? { user: identity } : { application: identity };
}

/** What Graph's per-resource limit counts: the type and its resource's canonical parts. */
function resourceKey(
  type: RequestType,
  body: CreateThreatAssessmentRequestBody,
  columns: ReturnType<RequestType['columnsOf']>,
): string {
  const identity = [type.odataType, ...type.resource(body, columns)];
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}
