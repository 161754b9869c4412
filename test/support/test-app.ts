import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import pg from 'pg';
import supertest from 'supertest';
import { inject } from 'vitest';
import { createApp } from '../../src/app.setup.js';
import { type AppConfig, loadConfig } from '../../src/config/app-config.js';
import type { NestPinoLogger } from '../../src/observability/nest-logger.js';
import { checkOpenApiConformance, type OpenApiConformance } from './openapi-validator.js';
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, type TestIdentity } from './tokens.js';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  http: ReturnType<typeof supertest>;
  /** A GET with `who`'s bearer token. */
  get(path: string, who: TestIdentity): supertest.Test;
  /** Direct database access, for asserting what was (not) written. */
  db: pg.Pool;
  /** Every response is checked against the served OpenAPI document; `close()` fails on any mismatch. */
  openapi: OpenApiConformance;
  close(): Promise<void>;
}

/**
 * The production app (same `createApp`), on the test database (or `env.DATABASE_URL`), with HS256 test
 * tokens; silent unless given a logger. Notification delivery is off unless `env` turns it on: every
 * delivering app polls the whole outbox, and the suites run side by side on one database.
 */
export async function startTestApp(env: Record<string, string> = {}, logger?: NestPinoLogger): Promise<TestApp> {
  const databaseUrl = env.DATABASE_URL ?? inject('databaseUrl');
  const config = loadConfig({
    NOTIFICATIONS_DELIVERY_ENABLED: 'false',
    NODE_ENV: 'test',
    AUTH_HS256_SECRET: TEST_SECRET,
    AUTH_ISSUER: TEST_ISSUER,
    AUTH_AUDIENCE: TEST_AUDIENCE,
    SKIPTOKEN_SECRET: 'test-skiptoken-secret-0123456789-abcdefgh',
    DATABASE_URL: databaseUrl,
    PUBLIC_BASE_URL: PUBLIC_BASE,
    ...env,
  });
  const app = await createApp(config, databaseUrl, logger);
  const openapi = checkOpenApiConformance(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const http = supertest(app.getHttpServer());
  return {
    app,
    config,
    http,
    get: (path, who) => http.get(path).set('authorization', `Bearer ${who.token}`),
    db,
    openapi,
    close: async () => {
      await db.end();
      await app.close();
      openapi.assertConforming();
    },
  };
}

export const REQUESTS = '/v1.0/informationProtection/threatAssessmentRequests';
/** The origin the test app writes into links (PUBLIC_BASE_URL); tests without it pass `PUBLIC_BASE_URL: ''`. */
export const PUBLIC_BASE = 'https://threat-assessment.test';

export async function countRows(
  db: pg.Pool,
  table: 'threat_assessment_requests' | 'threat_assessment_results',
  tenantId: string,
) {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = $1`, [tenantId]);
  return Number(rows[0].n);
}
