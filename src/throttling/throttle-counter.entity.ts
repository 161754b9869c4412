import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { ThrottleScope } from './throttle-limits.js';

/**
 * Fixed-window counters shared by every instance of the service: the limit holds across instances
 * because the count lives where the data does, counted by the statement that writes (throttleGate).
 */
@Entity({ name: 'throttle_counters' })
@Check('ck_throttle_counters_scope', `"scope" IN ('tenant', 'resource', 'results', 'subscriptions')`)
// Not tenant-led on purpose: the periodic clean-up deletes expired rows of every tenant.
@Index('ix_throttle_counters_expires', ['expiresAt'])
export class ThrottleCounterEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'pk_throttle_counters' })
  tenantId!: string;

  @PrimaryColumn({ name: 'scope', type: 'varchar', length: 16, primaryKeyConstraintName: 'pk_throttle_counters' })
  scope!: ThrottleScope;

  /** The resource's SHA-256 (hex) for `resource`, empty for tenant-wide counters. */
  @PrimaryColumn({ name: 'key', type: 'varchar', length: 64, primaryKeyConstraintName: 'pk_throttle_counters' })
  key!: string;

  @PrimaryColumn({ name: 'window_seconds', type: 'integer', primaryKeyConstraintName: 'pk_throttle_counters' })
  windowSeconds!: number;

  @PrimaryColumn({ name: 'window_start', type: 'timestamptz', primaryKeyConstraintName: 'pk_throttle_counters' })
  windowStart!: Date;

  @Column({ name: 'count', type: 'integer' })
  count!: number;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
