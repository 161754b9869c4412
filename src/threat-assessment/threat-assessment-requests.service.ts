import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Caller } from '../auth/caller.js';
import { uuidv7 } from '../database/uuid-v7.js';
import { IdempotencyKeys } from '../idempotency/idempotency-keys.service.js';
import type { IdempotencyClaim } from '../idempotency/idempotency.js';
import { Throttler } from '../throttling/throttler.service.js';
import { keysetPage, type Page } from '../odata/keyset.js';
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
import { applyFilter, REQUESTS_FILTER } from './threat-assessment.filters.js';
import { CONTENT_TYPE_OF, type RequestKind } from './threat-assessment.enums.js';

export interface RequestWithResults {
  request: ThreatAssessmentRequestEntity;
  results?: ThreatAssessmentResultEntity[];
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
    const resource = resourceKey(body, fields);
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
    if (!claim) {
      await this.throttler.createRequest(caller.tenantId, resource);
      // INSERT … RETURNING fills createdDateTime from the database clock; no read-back.
      await this.dataSource.getRepository(ENTITY_OF[kind]).insert(entity);
      return { request: entity, replayed: false };
    }
    // Claim first: concurrent retries of one key wait here and then replay, uncounted by the throttle.
    const won = await this.dataSource.transaction(async (manager) => {
      if (!(await this.idempotencyKeys.claim(manager, caller.tenantId, claim, entity.id))) return false;
      await this.throttler.createRequest(caller.tenantId, resource, manager);
      await manager.getRepository(ENTITY_OF[kind]).insert(entity);
      return true;
    });
    if (won) return { request: entity, replayed: false };
    // A concurrent attempt with the same key committed first: answer what it created.
    const previous = await this.idempotencyKeys.previous(caller.tenantId, claim);
    if (!previous) throw new ThreatAssessmentRequestNotFoundError(entity.id);
    return { request: (await this.get(caller, previous, false)).request, replayed: true };
  }

  async list(caller: Caller, query: CollectionQuery, after?: KeysetPosition): Promise<RequestsPage> {
    const page = await keysetPage(this.scoped(caller, query.filter), { ...query, after });
    const results = query.expand.includes('results')
      ? await this.resultsOf(
          caller,
          page.items.map((r) => r.id),
        )
      : undefined;
    const count = query.count ? await this.scoped(caller, query.filter).getCount() : undefined;
    return {
      items: page.items.map((request) => ({ request, results: results && (results.get(request.id) ?? []) })),
      next: page.next,
      count,
    };
  }

  count(caller: Caller, filter?: string): Promise<number> {
    return this.scoped(caller, filter).getCount();
  }

  async get(caller: Caller, id: string, expandResults: boolean): Promise<RequestWithResults> {
    const request = await this.scoped(caller).andWhere('r.id = :id', { id }).getOne();
    if (!request) throw new ThreatAssessmentRequestNotFoundError(id);
    if (!expandResults) return { request };
    const results = await this.resultsOf(caller, [id]);
    return { request, results: results.get(id) ?? [] };
  }

  /** Its results go with it (ON DELETE CASCADE). */
  async delete(caller: Caller, id: string): Promise<void> {
    const { affected } = await this.dataSource
      .getRepository(ThreatAssessmentRequestEntity)
      .delete({ tenantId: caller.tenantId, id });
    if (!affected) throw new ThreatAssessmentRequestNotFoundError(id);
  }

  private scoped(caller: Caller, filter?: string) {
    const qb = this.dataSource
      .getRepository(ThreatAssessmentRequestEntity)
      .createQueryBuilder('r')
      .where('r.tenantId = :tenantId', { tenantId: caller.tenantId });
    return applyFilter(qb, filter, REQUESTS_FILTER);
  }

  /** One query for the results of a whole page, oldest first. */
  private async resultsOf(caller: Caller, ids: string[]): Promise<Map<string, ThreatAssessmentResultEntity[]>> {
    const grouped = new Map<string, ThreatAssessmentResultEntity[]>();
    if (ids.length === 0) return grouped;
    const rows = await this.dataSource
      .getRepository(ThreatAssessmentResultEntity)
      .createQueryBuilder('x')
      .where('x.tenantId = :tenantId', { tenantId: caller.tenantId })
      .andWhere('x.requestId IN (:...ids)', { ids })
      .orderBy('x.requestId')
      .addOrderBy('x.createdDateTime', 'ASC')
      .addOrderBy('x.id', 'ASC')
      .getMany();
    for (const row of rows) {
      const list = grouped.get(row.requestId) ?? [];
      list.push(row);
      grouped.set(row.requestId, list);
    }
    return grouped;
  }
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

/** What Graph's per-resource limit counts: a message and its recipient, a URL, a file's content. */
function resourceKey(body: CreateThreatAssessmentRequestBody, fields: ReturnType<typeof derivedFields>): string {
  const identity: string[] = [body['@odata.type']];
  if ('recipientEmail' in body) identity.push(body.recipientEmail.toLowerCase());
  if ('messageUri' in body) identity.push(body.messageUri);
  if ('url' in body) identity.push(body.url);
  if ('contentSha256' in fields) identity.push(fields.contentSha256.toString('hex'));
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}

function digest(contentData: string): { contentSize: number; contentSha256: Buffer } {
  const bytes = Buffer.from(contentData, 'base64');
  return { contentSize: bytes.length, contentSha256: createHash('sha256').update(bytes).digest() };
}
