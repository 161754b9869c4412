import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { PERMISSIONS } from '../../src/auth/caller.js';
import { expectGraphError, GUID } from '../support/graph.js';
import { insertSubscription } from '../support/notification-subscriptions.js';
import { graphReceiver, SUBSCRIPTIONS, subscriptionBody, validationTokenOf } from '../support/subscriptions.js';
import { PUBLIC_BASE, REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { appToken, newTenant, TEST_CLIENT_APP, type TestIdentity, userToken } from '../support/tokens.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const ALLOW_LOOPBACK = {
  NOTIFICATIONS_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
  NOTIFICATIONS_MIN_EXPIRATION_MINUTES: '0',
  NOTIFICATIONS_WRITES_PER_MINUTE: '100000',
};
const VALIDATION_FAILED =
  'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.';
const VALIDATION_MISMATCH =
  'Subscription validation request failed. Response must exactly match validationToken query parameter.';

let t: TestApp;
let receiver: WebhookReceiver;
let selfSigned: WebhookReceiver;
let hook: string;

beforeAll(async () => {
  const certificates = inject('testCertificates');
  receiver = await WebhookReceiver.start('127.0.0.1', { cert: certificates.leafCert, key: certificates.leafKey });
  selfSigned = await WebhookReceiver.start('127.0.0.1', {
    cert: certificates.selfSignedCert,
    key: certificates.selfSignedKey,
  });
  hook = `https://127.0.0.1:${receiver.port}/hooks/ta?src=prod`;
  t = await startTestApp(ALLOW_LOOPBACK);
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
  await selfSigned?.close();
});
beforeEach(() => {
  receiver.handler = graphReceiver;
  receiver.requests.length = 0;
});

function post(who: TestIdentity | string, body: unknown, app = t) {
  const token = typeof who === 'string' ? who : who.token;
  return app.http
    .post(SUBSCRIPTIONS)
    .set('authorization', `Bearer ${token}`)
    .send(body as object);
}

function patch(who: TestIdentity, id: string, body: unknown) {
  return t.http
    .patch(`${SUBSCRIPTIONS}/${id}`)
    .set('authorization', `Bearer ${who.token}`)
    .send(body as object);
}

async function stored(tenantId: string): Promise<number> {
  const { rows } = await t.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM subscriptions WHERE tenant_id = $1 AND retired_at IS NULL',
    [tenantId],
  );
  return rows[0].n;
}

