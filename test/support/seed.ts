import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { CONTENT_TYPE_OF, type RequestKind } from '../../src/threat-assessment/request-types.js';

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
 * Inserts requests in one statement. Specs about reading use it: only SQL can set the instant, the
 * status or a requestSource other than 'administrator'. Each type's own columns are filled as the
 * service fills them (the schema requires them).
 */
export async function insertRequests(db: pg.Pool, tenantId: string, rows: readonly RequestSeed[]): Promise<void> {
  const column = <T>(pick: (row: RequestSeed) => T) => rows.map(pick);
  const kind = (row: RequestSeed) => row.kind ?? 'urlAssessmentRequest';
  await db.query(
    `INSERT INTO threat_assessment_requests
       (id, tenant_id, created_date_time, kind, content_type, expected_assessment, category, status, request_source,
        created_by, recipient_email, message_uri, file_name, url, content_size, content_sha256)
     SELECT id, $2, at, kind, content_type, expected_assessment, category, status, request_source, created_by,
       CASE WHEN kind IN ('mailAssessmentRequest', 'emailFileAssessmentRequest') THEN 'tifc@contoso.com' END,
       CASE WHEN kind = 'mailAssessmentRequest' THEN 'https://graph.microsoft.com/v1.0/users/x/messages/y' END,
       CASE WHEN kind = 'fileAssessmentRequest' THEN file_name END,
       CASE WHEN kind = 'urlAssessmentRequest' THEN url END,
       CASE WHEN kind IN ('emailFileAssessmentRequest', 'fileAssessmentRequest') THEN 5 END,
       CASE WHEN kind IN ('emailFileAssessmentRequest', 'fileAssessmentRequest') THEN sha256('hello') END
     FROM unnest($1::uuid[], $3::timestamptz[], $4::varchar[], $5::varchar[], $6::varchar[], $7::varchar[],
       $8::varchar[], $9::varchar[], $10::jsonb[], $11::varchar[], $12::varchar[])
       AS s(id, at, kind, content_type, expected_assessment, category, status, request_source, created_by, url, file_name)`,
    [
      column((r) => r.id),
      tenantId,
      column((r) => (r.createdDateTime instanceof Date ? r.createdDateTime.toISOString() : r.createdDateTime)),
      column(kind),
      column((r) => CONTENT_TYPE_OF[kind(r)]),
      column((r) => r.expectedAssessment ?? 'block'),
      column((r) => r.category ?? 'phishing'),
      column((r) => r.status ?? 'pending'),
      column((r) => r.requestSource ?? 'administrator'),
      column((r) => JSON.stringify(r.createdBy ?? { user: { id: randomUUID() } })),
      column((r) => r.url ?? 'http://test.com'),
      column((r) => r.fileName ?? 'test.txt'),
    ],
  );
}
