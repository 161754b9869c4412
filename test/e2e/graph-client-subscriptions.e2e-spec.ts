import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, GraphError } from '@microsoft/microsoft-graph-client';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { URL_REQUEST } from '../support/graph.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/notification-subscriptions.js';
import { graphReceiver } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * The official Microsoft Graph JavaScript client manages subscriptions exactly as against Graph
 * (`.api('/subscriptions')`), over HTTPS, and a change made after the 201 reaches a real HTTPS receiver
 * as Graph's changeNotificationCollection, carrying the renewed expiration.
 */
describe('@microsoft/microsoft-graph-client: subscriptions', () => {
  let t: TestApp;
  let dir: string;
  let scratch: ScratchDatabase;
  let receiver: WebhookReceiver;
  let origin: string;
  let tenant: TestIdentity;
  let client: Client;
  let previousDispatcher: Dispatcher;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'threat-assessment-tls-'));
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'],
        ...['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
        ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      ],
      { stdio: 'ignore' },
    );
    previousDispatcher = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ connect: { ca: readFileSync(join(dir, 'cert.pem')) } }));
    const certificates = inject('testCertificates');
    receiver = await WebhookReceiver.start('127.0.0.1', { cert: certificates.leafCert, key: certificates.leafKey });
    receiver.handler = graphReceiver;
    scratch = await createScratchDatabase(inject('databaseUrl'), 'graph_client_subscriptions');
    t = await startTestApp({
      TLS_CERT_FILE: join(dir, 'cert.pem'),
      TLS_KEY_FILE: join(dir, 'key.pem'),
      PUBLIC_BASE_URL: '',
      DATABASE_URL: scratch.url,
      NOTIFICATIONS_ALLOWED_CIDRS: '127.0.0.0/8',
      NOTIFICATIONS_MIN_EXPIRATION_MINUTES: '0',
      NOTIFICATIONS_DELIVERY_ENABLED: 'true',
      NOTIFICATIONS_POLL_INTERVAL_MS: '100',
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    origin = `https://localhost:${(t.app.getHttpServer().address() as { port: number }).port}`;
    tenant = await newTenant();
    client = Client.init({
      baseUrl: `${origin}/`,
      defaultVersion: 'v1.0',
      customHosts: new Set(['localhost']),
      authProvider: (done) => done(null, tenant.token),
    });
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
    await scratch?.drop();
    setGlobalDispatcher(previousDispatcher);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, lists, renews and deletes a subscription, and the change between arrives at the receiver', async () => {
    const notificationUrl = `https://127.0.0.1:${receiver.port}/hooks/sdk?tenant=contoso`;
    const created = await client.api('/subscriptions').post({
      changeType: 'created',
      notificationUrl,
      resource: 'informationProtection/threatAssessmentRequests',
      expirationDateTime: new Date(Date.now() + 3600_000).toISOString(),
      clientState: 'secretClientValue',
    });
    expect(created).toMatchObject({
      '@odata.context': `${origin}/v1.0/$metadata#subscriptions/$entity`,
      changeType: 'created',
      notificationUrl,
      clientState: 'secretClientValue',
    });
    const listed = await client.api('/subscriptions').get();
    expect(listed.value.map((s: { id: string }) => s.id)).toEqual([created.id]);

    const renewal = new Date(Date.now() + 7200_000).toISOString();
    const renewed = await client.api(`/subscriptions/${created.id}`).patch({ expirationDateTime: renewal });
    expect(renewed.expirationDateTime).toBe(renewal);

    const request = await client.api('/informationProtection/threatAssessmentRequests').post(URL_REQUEST);
    await receiver.waitUntil(() => receiver.notifications().length > 0);
    const [{ notification, request: post }] = receiver.notifications();
    expect(post.url).toBe('/hooks/sdk?tenant=contoso');
    expect(notification).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      subscriptionId: created.id,
      subscriptionExpirationDateTime: renewal,
      changeType: 'created',
      resource: `informationProtection/threatAssessmentRequests/${request.id}`,
      resourceData: {
        '@odata.type': '#microsoft.graph.urlAssessmentRequest',
        '@odata.id': `informationProtection/threatAssessmentRequests/${request.id}`,
        id: request.id,
      },
      clientState: 'secretClientValue',
      tenantId: tenant.tenantId,
    });

    await client.api(`/subscriptions/${created.id}`).delete();
    const gone = await client
      .api(`/subscriptions/${created.id}`)
      .get()
      .catch((error: unknown) => error);
    expect(gone).toBeInstanceOf(GraphError);
    expect(gone).toMatchObject({ statusCode: 404, code: 'itemNotFound' });
  });
});
