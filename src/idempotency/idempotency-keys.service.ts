import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { type IdempotencyClaim, IdempotencyKeyReusedError } from './idempotency.js';

/** Claims a key for a new resource; an expired key is taken over. Returns no row when another attempt holds it. */
export const CLAIM_SQL = `
  INSERT INTO idempotency_keys AS k (tenant_id, key, request_hash, resource_id, expires_at)
  VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
  ON CONFLICT (tenant_id, key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, resource_id = EXCLUDED.resource_id,
        created_at = now(), expires_at = EXCLUDED.expires_at
    WHERE k.expires_at < now()
  RETURNING 1`;

const CLEANUP_INTERVAL_MS = 60_000;

@Injectable()
export class IdempotencyKeys implements OnApplicationShutdown {
  private readonly logger = new Logger('IdempotencyKeys');
  private readonly cleanup: NodeJS.Timeout;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.cleanup = setInterval(() => void this.deleteExpired(), CLEANUP_INTERVAL_MS);
    this.cleanup.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.cleanup);
  }

  /**
   * The resource an earlier attempt with this key created, or undefined when the key is unused (or
   * expired). The same key with a different request is refused.
   */
  async previous(tenantId: string, claim: IdempotencyClaim, manager: EntityManager = this.dataSource.manager) {
    const rows: { request_hash: Buffer; resource_id: string }[] = await manager.query(
      'SELECT request_hash, resource_id FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND expires_at > now()',
      [tenantId, claim.key],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (!row.request_hash.equals(claim.requestHash)) throw new IdempotencyKeyReusedError();
    return row.resource_id;
  }

  /** In the caller's transaction: true when this attempt now owns the key. */
  async claim(manager: EntityManager, tenantId: string, claim: IdempotencyClaim, resourceId: string): Promise<boolean> {
    const rows: unknown[] = await manager.query(CLAIM_SQL, [
      tenantId,
      claim.key,
      claim.requestHash,
      resourceId,
      claim.ttlSeconds,
    ]);
    return rows.length > 0;
  }

  private async deleteExpired(): Promise<void> {
    if (!this.dataSource.isInitialized) return;
    try {
      await this.dataSource.query('DELETE FROM idempotency_keys WHERE expires_at < now()');
    } catch (error) {
      this.logger.warn(`Could not delete expired keys: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
