import {
  Check,
  ChildEntity,
  Column,
  type ColumnOptions,
  Entity,
  Index,
  PrimaryColumn,
  TableInheritance,
} from 'typeorm';
import type {
  MailDestinationRoutingReason,
  ThreatAssessmentContentType,
  ThreatAssessmentRequestSource,
  ThreatAssessmentStatus,
  ThreatCategory,
  ThreatExpectedAssessment,
} from '../threat-assessment.enums.js';
import type { RequestKind } from '../request-types.js';

/** Who created a request, as Graph's identitySet; taken from the caller's token, never from a body. */
export interface IdentitySetColumn {
  user?: { id: string; displayName?: string };
  application?: { id: string; displayName?: string };
}

/**
 * One table for the abstract request and its four derived types (single-table inheritance on
 * `odata_type`). `tenant_id` leads every index: every query is tenant-scoped.
 */
@Entity({ name: 'threat_assessment_requests' })
@TableInheritance({ column: { type: 'varchar', length: 40, name: 'kind' } })
// TypeORM gives a discriminator an unnamed index unless one exists. No tenant-scoped query could use
// one on `kind` alone, so this stand-in is partial and empty: named, and never maintained.
@Index('ix_threat_assessment_requests_kind_unused', ['kind'], { where: 'false' })
// The properties `$filter` compares follow `id`: filters are checked in the index and a filtered count
// is an index-only scan, while the order (and so the keyset paging) stays that of the first three.
@Index('ix_threat_assessment_requests_tenant_created', [
  'tenantId',
  'createdDateTime',
  'id',
  'status',
  'contentType',
  'category',
  'expectedAssessment',
  'requestSource',
])
// The kind and per-type CHECKs are the registry's (request-types.ts); its unit test holds them equal.
@Check(
  'ck_threat_assessment_requests_kind',
  `"kind" IN ('mailAssessmentRequest', 'emailFileAssessmentRequest', 'fileAssessmentRequest', 'urlAssessmentRequest')`,
)
// Each type's required fields, enforced by the table too: a row the API could not have written fails.
@Check(
  'ck_threat_assessment_requests_mail_fields',
  `"kind" <> 'mailAssessmentRequest' OR ("recipient_email" IS NOT NULL AND "message_uri" IS NOT NULL)`,
)
@Check(
  'ck_threat_assessment_requests_email_file_fields',
  `"kind" <> 'emailFileAssessmentRequest' OR ("recipient_email" IS NOT NULL AND "content_size" IS NOT NULL AND "content_sha256" IS NOT NULL)`,
)
@Check(
  'ck_threat_assessment_requests_file_fields',
  `"kind" <> 'fileAssessmentRequest' OR ("file_name" IS NOT NULL AND "content_size" IS NOT NULL AND "content_sha256" IS NOT NULL)`,
)
@Check('ck_threat_assessment_requests_url_fields', `"kind" <> 'urlAssessmentRequest' OR "url" IS NOT NULL`)
@Check('ck_threat_assessment_requests_content_type', `"content_type" IN ('mail', 'url', 'file')`)
@Check('ck_threat_assessment_requests_expected_assessment', `"expected_assessment" IN ('block', 'unblock')`)
@Check(
  'ck_threat_assessment_requests_category',
  `"category" IN ('undefined', 'spam', 'phishing', 'malware', 'unknownFutureValue')`,
)
@Check('ck_threat_assessment_requests_status', `"status" IN ('pending', 'completed')`)
@Check('ck_threat_assessment_requests_request_source', `"request_source" IN ('undefined', 'user', 'administrator')`)
export abstract class ThreatAssessmentRequestEntity {
  /**
   * The key is (tenant_id, id), tenant first: Citus needs the distribution column in every key, the
   * index serves tenant-scoped lookups, and it is the target of the results' composite foreign key, so
   * a result cannot point into another tenant. Declared before `id`: TypeORM orders a composite key as
   * its properties are declared, while the drift check ignores the order (the Citus catalog test pins it).
   */
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'pk_threat_assessment_requests' })
  tenantId!: string;

  /** UUIDv7 made by the service: time-ordered keys keep index inserts local. */
  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'pk_threat_assessment_requests' })
  id!: string;

  /** Kept to the millisecond: the paging cursor and the wire both use milliseconds. */
  @Column({ name: 'created_date_time', type: 'timestamptz', precision: 3, default: () => 'now()' })
  createdDateTime!: Date;

  /** The concrete type; `@odata.type` on the wire is `#microsoft.graph.{kind}`. */
  @Column({ name: 'kind', type: 'varchar', length: 40 })
  kind!: RequestKind;

  @Column({ name: 'content_type', type: 'varchar', length: 16 })
  contentType!: ThreatAssessmentContentType;

  @Column({ name: 'expected_assessment', type: 'varchar', length: 16 })
  expectedAssessment!: ThreatExpectedAssessment;

  @Column({ name: 'category', type: 'varchar', length: 32 })
  category!: ThreatCategory;

  @Column({ name: 'status', type: 'varchar', length: 16, default: 'pending' })
  status!: ThreatAssessmentStatus;

  @Column({ name: 'request_source', type: 'varchar', length: 16 })
  requestSource!: ThreatAssessmentRequestSource;

  @Column({ name: 'created_by', type: 'jsonb' })
  createdBy!: IdentitySetColumn;
}

/** Columns of more than one derived type: one column of the table, declared alike by each type that has it. */
const RECIPIENT_EMAIL: ColumnOptions = { name: 'recipient_email', type: 'varchar', length: 320, nullable: true };
const DESTINATION_ROUTING_REASON: ColumnOptions = {
  name: 'destination_routing_reason',
  type: 'varchar',
  length: 32,
  nullable: true,
};
const CONTENT_SIZE: ColumnOptions = { name: 'content_size', type: 'integer', nullable: true };
const CONTENT_SHA256: ColumnOptions = { name: 'content_sha256', type: 'bytea', nullable: true };

@ChildEntity('mailAssessmentRequest')
export class MailAssessmentRequestEntity extends ThreatAssessmentRequestEntity {
  @Column(RECIPIENT_EMAIL)
  recipientEmail!: string;

  @Column({ name: 'message_uri', type: 'varchar', length: 2048, nullable: true })
  messageUri!: string;

  @Column(DESTINATION_ROUTING_REASON)
  destinationRoutingReason!: MailDestinationRoutingReason | null;
}

/** `contentData` itself is never stored: only its size and SHA-256, for deduplication. */
@ChildEntity('emailFileAssessmentRequest')
export class EmailFileAssessmentRequestEntity extends ThreatAssessmentRequestEntity {
  @Column(RECIPIENT_EMAIL)
  recipientEmail!: string;

  @Column(DESTINATION_ROUTING_REASON)
  destinationRoutingReason!: MailDestinationRoutingReason | null;

  @Column(CONTENT_SIZE)
  contentSize!: number;

  @Column(CONTENT_SHA256)
  contentSha256!: Buffer;
}

@ChildEntity('fileAssessmentRequest')
export class FileAssessmentRequestEntity extends ThreatAssessmentRequestEntity {
  @Column({ name: 'file_name', type: 'varchar', length: 255, nullable: true })
  fileName!: string;

  @Column(CONTENT_SIZE)
  contentSize!: number;

  @Column(CONTENT_SHA256)
  contentSha256!: Buffer;
}

@ChildEntity('urlAssessmentRequest')
export class UrlAssessmentRequestEntity extends ThreatAssessmentRequestEntity {
  @Column({ name: 'url', type: 'varchar', length: 2048, nullable: true })
  url!: string;
}
