import { Injectable } from '@nestjs/common';
import { Database, type Queryable } from '../../database/database.js';

/** Who may see a subscription: its tenant and application, and for a user, only the user's own. */
export interface Subscriber {
  tenantId: string;
  applicationId: string;
  /** The creator to match; undefined for an application, which sees every subscription its app made. */
  creatorId?: string;
  /** What a new subscription records as `creatorId`. */
  objectId: string;
}

export interface NewSubscription {
  id: string;
  resource: string;
  canonicalResource: string;
  requestId: string | null;
  changeType: string;
  changeTypes: string[];
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  expirationDateTime: Date;
  clientState: string | null;
  latestSupportedTlsVersion: string;
  encryptionCertificate: string | null;
  encryptionCertificateId: string | null;
  notificationUrlAppId: string | null;
}

export interface SubscriptionRow {
  id: string;
  resource: string;
  change_type: string;
  notification_url: string;
  lifecycle_notification_url: string | null;
  expiration_date_time: Date;
  client_state: string | null;
  application_id: string;
  creator_id: string;
  latest_supported_tls_version: string;
  encryption_certificate: string | null;
  encryption_certificate_id: string | null;
  notification_url_app_id: string | null;
  created_at: Date;
}

const COLUMNS = `s.id, s.resource, s.change_type, s.notification_url, s.lifecycle_notification_url,
  s.expiration_date_time, s.client_state, s.application_id, s.creator_id, s.latest_supported_tls_version,
  s.encryption_certificate, s.encryption_certificate_id, s.notification_url_app_id, s.created_at`;

/** Active (neither retired nor expired) and visible to the subscriber; `$1` tenant, `$2` app, `$3` creator or NULL. */
const VISIBLE = `s.tenant_id = $1 AND s.application_id = $2 AND ($3::varchar IS NULL OR s.creator_id = $3)
  AND s.retired_at IS NULL AND s.expiration_date_time > now()`;

const UNIQUE_COMBINATION = 'uq_subscriptions_combination';

export type InsertOutcome =
  | { outcome: 'created'; row: SubscriptionRow }
  | { outcome: 'request-missing' }
  | { outcome: 'quota'; scope: 'tenant' | 'application' }
  | { outcome: 'duplicate'; existingId: string };

/** Subscriptions of a tenant: every statement here is scoped by `tenant_id`. */
@Injectable()
export class SubscriptionsStore {
  constructor(private readonly database: Database) {}

  /** The request a results subscription watches exists in the tenant. */
  async requestExists(tenantId: string, requestId: string): Promise<boolean> {
    const rows = await this.database.query(
      'subscription_request_exists',
      'SELECT 1 FROM threat_assessment_requests r WHERE r.tenant_id = $1 AND r.id = $2',
      [tenantId, requestId],
    );
    return rows.length > 0;
  }

  /** Active subscriptions of the tenant and of its application in it. */
  async counts(
    tenantId: string,
    applicationId: string,
    on: Queryable = this.database,
  ): Promise<{ tenant: number; app: number }> {
    const [row] = await on.query<{ tenant: number; app: number }>(
      'count_active_subscriptions',
      `SELECT count(*)::int AS tenant, (count(*) FILTER (WHERE s.application_id = $2))::int AS app
       FROM subscriptions s
       WHERE s.tenant_id = $1 AND s.retired_at IS NULL AND s.expiration_date_time > now()`,
      [tenantId, applicationId],
    );
    return row;
  }

  /** Graph's duplicate rule: the same tenant, application, creator, resource and set of change types. */
  async duplicateOf(
    subscriber: Subscriber,
    canonicalResource: string,
    changeTypes: string[],
  ): Promise<string | undefined> {
    const [row] = await this.database.query<{ id: string }>(
      'find_duplicate_subscription',
      `SELECT s.id FROM subscriptions s
       WHERE s.tenant_id = $1 AND s.application_id = $2 AND s.creator_id = $3 AND s.canonical_resource = $4
         AND s.change_types = $5::varchar[] AND s.retired_at IS NULL AND s.expiration_date_time > now()`,
      [subscriber.tenantId, subscriber.applicationId, subscriber.objectId, canonicalResource, changeTypes],
    );
    return row?.id;
  }

