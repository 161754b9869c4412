import { type AddressInfo, type Socket, createServer as createTcpServer } from 'node:net';
import type { ServerResponse } from 'node:http';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type TestCertificates, createTestCertificates } from '../../../test/support/test-certificates.js';
import { WebhookReceiver } from '../../../test/support/webhook-receiver.js';
import { AddressPolicy } from './address-policy.js';
import type { HostResolver } from './resolve-and-check.js';
import { type WebhookClientOptions, type WebhookRequest, type WebhookResult, WebhookClient } from './webhook-client.js';

const ALLOW_LOOPBACK = new AddressPolicy({ allowedCidrs: ['127.0.0.0/8', '::1/128'] });
const NOTIFICATION: WebhookRequest = {
  body: '{"value":[]}',
  contentType: 'application/json; charset=utf-8',
  timeoutMs: 5000,
  maxBodyBytes: 64 * 1024,
};

/** Answers each lookup with the next answer, the last one repeated; counts the calls. */
function resolverAnswering(...answers: string[][]) {
  let calls = 0;
  return vi.fn<HostResolver>(() =>
    Promise.resolve(answers[Math.min(calls++, answers.length - 1)].map((address) => ({ address }))),
  );
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function expectOutcome(result: WebhookResult, outcome: WebhookResult['outcome']): void {
  expect(result.outcome, JSON.stringify(result)).toBe(outcome);
}

describe('WebhookClient', () => {
  let certs: TestCertificates;
  let v4: WebhookReceiver;
  let v6: WebhookReceiver;
  const extraServers: { close: () => unknown }[] = [];

  const client = (options: Partial<WebhookClientOptions> = {}) =>
    new WebhookClient({
      addressPolicy: ALLOW_LOOPBACK,
      extraCaCertificates: [certs.caCert],
      resolve: resolverAnswering(['127.0.0.1']),
      ...options,
    });
  const hookUrl = (query = '') => `https://webhook.test:${v4.port}/hooks/ta${query}`;

  beforeAll(async () => {
    certs = createTestCertificates();
    v4 = await WebhookReceiver.start('127.0.0.1', { cert: certs.leafCert, key: certs.leafKey });
    v6 = await WebhookReceiver.start('::1', { cert: certs.leafCert, key: certs.leafKey });
  });
  afterEach(() => {
    v4.reset();
    v6.reset();
  });
  afterAll(async () => {
    await Promise.all([v4.close(), v6.close(), ...extraServers.map((s) => s.close())]);
  });

  describe('what it sends', () => {
    it('POSTs the body with Host, User-Agent, Content-Type and Content-Length only, SNI naming the host', async () => {
      v4.handler = (_req, res) => res.writeHead(202, { 'content-type': 'text/plain' }).end('queued');
      const result = await client().post(hookUrl('?src=prod&a=%20b'), NOTIFICATION);
      expect(result).toEqual({
        outcome: 'response',
        status: 202,
        contentType: 'text/plain',
        body: 'queued',
        truncated: false,
        remoteAddress: '127.0.0.1',
        timing: { queuedMs: expect.any(Number), durationMs: expect.any(Number) },
      });
      expect(v4.requests).toEqual([
        {
          method: 'POST',
          url: '/hooks/ta?src=prod&a=%20b',
          headerNames: ['Host', 'User-Agent', 'Content-Type', 'Content-Length', 'Connection'],
          headers: {
            host: `webhook.test:${v4.port}`,
            'user-agent': 'ThreatAssessmentService-Webhook/1.0',
            'content-type': 'application/json; charset=utf-8',
            'content-length': '12',
            connection: 'close',
          },
          body: '{"value":[]}',
          servername: 'webhook.test',
        },
      ]);
    });

    it('never sends Authorization, Cookie or X- headers, whatever the body holds', async () => {
      const body = 'Authorization: Bearer x\r\nCookie: a=b\r\nX-Internal: 1\r\n\r\n';
      expectOutcome(await client().post(hookUrl(), { ...NOTIFICATION, body }), 'response');
      const names = v4.requests[0].headerNames.map((name) => name.toLowerCase());
      expect(names.filter((name) => name === 'authorization' || name === 'cookie' || name.startsWith('x-'))).toEqual(
        [],
      );
      expect(v4.requests[0].body).toBe(body);
    });

    it('rejects a content type that would smuggle in a header, before connecting', async () => {
      await expect(
        client().post(hookUrl(), { ...NOTIFICATION, contentType: 'text/plain\r\nAuthorization: x' }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
      expect(v4.connections).toBe(0);
    });

    it('reaches an IPv6 literal directly: no lookup, no SNI (RFC 6066 names hosts only)', async () => {
      const resolve = resolverAnswering(['203.0.113.1']);
      const result = await client({ resolve }).post(`https://[::1]:${v6.port}/hook`, NOTIFICATION);
      expect(result).toMatchObject({ outcome: 'response', status: 200, remoteAddress: '::1' });
      expect(resolve).not.toHaveBeenCalled();
      expect(v6.requests[0]).toMatchObject({ servername: false, headers: { host: `[::1]:${v6.port}` } });
    });

    it('reaches an IPv6 address a name resolves to', async () => {
      const result = await client({ resolve: resolverAnswering(['::1']) }).post(
        `https://webhook.test:${v6.port}/hook`,
        NOTIFICATION,
      );
      expect(result).toMatchObject({ outcome: 'response', status: 200, remoteAddress: '::1' });
      expect(v6.requests[0].servername).toBe('webhook.test');
    });

    it('sends http only when allowed', async () => {
      const plain = await WebhookReceiver.start('127.0.0.1');
      extraServers.push(plain);
      const url = `http://webhook.test:${plain.port}/hook`;
      expect(await client().post(url, NOTIFICATION)).toMatchObject({
        outcome: 'refused-url',
        detail: "NotificationUrl scheme='http' is not supported.",
      });
      expect(plain.connections).toBe(0);
      expect(await client({ allowHttp: true }).post(url, NOTIFICATION)).toMatchObject({
        outcome: 'response',
        status: 200,
      });
    });

    it('refuses a URL with user info or a fragment before resolving anything', async () => {
      const resolve = resolverAnswering(['127.0.0.1']);
      for (const url of [`https://user:pw@webhook.test:${v4.port}/`, `https://webhook.test:${v4.port}/#f`]) {
        expect(await client({ resolve }).post(url, NOTIFICATION)).toMatchObject({ outcome: 'refused-url' });
      }
      expect(resolve).not.toHaveBeenCalled();
      expect(v4.connections).toBe(0);
    });
  });

  describe('addresses', () => {
    it('refuses loopback without the allow-list, opening no connection', async () => {
      const strict = client({ addressPolicy: new AddressPolicy() });
      for (const url of [
        hookUrl(),
        `https://127.0.0.1:${v4.port}/`,
        `https://2130706433:${v4.port}/`,
        `https://[::1]:${v6.port}/`,
      ]) {
        const result = await strict.post(url, NOTIFICATION);
        expectOutcome(result, 'refused-address');
      }
      expect(v4.connections).toBe(0);
      expect(v6.connections).toBe(0);
    });

    it('refuses a name that resolves to one allowed and one refused address', async () => {
      const result = await client({ resolve: resolverAnswering(['127.0.0.1', '10.0.0.1']) }).post(
        hookUrl(),
        NOTIFICATION,
      );
      expect(result).toMatchObject({
        outcome: 'refused-address',
        detail: expect.stringContaining('resolves to 10.0.0.1, which is not allowed'),
      });
      expect(v4.connections).toBe(0);
    });

    it('connects only to the address it checked: one lookup per attempt, none by the connection (DNS rebinding)', async () => {
      const resolve = resolverAnswering(['127.0.0.1'], ['169.254.169.254']);
      const webhooks = client({ resolve });
      expect(await webhooks.post(hookUrl(), NOTIFICATION)).toMatchObject({ outcome: 'response', status: 200 });
      expect(resolve).toHaveBeenCalledTimes(1);
      expect(v4.connections).toBe(1);
      // The name now answers the metadata address: the next attempt checks again and sends nothing.
      expectOutcome(await webhooks.post(hookUrl(), NOTIFICATION), 'refused-address');
      expect(resolve).toHaveBeenCalledTimes(2);
      expect(v4.connections).toBe(1);
    });

    it('tries the next checked address when the first refuses the connection', async () => {
      const result = await client({ resolve: resolverAnswering(['127.0.0.2', '127.0.0.1']) }).post(
        hookUrl(),
        NOTIFICATION,
      );
      expect(result).toMatchObject({ outcome: 'response', status: 200, remoteAddress: '127.0.0.1' });
    });

    it('reports a failed lookup as a dns-error', async () => {
      const resolve = vi.fn<HostResolver>(() =>
        Promise.reject(Object.assign(new Error('nope'), { code: 'ENOTFOUND' })),
      );
      expect(await client({ resolve }).post(hookUrl(), NOTIFICATION)).toMatchObject({
        outcome: 'dns-error',
        detail: expect.stringContaining('(ENOTFOUND)'),
      });
    });

    it('reports a closed port as a connection-error', async () => {
      const port = await closedPort();
      expect(await client().post(`https://webhook.test:${port}/`, NOTIFICATION)).toMatchObject({
        outcome: 'connection-error',
        detail: expect.stringContaining('ECONNREFUSED'),
      });
    });
  });

  describe('responses', () => {
    it('returns a redirect as its status, without following it', async () => {
      v4.handler = (_req, res) => res.writeHead(302, { location: `https://webhook.test:${v4.port}/elsewhere` }).end();
      expect(await client().post(hookUrl(), NOTIFICATION)).toMatchObject({ outcome: 'response', status: 302 });
      expect(v4.requests.map((r) => r.url)).toEqual(['/hooks/ta']);
    });

    it('keeps a body of exactly maxBodyBytes, and marks one byte more as truncated', async () => {
      v4.handler = (req, res) => res.end('é'.repeat(512) + (req.url?.endsWith('more') ? 'x' : ''));
      const request = { ...NOTIFICATION, maxBodyBytes: 1024 };
      expect(await client().post(hookUrl(), request)).toMatchObject({ body: 'é'.repeat(512), truncated: false });
      expect(await client().post(hookUrl('?more'), request)).toMatchObject({ body: 'é'.repeat(512), truncated: true });
    });

    it('cuts an endless body at the limit and closes the connection', async () => {
      let written = 0;
      v4.handler = (_req, res) => {
        const chunk = Buffer.alloc(16 * 1024, 'a');
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) written += chunk.length;
        };
        res.on('drain', pump);
        pump();
      };
      const result = await client().post(hookUrl(), NOTIFICATION);
      expect(result).toMatchObject({ outcome: 'response', status: 200, truncated: true });
      expect(Buffer.byteLength((result as { body: string }).body)).toBe(64 * 1024);
      await until(() => v4.openSockets === 0);
      expect(written).toBeLessThan(16 * 1024 * 1024);
    });

    it('fails response headers over 16 KiB as an invalid response, and takes them just under', async () => {
      v4.handler = (req, res) =>
        res.setHeader('x-filler', 'a'.repeat(req.url?.endsWith('big') ? 16 * 1024 : 15 * 1024)).end();
      expect(await client().post(hookUrl(), NOTIFICATION)).toMatchObject({ outcome: 'response', status: 200 });
      expect(await client().post(hookUrl('?big'), NOTIFICATION)).toMatchObject({
        outcome: 'invalid-response',
        detail: expect.stringContaining('HPE_HEADER_OVERFLOW'),
      });
    });

    it('fails an answer that is not HTTP as an invalid response', async () => {
      const garbage = createTlsServer({ cert: certs.leafCert, key: certs.leafKey }, (socket) =>
        socket.end('SMTP ready\r\n\r\n'),
      );
      await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
      extraServers.push(garbage);
      const port = (garbage.address() as AddressInfo).port;
      expectOutcome(await client().post(`https://webhook.test:${port}/`, NOTIFICATION), 'invalid-response');
    });

    it('fails a body cut off by the receiver as a connection-error', async () => {
      v4.handler = (_req, res) => {
        res.writeHead(200, { 'content-length': '100' }).write('partial');
        setTimeout(() => res.socket?.destroy(), 50);
      };
      expect(await client().post(hookUrl(), NOTIFICATION)).toMatchObject({
        outcome: 'connection-error',
        detail: expect.stringContaining('the body after status 200 was cut off'),
      });
    });
  });

  describe('deadline', () => {
    const quick = { ...NOTIFICATION, timeoutMs: 500 };
    const timed = async (run: () => Promise<WebhookResult>) => {
      const started = Date.now();
      const result = await run();
      return { result, elapsed: Date.now() - started };
    };

    it('times out a receiver that never answers, within the deadline', async () => {
      v4.handler = () => undefined;
      const { result, elapsed } = await timed(() => client().post(hookUrl(), quick));
      expect(result).toMatchObject({ outcome: 'timeout', detail: expect.stringContaining('while awaiting-response') });
      expect(elapsed).toBeGreaterThanOrEqual(450);
      expect(elapsed).toBeLessThan(3000);
      await until(() => v4.inFlight === 0);
    });

    it('times out a body that never ends', async () => {
      v4.handler = (_req, res) => res.writeHead(200).write('x');
      const { result, elapsed } = await timed(() => client().post(hookUrl(), quick));
      expect(result).toMatchObject({ outcome: 'timeout', detail: expect.stringContaining('while reading-body') });
      expect(elapsed).toBeLessThan(3000);
    });

    it('times out a TLS handshake that never completes', async () => {
      const silent = createTcpServer(() => undefined);
      const sockets: Socket[] = [];
      silent.on('connection', (socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      extraServers.push({ close: () => (sockets.forEach((s) => s.destroy()), silent.close()) });
      const port = (silent.address() as AddressInfo).port;
      const { result, elapsed } = await timed(() => client().post(`https://webhook.test:${port}/`, quick));
      expect(result).toMatchObject({ outcome: 'timeout', detail: expect.stringContaining('while tls-handshake') });
      expect(elapsed).toBeLessThan(3000);
    });

    it('counts resolution toward the deadline', async () => {
      const resolve = vi.fn<HostResolver>(() => new Promise(() => undefined));
      const { result, elapsed } = await timed(() => client({ resolve }).post(hookUrl(), quick));
      expect(result).toMatchObject({ outcome: 'timeout', detail: expect.stringContaining('while resolving') });
      expect(elapsed).toBeLessThan(3000);
      expect(v4.connections).toBe(0);
    });
  });

  describe('TLS', () => {
    it('fails a certificate from an unknown CA; trusting the CA makes it pass', async () => {
      expect(await client({ extraCaCertificates: undefined }).post(hookUrl(), NOTIFICATION)).toMatchObject({
        outcome: 'tls-error',
        detail: expect.stringContaining('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
      });
      expect(await client().post(hookUrl(), NOTIFICATION)).toMatchObject({ outcome: 'response', status: 200 });
    });

    it('fails a self-signed certificate unless it is trusted itself', async () => {
      const selfSigned = await WebhookReceiver.start('127.0.0.1', {
        cert: certs.selfSignedCert,
        key: certs.selfSignedKey,
      });
      extraServers.push(selfSigned);
      const url = `https://webhook.test:${selfSigned.port}/`;
      expect(await client({ extraCaCertificates: undefined }).post(url, NOTIFICATION)).toMatchObject({
        outcome: 'tls-error',
        detail: expect.stringContaining('DEPTH_ZERO_SELF_SIGNED_CERT'),
      });
      expect(selfSigned.requests).toEqual([]);
      expect(await client({ extraCaCertificates: [certs.selfSignedCert] }).post(url, NOTIFICATION)).toMatchObject({
        outcome: 'response',
        status: 200,
      });
    });

    it('keeps verifying when NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
      vi.stubEnv('NODE_TLS_REJECT_UNAUTHORIZED', '0');
      try {
        expectOutcome(await client({ extraCaCertificates: undefined }).post(hookUrl(), NOTIFICATION), 'tls-error');
      } finally {
        vi.unstubAllEnvs();
      }
      expect(v4.requests).toEqual([]);
    });

    it('fails a certificate for other names', async () => {
      const result = await client().post(`https://other.test:${v4.port}/`, NOTIFICATION);
      expect(result).toMatchObject({
        outcome: 'tls-error',
        detail: expect.stringContaining('ERR_TLS_CERT_ALTNAME_INVALID'),
      });
      expect(v4.requests).toEqual([]);
    });

    it('refuses a server that speaks only TLS 1.1', async () => {
      const legacy = await WebhookReceiver.start('127.0.0.1', {
        cert: certs.leafCert,
        key: certs.leafKey,
        minVersion: 'TLSv1.1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      });
      extraServers.push(legacy);
      // The server does speak TLS 1.1 to a client that allows it…
      const protocol = await new Promise<string | null>((resolve, reject) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port: legacy.port,
          ca: certs.caCert,
          servername: 'webhook.test',
          minVersion: 'TLSv1.1',
          maxVersion: 'TLSv1.1',
          ciphers: 'DEFAULT@SECLEVEL=0',
        });
        socket.once('secureConnect', () => (resolve(socket.getProtocol()), socket.destroy()));
        socket.once('error', reject);
      });
      expect(protocol).toBe('TLSv1.1');
      // …and the client, TLS 1.2 at least, does not.
      expectOutcome(await client().post(`https://webhook.test:${legacy.port}/`, NOTIFICATION), 'tls-error');
      expect(legacy.requests).toEqual([]);
    });
  });

  describe('concurrency', () => {
    it('holds at most 8 requests per host at once; the ninth waits for a free slot, other hosts do not', async () => {
      const held: ServerResponse[] = [];
      let holding = 0;
      let maxHolding = 0;
      v4.handler = (req, res) => {
        if (req.headers.host?.startsWith('localhost')) return res.end();
        held.push(res);
        maxHolding = Math.max(maxHolding, ++holding);
        res.on('close', () => holding--);
      };
      const webhooks = client({ resolve: resolverAnswering(['127.0.0.1']) });
      const results = Array.from({ length: 9 }, () => webhooks.post(hookUrl(), { ...NOTIFICATION, timeoutMs: 10_000 }));
      await until(() => held.length === 8);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(held.length).toBe(8);
      expect(await webhooks.post(`https://localhost:${v4.port}/`, NOTIFICATION)).toMatchObject({ status: 200 });
      held[0].end();
      await until(() => held.length === 9);
      held.forEach((res) => res.end());
      const settled = await Promise.all(results);
      expect(settled.map((r) => r.outcome)).toEqual(Array(9).fill('response'));
      expect(maxHolding).toBe(8);
      expect(Math.max(...settled.map((r) => r.timing.queuedMs))).toBeGreaterThanOrEqual(250);
    });
  });

  describe('details', () => {
    it('redact the query string, which may hold the receiver’s secrets', async () => {
      const secret = '?token=s3cret';
      const port = await closedPort();
      const results = [
        await client().post(`https://webhook.test:${port}/h${secret}`, NOTIFICATION),
        await client({ extraCaCertificates: undefined }).post(hookUrl(secret), NOTIFICATION),
        await client({ addressPolicy: new AddressPolicy() }).post(hookUrl(secret), NOTIFICATION),
        await client({ resolve: () => new Promise(() => undefined) }).post(hookUrl(secret), {
          ...NOTIFICATION,
          timeoutMs: 100,
        }),
      ];
      expect(results.map((r) => r.outcome)).toEqual(['connection-error', 'tls-error', 'refused-address', 'timeout']);
      for (const result of results) {
        expect((result as { detail: string }).detail).not.toContain('s3cret');
        expect((result as { detail: string }).detail).toContain('/h');
      }
    });
  });
});
