import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type TestCertificates, createTestCertificates } from '../../../test/support/test-certificates.js';
import { WebhookReceiver } from '../../../test/support/webhook-receiver.js';
import { AddressPolicy } from './address-policy.js';
import type { HostResolver } from './resolve-and-check.js';
import {
  VALIDATION_FAILED_MESSAGE,
  VALIDATION_MISMATCH_MESSAGE,
  VALIDATION_TIMED_OUT_MESSAGE,
  validateNotificationUrl,
  validationToken,
  validationUrl,
} from './validation-handshake.js';
import { type WebhookClientOptions, WebhookClient } from './webhook-client.js';

const REQUEST_ID = '5c1f7a0e-2b3d-4c5e-8f90-a1b2c3d4e5f6';
const TOKEN = validationToken(REQUEST_ID);

/** What a correct receiver does: decode the query parameter and echo it as text/plain. */
function echo(req: IncomingMessage, res: ServerResponse): void {
  const token = new URL(req.url ?? '', 'https://receiver').searchParams.get('validationToken') ?? '';
  res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
}

describe('validation handshake', () => {
  let certs: TestCertificates;
  let receiver: WebhookReceiver;
  const resolve = vi.fn<HostResolver>(() => Promise.resolve([{ address: '127.0.0.1' }]));
  const client = (options: Partial<WebhookClientOptions> = {}) =>
    new WebhookClient({
      addressPolicy: new AddressPolicy({ allowedCidrs: ['127.0.0.0/8', '::1/128'] }),
      extraCaCertificates: [certs.caCert],
      resolve,
      ...options,
    });
  const hookUrl = (pathAndQuery = '/hooks/ta') => new URL(`https://webhook.test:${receiver.port}${pathAndQuery}`);
  const answering =
    (status: number, headers: Record<string, string | number>, body: string) =>
    (_req: IncomingMessage, res: ServerResponse) =>
      res.writeHead(status, headers).end(body);

  beforeAll(async () => {
    certs = createTestCertificates();
    receiver = await WebhookReceiver.start('127.0.0.1', { cert: certs.leafCert, key: certs.leafKey });
  });
  afterEach(() => receiver.reset());
  afterAll(() => receiver.close());

  it('builds the token in Graph’s words with the request id', () => {
    expect(TOKEN).toBe(
      'Validation: Testing client application reachability for subscription Request-Id: 5c1f7a0e-2b3d-4c5e-8f90-a1b2c3d4e5f6',
    );
  });

  it('succeeds when the receiver echoes the decoded token as text/plain', async () => {
    receiver.handler = echo;
    expect(await validateNotificationUrl(client(), hookUrl(), TOKEN)).toEqual({ ok: true });
    expect(receiver.requests).toEqual([
      {
        method: 'POST',
        url: `/hooks/ta?validationToken=${encodeURIComponent(TOKEN)}`,
        headerNames: ['Host', 'User-Agent', 'Content-Type', 'Content-Length', 'Connection'],
        headers: {
          host: `webhook.test:${receiver.port}`,
          'user-agent': 'ThreatAssessmentService-Webhook/1.0',
          'content-type': 'text/plain; charset=utf-8',
          'content-length': '0',
          connection: 'close',
        },
        body: '',
        servername: 'webhook.test',
      },
    ]);
  });

  it('percent-encodes the spaces and colons, so that a receiver echoing the raw query fails', async () => {
    receiver.handler = (req, res) =>
      res.writeHead(200, { 'content-type': 'text/plain' }).end(req.url?.split('validationToken=')[1]);
    expect(await validateNotificationUrl(client(), hookUrl(), TOKEN)).toMatchObject({
      ok: false,
      failure: 'mismatch',
      message: VALIDATION_MISMATCH_MESSAGE,
    });
    expect(receiver.requests[0].url).toContain('validationToken=Validation%3A%20Testing%20client%20application');
  });

  it('round-trips tokens with characters that mean something in a query', async () => {
    receiver.handler = echo;
    for (const token of ['a&b=c+d%20e?#f', 'Request-Id: ümlaut ✓', ' leading and trailing ']) {
      expect(await validateNotificationUrl(client(), hookUrl(), token), token).toEqual({ ok: true });
    }
  });

  it('appends &validationToken= to a URL that has a query, leaving the query as it is', async () => {
    receiver.handler = echo;
    expect(await validateNotificationUrl(client(), hookUrl('/hooks/ta?src=prod&a=%20b+c'), TOKEN)).toEqual({
      ok: true,
    });
    expect(receiver.requests[0].url).toBe(`/hooks/ta?src=prod&a=%20b+c&validationToken=${encodeURIComponent(TOKEN)}`);
  });

  it('builds the URL without a second separator after a bare ?', () => {
    expect(validationUrl(new URL('https://engine.example.com/hook?'), 'a b')).toBe(
      'https://engine.example.com/hook?validationToken=a%20b',
    );
    expect(validationUrl(new URL('https://engine.example.com'), 'a b')).toBe(
      'https://engine.example.com/?validationToken=a%20b',
    );
  });

  it('accepts text/plain with parameters, in any case', async () => {
    for (const contentType of ['text/plain; charset=utf-8', 'Text/Plain;charset=UTF-8', 'TEXT/PLAIN']) {
      receiver.handler = answering(200, { 'content-type': contentType }, TOKEN);
      expect(await validateNotificationUrl(client(), hookUrl(), TOKEN), contentType).toEqual({ ok: true });
    }
  });

  it.each([
    ['another body', 200, { 'content-type': 'text/plain' }, 'Validation: something else'],
    ['the token with a trailing newline (no trimming)', 200, { 'content-type': 'text/plain' }, `${TOKEN}\n`],
    ['the token with a leading space', 200, { 'content-type': 'text/plain' }, ` ${TOKEN}`],
    ['an empty body', 200, { 'content-type': 'text/plain' }, ''],
    ['text/html', 200, { 'content-type': 'text/html' }, TOKEN],
    ['text/plainer', 200, { 'content-type': 'text/plainer' }, TOKEN],
    ['application/json', 200, { 'content-type': 'application/json' }, JSON.stringify(TOKEN)],
    ['no Content-Type', 200, {}, TOKEN],
  ])('fails on %s as not matching the token', async (_, status, headers, body) => {
    receiver.handler = answering(status, headers, body);
    expect(await validateNotificationUrl(client(), hookUrl(), TOKEN)).toMatchObject({
      ok: false,
      failure: 'mismatch',
      message: VALIDATION_MISMATCH_MESSAGE,
    });
  });

  it.each([
    [201, {}],
    [204, {}],
    [302, { location: '/hooks/elsewhere' }],
    [307, { location: '/hooks/elsewhere' }],
    [400, {}],
    [500, {}],
  ])('fails on status %i, following no redirect', async (status, headers) => {
    receiver.handler = answering(status, { 'content-type': 'text/plain', ...headers }, status === 204 ? '' : TOKEN);
    expect(await validateNotificationUrl(client(), hookUrl(), TOKEN)).toMatchObject({
      ok: false,
      failure: 'not-ok',
      message: VALIDATION_FAILED_MESSAGE,
      detail: expect.stringContaining(`answered status ${status}`),
    });
    expect(receiver.requests).toHaveLength(1);
  });

  it('fails on a body over 1 KiB, even one that starts with the token', async () => {
    receiver.handler = answering(200, { 'content-type': 'text/plain' }, TOKEN + 'x'.repeat(2048));
    expect(await validateNotificationUrl(client(), hookUrl(), TOKEN)).toMatchObject({
      ok: false,
      failure: 'body-too-large',
      message: VALIDATION_FAILED_MESSAGE,
    });
  });

  it('takes a token echoed in exactly 1 KiB', async () => {
    const token = 't'.repeat(1024);
    receiver.handler = echo;
    expect(await validateNotificationUrl(client(), hookUrl(), token)).toEqual({ ok: true });
  });

  it('times out a receiver that does not answer', async () => {
    receiver.handler = () => undefined;
    const started = Date.now();
    expect(await validateNotificationUrl(client(), hookUrl(), TOKEN, { timeoutMs: 500 })).toMatchObject({
      ok: false,
      failure: 'timeout',
      message: VALIDATION_TIMED_OUT_MESSAGE,
    });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('sends with a 10 s deadline, reading at most 1 KiB', async () => {
    const post = vi.fn<WebhookClient['post']>(() =>
      Promise.resolve({
        outcome: 'response',
        status: 200,
        contentType: 'text/plain',
        body: TOKEN,
        truncated: false,
        remoteAddress: '192.0.2.1',
        timing: { queuedMs: 0, durationMs: 1 },
      }),
    );
    const fake = { post } as unknown as WebhookClient;
    expect(await validateNotificationUrl(fake, new URL('https://engine.example.com/hook?x=1'), TOKEN)).toEqual({
      ok: true,
    });
    expect(post).toHaveBeenCalledExactlyOnceWith(
      `https://engine.example.com/hook?x=1&validationToken=${encodeURIComponent(TOKEN)}`,
      { body: '', contentType: 'text/plain; charset=utf-8', timeoutMs: 10_000, maxBodyBytes: 1024 },
    );
  });

  it('fails on a TLS error, a refused connection or a failed lookup as unreachable', async () => {
    const untrusted = await validateNotificationUrl(client({ extraCaCertificates: undefined }), hookUrl(), TOKEN);
    const closed = await validateNotificationUrl(client(), new URL('https://webhook.test:1/hook'), TOKEN);
    const missing = await validateNotificationUrl(
      client({ resolve: () => Promise.reject(Object.assign(new Error('no'), { code: 'ENOTFOUND' })) }),
      hookUrl(),
      TOKEN,
    );
    for (const result of [untrusted, closed, missing]) {
      expect(result).toMatchObject({ ok: false, failure: 'unreachable', message: VALIDATION_FAILED_MESSAGE });
    }
    expect(receiver.requests).toEqual([]);
  });

  it('fails on a refused address with the host message, sending nothing', async () => {
    expect(
      await validateNotificationUrl(client({ addressPolicy: new AddressPolicy() }), hookUrl(), TOKEN),
    ).toMatchObject({
      ok: false,
      failure: 'refused-address',
      message: 'NotificationUrl host is not allowed.',
    });
    expect(receiver.connections).toBe(0);
  });

  it('redacts the receiver’s query in the detail', async () => {
    receiver.handler = answering(500, {}, '');
    const result = await validateNotificationUrl(client(), hookUrl('/hooks/ta?key=s3cret'), TOKEN);
    expect(result).toMatchObject({ ok: false, detail: expect.stringContaining('/hooks/ta?<redacted>') });
    expect(JSON.stringify(result)).not.toContain('s3cret');
  });
});
