import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { call, newTenant, REQUESTS } from './support/graph-client.js';
import { startOtlpCollector } from './support/otlp-collector.js';
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

/** Issue 14, point 2: the built service, with OTEL_EXPORTER_OTLP_ENDPOINT set, exports to a collector. */
describe('tracing over OTLP (http/protobuf)', () => {
  let db: ControlledPostgres;
  let service: RunningService | undefined;

  beforeAll(async () => {
    db = await startControlledPostgres('threat_assessment_tracing_test');
  });
  afterAll(async () => {
    await service?.stop();
    await db?.destroy();
  });

  it("exports its requests' spans, children of the caller's, and flushes them at SIGTERM", async () => {
    const collector = await startOtlpCollector();
    try {
      service = await startService('otlp-export', {
        DATABASE_URL: db.url,
        LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_SERVICE_NAME: 'threat-assessment-under-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=faults',
      });
      await service.waitFor('/health/ready', 200);
      const tenant = await newTenant();
      const traceId = randomBytes(16).toString('hex');
      const callerSpanId = randomBytes(8).toString('hex');
      const res = await fetch(`${service.baseUrl}${REQUESTS}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${tenant.token}`,
          'content-type': 'application/json',
          traceparent: `00-${traceId}-${callerSpanId}-01`,
          'idempotency-key': 'otlp-idempotency-key-SECRET',
        },
        body: JSON.stringify({ ...URL_REQUEST, url: 'http://body-secret.example/SECRET' }),
      });
      expect(res.status, await res.text()).toBe(201);

      // The batch is due in 5 s: what arrives before the exit comes from the flush at SIGTERM.
      expect(await service.stop()).toEqual({ code: 0, signal: null, at: expect.any(Number) });
      const spans = collector.spans.filter((s) => s.traceId === traceId);
      const server = spans.find((s) => s.kind === 2);
      expect(server, JSON.stringify(collector.spans.map((s) => s.name))).toMatchObject({
        name: `POST ${REQUESTS}`,
        parentSpanId: callerSpanId,
        attributes: { 'http.route': REQUESTS, 'http.response.status_code': 201, 'graph.tenant_id': tenant.tenantId },
        resource: {
          'service.name': 'threat-assessment-under-test',
          'deployment.environment.name': 'faults',
          'telemetry.sdk.language': 'nodejs',
        },
      });
      const statements = spans.filter((s) => s !== server);
      expect(statements.length).toBeGreaterThan(0);
      for (const span of statements) expect([span.kind, span.parentSpanId]).toEqual([3, server!.spanId]);
      const exported = Buffer.concat(collector.payloads).toString('latin1');
      for (const secret of [tenant.token, 'SECRET']) expect(exported).not.toContain(secret);
      // The request line carries the trace.
      expect(service.tail(400)).toMatch(new RegExp(`"traceId":"${traceId}"`));
    } finally {
      await collector.close();
    }
  });
});
