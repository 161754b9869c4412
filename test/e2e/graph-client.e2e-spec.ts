import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, GraphError, PageIterator, type PageCollection } from '@microsoft/microsoft-graph-client';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMAIL_FILE_REQUEST, FILE_REQUEST, MAIL_REQUEST, URL_REQUEST } from '../support/graph.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

const R = '/informationProtection/threatAssessmentRequests';

/**
 * The official Microsoft Graph JavaScript client, used exactly as its users do, over HTTPS: it sends
 * the bearer token only to https hosts it trusts (`customHosts`). The service serves TLS itself
 * (TLS_CERT_FILE/TLS_KEY_FILE) with a certificate made here.
 */
describe('@microsoft/microsoft-graph-client against the service', () => {
  let t: TestApp;
  let dir: string;
  let origin: string;
  let tenant: TestIdentity;
  let client: Client;
  let previousDispatcher: Dispatcher;

  const clientFor = (token: string) =>
    Client.init({
      baseUrl: `${origin}/`,
      defaultVersion: 'v1.0',
      customHosts: new Set(['localhost']),
      authProvider: (done) => done(null, token),
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'threat-assessment-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    // Node's fetch (which the client uses) trusts this certificate, and only it, for this run.
    previousDispatcher = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ connect: { ca: readFileSync(join(dir, 'cert.pem')) } }));
    t = await startTestApp({
      TLS_CERT_FILE: join(dir, 'cert.pem'),
      TLS_KEY_FILE: join(dir, 'key.pem'),
      PUBLIC_BASE_URL: '',
      THROTTLE_RESULT_LIMITS: '1/2',
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    origin = `https://localhost:${(t.app.getHttpServer().address() as { port: number }).port}`;
    tenant = await newTenant();
    client = clientFor(tenant.token);
  });
  afterAll(async () => {
    await t.close();
    setGlobalDispatcher(previousDispatcher);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates each of the four request types', async () => {
    for (const body of [MAIL_REQUEST, EMAIL_FILE_REQUEST, FILE_REQUEST, URL_REQUEST]) {
      const created = await client.api(R).post(body);
      expect(created['@odata.type']).toBe(body['@odata.type']);
      expect(created['@odata.context']).toBe(
        `${origin}/v1.0/$metadata#informationProtection/threatAssessmentRequests/$entity`,
      );
      expect(created.status).toBe('pending');
      expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('adds results, then reads the request back with .expand and .select', async () => {
    const request = await client.api(R).post(MAIL_REQUEST);
    const result = await client.api(`${R}/${request.id}/results`).post({
      '@odata.type': '#microsoft.graph.threatAssessmentResult',
      resultType: 'checkPolicy',
      message: 'No policy was hit.',
    });
    expect(result).toMatchObject({ resultType: 'checkPolicy', message: 'No policy was hit.' });
    const read = await client.api(`${R}/${request.id}`).expand('results').select(['status', 'category']).get();
    expect(read).toEqual({
      '@odata.context': `${origin}/v1.0/$metadata#informationProtection/threatAssessmentRequests(status,category,results())/$entity`,
      '@odata.type': '#microsoft.graph.mailAssessmentRequest',
      id: request.id,
      status: 'completed',
      category: 'spam',
      results: [
        {
          '@odata.type': '#microsoft.graph.threatAssessmentResult',
          id: result.id,
          createdDateTime: result.createdDateTime,
          resultType: 'checkPolicy',
          message: 'No policy was hit.',
        },
      ],
      'results@odata.context': `${origin}/v1.0/$metadata#informationProtection/threatAssessmentRequests('${request.id}')/microsoft.graph.mailAssessmentRequest/results`,
    });
  });

  it('lists with .filter, .top, .orderby and .count', async () => {
    const own = await newTenant();
    const c = clientFor(own.token);
    for (let i = 0; i < 3; i++) await c.api(R).post(URL_REQUEST);
    await c.api(R).post(MAIL_REQUEST);
    const page = await c
      .api(R)
      .filter("contentType eq 'url' and status eq 'pending'")
      .top(2)
      .orderby('createdDateTime asc')
      .count(true)
      .get();
    expect(page['@odata.count']).toBe(3);
    expect(page.value).toHaveLength(2);
    expect(page.value.every((r: { contentType: string }) => r.contentType === 'url')).toBe(true);
    expect(page['@odata.nextLink']).toMatch(
      new RegExp(`^${origin}/v1.0/informationProtection/threatAssessmentRequests\\?`),
    );
    const times = page.value.map((r: { createdDateTime: string }) => r.createdDateTime);
    expect([...times].sort()).toEqual(times);
  });

  it('walks more than three pages with PageIterator, every item exactly once', async () => {
    const own = await newTenant();
    const c = clientFor(own.token);
    const created = new Set<string>();
    for (let i = 0; i < 23; i++)
      created.add((await c.api(R).post({ ...URL_REQUEST, url: `https://walk.example/${i}` })).id);
    const seen: string[] = [];
    let pages = 1;
    const first: PageCollection = await c.api(R).top(5).get();
    const iterator = new PageIterator(c, first, (item: { id: string }) => {
      seen.push(item.id);
      return true;
    });
    const originalNext = (
      iterator as unknown as { fetchAndUpdateNextPageData: () => Promise<void> }
    ).fetchAndUpdateNextPageData.bind(iterator);
    (iterator as unknown as { fetchAndUpdateNextPageData: () => Promise<void> }).fetchAndUpdateNextPageData =
      async () => {
        pages++;
        await originalNext();
      };
    await iterator.iterate();
    expect(pages).toBe(5);
    expect(seen).toHaveLength(23);
    expect(new Set(seen)).toEqual(created);
  });

  it('surfaces errors as GraphError with statusCode, code and requestId', async () => {
    const error = await client
      .api(`${R}/0f8fad5b-d9cb-469f-a165-70867728950e`)
      .get()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect(error).toMatchObject({
      statusCode: 404,
      code: 'itemNotFound',
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    const invalid = await client
      .api(R)
      .post({ '@odata.type': '#microsoft.graph.threatAssessmentRequest' })
      .catch((e: unknown) => e);
    expect(invalid).toMatchObject({ statusCode: 400, code: 'invalidRequest' });
    const unauthorized = await clientFor('not-a-token')
      .api(R)
      .get()
      .catch((e: unknown) => e);
    expect(unauthorized).toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationToken' });
  });

  it("retries a 429 after the service's Retry-After, then succeeds", async () => {
    const request = await client.api(R).post(URL_REQUEST);
    const results = `${R}/${request.id}/results`;
    // Windows are aligned on the epoch: start right after a boundary so both posts share one window.
    await new Promise((resolve) => setTimeout(resolve, 2000 - (Date.now() % 2000) + 50));
    await client.api(results).post({ resultType: 'rescan', message: 'first' });
    const throttled = async () =>
      Number(
        /^throttled_requests_total\{scope="results"\} (\d+)/m.exec(
          await (await fetch(`${origin}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const before = await throttled();
    const started = Date.now();
    const second = await client.api(results).post({ resultType: 'rescan', message: 'second' });
    expect(second.message).toBe('second');
    // The limit is 1 per 2 s: the service answered 429 with Retry-After (>= 1 s), the client waited, then got its 201.
    expect(await throttled()).toBeGreaterThan(before);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const { rows } = await t.db.query(
      'SELECT message FROM threat_assessment_results WHERE request_id = $1 ORDER BY created_date_time',
      [request.id],
    );
    expect(rows.map((r) => r.message)).toEqual(['first', 'second']);
  }, 20_000);
});
