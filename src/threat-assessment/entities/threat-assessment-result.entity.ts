import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import type { ThreatAssessmentResultType } from '../threat-assessment.enums.js';
import { ThreatAssessmentRequestEntity } from './threat-assessment-request.entity.js';

@Entity({ name: 'threat_assessment_results' })
@Index('ix_threat_assessment_results_tenant_request_created', ['tenantId', 'requestId', 'createdDateTime', 'id'])
@Check('ck_threat_assessment_results_result_type', `"result_type" IN ('checkPolicy', 'rescan', 'unknownFutureValue')`)
@Check('ck_threat_assessment_results_message_length', `char_length("message") BETWEEN 1 AND 4000`)
export class ThreatAssessmentResultEntity {
  /**
   * Leads the key (tenant_id, id), as Citus needs of a table distributed by it, and is part of the
   * foreign key to the parent: a result can never sit in another tenant than its request.
   */
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'pk_threat_assessment_results' })
  tenantId!: string;

  @PrimaryColumn({ type: 'uuid', primaryKeyConstraintName: 'pk_threat_assessment_results' })
  id!: string;

  @Column({ name: 'request_id', type: 'uuid' })
  requestId!: string;

  @ManyToOne(() => ThreatAssessmentRequestEntity, { onDelete: 'CASCADE', nullable: false })
  // The composite key also serves the cascade: deleting a request finds its results by index.
  @JoinColumn([
    {
      name: 'tenant_id',
      referencedColumnName: 'tenantId',
      foreignKeyConstraintName: 'fk_threat_assessment_results_request',
    },
    {
      name: 'request_id',
      referencedColumnName: 'id',
      foreignKeyConstraintName: 'fk_threat_assessment_results_request',
    },
  ])
  request?: Relation<ThreatAssessmentRequestEntity>;

  @Column({ name: 'created_date_time', type: 'timestamptz', precision: 3, default: () => 'now()' })
  createdDateTime!: Date;

  @Column({ name: 'result_type', type: 'varchar', length: 32 })
  resultType!: ThreatAssessmentResultType;

  @Column({ name: 'message', type: 'varchar', length: 4000 })
  message!: string;
}