  /**
   * One short transaction after the handshake: the tenant's writes queue on a transaction lock so that
   * the quotas hold under concurrency; a results subscription holds a share lock on its request, so a
   * concurrent delete of the request waits and then retires it (RequestsStore.delete); the tenant's
   * expired subscriptions are retired so that they no longer count as duplicates.
   */
  async insert(
    subscriber: Subscriber,
    subscription: NewSubscription,
    quotas: { tenant: number; app: number },
  ): Promise<InsertOutcome> {
    const { tenantId } = subscriber;
    return this.database
      .transaction(async (tx): Promise<InsertOutcome> => {
        await tx.query(
          'lock_tenant_subscriptions',
          `SELECT pg_advisory_xact_lock(hashtextextended('subscriptions:' || $1::text, 0))`,
          [tenantId],
        );
        if (subscription.requestId) {
          const request = await tx.query(
            'share_lock_subscribed_request',
            'SELECT 1 FROM threat_assessment_requests r WHERE r.tenant_id = $1 AND r.id = $2 FOR KEY SHARE',
            [tenantId, subscription.requestId],
          );
          if (request.length === 0) return { outcome: 'request-missing' };
        }
        await tx.query(
          'retire_expired_subscriptions',
          `UPDATE subscriptions s SET retired_at = now()
           WHERE s.tenant_id = $1 AND s.retired_at IS NULL AND s.expiration_date_time <= now()`,
          [tenantId],
        );
        const counts = await this.counts(tenantId, subscriber.applicationId, tx);
        if (counts.tenant >= quotas.tenant) return { outcome: 'quota', scope: 'tenant' };
        if (counts.app >= quotas.app) return { outcome: 'quota', scope: 'application' };
        const [row] = await tx.query<SubscriptionRow>(
          'insert_subscription',
          `INSERT INTO subscriptions AS s (tenant_id, id, resource, canonical_resource, request_id, change_type,
             change_types, notification_url, lifecycle_notification_url, expiration_date_time, client_state,
             application_id, creator_id, latest_supported_tls_version, encryption_certificate,
             encryption_certificate_id, notification_url_app_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7::varchar[], $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           RETURNING ${COLUMNS}`,
          [
            tenantId,
            subscription.id,
            subscription.resource,
            subscription.canonicalResource,
            subscription.requestId,
            subscription.changeType,
            subscription.changeTypes,
            subscription.notificationUrl,
            subscription.lifecycleNotificationUrl,
            subscription.expirationDateTime,
            subscription.clientState,
            subscriber.applicationId,
            subscriber.objectId,
            subscription.latestSupportedTlsVersion,
            subscription.encryptionCertificate,
            subscription.encryptionCertificateId,
            subscription.notificationUrlAppId,
          ],
        );
        return { outcome: 'created', row };
      })
      .catch(async (error: unknown) => {
        // The tenant lock serialises this tenant's creates, so this is a duplicate the pre-check could not see.
        if (!isUniqueViolationOf(error, UNIQUE_COMBINATION)) throw error;
        const existingId = await this.duplicateOf(subscriber, subscription.canonicalResource, subscription.changeTypes);
        return { outcome: 'duplicate', existingId: existingId ?? subscription.id };
      });
  }

  async get(subscriber: Subscriber, id: string): Promise<SubscriptionRow | undefined> {
    const [row] = await this.database.query<SubscriptionRow>(
      'get_subscription',
      `SELECT ${COLUMNS} FROM subscriptions s WHERE ${VISIBLE} AND s.id = $4`,
      [subscriber.tenantId, subscriber.applicationId, subscriber.creatorId ?? null, id],
    );
    return row;
  }

  /**
   * Oldest first by id (UUIDv7, so creation order to the millisecond), after `afterId`; one more than
   * `top`, to tell whether more follow.
   */
  async list(subscriber: Subscriber, top: number, afterId?: string): Promise<SubscriptionRow[]> {
    const values: unknown[] = [subscriber.tenantId, subscriber.applicationId, subscriber.creatorId ?? null, top + 1];
    if (afterId) values.push(afterId);
    return this.database.query<SubscriptionRow>(
      afterId ? 'list_subscriptions_after' : 'list_subscriptions',
      `SELECT ${COLUMNS} FROM subscriptions s WHERE ${VISIBLE}${afterId ? ' AND s.id > $5' : ''}
       ORDER BY s.id LIMIT $4`,
      values,
    );
  }

  /** Renews and/or moves; undefined when it is not there (or not the subscriber's). */
  async update(
    subscriber: Subscriber,
    id: string,
    change: { expirationDateTime?: Date; notificationUrl?: string },
  ): Promise<SubscriptionRow | undefined> {
    const [row] = await this.database.query<SubscriptionRow>(
      'update_subscription',
      `UPDATE subscriptions s SET expiration_date_time = coalesce($5, s.expiration_date_time),
         notification_url = coalesce($6, s.notification_url)
       WHERE ${VISIBLE} AND s.id = $4
       RETURNING ${COLUMNS}`,
      [
        subscriber.tenantId,
        subscriber.applicationId,
        subscriber.creatorId ?? null,
        id,
        change.expirationDateTime ?? null,
        change.notificationUrl ?? null,
      ],
    );
    return row;
  }

  /** Retires it and discards what it has not yet been sent, in one statement. False when it is not there. */
  async delete(subscriber: Subscriber, id: string): Promise<boolean> {
    const [row] = await this.database.query<{ retired: number }>(
      'delete_subscription',
      `WITH retired AS (
         UPDATE subscriptions s SET retired_at = now()
         WHERE ${VISIBLE} AND s.id = $4
         RETURNING s.tenant_id, s.id
       ), discarded AS (
         DELETE FROM notifications n USING retired r
         WHERE n.tenant_id = $1 AND n.tenant_id = r.tenant_id AND n.subscription_id = r.id AND n.abandoned_at IS NULL
       )
       SELECT count(*)::int AS retired FROM retired`,
      [subscriber.tenantId, subscriber.applicationId, subscriber.creatorId ?? null, id],
    );
    return row.retired > 0;
  }
}

function isUniqueViolationOf(error: unknown, constraint: string): boolean {
  const e = error as { code?: unknown; constraint?: unknown };
  return e.code === '23505' && e.constraint === constraint;
}
