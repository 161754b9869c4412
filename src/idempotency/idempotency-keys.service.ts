import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Database, type Queryable } from '../database/database.js';
import { IdempotencyKeysStore } from './idempotency-keys.store.js';
import { type IdempotencyClaim, IdempotencyKeyReusedError } from './idempotency.js';

const CLEANUP_INTERVAL_MS = 60_000;

@Injectable()
export class IdempotencyKeys implements OnApplicationShutdown {
  private readonly logger = new Logger('IdempotencyKeys');
  private readonly cleanup: NodeJS.Timeout;

  constructor(
    private readonly store: IdempotencyKeysStore,
    private readonly database: Database,
  ) {
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
  async previous(tenantId: string, claim: IdempotencyClaim): Promise<string | undefined> {
    const row = await this.store.find(tenantId, claim.key);
    if (!row) return undefined;
    if (!row.request_hash.equals(claim.requestHash)) throw new IdempotencyKeyReusedError();
    return row.resource_id;
  }

  /**
   * The one sequence of both POSTs, whether or not a key is sent: a key used before answers the
   * resource it created (`previous`); otherwise `write` runs the write's one statement, which claims
   * the key itself (claimCte). With a key it runs in a transaction, so that a refusal decided after the
   * statement (429) gives the key back with the counts; without one the statement is its own
   * transaction, one round trip. A claim lost to a concurrent attempt is the write's to notice.
   */
  async write<T>(
    tenantId: string,
    claim: IdempotencyClaim | undefined,
    write: (on: Queryable, inTransaction: boolean) => Promise<T>,
  ): Promise<{ previous: string } | { value: T }> {
    if (!claim) return { value: await write(this.database, false) };
    const previous = await this.previous(tenantId, claim);
    if (previous) return { previous };
    return { value: await this.database.transaction((tx) => write(tx, true)) };
  }

  private async deleteExpired(): Promise<void> {
    try {
      await this.store.deleteExpired();
    } catch (error) {
      this.logger.warn(`Could not delete expired keys: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
