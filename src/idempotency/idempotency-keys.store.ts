import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

/** Where a claim's values come from: SQL expressions, and an optional `FROM …` that gates the claim. */
export interface ClaimSource {
  tenant: string;
  key: string;
  requestHash: string;
  resourceId: string;
  ttlSeconds: string;
  from?: string;
}

/**
 * The one claim of an Idempotency-Key, a CTE `claim` for the write's own statement: it holds a row
 * exactly when this attempt now owns the key (an expired key is taken over); a concurrent attempt
 * with the same key waits on the row's lock and then finds it taken. The write adds
 * `EXISTS (SELECT 1 FROM claim)` to its own condition, so the key and the resource commit together.
 */
export function claimCte(source: ClaimSource): string {
  return `claim AS (
    INSERT INTO idempotency_keys AS k (tenant_id, key, request_hash, resource_id, expires_at)
    SELECT ${source.tenant}, ${source.key}, ${source.requestHash}, ${source.resourceId}, now() + make_interval(secs => ${source.ttlSeconds})${source.from ? ` FROM ${source.from}` : ''}
    ON CONFLICT (tenant_id, key) DO UPDATE
      SET request_hash = EXCLUDED.request_hash, resource_id = EXCLUDED.resource_id,
          created_at = now(), expires_at = EXCLUDED.expires_at
      WHERE k.expires_at < now()
    RETURNING 1
  )`;
}

export interface IdempotencyKeyRow {
  request_hash: Buffer;
  resource_id: string;
}

@Injectable()
export class IdempotencyKeysStore {
  constructor(private readonly database: Database) {}

  /** The key's live row, if any. */
  async find(tenantId: string, key: string): Promise<IdempotencyKeyRow | undefined> {
    const [row] = await this.database.query<IdempotencyKeyRow>(
      'find_idempotency_key',
      'SELECT k.request_hash, k.resource_id FROM idempotency_keys k WHERE k.tenant_id = $1 AND k.key = $2 AND k.expires_at > now()',
      [tenantId, key],
    );
    return row;
  }

  /** A sweep across tenants, outside any request: the one statement not scoped to a tenant. */
  async deleteExpired(): Promise<void> {
    if (!this.database.isOpen()) return;
    await this.database.query(undefined, 'DELETE FROM idempotency_keys WHERE expires_at < now()');
  }
}
