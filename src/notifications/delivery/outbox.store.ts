import { Injectable } from '@nestjs/common';
import { Database } from '../../database/database.js';

/**
 * The delivery side of the outbox: every statement a delivering instance sends, each its own short
 * transaction on the database clock (now()), with no session state, no LISTEN and no session lock, so
 * that it works through a transaction-mode pooler. All but the cross-tenant ones below name the
 * subscription's tenant_id: they route to its shard, where its notifications are co-located.
 */

/**
 * Cross-tenant by design: the search for due work, the release of this instance's leases at shutdown,
 * the housekeeping sweeps and the queue gauges. Run on a timer by the worker (never on a request's
 * path); under Citus each is one multi-shard statement, and the candidates' join is co-located
 * (tenant_id on both sides). Listed for the tenant-scope check (test/support/tenant-scope.ts).
 */
export const CROSS_TENANT_STATEMENTS = {
  /**
   * Subscriptions whose queue head (per channel) is due, on a free or expired lease, oldest due first.
   * A due row behind a head that waits for its retry is not work: the NOT EXISTS sees the head.
   */
  candidates: `SELECT d.tenant_id, d.subscription_id FROM (
      SELECT n.tenant_id, n.subscription_id, n.next_attempt_at
      FROM notifications n
      JOIN subscriptions s ON s.tenant_id = n.tenant_id AND s.id = n.subscription_id
      WHERE n.abandoned_at IS NULL AND n.next_attempt_at <= now()
        AND (s.lease_until IS NULL OR s.lease_until < now())
        AND NOT EXISTS (
          SELECT 1 FROM notifications w
          WHERE w.tenant_id = n.tenant_id AND w.subscription_id = n.subscription_id AND w.channel = n.channel
            AND w.seq < n.seq AND w.abandoned_at IS NULL AND w.next_attempt_at > now()
        )
      ORDER BY n.next_attempt_at
      LIMIT 1000
    ) d
    GROUP BY d.tenant_id, d.subscription_id
    ORDER BY min(d.next_attempt_at)
    LIMIT $1`,
  releaseAll: `UPDATE subscriptions SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`,
  purgeAbandoned: `DELETE FROM notifications WHERE abandoned_at < now() - interval '7 days'`,
  /** Expired with nothing left to deliver: out of the duplicate rule's way. */
  retireExpired: `UPDATE subscriptions s SET retired_at = now()
    WHERE s.retired_at IS NULL AND s.expiration_date_time < now()
      AND NOT EXISTS (SELECT 1 FROM notifications n
        WHERE n.tenant_id = s.tenant_id AND n.subscription_id = s.id AND n.abandoned_at IS NULL)`,
  /** Retired for a while, no row left (abandoned ones are kept their week): gone. */
  deleteRetired: `DELETE FROM subscriptions s
    WHERE s.retired_at < now() - interval '6 hours'
      AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.tenant_id = s.tenant_id AND n.subscription_id = s.id)`,
  queueStats: `SELECT count(*)::int AS depth,
      coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_seconds
    FROM notifications WHERE abandoned_at IS NULL`,
} as const;

/**
 * Takes or renews the lease: a compare-and-set of the one subscription row. It succeeds when the lease
 * is free, expired, or this instance's; it returns what an attempt needs, read at that moment (a
 * renewed expiration or a moved URL applies to the next POST).
 */
const TAKE_LEASE = `UPDATE subscriptions s
  SET lease_owner = $3, lease_until = now() + $4 * interval '1 second'
  WHERE s.tenant_id = $1 AND s.id = $2
    AND (s.lease_until IS NULL OR s.lease_until < now() OR s.lease_owner = $3)
  RETURNING s.notification_url, s.lifecycle_notification_url, s.client_state, s.expiration_date_time`;

const RELEASE_LEASE = `UPDATE subscriptions s SET lease_owner = NULL, lease_until = NULL
  WHERE s.tenant_id = $1 AND s.id = $2 AND s.lease_owner = $3`;

const QUEUE_COLUMNS = `n.seq, n.id, n.channel, n.event, n.request_id, n.result_id, n.request_kind, n.traceparent,
  n.created_at, n.attempts, n.first_attempt_at, n.next_attempt_at, now() AS db_now`;

