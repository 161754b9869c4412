import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createShutdownGate } from './graceful-shutdown.js';

describe('createShutdownGate', () => {
  it('passes requests until closing starts, then answers 503 in the envelope with Retry-After and Connection: close', async () => {
    const gate = createShutdownGate();
    const app = Fastify({ genReqId: () => 'req-1' });
    app.decorateRequest('clientRequestId', '');
    app.addHook('onRequest', (request, reply, done) => {
      request.clientRequestId = 'client-1';
      if (!gate.refuse(request, reply)) done();
    });
    app.get('/x', () => ({ ok: true }));
    expect((await app.inject({ url: '/x' })).statusCode).toBe(200);
    gate.preClose(() => undefined);
    const res = await app.inject({ url: '/x' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.headers.connection).toBe('close');
    expect(res.json()).toEqual({
      error: {
        code: 'serviceNotAvailable',
        message: 'The service is shutting down. Retry after the time given in Retry-After.',
        innerError: { date: expect.any(String), 'request-id': 'req-1', 'client-request-id': 'client-1' },
      },
    });
  });

  it('while draining answers readiness 503 with Retry-After and serves every other request, until closing starts', async () => {
    const gate = createShutdownGate();
    const app = Fastify();
    app.decorateRequest('clientRequestId', '');
    app.addHook('onRequest', (request, reply, done) => {
      if (!gate.refuse(request, reply)) done();
    });
    app.get('/health/ready', () => ({ status: 'ok' }));
    app.get('/health/live', () => ({ status: 'ok' }));
    app.get('/x', () => ({ ok: true }));
    gate.drain();
    const ready = await app.inject({ url: '/health/ready?probe=1' });
    expect(ready.statusCode).toBe(503);
    expect(ready.headers['retry-after']).toBe('1');
    expect(ready.json()).toMatchObject({ error: { code: 'serviceNotAvailable' } });
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/x' })).statusCode).toBe(200);
    gate.preClose(() => undefined);
    gate.drain();
    expect((await app.inject({ url: '/x' })).statusCode).toBe(503);
  });
});
