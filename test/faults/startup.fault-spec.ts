import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, REQUESTS } from './support/graph-client.js';
import { type ControlledPostgres, startControlledPostgres } from './support/postgres.js';
import { type RunningService, startService } from './support/service.js';

const URL_REQUEST = {
  '@odata.type': '#microsoft.graph.urlAssessmentRequest',
  url: 'http://test.com',
  expectedAssessment: 'block',
  category: 'phishing',
};

/** Issue #2, point 5: how the built service starts with no authentication configured. */
describe('starting without authentication configured', () => {
  let db: ControlledPostgres;
  const services: RunningService[] = [];

  beforeAll(async () => {
    db = await startControlledPostgres('threat_assessment_startup_test');
  });
  afterAll(async () => {
    for (const service of services) await service.stop();
    await db?.destroy();
  });

  it('in development, prints a ready-to-paste token for the local tenant that the API accepts', async () => {
    const service = await startService('local-mode', {
      NODE_ENV: 'development',
      AUTH_HS256_SECRET: undefined,
      SKIPTOKEN_SECRET: undefined,
      LOG_LEVEL: 'info',
      DATABASE_URL: db.url,
    });
    services.push(service);
    await service.waitFor('/health/ready', 200);
    const token = service
      .tail(400)
      .split('\n')
      .map((line) => line.trim())
      .find((line) => /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/.test(line));
    expect(token, service.tail(20)).toBeDefined();
    expect(service.tail(400)).toMatch(/Local mode \(no auth configured\): a token for tenant [0-9a-f-]{36}/);
    const created = await call(service.baseUrl, REQUESTS, { token, body: URL_REQUEST });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((created.body as { createdBy: unknown }).createdBy).toEqual({
      user: { id: expect.any(String), displayName: 'Local Admin' },
    });
    expect((await call(service.baseUrl, REQUESTS, { token: `${token}x` })).status).toBe(401);
  });

  it('in production, refuses to start and says why', async () => {
    const service = await startService('production-no-auth', {
      AUTH_HS256_SECRET: undefined,
      DATABASE_URL: db.url,
    });
    services.push(service);
    const exit = await Promise.race([service.exit, sleep(20_000).then(() => undefined)]);
    expect(exit).toEqual({ code: 1, signal: null, at: expect.any(Number) });
    expect(service.tail(10)).toMatch(
      /Configuration error: No authentication configured: with NODE_ENV=production set AUTH_JWKS_URI/,
    );
  });
});
