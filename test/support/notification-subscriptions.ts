import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { REQUESTS_RESOURCE } from '../../src/notifications/persistence/record-notifications.js';

/**
 * Subscriptions written straight into `subscriptions` (the columns of SubscriptionEntity), for tests of
 * what is recorded and delivered, independent of the subscription API.
 */
export interface SubscriptionRow {
  tenantId: string;
  /** The collection, or the results of this request. */
  resultsOf?: string;
  changeTypes: string[];
  notificationUrl: string;
  lifecycleNotificationUrl?: string | null;
  clientState?: string | null;
  expirationDateTime?: Date;
  applicationId?: string;
  creatorId?: string;
}

export interface InsertedSubscription {
  id: string;
  tenantId: string;
  resource: string;
  expirationDateTime: Date;
  clientState: string | null;
}

export async function insertSubscription(db: pg.Pool | pg.Client, row: SubscriptionRow): Promise<InsertedSubscription> {
  const id = randomUUID();
  const resource = row.resultsOf ? `${REQUESTS_RESOURCE}/${row.resultsOf.toLowerCase()}/results` : REQUESTS_RESOURCE;
  const expirationDateTime = row.expirationDateTime ?? new Date(Date.now() + 3600_000);
  const clientState = row.clientState === undefined ? 'test-client-state' : row.clientState;
  const changeTypes = [...new Set(row.changeTypes)].sort();
  await db.query(
    `INSERT INTO subscriptions (tenant_id, id, resource, canonical_resource, request_id, change_type, change_types,
       notification_url, lifecycle_notification_url, expiration_date_time, client_state, application_id, creator_id,
       latest_supported_tls_version)
     VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'v1_2')`,
    [
      row.tenantId,
      id,
      resource,
      row.resultsOf?.toLowerCase() ?? null,
      changeTypes.join(','),
      changeTypes,
      row.notificationUrl,
      row.lifecycleNotificationUrl ?? null,
      expirationDateTime,
      clientState,
      row.applicationId ?? randomUUID(),
      row.creatorId ?? randomUUID(),
    ],
  );
  return { id, tenantId: row.tenantId, resource, expirationDateTime, clientState };
}

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A migrated database of its own on the tests' server: a delivering app polls the whole outbox, so a
 * suite that delivers works where no other suite's subscriptions and apps are.
 */
export async function createScratchDatabase(serverUrl: string, prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  // Loaded here only: the suites that run the built service import this file without the app's sources.
  const { runMigrations } = await import('../../src/database/run-migrations.js');
  await runMigrations(url.href);
  return {
    url: url.href,
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
