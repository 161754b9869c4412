import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { NestPinoLogger } from '../../src/observability/nest-logger.js';
import { FILE_REQUEST } from '../support/graph.js';
import { REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

type Entry = Record<string, unknown>;

/** Issue 14, point 3: the app's log lines, captured from the pino logger main.ts builds, at LOG_LEVEL=trace. */
describe('logs through pino (production JSON, tracing off)', () => {
  const lines: string[] = [];
  const entries = () => lines.map((line) => JSON.parse(line) as Entry);
  const requestLines = () => entries().filter((e) => e.context === 'HTTP');
  let t: TestApp;
  let tenant: TestIdentity;

  beforeAll(async () => {
    const pino = createLogger(
      { production: true, logLevel: 'trace', tracing: undefined },
      { write: (line) => lines.push(line) },
    );
    t = await startTestApp({ LOG_LEVEL: 'trace' }, new NestPinoLogger(pino));
    tenant = await newTenant();
  });
  afterAll(() => t?.close());

  it("writes Nest's own lines through the same logger, in the same shape", () => {
    const nest = entries().filter((e) => e.context === 'RoutesResolver' || e.context === 'RouterExplorer');
    expect(nest.length).toBeGreaterThan(0);
    for (const entry of nest)
      expect(Object.keys(entry).sort()).toEqual(['context', 'level', 'message', 'pid', 'timestamp']);
  });

  describe('requests', () => {
    beforeEach(() => {
      lines.length = 0;
    });

    it('writes one line per request: ids, tenant, route, status and duration; no trace id with tracing off', async () => {
      const res = await t.http
        .get(`${REQUESTS}?$top=1`)
        .set('authorization', `Bearer ${tenant.token}`)
        .set('client-request-id', 'client-7');
      expect(res.status).toBe(200);
      expect(t.config.tracing).toBeUndefined();
      expect(trace.getTracer('probe').startSpan('no-op').isRecording()).toBe(false);
      await until(() => requestLines().length === 1);
      expect(requestLines()).toEqual([
        {
          level: 'info',
          timestamp: expect.any(Number),
          pid: process.pid,
          context: 'HTTP',
          requestId: res.headers['request-id'],
          clientRequestId: 'client-7',
          tenantId: tenant.tenantId,
          method: 'GET',
          route: REQUESTS,
          status: 200,
          durationMs: expect.any(Number),
          message: 'request',
        },
      ]);
    });

    it('never writes the bearer token, a body, contentData or the Idempotency-Key, whatever the answer', async () => {
      const contentData = Buffer.from('FILE-CONTENT-SECRET').toString('base64');
      const idempotencyKey = 'idempotency-key-SECRET-1';
      const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
      const created = await t.http
        .post(REQUESTS)
        .set(bearer(tenant.token))
        .set('idempotency-key', idempotencyKey)
        .send({ ...FILE_REQUEST, fileName: 'BODY-FILENAME-SECRET.txt', contentData });
      expect(created.status, created.text).toBe(201);
      const id = (created.body as { id: string }).id;
      const answers = await Promise.all([
        t.http
          .post(`${REQUESTS}/${id}/results`)
          .set(bearer(tenant.token))
          .send({ resultType: 'rescan', message: 'BODY-MESSAGE-SECRET' }),
        // Refused by validation, by the token check, by the JSON parser, and a miss.
        t.http
          .post(REQUESTS)
          .set(bearer(tenant.token))
          .send({ ...FILE_REQUEST, contentData, category: 'SECRET-X' }),
        t.http
          .post(REQUESTS)
          .set(bearer(`${tenant.token}SECRET`))
          .send({ ...FILE_REQUEST, contentData }),
        t.http
          .post(REQUESTS)
          .set(bearer(tenant.token))
          .set('content-type', 'application/json')
          .send(`{"contentData": "${contentData}", "broken`),
        t.http.get(`/nowhere/${contentData}`).set(bearer(tenant.token)),
      ]);
      expect(answers.map((a) => a.status)).toEqual([201, 400, 401, 400, 404]);
      await until(() => requestLines().length === 6);
      expect(requestLines().map((e) => e.status)).toEqual(expect.arrayContaining([201, 201, 400, 401, 400, 404]));
      const written = lines.join('');
      for (const secret of [
        tenant.token,
        contentData,
        idempotencyKey,
        'BODY-MESSAGE-SECRET',
        'BODY-FILENAME-SECRET',
        'SECRET-X',
      ])
        expect(written).not.toContain(secret);
    });

    it('logs the probes at debug, not at info', async () => {
      for (const probe of ['/health/live', '/health/ready', '/metrics'])
        expect((await t.http.get(probe)).status).toBe(200);
      await until(() => requestLines().length === 3);
      expect(requestLines().map((e) => [e.route, e.level])).toEqual([
        ['/health/live', 'debug'],
        ['/health/ready', 'debug'],
        ['/metrics', 'debug'],
      ]);
    });
  });
});

/** The request line is written on onResponse, which may run just after the client has read the answer. */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 2000) throw new Error('condition not met within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
