import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CuttingProxy, startCuttingProxy } from './support/cutting-proxy.js';
import { call, MAIL_REQUEST, newTenant, REQUESTS, type Tenant } from './support/graph-client.js';
import { postResult, resultPayload } from './support/load.js';
import { type ControlledPostgres, startControlledPostgres } from './support/postgres.js';
import { type RunningService, startService } from './support/service.js';

/**
 * Issue #13, point 2: a write whose connection drops after the server committed it, before the answer
 * came back. The service cannot tell that it counted: it answers 503, and a retry with the same
 * Idempotency-Key answers the one result there is.
 */
describe('a write whose outcome the service cannot know', () => {
  let db: ControlledPostgres;
  let proxy: CuttingProxy;
  let service: RunningService;
  let tenant: Tenant;

  beforeAll(async () => {
    db = await startControlledPostgres('threat_assessment_unknown_outcome_test');
    proxy = await startCuttingProxy({ host: '127.0.0.1', port: db.port });
    const url = new URL(db.url);
    url.port = String(proxy.port);
    service = await startService('unknown-outcome', { DATABASE_URL: url.toString() });
    await service.waitFor('/health/ready', 200, 60_000);
    tenant = await newTenant();
  });
  afterAll(async () => {
    await service?.stop();
    await proxy?.close();
    await db?.destroy();
  });

  async function newRequest(): Promise<string> {
    const created = await call(service.baseUrl, REQUESTS, { token: tenant.token, body: MAIL_REQUEST });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return (created.body as { id: string }).id;
  }
  /** The write must have been cut, not answered: fail at once otherwise. */
  const cutWithin = (cut: Promise<void>) =>
    Promise.race([cut, sleep(10_000).then(() => Promise.reject(new Error('the proxy never cut the connection')))]);
  async function stored(requestId: string): Promise<string[]> {
    const { rows } = await db.admin.query<{ id: string }>(
      'SELECT id FROM threat_assessment_results WHERE tenant_id = $1 AND request_id = $2',
      [tenant.tenantId, requestId],
    );
    return rows.map((row) => row.id);
  }

  it('answers 503 with Retry-After, and the retry with the same Idempotency-Key yields exactly one result', async () => {
    const requestId = await newRequest();
    const key = randomUUID();
    const payload = resultPayload(key);
    const cut = proxy.arm(async () => (await stored(requestId)).length > 0);
    const first = await postResult(service.baseUrl, tenant, requestId, payload, key);
    await cutWithin(cut);
    expect(first.status, JSON.stringify(first.body)).toBe(503);
    expect(first.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((first.body as { error: { code: string } }).error.code).toBe('serviceNotAvailable');
    // It did count: the answer was lost, not the write.
    const [written] = await stored(requestId);
    expect(written).toBeDefined();

    const retry = await postResult(service.baseUrl, tenant, requestId, payload, key);
    expect(retry.status, JSON.stringify(retry.body)).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect((retry.body as { id: string }).id).toBe(written);
    expect(await stored(requestId)).toEqual([written]);
  });

  it('answers 503 for a write without a key too, which is why the README asks for one', async () => {
    const requestId = await newRequest();
    const cut = proxy.arm(async () => (await stored(requestId)).length > 0);
    const first = await call(service.baseUrl, `${REQUESTS}/${requestId}/results`, {
      token: tenant.token,
      body: { resultType: 'rescan', message: 'lost answer' },
    });
    await cutWithin(cut);
    expect(first.status, JSON.stringify(first.body)).toBe(503);
    expect(first.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await stored(requestId)).toHaveLength(1);
    // The service recovers at once: the next write, on a new connection, is answered.
    const next = await call(service.baseUrl, `${REQUESTS}/${requestId}/results`, {
      token: tenant.token,
      body: { resultType: 'rescan', message: 'answered' },
    });
    expect(next.status).toBe(201);
    expect(await stored(requestId)).toHaveLength(2);
  });
});
