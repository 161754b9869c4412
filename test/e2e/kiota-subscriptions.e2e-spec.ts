import '@microsoft/msgraph-sdk-subscriptions';
import { AllowedHostsValidator, BaseBearerTokenAuthenticationProvider } from '@microsoft/kiota-abstractions';
import { createGraphServiceClient, GraphRequestAdapter, type GraphServiceClient } from '@microsoft/msgraph-sdk';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { graphReceiver } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { newTenant, TEST_CLIENT_APP, type TestIdentity } from '../support/tokens.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * The Kiota-generated Microsoft Graph SDK for TypeScript (`@microsoft/msgraph-sdk` with its
 * subscriptions package), as its users write it, against the service on loopback: Kiota sends a bearer
 * token over plain HTTP only to localhost, and only to hosts its validator allows.
 */
describe('Kiota Graph SDK (@microsoft/msgraph-sdk): subscriptions', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;
  let tenant: TestIdentity;
  let client: GraphServiceClient;

  beforeAll(async () => {
    const certificates = inject('testCertificates');
    receiver = await WebhookReceiver.start('127.0.0.1', { cert: certificates.leafCert, key: certificates.leafKey });
    receiver.handler = graphReceiver;
    t = await startTestApp({
      PUBLIC_BASE_URL: '',
      NOTIFICATIONS_ALLOWED_CIDRS: '127.0.0.0/8',
      NOTIFICATIONS_MIN_EXPIRATION_MINUTES: '0',
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.getHttpServer().address() as { port: number }).port;
    tenant = await newTenant();
    const authentication = new BaseBearerTokenAuthenticationProvider({
      getAuthorizationToken: () => Promise.resolve(tenant.token),
      getAllowedHostsValidator: () => new AllowedHostsValidator(new Set([`localhost:${port}`, 'localhost'])),
    });
    const adapter = new GraphRequestAdapter(authentication);
    adapter.baseUrl = `http://localhost:${port}/v1.0`;
    client = createGraphServiceClient(adapter);
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  it('creates, lists, renews and deletes a subscription', async () => {
    const notificationUrl = `https://127.0.0.1:${receiver.port}/hooks/kiota`;
    const expiration = new Date(Date.now() + 3600_000);
    const created = await client.subscriptions.post({
      changeType: 'created,updated',
      notificationUrl,
      resource: 'informationProtection/threatAssessmentRequests',
      expirationDateTime: expiration,
      clientState: 'secretClientValue',
    });
    expect(created).toMatchObject({
      changeType: 'created,updated',
      notificationUrl,
      resource: 'informationProtection/threatAssessmentRequests',
      clientState: 'secretClientValue',
      applicationId: TEST_CLIENT_APP,
      creatorId: tenant.userId,
      includeResourceData: false,
      latestSupportedTlsVersion: 'v1_2',
    });
    expect(created?.expirationDateTime?.getTime()).toBe(expiration.getTime());
    const id = created!.id!;

    const listed = await client.subscriptions.get();
    expect(listed?.value?.map((s) => s.id)).toEqual([id]);
    // Read back without its clientState, as Graph does (the service sends null; Kiota leaves it unset).
    expect(listed?.value?.[0].clientState).toBeUndefined();

    const renewal = new Date(Date.now() + 7200_000);
    const renewed = await client.subscriptions.bySubscriptionId(id).patch({ expirationDateTime: renewal });
    expect(renewed?.expirationDateTime?.getTime()).toBe(renewal.getTime());
    expect((await client.subscriptions.bySubscriptionId(id).get())?.expirationDateTime?.getTime()).toBe(
      renewal.getTime(),
    );

    await client.subscriptions.bySubscriptionId(id).delete();
    const gone = await client.subscriptions
      .bySubscriptionId(id)
      .get()
      .catch((error: unknown) => error);
    // Kiota parses the Graph envelope into its ODataError (`error` is `errorEscaped` in its model).
    expect(gone).toMatchObject({ responseStatusCode: 404, errorEscaped: { code: 'itemNotFound' } });
  });
});
