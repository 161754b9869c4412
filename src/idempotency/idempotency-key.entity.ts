import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A client's `Idempotency-Key`, claimed in the same transaction as the write it guards: either both
 * commit or neither does, so a retry finds the key exactly when the first attempt's row exists.
 */
@Entity({ name: 'idempotency_keys' })
// Not tenant-led on purpose: the periodic clean-up deletes expired rows of every tenant.
@Index('ix_idempotency_keys_expires', ['expiresAt'])
export class IdempotencyKeyEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'pk_idempotency_keys' })
  tenantId!: string;

  @PrimaryColumn({ name: 'key', type: 'varchar', length: 255, primaryKeyConstraintName: 'pk_idempotency_keys' })
  key!: string;

  /** SHA-256 of the operation, its path ids and the body: the same key with another request is 422. */
  @Column({ name: 'request_hash', type: 'bytea' })
  requestHash!: Buffer;

  /** The request or result the first attempt created; a replay answers it again. */
  @Column({ name: 'resource_id', type: 'uuid' })
  resourceId!: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
