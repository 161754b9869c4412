import type { DataSourceOptions } from 'typeorm';
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
import { MIGRATIONS } from './migrations/index.js';

export interface DatabaseSettings {
  url: string;
  poolSize?: number;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
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
];

/** The one source of TypeORM options: the app, the migration CLI and the tests all use it. */
export function dataSourceOptions(settings: DatabaseSettings): DataSourceOptions {
  const statementTimeout = settings.statementTimeoutMs ?? 10_000;
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
      statement_timeout: statementTimeout,
      query_timeout: statementTimeout + 1000,
      idle_in_transaction_session_timeout: statementTimeout * 2,
      keepAlive: true,
    },
  };
}
