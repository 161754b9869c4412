import type { EventEmitter } from 'node:events';
import type { DataSourceOptions } from 'typeorm';
import type { DatabasePooler } from '../config/app-config.js';
import {
  ThreatAssessmentRequestEntity,
  MailAssessmentRequestEntity,
  EmailFileAssessmentRequestEntity,
  FileAssessmentRequestEntity,
  UrlAssessmentRequestEntity,
} from '../threat-assessment/entities/threat-assessment-request.entity.js';
import { ThreatAssessmentResultEntity } from '../threat-assessment/entities/threat-assessment-result.entity.js';
import { IdempotencyKeyEntity } from '../idempotency/idempotency-key.entity.js';
import { ThrottleCounterEntity } from '../throttling/throttle-counter.entity.js';
import { SubscriptionEntity } from '../notifications/persistence/subscription.entity.js';
import { NotificationEntity } from '../notifications/persistence/notification.entity.js';
import { MIGRATIONS } from './migrations/index.js';

export interface DatabaseSettings {
  url: string;
  poolSize?: number;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** `transaction`: no session parameters at connect (a transaction pooler refuses or cannot carry them). */
  pooler?: DatabasePooler;
}

/** The server-side timeouts, sent at connect without a pooler, `SET LOCAL` per transaction behind one. */
export interface SessionTimeouts {
  statement_timeout: number;
  idle_in_transaction_session_timeout: number;
}

export function sessionTimeouts(statementTimeoutMs = 10_000): SessionTimeouts {
  return { statement_timeout: statementTimeoutMs, idle_in_transaction_session_timeout: statementTimeoutMs * 2 };
}

export const ENTITIES = [
  ThreatAssessmentRequestEntity,
  MailAssessmentRequestEntity,
  EmailFileAssessmentRequestEntity,
  FileAssessmentRequestEntity,
  UrlAssessmentRequestEntity,
  ThreatAssessmentResultEntity,
  ThrottleCounterEntity,
  IdempotencyKeyEntity,
  SubscriptionEntity,
  NotificationEntity,
];

/** The one source of TypeORM options: the app, the migration CLI and the tests all use it. */
export function dataSourceOptions(settings: DatabaseSettings): DataSourceOptions {
  const statementTimeout = settings.statementTimeoutMs ?? 10_000;
  // pgbouncer answers 'unsupported startup parameter' to these, and a transaction pooler would apply them
  // to whichever server session it picked: Database.transaction sets them per transaction instead.
  const timeouts = settings.pooler === 'transaction' ? {} : sessionTimeouts(statementTimeout);
  return {
    type: 'postgres',
    url: settings.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    // `findOneBy({ id: undefined })` must fail loudly instead of matching some row.
    invalidWhereValuesBehavior: { null: 'throw', undefined: 'throw' },
    logging: false,
    applicationName: 'threat-assessment-service',
    extra: {
      max: settings.poolSize ?? 10,
      // Bounded waits: no request hangs on a saturated pool or a stuck statement.
      connectionTimeoutMillis: settings.connectTimeoutMs ?? 5000,
      ...timeouts,
      // Client-side, so it holds behind a pooler too.
      query_timeout: statementTimeout + 1000,
      keepAlive: true,
      onConnect: listenForSessionEnd,
    },
  };
}

/**
 * pg-pool hands a released client to the next waiter while it is still parsing that client's bytes: a
 * session end in the same read (a restart, pg_terminate_backend) is emitted before a waiter that awaits
 * a promise (Database.transaction, TypeORM) has attached its listener, and an 'error' event without one
 * ends the process. This listener lives as long as the client; the failure still reaches the client's
 * next statement, which then fails and drops it.
 */
export function listenForSessionEnd(client: EventEmitter): void {
  client.on('error', () => undefined);
}