describe('POST /subscriptions', () => {
  it('answers 201 with the whole subscription after the handshake, and stores it', async () => {
    const who = await newTenant();
    const expiration = new Date(Date.now() + 3600_000).toISOString();
    const res = await post(who, subscriptionBody(hook, { expirationDateTime: expiration }));
    expect(res.status, res.text).toBe(201);
    expect(res.body).toEqual({
      '@odata.context': `${PUBLIC_BASE}/v1.0/$metadata#subscriptions/$entity`,
      id: expect.stringMatching(GUID),
      resource: 'informationProtection/threatAssessmentRequests',
      changeType: 'created,updated',
      notificationUrl: hook,
      lifecycleNotificationUrl: null,
      expirationDateTime: expiration,
      clientState: 'secretClientValue',
      includeResourceData: false,
      applicationId: TEST_CLIENT_APP,
      creatorId: who.userId,
      latestSupportedTlsVersion: 'v1_2',
      encryptionCertificate: null,
      encryptionCertificateId: null,
      notificationUrlAppId: null,
      notificationQueryOptions: null,
      notificationContentType: 'application/json',
    });
    expect(res.headers.location).toBe(`${PUBLIC_BASE}/v1.0/subscriptions/${res.body.id}`);
    expect(await stored(who.tenantId)).toBe(1);

    const [handshake] = receiver.requests;
    expect(receiver.requests).toHaveLength(1);
    expect(handshake.method).toBe('POST');
    expect(handshake.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(handshake.body).toBe('');
    expect(handshake.url.startsWith('/hooks/ta?src=prod&validationToken=')).toBe(true);
    expect(validationTokenOf(handshake)).toBe(
      `Validation: Testing client application reachability for subscription Request-Id: ${res.headers['request-id']}`,
    );
    expect(handshake.headers.authorization).toBeUndefined();
  });

  it('echoes the resource and changeType as sent, and canonicalises them for matching', async () => {
    const who = await newTenant();
    const created = await t.http.post(REQUESTS).set('authorization', `Bearer ${who.token}`).send({
      '@odata.type': '#microsoft.graph.urlAssessmentRequest',
      url: 'https://example.com/x',
      expectedAssessment: 'block',
      category: 'phishing',
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    const resource = `/InformationProtection/threatAssessmentRequests('${id.toUpperCase()}')/Results`;
    const res = await post(who, subscriptionBody(hook, { resource, changeType: ' created ' }));
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ resource, changeType: ' created ' });
    const { rows } = await t.db.query(
      'SELECT canonical_resource, request_id, change_types FROM subscriptions WHERE tenant_id = $1',
      [who.tenantId],
    );
    expect(rows).toEqual([
      {
        canonical_resource: `informationProtection/threatAssessmentRequests/${id}/results`,
        request_id: id,
        change_types: ['created'],
      },
    ]);
  });

  it('handshakes a different lifecycle URL too, and the same URL once', async () => {
    const who = await newTenant();
    const lifecycle = `https://127.0.0.1:${receiver.port}/lifecycle`;
    expect((await post(who, subscriptionBody(hook, { lifecycleNotificationUrl: lifecycle }))).status).toBe(201);
    expect(receiver.requests.map((r) => r.url.split('?')[0])).toEqual(['/hooks/ta', '/lifecycle']);
    receiver.requests.length = 0;
    const other = await newTenant();
    expect((await post(other, subscriptionBody(hook, { lifecycleNotificationUrl: hook }))).status).toBe(201);
    expect(receiver.requests).toHaveLength(1);
  });

  it.each([
    ['a 201', (res: import('node:http').ServerResponse) => res.writeHead(201).end(), VALIDATION_FAILED],
    ['a 204', (res: import('node:http').ServerResponse) => res.writeHead(204).end(), VALIDATION_FAILED],
    [
      'a redirect',
      (res: import('node:http').ServerResponse) => res.writeHead(302, { location: hook }).end(),
      VALIDATION_FAILED,
    ],
    [
      'the token not decoded',
      (res: import('node:http').ServerResponse, url: string) =>
        res.writeHead(200, { 'content-type': 'text/plain' }).end(url.split('validationToken=')[1]),
      VALIDATION_MISMATCH,
    ],
    [
      'the token with a newline',
      (res: import('node:http').ServerResponse, url: string) =>
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`${validationTokenOf({ url })}\n`),
      VALIDATION_MISMATCH,
    ],
    [
      'the token as JSON',
      (res: import('node:http').ServerResponse, url: string) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(validationTokenOf({ url })),
      VALIDATION_MISMATCH,
    ],
    [
      'more than 1 KiB',
      (res: import('node:http').ServerResponse) =>
        res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(2048)),
      VALIDATION_FAILED,
    ],
  ])('refuses a receiver that answers %s: 400 ValidationError, nothing stored', async (_, answer, message) => {
    const who = await newTenant();
    receiver.handler = (_req, res, received) => answer(res, received.url);
    const res = await post(who, subscriptionBody(hook));
    expectGraphError(res, 400, 'ValidationError');
    expect(res.body.error.message).toBe(message);
    expect(res.body.error.details).toEqual([{ code: 'ValidationError', message, target: 'notificationUrl' }]);
    expect(await stored(who.tenantId)).toBe(0);
  });

  it('refuses a failed lifecycle handshake, naming lifecycleNotificationUrl', async () => {
    const who = await newTenant();
    receiver.handler = (req, res, received) =>
      received.url.startsWith('/lifecycle') ? res.writeHead(500).end() : graphReceiver(req, res, received);
    const res = await post(
      who,
      subscriptionBody(hook, { lifecycleNotificationUrl: `https://127.0.0.1:${receiver.port}/lifecycle` }),
    );
    expectGraphError(res, 400, 'ValidationError');
    expect(res.body.error.details[0].target).toBe('lifecycleNotificationUrl');
    expect(await stored(who.tenantId)).toBe(0);
  });

  it('refuses a self-signed certificate and a closed port, as unreachable', async () => {
    const who = await newTenant();
    const self = await post(who, subscriptionBody(`https://127.0.0.1:${selfSigned.port}/hook`));
    expectGraphError(self, 400, 'ValidationError');
    expect(self.body.error.message).toBe(VALIDATION_FAILED);
    expect(selfSigned.requests).toHaveLength(0);
    const closed = await WebhookReceiver.start('127.0.0.1');
    const port = closed.port;
    await closed.close();
    const refused = await post(who, subscriptionBody(`https://127.0.0.1:${port}/hook`));
    expectGraphError(refused, 400, 'ValidationError');
    expect(await stored(who.tenantId)).toBe(0);
  });

  it.each([
    ['an unknown property', { color: 'red' }, 'invalidRequest', 'color'],
    ['no resource', { resource: undefined }, 'invalidRequest', 'resource'],
    ['another resource', { resource: 'me/messages' }, 'invalidRequest', 'resource'],
    [
      'a versioned resource',
      { resource: 'v1.0/informationProtection/threatAssessmentRequests' },
      'invalidRequest',
      'resource',
    ],
    ['a trailing slash', { resource: 'informationProtection/threatAssessmentRequests/' }, 'invalidRequest', 'resource'],
    ['no changeType', { changeType: undefined }, 'invalidRequest', 'changeType'],
    ['an unknown changeType', { changeType: 'created,moved' }, 'invalidRequest', 'changeType'],
    ['an upper-case changeType', { changeType: 'Created' }, 'invalidRequest', 'changeType'],
    ['a repeated changeType', { changeType: 'created,created' }, 'invalidRequest', 'changeType'],
    ['no notificationUrl', { notificationUrl: undefined }, 'invalidRequest', 'notificationUrl'],
    ['a clientState of 129 characters', { clientState: 'x'.repeat(129) }, 'invalidRequest', 'clientState'],
    ['an old TLS version', { latestSupportedTlsVersion: 'v1_1' }, 'invalidRequest', 'latestSupportedTlsVersion'],
    ['a numeric expiration', { expirationDateTime: 5 }, 'invalidRequest', 'expirationDateTime'],
    [
      'an expiration without zone',
      { expirationDateTime: '2030-01-01T00:00:00' },
      'invalidRequest',
      'expirationDateTime',
    ],
  ])('refuses %s: 400 naming the field, no handshake', async (_, overrides, code, target) => {
    const who = await newTenant();
    const res = await post(who, subscriptionBody(hook, overrides));
    expectGraphError(res, 400, code);
    expect(res.body.error.details.map((d: { target: string }) => d.target)).toContain(target);
    expect(receiver.requests).toHaveLength(0);
    expect(await stored(who.tenantId)).toBe(0);
  });

  it('answers the contract texts for the expiration and the URL', async () => {
    const who = await newTenant();
    const cases: [Record<string, unknown>, string][] = [
      [{ expirationDateTime: undefined }, 'expirationDateTime is a required property for subscription creation'],
      [
        { expirationDateTime: new Date(Date.now() - 1000).toISOString() },
        'Subscription expiration must be in the future.',
      ],
      [
        { expirationDateTime: new Date(Date.now() + 4231 * 60_000).toISOString() },
        'Subscription expiration can only be 4230 minutes in the future.',
      ],
      [
        { notificationUrl: `http://127.0.0.1:${receiver.port}/hook` },
        "NotificationUrl scheme='http' is not supported.",
      ],
      [{ notificationUrl: 'hooks/relative' }, 'NotificationUrl is not a valid absolute URL.'],
      [{ notificationUrl: 'https://user@127.0.0.1/hook' }, 'NotificationUrl is not a valid absolute URL.'],
      [{ notificationUrl: 'https://10.1.2.3/hook' }, 'NotificationUrl host is not allowed.'],
      [{ notificationUrl: 'https://169.254.169.254/latest/meta-data' }, 'NotificationUrl host is not allowed.'],
      [{ latestSupportedTlsVersion: 'v1_0' }, 'Invalid property value for LatestSupportedTlsVersion'],
    ];
    for (const [overrides, message] of cases) {
      const res = await post(who, subscriptionBody(hook, overrides));
      expectGraphError(res, 400, 'invalidRequest');
      expect(res.body.error.message, JSON.stringify(overrides)).toBe(message);
    }
    expect(receiver.requests).toHaveLength(0);
  });

  it('sees numeric, hexadecimal and mapped spellings of loopback for what they are, and refuses them unless allowed', async () => {
    const strict = await startTestApp({ NOTIFICATIONS_MIN_EXPIRATION_MINUTES: '0' });
    try {
      const who = await newTenant();
      const port = receiver.port;
      for (const host of [
        '2130706433',
        '0x7f.1',
        '127.1',
        '[::ffff:127.0.0.1]',
        '[::ffff:7f00:1]',
        '[::1]',
        'localhost',
      ]) {
        const res = await post(who, subscriptionBody(`https://${host}:${port}/hook`), strict);
        expectGraphError(res, 400, 'invalidRequest');
        expect(res.body.error.message, host).toBe('NotificationUrl host is not allowed.');
      }
      expect(receiver.requests).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });

  it.each([
    [{ includeResourceData: true }],
    [{ notificationQueryOptions: '$filter=x' }],
    [{ vapidPublicKey: 'k' }],
    [{ webPushEncryptionKey: null }],
  ])('answers notSupported for %j', async (overrides) => {
    const who = await newTenant();
    expectGraphError(await post(who, subscriptionBody(hook, overrides)), 400, 'notSupported');
    expect(receiver.requests).toHaveLength(0);
  });

  it('ignores what the service assigns, accepts the odata type, and keeps includeResourceData false', async () => {
    const who = await newTenant();
    const res = await post(
      who,
      subscriptionBody(hook, {
        '@odata.type': '#microsoft.graph.subscription',
        id: randomUUID(),
        applicationId: 'forged',
        creatorId: 'forged',
        notificationContentType: 'text/xml',
        includeResourceData: false,
        latestSupportedTlsVersion: 'v1_3',
        encryptionCertificateId: 'cert-1',
      }),
    );
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({
      applicationId: TEST_CLIENT_APP,
      creatorId: who.userId,
      notificationContentType: 'application/json',
      includeResourceData: false,
      latestSupportedTlsVersion: 'v1_3',
      encryptionCertificateId: 'cert-1',
    });
  });

  it('answers 404 for the results of a request the tenant does not have, before any handshake', async () => {
    const who = await newTenant();
    const resource = `informationProtection/threatAssessmentRequests/${randomUUID()}/results`;
    expectGraphError(await post(who, subscriptionBody(hook, { resource, changeType: 'created' })), 404, 'itemNotFound');
    expectGraphError(
      await post(who, subscriptionBody(hook, { resource, changeType: 'updated' })),
      400,
      'invalidRequest',
    );
    expect(receiver.requests).toHaveLength(0);
  });

  it("answers 409 with Graph's text for the same combination, one 201 of concurrent identical POSTs", async () => {
    const who = await newTenant();
    const first = await post(who, subscriptionBody(hook));
    expect(first.status).toBe(201);
    const again = await post(who, subscriptionBody(hook, { changeType: 'updated,created', clientState: 'other' }));
    expectGraphError(again, 409, 'conflict');
    expect(again.body.error.message).toBe(
      `Subscription Id ${first.body.id} already exists for the requested combination`,
    );
    // Another change type set, or another user of the same app, is another subscription.
    expect((await post(who, subscriptionBody(hook, { changeType: 'created' }))).status).toBe(201);

    const racer = await newTenant();
    const statuses = await Promise.all(Array.from({ length: 6 }, () => post(racer, subscriptionBody(hook)))).then(
      (all) => all.map((r) => r.status).sort(),
    );
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    expect(await stored(racer.tenantId)).toBe(1);
  });

  it('answers 403 quotaLimitReached past the per-application and per-tenant quotas, also under concurrency', async () => {
    const small = await startTestApp({
      ...ALLOW_LOOPBACK,
      NOTIFICATIONS_MAX_PER_APP: '2',
      NOTIFICATIONS_MAX_PER_TENANT: '3',
    });
    try {
      const tenantId = randomUUID();
      const app = (id: string) => appToken(tenantId, [PERMISSIONS.readWrite], id);
      const one = await app(randomUUID());
      const results = await Promise.all(
        ['created', 'updated', 'deleted', 'created,updated'].map((changeType) =>
          post(one, subscriptionBody(hook, { changeType }), small),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 201, 403, 403]);
      expectGraphError(
        results.find((r) => r.status === 403)!,
        403,
        'quotaLimitReached',
      );
      const two = await app(randomUUID());
      expect((await post(two, subscriptionBody(hook), small)).status).toBe(201);
      expectGraphError(
        await post(two, subscriptionBody(hook, { changeType: 'deleted' }), small),
        403,
        'quotaLimitReached',
      );
    } finally {
      await small.close();
    }
  });

  it('raises an expiration sooner than the minimum to it', async () => {
    const app = await startTestApp({ ...ALLOW_LOOPBACK, NOTIFICATIONS_MIN_EXPIRATION_MINUTES: '45' });
    try {
      const who = await newTenant();
      const before = Date.now();
      const res = await post(
        who,
        subscriptionBody(hook, { expirationDateTime: new Date(before + 60_000).toISOString() }),
        app,
      );
      expect(res.status, res.text).toBe(201);
      const kept = Date.parse(res.body.expirationDateTime as string);
      expect(kept).toBeGreaterThanOrEqual(before + 45 * 60_000);
      expect(kept).toBeLessThanOrEqual(Date.now() + 45 * 60_000);
    } finally {
      await app.close();
    }
  });

  it('answers 429 with Retry-After past NOTIFICATIONS_WRITES_PER_MINUTE, counting creates and updates', async () => {
    const app = await startTestApp({ ...ALLOW_LOOPBACK, NOTIFICATIONS_WRITES_PER_MINUTE: '2' });
    try {
      const who = await newTenant();
      const created = await post(who, subscriptionBody(hook), app);
      expect(created.status).toBe(201);
      const renewed = await app.http
        .patch(`${SUBSCRIPTIONS}/${created.body.id}`)
        .set('authorization', `Bearer ${who.token}`)
        .send({ expirationDateTime: new Date(Date.now() + 7200_000).toISOString() });
      expect(renewed.status).toBe(200);
      const third = await post(who, subscriptionBody(hook, { changeType: 'deleted' }), app);
      expectGraphError(third, 429, 'TooManyRequests');
      expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Another tenant has its own budget.
      expect((await post(await newTenant(), subscriptionBody(hook), app)).status).toBe(201);
    } finally {
      await app.close();
    }
  });

  it('needs the permission to read the resource, and refuses personal accounts', async () => {
    const tenantId = randomUUID();
    expectGraphError(
      await post(await userToken(tenantId, [PERMISSIONS.read]), subscriptionBody(hook)),
      403,
      'accessDenied',
    );
    expect((await post(await appToken(tenantId, [PERMISSIONS.read]), subscriptionBody(hook))).status).toBe(201);
    expectGraphError(await t.http.post(SUBSCRIPTIONS).send(subscriptionBody(hook)), 401, 'InvalidAuthenticationToken');
    // A delegated token that names no client application (no azp, no appid): a subscription could not record one.
    const noClient = await userToken(tenantId, [PERMISSIONS.readWrite], randomUUID(), 'U', '');
    const handshakes = receiver.requests.length;
    const refused = await post(noClient, subscriptionBody(hook));
    expectGraphError(refused, 403, 'accessDenied', /no client application/);
    expect(receiver.requests).toHaveLength(handshakes);
  });
});