/** The first rows of each queue (lifecycle and change), in order: a batch is taken from a queue's head. */
const QUEUE_HEADS = `(SELECT ${QUEUE_COLUMNS} FROM notifications n
    WHERE n.tenant_id = $1 AND n.subscription_id = $2 AND n.channel = 'lifecycle' AND n.abandoned_at IS NULL
    ORDER BY n.seq LIMIT $3)
  UNION ALL
  (SELECT ${QUEUE_COLUMNS} FROM notifications n
    WHERE n.tenant_id = $1 AND n.subscription_id = $2 AND n.channel = 'change' AND n.abandoned_at IS NULL
    ORDER BY n.seq LIMIT $3)`;

/** Delivered rows go; a delivered change batch clears the missed flag. */
const DELIVERED = `WITH delivered AS (
    DELETE FROM notifications n WHERE n.tenant_id = $1 AND n.subscription_id = $2 AND n.seq = ANY ($3::bigint[])
    RETURNING n.seq
  )
  UPDATE subscriptions s SET missed = false
  WHERE s.tenant_id = $1 AND s.id = $2 AND s.missed AND $4::boolean`;

/** Lifecycle rows of a subscription without a lifecycle URL: nowhere to go. */
const DROP = `DELETE FROM notifications n WHERE n.tenant_id = $1 AND n.subscription_id = $2 AND n.seq = ANY ($3::bigint[])`;

/**
 * A failed attempt, in one statement: each row of the batch counts it and is rescheduled or abandoned
 * (planFailure); the rows behind a batch still retried wait at least as long (so that the search for
 * due work skips them); an abandoned change flags the subscription, and the first flag queues one
 * `missed` lifecycle notification when there is a lifecycle URL.
 */
const FAILED = `WITH bumped AS (
    UPDATE notifications n SET attempts = n.attempts + 1,
      first_attempt_at = coalesce(n.first_attempt_at, $5::timestamptz),
      next_attempt_at = $6::timestamptz,
      abandoned_at = CASE WHEN u.abandon THEN now() END,
      last_error = $7::varchar
    FROM unnest($3::bigint[], $4::boolean[]) AS u (seq, abandon)
    WHERE n.tenant_id = $1 AND n.subscription_id = $2 AND n.seq = u.seq AND n.abandoned_at IS NULL
    RETURNING n.abandoned_at
  ), pushed AS (
    UPDATE notifications n SET next_attempt_at = $6::timestamptz
    WHERE n.tenant_id = $1 AND n.subscription_id = $2 AND n.channel = $8 AND n.abandoned_at IS NULL
      AND n.seq > $9::bigint AND n.next_attempt_at < $6::timestamptz AND $10::boolean
  ), flagged AS (
    UPDATE subscriptions s SET missed = true
    WHERE s.tenant_id = $1 AND s.id = $2 AND NOT s.missed AND $8 = 'change'
      AND EXISTS (SELECT 1 FROM bumped b WHERE b.abandoned_at IS NOT NULL)
    RETURNING s.tenant_id, s.id, s.lifecycle_notification_url
  )
  INSERT INTO notifications (id, tenant_id, subscription_id, channel, event)
  SELECT gen_random_uuid(), f.tenant_id, f.id, 'lifecycle', 'missed' FROM flagged f WHERE f.lifecycle_notification_url IS NOT NULL`;

export interface SubscriptionKey {
  tenantId: string;
  id: string;
}

/** A held subscription as an attempt sees it. */
export interface LeasedSubscription extends SubscriptionKey {
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  expirationDateTime: Date;
}

export type Channel = 'change' | 'lifecycle';

export interface QueuedRow {
  seq: string;
  id: string;
  channel: Channel;
  event: string;
  requestId: string | null;
  resultId: string | null;
  requestKind: string | null;
  traceparent: string | null;
  createdAt: Date;
  attempts: number;
  firstAttemptAt: Date | null;
  nextAttemptAt: Date;
  /** The database clock when the rows were read. */
  dbNow: Date;
}

interface QueuedDbRow {
  seq: string;
  id: string;
  channel: Channel;
  event: string;
  request_id: string | null;
  result_id: string | null;
  request_kind: string | null;
  traceparent: string | null;
  created_at: Date;
  attempts: number;
  first_attempt_at: Date | null;
  next_attempt_at: Date;
  db_now: Date;
}

