import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  type CreateThreatAssessmentRequestBody,
  type RequestKind,
  type RequestType,
  requestTypeOfKind,
  TYPE_COLUMN_LIST,
} from '../../src/threat-assessment/request-types.js';

/** A request to insert directly; unset fields take the value of a fresh url request. */
export interface RequestSeed {
  id: string;
  createdDateTime: string | Date;
  kind?: RequestKind;
  expectedAssessment?: string;
  category?: string;
  status?: string;
  requestSource?: string;
  createdBy?: Record<string, unknown>;
  /** Url requests only. */
  url?: string;
  /** File requests only. */
  fileName?: string;
}

/**
 * The create body a client would have posted for `row`, with every type's fields: `type.columnsOf`
 * takes its own, as the service does.
 */
function bodyOf(type: RequestType, row: RequestSeed): CreateThreatAssessmentRequestBody {
  return {
    '@odata.type': type.odataType,
    expectedAssessment: row.expectedAssessment ?? 'block',
    category: row.category ?? 'phishing',
    recipientEmail: 'tifc@contoso.com',
    messageUri: 'https://graph.microsoft.com/v1.0/users/x/messages/y',
    fileName: row.fileName ?? 'test.txt',
    url: row.url ?? 'http://test.com',
    contentData: Buffer.from('hello').toString('base64'),
  } as CreateThreatAssessmentRequestBody;
}

const iso = (at: string | Date) => (at instanceof Date ? at.toISOString() : at);

/**
 * Inserts requests in one statement. Specs about reading use it: only SQL can set the instant, the
 * status or a requestSource other than 'administrator'. Each type's own columns are filled as the
 * service fills them, by the registry (the schema requires them).
 */
export async function insertRequests(db: pg.Pool, tenantId: string, rows: readonly RequestSeed[]): Promise<void> {
  const types = rows.map((row) => requestTypeOfKind(row.kind ?? 'urlAssessmentRequest'));
  const bodies = rows.map((row, i) => bodyOf(types[i], row));
  const typed = bodies.map((body, i) => types[i].columnsOf(body));
  await db.query(
    `INSERT INTO threat_assessment_requests
       (tenant_id, id, created_date_time, kind, content_type, expected_assessment, category, status, request_source,
        created_by, ${TYPE_COLUMN_LIST.map((c) => c.column).join(', ')})
     SELECT $1::uuid, s.* FROM unnest($2::uuid[], $3::timestamptz[], $4::varchar[], $5::varchar[], $6::varchar[],
       $7::varchar[], $8::varchar[], $9::varchar[], $10::jsonb[],
       ${TYPE_COLUMN_LIST.map((c, i) => `$${11 + i}::${c.sqlType}[]`).join(', ')}) AS s`,
    [
      tenantId,
      rows.map((r) => r.id),
      rows.map((r) => iso(r.createdDateTime)),
      types.map((type) => type.kind),
      types.map((type) => type.contentType),
      bodies.map((body) => body.expectedAssessment),
      bodies.map((body) => body.category),
      rows.map((r) => r.status ?? 'pending'),
      rows.map((r) => r.requestSource ?? 'administrator'),
      rows.map((r) => JSON.stringify(r.createdBy ?? { user: { id: randomUUID() } })),
      ...TYPE_COLUMN_LIST.map((c) => typed.map((columns) => columns[c.property] ?? null)),
    ],
  );
}

/** A result to insert directly; unset fields take those of a rescan. */
export interface ResultSeed {
  id: string;
  requestId: string;
  createdDateTime: string | Date;
  resultType?: string;
  message?: string;
}

/** Inserts results in one statement: only SQL can set the instant, or give results one. */
export async function insertResults(db: pg.Pool, tenantId: string, rows: readonly ResultSeed[]): Promise<void> {
  await db.query(
    `INSERT INTO threat_assessment_results (tenant_id, id, request_id, created_date_time, result_type, message)
     SELECT $1::uuid, s.* FROM unnest($2::uuid[], $3::uuid[], $4::timestamptz[], $5::varchar[], $6::varchar[]) AS s`,
    [
      tenantId,
      rows.map((r) => r.id),
      rows.map((r) => r.requestId),
      rows.map((r) => iso(r.createdDateTime)),
      rows.map((r) => r.resultType ?? 'rescan'),
      rows.map((r) => r.message ?? 'verdict'),
    ],
  );
}