describe('GET, PATCH, DELETE /subscriptions/{id} and reauthorize', () => {
  it('reads back with clientState null, renews, moves after a handshake, reauthorizes, deletes', async () => {
    const who = await newTenant();
    const created = await post(who, subscriptionBody(hook));
    const id = created.body.id as string;
    const got = await t.get(`${SUBSCRIPTIONS}/${id}`, who);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ ...created.body, clientState: null });

    const renewal = new Date(Date.now() + 600_000).toISOString();
    const renewed = await patch(who, id, { expirationDateTime: renewal });
    expect(renewed.status, renewed.text).toBe(200);
    expect(renewed.body).toEqual({ ...created.body, expirationDateTime: renewal });

    receiver.requests.length = 0;
    const moved = `https://127.0.0.1:${receiver.port}/moved`;
    receiver.handler = (_req, res) => res.writeHead(500).end();
    expectGraphError(await patch(who, id, { notificationUrl: moved }), 400, 'ValidationError');
    expect((await t.get(`${SUBSCRIPTIONS}/${id}`, who)).body.notificationUrl).toBe(hook);
    receiver.handler = graphReceiver;
    const ok = await patch(who, id, { notificationUrl: moved });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.notificationUrl).toBe(moved);
    expect(receiver.requests.map((r) => r.url.split('?')[0])).toEqual(['/moved', '/moved']);

    expectGraphError(await patch(who, id, { clientState: 'x' }), 400, 'invalidRequest');
    expectGraphError(await patch(who, id, {}), 400, 'invalidRequest');
    expectGraphError(await patch(who, id, { expirationDateTime: '2000-01-01T00:00:00Z' }), 400, 'invalidRequest');

    const reauthorized = await t.http
      .post(`${SUBSCRIPTIONS}/${id}/reauthorize`)
      .set('authorization', `Bearer ${who.token}`);
    expect(reauthorized.status).toBe(204);

    const deleted = await t.http.delete(`${SUBSCRIPTIONS}/${id}`).set('authorization', `Bearer ${who.token}`);
    expect(deleted.status).toBe(204);
    expectGraphError(
      await t.http.delete(`${SUBSCRIPTIONS}/${id}`).set('authorization', `Bearer ${who.token}`),
      404,
      'itemNotFound',
    );
    expectGraphError(await t.get(`${SUBSCRIPTIONS}/${id}`, who), 404, 'itemNotFound');
    expectGraphError(await patch(who, id, { expirationDateTime: renewal }), 404, 'itemNotFound');
  });

  it('discards what a deleted subscription was not yet sent', async () => {
    const who = await newTenant();
    const { id } = (await post(who, subscriptionBody(hook, { changeType: 'created' }))).body as { id: string };
    const create = await t.http.post(REQUESTS).set('authorization', `Bearer ${who.token}`).send({
      '@odata.type': '#microsoft.graph.urlAssessmentRequest',
      url: 'https://example.com/y',
      expectedAssessment: 'block',
      category: 'phishing',
    });
    expect(create.status).toBe(201);
    const queued = () =>
      t.db
        .query<{ n: number }>('SELECT count(*)::int AS n FROM notifications WHERE tenant_id = $1', [who.tenantId])
        .then((r) => r.rows[0].n);
    expect(await queued()).toBe(1);
    expect((await t.http.delete(`${SUBSCRIPTIONS}/${id}`).set('authorization', `Bearer ${who.token}`)).status).toBe(
      204,
    );
    expect(await queued()).toBe(0);
  });

  it('is gone once it expires: 404 everywhere, out of the list, and no duplicate any more', async () => {
    const who = await newTenant();
    const body = subscriptionBody(hook, { expirationDateTime: new Date(Date.now() + 1500).toISOString() });
    const { id } = (await post(who, body)).body as { id: string };
    await new Promise((resolve) => setTimeout(resolve, 1700));
    expectGraphError(await t.get(`${SUBSCRIPTIONS}/${id}`, who), 404, 'itemNotFound');
    expect((await t.get(SUBSCRIPTIONS, who)).body.value).toEqual([]);
    expectGraphError(
      await patch(who, id, { expirationDateTime: new Date(Date.now() + 60_000).toISOString() }),
      404,
      'itemNotFound',
    );
    expect((await post(who, subscriptionBody(hook))).status).toBe(201);
  });

  it('retires the subscriptions to a request results when the request is deleted', async () => {
    const who = await newTenant();
    const create = await t.http.post(REQUESTS).set('authorization', `Bearer ${who.token}`).send({
      '@odata.type': '#microsoft.graph.urlAssessmentRequest',
      url: 'https://example.com/z',
      expectedAssessment: 'block',
      category: 'phishing',
    });
    const resource = `informationProtection/threatAssessmentRequests/${create.body.id}/results`;
    const { id } = (await post(who, subscriptionBody(hook, { resource, changeType: 'created' }))).body as {
      id: string;
    };
    expect(
      (await t.http.delete(`${REQUESTS}/${create.body.id}`).set('authorization', `Bearer ${who.token}`)).status,
    ).toBe(204);
    expectGraphError(await t.get(`${SUBSCRIPTIONS}/${id}`, who), 404, 'itemNotFound');
  });

  it('answers 400 for an id that is not a GUID, 405 for another method, and serves /beta', async () => {
    const who = await newTenant();
    expectGraphError(await t.get(`${SUBSCRIPTIONS}/not-a-guid`, who), 400, 'invalidRequest');
    const put = await t.http
      .put(`${SUBSCRIPTIONS}/${randomUUID()}`)
      .set('authorization', `Bearer ${who.token}`)
      .send({});
    expectGraphError(put, 405, 'notAllowed');
    const beta = await t.get('/beta/subscriptions', who);
    expect(beta.status).toBe(200);
    expect(beta.body['@odata.context']).toBe(`${PUBLIC_BASE}/beta/$metadata#subscriptions`);
  });
});

