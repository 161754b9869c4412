import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { SubscriptionEntity } from './subscription.entity.js';

/**
 * The transactional outbox: a notification is a row written by the statement that makes the change,
 * so that both commit or neither does. A delivered row is deleted; an abandoned one is kept a week for
 * operators. `seq` comes from one sequence: a change whose transaction began after another's commit has
 * the larger number, which is the order of delivery per subscription and channel.
 */
@Entity({ name: 'notifications' })
@Check('ck_notifications_channel', `"channel" IN ('change', 'lifecycle')`)
// A subscription's queue, head first.
@Index('ix_notifications_queue', ['tenantId', 'subscriptionId', 'channel', 'seq'], {
  where: '"abandoned_at" IS NULL',
})
// Not tenant-led on purpose: delivery finds due work across tenants.
@Index('ix_notifications_due', ['nextAttemptAt'], { where: '"abandoned_at" IS NULL' })
export class NotificationEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'pk_notifications' })
  tenantId!: string;

  @PrimaryColumn({ name: 'subscription_id', type: 'uuid', primaryKeyConstraintName: 'pk_notifications' })
  subscriptionId!: string;

  @PrimaryGeneratedColumn('increment', { name: 'seq', type: 'bigint', primaryKeyConstraintName: 'pk_notifications' })
  seq!: string;

  @ManyToOne(() => SubscriptionEntity, { onDelete: 'CASCADE' })
  @JoinColumn([
    { name: 'tenant_id', referencedColumnName: 'tenantId', foreignKeyConstraintName: 'fk_notifications_subscription' },
    { name: 'subscription_id', referencedColumnName: 'id', foreignKeyConstraintName: 'fk_notifications_subscription' },
  ])
  subscription?: SubscriptionEntity;

  /**
   * The notification's `id`: the same on every attempt, so receivers deduplicate on it. Each insert draws
   * it (`gen_random_uuid()`), so the schema carries no default TypeORM's drift check would misread.
   */
  @Column({ name: 'id', type: 'uuid' })
  id!: string;

  /** `change` goes to the notification URL, `lifecycle` to the lifecycle URL, each queue on its own. */
  @Column({ name: 'channel', type: 'varchar', length: 16 })
  channel!: 'change' | 'lifecycle';

  /** `created`, `updated`, `deleted` (change) or `missed`, `subscriptionRemoved` (lifecycle). */
  @Column({ name: 'event', type: 'varchar', length: 32 })
  event!: string;

  /** The changed request's id; null for lifecycle notifications. */
  @Column({ name: 'request_id', type: 'uuid', nullable: true })
  requestId!: string | null;

  /** The new result's id, for a results `created`. */
  @Column({ name: 'result_id', type: 'uuid', nullable: true })
  resultId!: string | null;

  /** The request's kind at the change (its `@odata.type`, also for `deleted`). */
  @Column({ name: 'request_kind', type: 'varchar', length: 40, nullable: true })
  requestKind!: string | null;

  /** The W3C `traceparent` of the request that made the change: its delivery joins that trace. */
  @Column({ name: 'traceparent', type: 'varchar', length: 55, nullable: true })
  traceparent!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'attempts', type: 'integer', default: 0 })
  attempts!: number;

  @Column({ name: 'first_attempt_at', type: 'timestamptz', nullable: true })
  firstAttemptAt!: Date | null;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', default: () => 'now()' })
  nextAttemptAt!: Date;

  @Column({ name: 'abandoned_at', type: 'timestamptz', nullable: true })
  abandonedAt!: Date | null;

  /** The last failed attempt's outcome (e.g. `status 503`, `timeout`), for operators; never a body. */
  @Column({ name: 'last_error', type: 'varchar', length: 128, nullable: true })
  lastError!: string | null;
}