export interface FailedAttempt {
  channel: Channel;
  seqs: string[];
  abandon: boolean[];
  startedAt: Date;
  nextAttemptAt: Date;
  lastError: string;
  /** Whether rows behind the batch wait for its retry (false when the whole batch was abandoned). */
  holdBehind: boolean;
}

@Injectable()
export class OutboxStore {
  constructor(private readonly database: Database) {}

  async candidates(limit: number): Promise<SubscriptionKey[]> {
    const rows = await this.database.query<{ tenant_id: string; subscription_id: string }>(
      'notifications_delivery_candidates',
      CROSS_TENANT_STATEMENTS.candidates,
      [limit],
    );
    return rows.map((row) => ({ tenantId: row.tenant_id, id: row.subscription_id }));
  }

  /** Undefined: another instance holds the lease (or the subscription is gone). */
  async takeLease(key: SubscriptionKey, owner: string, leaseSeconds: number): Promise<LeasedSubscription | undefined> {
    const [row] = await this.database.query<{
      notification_url: string;
      lifecycle_notification_url: string | null;
      client_state: string | null;
      expiration_date_time: Date;
    }>('notifications_take_lease', TAKE_LEASE, [key.tenantId, key.id, owner, leaseSeconds]);
    return (
      row && {
        ...key,
        notificationUrl: row.notification_url,
        lifecycleNotificationUrl: row.lifecycle_notification_url,
        clientState: row.client_state,
        expirationDateTime: row.expiration_date_time,
      }
    );
  }

  async releaseLease(key: SubscriptionKey, owner: string): Promise<void> {
    await this.database.query('notifications_release_lease', RELEASE_LEASE, [key.tenantId, key.id, owner]);
  }

  async releaseAll(owner: string): Promise<void> {
    await this.database.query('notifications_release_all_leases', CROSS_TENANT_STATEMENTS.releaseAll, [owner]);
  }

  async queueHeads(key: SubscriptionKey, batchSize: number): Promise<QueuedRow[]> {
    const rows = await this.database.query<QueuedDbRow>('notifications_queue_heads', QUEUE_HEADS, [
      key.tenantId,
      key.id,
      batchSize,
    ]);
    return rows.map((row) => ({
      seq: row.seq,
      id: row.id,
      channel: row.channel,
      event: row.event,
      requestId: row.request_id,
      resultId: row.result_id,
      requestKind: row.request_kind,
      traceparent: row.traceparent,
      createdAt: row.created_at,
      attempts: row.attempts,
      firstAttemptAt: row.first_attempt_at,
      nextAttemptAt: row.next_attempt_at,
      dbNow: row.db_now,
    }));
  }

  async delivered(key: SubscriptionKey, channel: Channel, seqs: string[]): Promise<void> {
    await this.database.query('notifications_delivered', DELIVERED, [key.tenantId, key.id, seqs, channel === 'change']);
  }

  async drop(key: SubscriptionKey, seqs: string[]): Promise<void> {
    await this.database.query('notifications_drop', DROP, [key.tenantId, key.id, seqs]);
  }

  async failed(key: SubscriptionKey, attempt: FailedAttempt): Promise<void> {
    await this.database.query('notifications_failed', FAILED, [
      key.tenantId,
      key.id,
      attempt.seqs,
      attempt.abandon,
      attempt.startedAt,
      attempt.nextAttemptAt,
      attempt.lastError.slice(0, 128),
      attempt.channel,
      attempt.seqs[attempt.seqs.length - 1],
      attempt.holdBehind,
    ]);
  }

  /** Housekeeping: the three sweeps, each its own statement. */
  async housekeep(): Promise<void> {
    await this.database.query('notifications_purge_abandoned', CROSS_TENANT_STATEMENTS.purgeAbandoned);
    await this.database.query('notifications_retire_expired', CROSS_TENANT_STATEMENTS.retireExpired);
    await this.database.query('notifications_delete_retired', CROSS_TENANT_STATEMENTS.deleteRetired);
  }

  async queueStats(): Promise<{ depth: number; oldestSeconds: number }> {
    const [row] = await this.database.query<{ depth: number; oldest_seconds: number }>(
      'notifications_queue_stats',
      CROSS_TENANT_STATEMENTS.queueStats,
    );
    return { depth: row.depth, oldestSeconds: row.oldest_seconds };
  }
}
