import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { NestPinoLogger } from '../../src/observability/nest-logger.js';
import { startTracing, type Tracing } from '../../src/observability/tracing.js';
import { FILE_REQUEST } from '../support/graph.js';
import { createScratchDatabase, insertSubscription } from '../support/notification-subscriptions.js';
import { REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const RESULTS_ROUTE = `POST ${REQUESTS}/:id/results`;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/**
 * Issue 14, point 2: with OTEL_* configuring an export, the app as production builds it (same
 * createApp, same startTracing) with the OTLP exporter swapped for an in-memory one.
 */
describe('tracing (OTEL_TRACES_EXPORTER=otlp; spans collected in memory)', () => {
  const exporter = new InMemorySpanExporter();
  const lines: string[] = [];
  let tracing: Tracing;
  let t: TestApp;
  let tenant: TestIdentity;

  beforeAll(async () => {
    const settings = { sampler: 'parentbased_always_on', samplerRatio: 1 } as const;
    const pino = createLogger(
      { production: true, logLevel: 'trace', tracing: settings },
      { write: (line) => lines.push(line) },
    );
    tracing = startTracing(settings, pino, exporter);
    t = await startTestApp({ OTEL_TRACES_EXPORTER: 'otlp', LOG_LEVEL: 'trace' }, new NestPinoLogger(pino));
    expect(t.config.tracing).toEqual(settings);
    tenant = await newTenant();
  });
  afterAll(async () => {
    await t?.close();
    await tracing?.shutdown();
  });
  beforeEach(() => {
    exporter.reset();
    lines.length = 0;
  });

  /** The spans of one trace, once its server span has ended (onResponse may follow the client's read). */
  async function traceOf(traceId: string): Promise<ReadableSpan[]> {
    for (let waited = 0; waited < 2000; waited += 20) {
      await tracing.forceFlush();
      const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      if (spans.some((s) => s.kind === SpanKind.SERVER)) return spans;
      await sleep(20);
    }
    throw new Error(
      `no server span in trace ${traceId}: ${exporter
        .getFinishedSpans()
        .map((s) => s.name)
        .join(', ')}`,
    );
  }

  async function serverSpanOf(requestId: string): Promise<ReadableSpan> {
    for (let waited = 0; waited < 2000; waited += 20) {
      await tracing.forceFlush();
      const span = exporter.getFinishedSpans().find((s) => s.attributes['graph.request_id'] === requestId);
      if (span) return span;
      await sleep(20);
    }
    throw new Error(`no server span for request ${requestId}`);
  }

  function tree(spans: ReadableSpan[]): string {
    const render = (span: ReadableSpan, depth: number): string[] => [
      `${'  '.repeat(depth)}${span.name} [${SpanKind[span.kind]}] ${JSON.stringify(span.attributes)}`,
      ...spans
        .filter((child) => child.parentSpanContext?.spanId === span.spanContext().spanId)
        .flatMap((child) => render(child, depth + 1)),
    ];
    const root = spans.find((s) => s.kind === SpanKind.SERVER)!;
    return render(root, 0).join('\n');
  }

  it('adds a result in a server span named by its route, child of the caller, with a span per statement', async () => {
    const created = await t.http
      .post(REQUESTS)
      .set('authorization', `Bearer ${tenant.token}`)
      .send({ ...FILE_REQUEST, contentData: Buffer.from('CONTENT-DATA-SECRET').toString('base64') });
    expect(created.status, created.text).toBe(201);
    const requestId = (created.body as { id: string }).id;

    const traceId = hex(16);
    const callerSpanId = hex(8);
    const idempotencyKey = `idem-${hex(8)}`;
    const res = await t.http
      .post(`${REQUESTS}/${requestId}/results`)
      .set('authorization', `Bearer ${tenant.token}`)
      .set('traceparent', `00-${traceId}-${callerSpanId}-01`)
      .set('tracestate', 'vendor=opaque-value')
      .set('idempotency-key', idempotencyKey)
      .set('client-request-id', 'client-correlation-7')
      .send({
        '@odata.type': '#microsoft.graph.threatAssessmentResult',
        resultType: 'rescan',
        message: 'BODY-MESSAGE-SECRET',
      });
    expect(res.status, res.text).toBe(201);

    const spans = await traceOf(traceId);
    console.log(`[span tree] add a result\n${tree(spans)}`);
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.name).toBe(RESULTS_ROUTE);
    expect(server.parentSpanContext).toMatchObject({ traceId, spanId: callerSpanId, isRemote: true });
    expect(server.spanContext().traceState?.serialize()).toBe('vendor=opaque-value');
    expect(server.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(server.attributes).toEqual({
      'http.request.method': 'POST',
      'http.route': `${REQUESTS}/:id/results`,
      'url.path': `${REQUESTS}/${requestId}/results`,
      'url.scheme': 'http',
      'network.protocol.version': '1.1',
      'http.response.status_code': 201,
      'graph.request_id': res.headers['request-id'],
      'graph.client_request_id': 'client-correlation-7',
      'graph.tenant_id': tenant.tenantId,
    });

    const statements = spans.filter((s) => s !== server);
    expect(statements.length).toBeGreaterThan(0);
    for (const span of statements) {
      expect(span.kind, span.name).toBe(SpanKind.CLIENT);
      expect(span.parentSpanContext?.spanId, span.name).toBe(server.spanContext().spanId);
      expect(span.attributes, span.name).toMatchObject({ 'db.system.name': 'postgresql' });
      expect(span.name).toBe(span.attributes['db.query.summary'] ?? span.attributes['db.operation.name']);
    }
    // The idempotency claim and the result's insert commit together: BEGIN, the statements, COMMIT.
    expect(statements.map((s) => s.attributes['db.operation.name'])).toEqual(
      expect.arrayContaining(['BEGIN', 'COMMIT']),
    );

    const everything = JSON.stringify(
      spans.map(({ name, attributes, events, links, status }) => ({ name, attributes, events, links, status })),
    );
    for (const secret of [tenant.token, 'BODY-MESSAGE-SECRET', FILE_REQUEST.contentData, idempotencyKey, 'Bearer'])
      expect(everything).not.toContain(secret);

    // The request line names the same trace and the server span.
    const requestLines = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.message === 'request');
    expect(requestLines.at(-1)).toMatchObject({
      route: `${REQUESTS}/:id/results`,
      status: 201,
      traceId,
      spanId: server.spanContext().spanId,
    });
    for (const secret of [tenant.token, 'BODY-MESSAGE-SECRET', idempotencyKey])
      expect(lines.join('')).not.toContain(secret);
  });

  it('starts a new trace without a traceparent, and ignores a malformed one', async () => {
    for (const traceparent of [undefined, '00-zzzz-not-a-trace-01', `00-${'0'.repeat(32)}-${hex(8)}-01`]) {
      const req = t.http.get(`${REQUESTS}?$top=1`).set('authorization', `Bearer ${tenant.token}`);
      const res = await (traceparent ? req.set('traceparent', traceparent) : req);
      expect(res.status, res.text).toBe(200);
      const server = await serverSpanOf(res.headers['request-id']);
      expect(server.name).toBe(`GET ${REQUESTS}`);
      expect(server.parentSpanContext, traceparent).toBeUndefined();
      expect(server.spanContext().traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    }
  });

  it('gives a request refused before its handler its span too, without statements; probes have none', async () => {
    const traceId = hex(16);
    const refused = await t.http
      .post(`${REQUESTS}/${'1'.repeat(8)}-0000-4000-8000-000000000000/results`)
      .set('authorization', 'Bearer not-a-valid-token-SECRET')
      .set('traceparent', `00-${traceId}-${hex(8)}-01`)
      .send({ message: 'REFUSED-BODY-SECRET' });
    expect(refused.status).toBe(401);
    const spans = await traceOf(traceId);
    expect(spans.map((s) => [s.name, s.attributes['http.response.status_code']])).toEqual([[RESULTS_ROUTE, 401]]);
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toMatch(/SECRET/);

    const unmatched = await t.http.get('/nowhere').set('authorization', `Bearer ${tenant.token}`);
    expect(unmatched.status).toBe(404);
    const miss = await serverSpanOf(unmatched.headers['request-id']);
    expect([miss.name, miss.attributes['http.route'], miss.attributes['http.response.status_code']]).toEqual([
      'GET',
      undefined,
      404,
    ]);
    const probes: string[] = [];
    for (const probe of ['/health/live', '/health/ready', '/metrics']) {
      const res = await t.http.get(probe);
      expect(res.status, probe).toBe(200);
      probes.push(res.headers['request-id']);
    }
    await sleep(50);
    await tracing.forceFlush();
    expect(
      exporter.getFinishedSpans().filter((s) => probes.includes(String(s.attributes['graph.request_id']))),
    ).toEqual([]);
  });

  it('delivers a notification in a client span that joins the trace of the change that recorded it', async () => {
    const certificates = inject('testCertificates');
    const scratch = await createScratchDatabase(inject('databaseUrl'), 'tracing');
    const receiver = await WebhookReceiver.start('127.0.0.1', {
      cert: certificates.leafCert,
      key: certificates.leafKey,
    });
    receiver.handler = (_req, res) => res.writeHead(202).end();
    const delivering = await startTestApp({
      OTEL_TRACES_EXPORTER: 'otlp',
      DATABASE_URL: scratch.url,
      NOTIFICATIONS_DELIVERY_ENABLED: 'true',
      NOTIFICATIONS_POLL_INTERVAL_MS: '100',
      NOTIFICATIONS_ALLOWED_CIDRS: '127.0.0.0/8',
    });
    try {
      const who = await newTenant();
      const query = '?secret=QUERY-SECRET';
      await insertSubscription(delivering.db, {
        tenantId: who.tenantId,
        changeTypes: ['created'],
        notificationUrl: `https://127.0.0.1:${receiver.port}/hook${query}`,
        clientState: 'CLIENT-STATE-SECRET',
      });
      const traceId = hex(16);
      const created = await delivering.http
        .post(REQUESTS)
        .set('authorization', `Bearer ${who.token}`)
        .set('traceparent', `00-${traceId}-${hex(8)}-01`)
        .send(FILE_REQUEST);
      expect(created.status, created.text).toBe(201);
      await receiver.waitUntil(() => receiver.requests.length > 0);
      const spans = await traceOf(traceId);
      const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
      let delivery: ReadableSpan | undefined;
      for (let waited = 0; !delivery && waited < 5000; waited += 50) {
        await tracing.forceFlush();
        delivery = exporter
          .getFinishedSpans()
          .find((s) => s.name === 'notification delivery' && s.spanContext().traceId === traceId);
        if (!delivery) await sleep(50);
      }
      expect(delivery, 'a delivery span in the change trace').toBeDefined();
      expect(delivery!.kind).toBe(SpanKind.CLIENT);
      expect(delivery!.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
      expect(delivery!.attributes).toMatchObject({
        'http.request.method': 'POST',
        'server.address': '127.0.0.1',
        'server.port': receiver.port,
        'notification.channel': 'change',
        'notification.count': 1,
        'graph.tenant_id': who.tenantId,
      });
      expect(JSON.stringify(delivery!.attributes)).not.toMatch(/SECRET|hook/);
      // The receiver gets no trace header: the trace is the service's, not the receiver's business.
      expect(receiver.requests[0].headers.traceparent).toBeUndefined();
    } finally {
      await delivering.close();
      await receiver.close();
      await scratch.drop();
    }
  });
});
