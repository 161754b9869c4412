import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A Graph subscription. A deleted, removed or replaced-after-expiry subscription is retired, not
 * deleted: its queued notifications (recorded before it ended) still reference it until delivered or
 * dropped, and the clean-up deletes it afterwards.
 */
@Entity({ name: 'subscriptions' })
// Graph's duplicate rule, backed by a constraint so that concurrent identical POSTs yield one subscription.
@Index('uq_subscriptions_combination', ['tenantId', 'applicationId', 'creatorId', 'canonicalResource', 'changeTypes'], {
  unique: true,
  where: '"retired_at" IS NULL',
})
// What a write looks up in its own statement: the active subscriptions of a tenant on a resource.
@Index('ix_subscriptions_resource', ['tenantId', 'canonicalResource'], { where: '"retired_at" IS NULL' })
export class SubscriptionEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'pk_subscriptions' })
  tenantId!: string;

  @PrimaryColumn({ name: 'id', type: 'uuid', primaryKeyConstraintName: 'pk_subscriptions' })
  id!: string;

  /** As sent, echoed back. */
  @Column({ name: 'resource', type: 'varchar', length: 512 })
  resource!: string;

  /**
   * `informationProtection/threatAssessmentRequests`, or `…/{id}/results` with the id in lower case:
   * what writes match and what the duplicate rule compares.
   */
  @Column({ name: 'canonical_resource', type: 'varchar', length: 128 })
  canonicalResource!: string;

  /** The parent request of a results subscription: deleting the request removes it. */
  @Column({ name: 'request_id', type: 'uuid', nullable: true })
  requestId!: string | null;

  /** As sent, echoed back. */
  @Column({ name: 'change_type', type: 'varchar', length: 64 })
  changeType!: string;

  /** The distinct change types, sorted: the set the duplicate rule compares. */
  @Column({ name: 'change_types', type: 'varchar', length: 16, array: true })
  changeTypes!: string[];

  @Column({ name: 'notification_url', type: 'varchar', length: 2048 })
  notificationUrl!: string;

  @Column({ name: 'lifecycle_notification_url', type: 'varchar', length: 2048, nullable: true })
  lifecycleNotificationUrl!: string | null;

  @Column({ name: 'expiration_date_time', type: 'timestamptz' })
  expirationDateTime!: Date;

  @Column({ name: 'client_state', type: 'varchar', length: 128, nullable: true })
  clientState!: string | null;

  @Column({ name: 'application_id', type: 'varchar', length: 128 })
  applicationId!: string;

  @Column({ name: 'creator_id', type: 'varchar', length: 128 })
  creatorId!: string;

  @Column({ name: 'latest_supported_tls_version', type: 'varchar', length: 8 })
  latestSupportedTlsVersion!: string;

  @Column({ name: 'encryption_certificate', type: 'text', nullable: true })
  encryptionCertificate!: string | null;

  @Column({ name: 'encryption_certificate_id', type: 'varchar', length: 256, nullable: true })
  encryptionCertificateId!: string | null;

  @Column({ name: 'notification_url_app_id', type: 'varchar', length: 256, nullable: true })
  notificationUrlAppId!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true })
  retiredAt!: Date | null;

  /** A notification was abandoned: one `missed` lifecycle notification is queued until a delivery succeeds. */
  @Column({ name: 'missed', type: 'boolean', default: false })
  missed!: boolean;

  /** The instance delivering this subscription's queues, until `lease_until` (database clock). */
  @Column({ name: 'lease_owner', type: 'varchar', length: 64, nullable: true })
  leaseOwner!: string | null;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil!: Date | null;
}
