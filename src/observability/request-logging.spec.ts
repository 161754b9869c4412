import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { MetricsService } from './metrics.service.js';
import { installRequestLogging, textRequestLog } from './request-logging.js';

function setup(json: boolean) {
  const lines: unknown[] = [];
  const logger = { log: (entry: unknown) => lines.push(entry), error: () => undefined, warn: () => undefined };
  const sink = json ? (entry: unknown) => lines.push(entry) : textRequestLog(logger);
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
  installRequestLogging(app, metrics, sink);
  app.post('/things/:id', () => ({ ok: true }));
  return { app, lines, observed };
}

describe('installRequestLogging', () => {
  it('writes one JSON entry per request with ids, tenant, route template, status and duration', async () => {
    const { app, lines, observed } = setup(true);
    await app.inject({
      method: 'POST',
      url: '/things/42',
      headers: { authorization: 'Bearer secret-token-value', 'content-type': 'application/json' },
      payload: { contentData: 'U0VDUkVUIEZJTEU=' },
    });
    expect(lines).toEqual([
      {
        msg: 'request',
        requestId: 'req-1',
        clientRequestId: 'client-1',
        tenantId: 'tenant-1',
        method: 'POST',
        route: '/things/:id',
        status: 200,
        durationMs: expect.any(Number),
      },
    ]);
    expect(observed).toEqual([[{ method: 'POST', route: '/things/:id', status: '200' }, expect.any(Number)]]);
    const text = JSON.stringify(lines);
    expect(text).not.toContain('secret-token-value');
    expect(text).not.toContain('U0VDUkVUIEZJTEU=');
  });

  it('writes a readable line outside production, still without headers or bodies', async () => {
    const { app, lines } = setup(false);
    await app.inject({
      method: 'POST',
      url: '/things/7',
      headers: { authorization: 'Bearer secret-token-value' },
      payload: { contentData: 'U0VDUkVU' },
    });
    expect(lines).toEqual([
      expect.stringMatching(/^POST \/things\/:id 200 [\d.]+ ms request-id=req-1 tenant=tenant-1$/),
    ]);
    expect(String(lines[0])).not.toMatch(/secret|U0VDUkVU/);
  });
});