describe('GET /subscriptions', () => {
  it('pages 100 at a time by @odata.nextLink, refusing other options', async () => {
    const who = await newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 103; i++) {
      // Each on another request's results: the same combination twice is a duplicate.
      const row = await insertSubscription(t.db, {
        tenantId: who.tenantId,
        resultsOf: randomUUID(),
        changeTypes: ['created'],
        notificationUrl: hook,
        applicationId: TEST_CLIENT_APP,
        creatorId: who.userId,
      });
      ids.push(row.id);
    }
    const first = await t.get(SUBSCRIPTIONS, who);
    expect(first.status).toBe(200);
    expect(first.body.value).toHaveLength(100);
    expect(first.body.value.every((s: { clientState: unknown }) => s.clientState === null)).toBe(true);
    const next = first.body['@odata.nextLink'] as string;
    expect(next.startsWith(`${PUBLIC_BASE}/v1.0/subscriptions?$skiptoken=`)).toBe(true);
    const second = await t.get(next.slice(PUBLIC_BASE.length), who);
    expect(second.body.value).toHaveLength(3);
    expect(second.body['@odata.nextLink']).toBeUndefined();
    const seen = [...first.body.value, ...second.body.value].map((s: { id: string }) => s.id);
    expect(new Set(seen)).toEqual(new Set(ids));
    expectGraphError(await t.get(`${SUBSCRIPTIONS}?$top=5`, who), 400, 'notSupported');
    expectGraphError(await t.get(`${SUBSCRIPTIONS}?$skiptoken=forged`, who), 400, 'invalidRequest');
    const stranger = await newTenant();
    expectGraphError(await t.get(next.slice(PUBLIC_BASE.length), stranger), 400, 'invalidRequest');
  });
});

