import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger, requestLogger } from './logger.js';
import type { MetricsService } from './metrics.service.js';
import { installRequestLogging } from './request-logging.js';

function setup(logLevel: 'info' | 'debug' = 'info') {
  const lines: string[] = [];
  const log = createLogger({ production: true, logLevel, tracing: undefined }, { write: (line) => lines.push(line) });
  const observed: unknown[] = [];
  const metrics = {
    requestDuration: { observe: (...args: unknown[]) => observed.push(args) },
    registry: new Registry(),
  } as unknown as MetricsService;
  const app = Fastify({ genReqId: () => 'req-1' });
  app.decorateRequest('clientRequestId', '');
  app.addHook('onRequest', (request, _reply, done) => {
    request.clientRequestId = 'client-1';
    request.caller = { tenantId: 'tenant-1', kind: 'user', id: 'u', permissions: new Set() };
    done();
  });
  installRequestLogging(app, metrics, requestLogger(log), new Set(['/health/live']));
  app.post('/things/:id', () => ({ ok: true }));
  app.get('/health/live', () => ({ status: 'ok' }));
  return { app, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>), lines, observed };
}

describe('installRequestLogging', () => {
  it('writes one JSON line per request with ids, tenant, route template, status and duration', async () => {
    const { app, entries, lines, observed } = setup();
    await app.inject({
      method: 'POST',
      url: '/things/42',
      headers: { authorization: 'Bearer secret-token-value', 'content-type': 'application/json' },
      payload: { contentData: 'U0VDUkVUIEZJTEU=' },
    });
    expect(entries()).toEqual([
      {
        level: 'info',
        timestamp: expect.any(Number),
        pid: process.pid,
        context: 'HTTP',
        requestId: 'req-1',
        clientRequestId: 'client-1',
        tenantId: 'tenant-1',
        method: 'POST',
        route: '/things/:id',
        status: 200,
        durationMs: expect.any(Number),
        message: 'request',
      },
    ]);
    expect(observed).toEqual([[{ method: 'POST', route: '/things/:id', status: '200' }, expect.any(Number)]]);
    expect(lines.join('')).not.toMatch(/secret-token-value|U0VDUkVUIEZJTEU=/);
  });

  it('logs probes at debug: absent at info, present at debug', async () => {
    const atInfo = setup('info');
    await atInfo.app.inject({ method: 'GET', url: '/health/live' });
    expect(atInfo.lines).toEqual([]);
    const atDebug = setup('debug');
    await atDebug.app.inject({ method: 'GET', url: '/health/live' });
    expect(atDebug.entries()).toEqual([
      expect.objectContaining({ level: 'debug', route: '/health/live', status: 200, message: 'request' }),
    ]);
  });
});