describe('scoping (property)', () => {
  /**
   * Random callers (users of two apps and apps, in two tenants) create random subscriptions; each caller
   * then lists and reads exactly what the rule allows: a user what its app made for it, an application
   * what it made in its tenant; any other id is 404.
   */
  it.each([1, 2, 3])('holds for seed %i', async (seed) => {
    let state = seed * 7919;
    const random = (n: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state % n;
    };
    const tenants = [randomUUID(), randomUUID()];
    const apps = [randomUUID(), randomUUID()];
    type Who = { tenantId: string; token: string; kind: 'user' | 'app'; app: string; object: string };
    const callers: Who[] = [];
    for (const tenantId of tenants) {
      for (const app of apps) {
        const userId = randomUUID();
        callers.push({
          tenantId,
          kind: 'user',
          app,
          object: userId,
          token: await userToken(tenantId, [PERMISSIONS.readWrite], userId, 'U', app),
        });
        callers.push({
          tenantId,
          kind: 'app',
          app,
          object: app,
          token: await appToken(tenantId, [PERMISSIONS.read], app),
        });
      }
    }
    const made: { id: string; by: Who }[] = [];
    const changeTypes = ['created', 'updated', 'deleted', 'created,updated', 'created,deleted', 'updated,deleted'];
    for (let i = 0; i < 14; i++) {
      const by = callers[random(callers.length)];
      const res = await post(by.token, subscriptionBody(hook, { changeType: changeTypes[random(changeTypes.length)] }));
      if (res.status === 409) continue;
      expect(res.status, res.text).toBe(201);
      made.push({ id: res.body.id as string, by });
    }
    const visible = (viewer: Who, owner: Who) =>
      viewer.tenantId === owner.tenantId &&
      viewer.app === owner.app &&
      (viewer.kind === 'app' || viewer.object === owner.object);
    for (const viewer of callers) {
      const auth = `Bearer ${viewer.token}`;
      const listed = (await t.http.get(SUBSCRIPTIONS).set('authorization', auth)).body.value as { id: string }[];
      const expected = made.filter((m) => visible(viewer, m.by)).map((m) => m.id);
      expect(listed.map((s) => s.id).sort()).toEqual(expected.sort());
      for (const m of made) {
        const got = await t.http.get(`${SUBSCRIPTIONS}/${m.id}`).set('authorization', auth);
        expect(got.status).toBe(visible(viewer, m.by) ? 200 : 404);
      }
    }
  });
});
