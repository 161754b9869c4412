import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as LingeringClose from '../../src/common/http/lingering-close.js';
import { createFixture, type Fixture, RESULT_BODY } from './support/api.js';
import { fromDist, PUBLIC_BASE_URL, REQUEST_BODY_LIMIT, requestsPath, STALL_BOUND_MS } from './support/constants.js';
import { describeAnswer, expectAnswer } from './support/envelope.js';
import { SAMPLE_REQUESTS } from './support/inputs.js';
import { holds } from './support/properties.js';
import { type RawAnswer, type RawRequest, writeThrough } from './support/raw-client.js';
import { classOfInputs } from './support/suite.js';
import { newTenant, type Tenant } from './support/tokens.js';

const { LINGER_MS } = await fromDist<typeof LingeringClose>('common/http/lingering-close.js');

interface Case {
  request: RawRequest;
  /** What the issue accepts: a 2xx where the request is a valid one in odd clothes, else a 4xx. */
  statuses: number[];
}

/**
 * Issue points 6 and 7: framework-level refusals (no or bad Host, framing, oversized or malformed
 * headers, request lines, unsupported methods, expectations) answer in the Graph envelope with
 * request-id, client-request-id and the security headers, never a 5xx; and no link is written from a
 * Host the client chose. Everything goes over a raw socket: undici and supertest would normalise it.
 */
describe('(e) headers and framing: the envelope at the transport too', () => {
  const { figures, client } = classOfInputs('headers', '(e) headers and framing');
  let tenant: Tenant;
  let ids: Fixture;

  beforeAll(async () => {
    tenant = await newTenant();
    ids = await createFixture(client, tenant);
  });

  const create = () => requestsPath();
  const json = JSON.stringify(SAMPLE_REQUESTS.url);
  const auth = (): [string, string] => ['authorization', `Bearer ${tenant.token}`];
  const jsonType = ['content-type', 'application/json'] as const;
  /** A request written byte for byte: head lines joined with `eol`, then the body. */
  const raw = (lines: string[], body: Buffer | string = '', eol = '\r\n'): RawRequest => ({
    target: '',
    raw: Buffer.concat([Buffer.from(`${lines.join(eol)}${eol}${eol}`, 'latin1'), Buffer.from(body)]),
  });
  const chunked = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n0\r\n\r\n`;
  const head = (method = 'POST', target = create()) => [
    `${method} ${target} HTTP/1.1`,
    `host: 127.0.0.1:${client.port}`,
    `authorization: Bearer ${tenant.token}`,
  ];

  const pathOf = (name: string) =>
    ({
      requests: create(),
      request: `${create()}/${ids.requestId}`,
      results: `${create()}/${ids.requestId}/results`,
      health: '/health/live',
      unknown: '/nowhere',
    })[name] ?? name;

  const METHODS = [
    'PROPFIND',
    'PROPPATCH',
    'TRACE',
    'MKCOL',
    'PATCH',
    'PUT',
    'OPTIONS',
    'SEARCH',
    'LOCK',
    'UNLOCK',
    'COPY',
    'MOVE',
    'PURGE',
    'LINK',
    'UNLINK',
    'REPORT',
    'MKACTIVITY',
    'CHECKOUT',
    'MERGE',
    'M-SEARCH',
    'NOTIFY',
    'SUBSCRIBE',
    'QUERY',
    'ACL',
    'BIND',
    'FOO',
    'BREW',
    'GETS',
    'get',
    'X'.repeat(64),
  ];
  const HOSTS = [
    'evil.example',
    'evil.example:99999',
    'a b',
    '[::1',
    'user@evil.example',
    'evil.example/path',
    'évil.example',
    'x'.repeat(300),
    '127.0.0.1:abc',
    '*',
    '%00',
    '127.0.0.1:1, evil.example',
    '',
  ];

  const CASES: Record<string, { param: fc.Arbitrary<string | number>; build: (param: string | number) => Case }> = {
    'no Host in HTTP/1.1': {
      param: fc.constantFrom('health', 'requests', 'request'),
      build: (path) => ({ request: { target: pathOf(String(path)), host: null, headers: [auth()] }, statuses: [400] }),
    },
    'two Host headers': {
      param: fc.constantFrom('evil.example', '127.0.0.1'),
      build: (other) => ({
        request: { target: create(), headers: [auth(), ['host', String(other)]] },
        statuses: [400],
      }),
    },
    'a hostile Host on create': {
      param: fc.constantFrom(...HOSTS),
      build: (host) => ({
        request: { method: 'POST', target: create(), host: String(host), headers: [auth(), jsonType], body: json },
        statuses: [201, 400],
      }),
    },
    'forwarded host headers on create': {
      param: fc.constantFrom('x-forwarded-host', 'forwarded', 'x-forwarded-proto', 'x-original-url', 'x-rewrite-url'),
      build: (name) => ({
        request: {
          method: 'POST',
          target: create(),
          headers: [
            auth(),
            jsonType,
            [
              String(name),
              name === 'forwarded'
                ? 'host=evil.example;proto=http'
                : name === 'x-forwarded-proto'
                  ? 'gopher'
                  : 'evil.example',
            ],
          ],
          body: json,
        },
        statuses: [201, 400],
      }),
    },
    'HTTP/1.0 without Host': {
      param: fc.constantFrom('/health/live', create()),
      build: (path) => ({
        request: { target: String(path), version: 'HTTP/1.0', host: null, headers: [auth()] },
        statuses: [200],
      }),
    },
    'duplicate Content-Length': {
      param: fc.constantFrom('same', 'different'),
      build: (kind) => {
        const n = Buffer.byteLength(json);
        return {
          request: raw(
            [
              ...head(),
              'content-type: application/json',
              `content-length: ${n}`,
              `content-length: ${kind === 'same' ? n : n + 1}`,
            ],
            json,
          ),
          statuses: kind === 'same' ? [201, 400] : [400],
        };
      },
    },
    'a malformed Content-Length': {
      param: fc.constantFrom('-1', '+5', '5 5', 'abc', '99999999999999999999', '0x10', '', '5,5', '１'),
      build: (value) => ({
        request: raw([...head(), 'content-type: application/json', `content-length: ${value}`], json),
        statuses: [400, 413],
      }),
    },
    'Content-Length and Transfer-Encoding together': {
      param: fc.constantFrom('chunked', 'identity'),
      build: (te) => ({
        request: raw(
          [
            ...head(),
            'content-type: application/json',
            `content-length: ${Buffer.byteLength(json)}`,
            `transfer-encoding: ${te}`,
          ],
          chunked(json),
        ),
        statuses: [400],
      }),
    },
    'a Transfer-Encoding oddity': {
      param: fc.constantFrom(
        'Chunked',
        'chunked, chunked',
        'gzip, chunked',
        'gzip',
        'identity',
        'xchunked',
        'chunked;q=1',
        ' chunked',
        'chunked\t',
        'chunked, identity',
        'two headers',
      ),
      build: (te) => ({
        request: raw(
          [
            ...head(),
            'content-type: application/json',
            ...(te === 'two headers'
              ? ['transfer-encoding: gzip', 'transfer-encoding: chunked']
              : [`transfer-encoding: ${te}`]),
          ],
          chunked(json),
        ),
        // A chunked body spelled differently but still chunked may be read; anything else is refused.
        statuses: [201, 400, 411, 415],
      }),
    },
    'broken chunk framing': {
      param: fc.constantFrom(
        'size zz',
        'size 2^72',
        'a 20 KB chunk extension',
        'a bare LF',
        'a size that lies',
        'trailers',
        'a negative size',
      ),
      build: (kind) => {
        const n = Buffer.byteLength(json).toString(16);
        const bodies: Record<string, string> = {
          'size zz': `zz\r\n${json}\r\n0\r\n\r\n`,
          'size 2^72': `ffffffffffffffffff\r\n${json}\r\n0\r\n\r\n`,
          'a 20 KB chunk extension': `${n};ext=${'x'.repeat(20_000)}\r\n${json}\r\n0\r\n\r\n`,
          'a bare LF': `${n}\n${json}\n0\n\n`,
          'a size that lies': `5\r\n${json}\r\n0\r\n\r\n`,
          trailers: `${n}\r\n${json}\r\n0\r\nx-trailer: 1\r\ncontent-length: 5\r\n\r\n`,
          'a negative size': `-1\r\n${json}\r\n0\r\n\r\n`,
        };
        return {
          request: raw(
            [...head(), 'content-type: application/json', 'transfer-encoding: chunked'],
            bodies[String(kind)],
          ),
          statuses: kind === 'trailers' ? [201, 400] : [400, 413],
        };
      },
    },
    'oversized headers': {
      param: fc
        .oneof(
          fc.record({ kind: fc.constant('one header'), bytes: fc.integer({ min: 17 * 1024, max: 64 * 1024 }) }),
          fc.record({ kind: fc.constant('many headers'), bytes: fc.integer({ min: 17 * 1024, max: 64 * 1024 }) }),
          fc.record({ kind: fc.constant('authorization'), bytes: fc.integer({ min: 17 * 1024, max: 64 * 1024 }) }),
          fc.record({ kind: fc.constant('cookie'), bytes: fc.integer({ min: 17 * 1024, max: 64 * 1024 }) }),
        )
        .map((p) => JSON.stringify(p)),
      build: (param) => {
        const { kind, bytes } = JSON.parse(String(param)) as { kind: string; bytes: number };
        const headers: [string, string][] =
          kind === 'one header'
            ? [auth(), ['x-padding', 'x'.repeat(bytes)]]
            : kind === 'many headers'
              ? // Node counts names and values (not ': ' nor CRLF) against the limit: 47 bytes a header.
                Array.from(
                  { length: Math.ceil(bytes / 40) },
                  (_, i) => [`x-h${i}`.padEnd(7, '0'), 'v'.repeat(40)] as [string, string],
                )
              : kind === 'authorization'
                ? [['authorization', `Bearer ${'x'.repeat(bytes)}`]]
                : [['cookie', `a=${'x'.repeat(bytes)}`]];
        return { request: { target: create(), headers }, statuses: [431] };
      },
    },
    'a malformed header name': {
      param: fc.constantFrom('x bad', 'x(bad)', '', 'x\u00e9', 'x"y', '\u0000', 'x\ty', 'x\\y', '[x]'),
      build: (name) => ({ request: raw([...head('GET'), `${String(name)}: 1`]), statuses: [400] }),
    },
    'a control character in a header value': {
      param: fc.constantFrom('\u0000', '\u0001', '\u001b', '\u007f', '\r', 'a\rb'),
      build: (c) => ({ request: raw([...head('GET'), `x-value: a${String(c)}b`]), statuses: [400] }),
    },
    'a folded header': {
      param: fc.constantFrom(' continued', '\tcontinued'),
      build: (fold) => ({ request: raw([...head('GET'), 'x-folded: 1', String(fold)]), statuses: [400] }),
    },
    'bare LF line endings': {
      param: fc.constantFrom('/health/live', create()),
      build: (path) => ({
        request: raw(
          [`GET ${String(path)} HTTP/1.1`, 'host: 127.0.0.1', `authorization: Bearer ${tenant.token}`],
          '',
          '\n',
        ),
        statuses: [200, 400],
      }),
    },
    'an odd request line': {
      param: fc.constantFrom(
        'HTTP/2.0',
        'HTTP/1.2',
        'HTTP/0.9',
        'HTTP/1.1 extra',
        'http/1.1',
        'HTTP/1.10',
        'double space',
        'absolute form',
        'asterisk',
        'no version',
      ),
      build: (kind) => {
        const lines: Record<string, string> = {
          'double space': `GET  ${create()}  HTTP/1.1`,
          'absolute form': `GET http://evil.example${create()} HTTP/1.1`,
          asterisk: 'OPTIONS * HTTP/1.1',
          'no version': `GET ${create()}`,
        };
        const line = lines[String(kind)] ?? `GET ${create()} ${String(kind)}`;
        // Node's parser serves HTTP/0.9, 2.0, no version and doubled spaces (RFC 9112 lets it split on whitespace)
        // as 1.x: no refusal to put in the envelope; and an absolute-form target (whose links must still be ours).
        const served = ['absolute form', 'HTTP/2.0', 'HTTP/0.9', 'no version', 'double space'].includes(String(kind));
        return {
          request: raw([line, 'host: 127.0.0.1', `authorization: Bearer ${tenant.token}`]),
          statuses: served ? [200, 400, 404] : [400, 404, 405],
        };
      },
    },
    'an unsupported method': {
      param: fc
        .record({
          method: fc.constantFrom(...METHODS),
          path: fc.constantFrom('requests', 'request', 'results', 'health', 'unknown'),
        })
        .map((p) => JSON.stringify(p)),
      build: (param) => {
        const { method, path } = JSON.parse(String(param)) as { method: string; path: string };
        return { request: { method, target: pathOf(path), headers: [auth()] }, statuses: [400, 404, 405] };
      },
    },
    // Node hands CONNECT to a 'connect' listener, without which it drops the connection unanswered.
    CONNECT: {
      param: fc.constantFrom('127.0.0.1:443', 'evil.example:443', create()),
      build: (target) => ({
        request: { method: 'CONNECT', target: String(target), headers: [auth()] },
        statuses: [400, 405],
      }),
    },
    HEAD: {
      param: fc.constantFrom(create(), '/health/live', '/nowhere'),
      build: (path) => ({
        request: { method: 'HEAD', target: String(path), headers: [auth()] },
        statuses: [200, 404, 405],
      }),
    },
    'an Upgrade request': {
      param: fc.constantFrom('websocket', 'h2c', 'TLS/1.2'),
      build: (protocol) => ({
        request: {
          target: create(),
          headers: [
            auth(),
            ['connection', 'upgrade'],
            ['upgrade', String(protocol)],
            ['sec-websocket-key', 'dGhlIHNhbXBsZSBub25jZQ=='],
          ],
        },
        statuses: [200, 400, 426],
      }),
    },
    'an Expect header': {
      param: fc.constantFrom('100-continue', '100-Continue', 'something-else', '200-ok'),
      build: (value) => ({
        request: {
          method: 'POST',
          target: create(),
          headers: [auth(), jsonType, ['expect', String(value)]],
          body: json,
        },
        statuses: /^100-continue$/i.test(String(value)) ? [201] : [400, 417],
      }),
    },
    'a Content-Type oddity': {
      param: fc.constantFrom(
        'APPLICATION/JSON',
        'application/json; charset=utf-8; charset=latin1',
        'application/json;',
        'application/json, text/plain',
        'two headers',
        ' application/json',
        'application/json; boundary=x',
        'application/*',
        '*/*',
      ),
      build: (type) => ({
        request: {
          method: 'POST',
          target: create(),
          headers: [
            auth(),
            ...(type === 'two headers'
              ? [['content-type', 'application/json'] as const, ['content-type', 'text/plain'] as const]
              : [['content-type', String(type)] as const]),
          ],
          body: json,
        },
        statuses: [201, 400, 415],
      }),
    },
    'two Authorization headers': {
      param: fc.constantFrom('valid first', 'garbage first'),
      build: (order) => {
        const pair = [auth(), ['authorization', 'Bearer x.y.z'] as const];
        return {
          request: {
            method: 'POST',
            target: `${create()}/${ids.requestId}/results`,
            headers: [...(order === 'valid first' ? pair : pair.reverse()), jsonType],
            body: JSON.stringify(RESULT_BODY),
          },
          statuses: [201, 400, 401],
        };
      },
    },
  };

  /** Point 7: every link the service writes (Location, @odata.context, @odata.nextLink…) starts with PUBLIC_BASE_URL. */
  function foreignLinks(answer: RawAnswer): string[] {
    const links: unknown[] = [answer.headers.location];
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        for (const [key, inner] of Object.entries(value)) {
          if (/@odata\.(context|nextLink|id|editLink)$/.test(key)) links.push(inner);
          walk(inner);
        }
      }
    };
    walk(answer.json);
    return links.filter((link): link is string => typeof link === 'string' && !link.startsWith(`${PUBLIC_BASE_URL}/`));
  }

  // One property per case: each is its own finding, and one failing case hides no other.
  it.each(Object.keys(CASES))(
    '%s: answered 2xx or 4xx in the envelope with the correlation and security headers, never 5xx, no foreign link',
    async (name) => {
      await holds(
        figures,
        name,
        CASES[name].param,
        async (param) => {
          const { request, statuses } = CASES[name].build(param);
          const what = `${name}: ${JSON.stringify(param).slice(0, 120)}`;
          const answer = await client.send({ ...request, timeoutMs: 3000 }, what);
          expectAnswer(answer, what, { statuses, maxMs: 1000, headOnly: request.method === 'HEAD' });
          const foreign = foreignLinks(answer);
          if (foreign.length > 0) {
            throw new Error(
              `${what}\n  → links from an unvalidated host: ${foreign.join(', ')}\n  answer: ${describeAnswer(answer)}`,
            );
          }
        },
        { numRuns: 60, maxMs: 20_000, shrink: true },
      );
    },
  );

  it('a client that writes on after an early refusal meets no reset while it writes; the server closes after its linger', async () => {
    const body = Buffer.alloc(REQUEST_BODY_LIMIT, ' ');
    const framing = [
      `host: 127.0.0.1:${client.port}`,
      'content-type: application/json',
      `content-length: ${body.length}`,
    ];
    const heads = {
      '401, no token': [`POST ${create()} HTTP/1.1`, ...framing],
      '431, headers over the limit': [`POST ${create()} HTTP/1.1`, `x-filler: ${'a'.repeat(20 * 1024)}`, ...framing],
      '405, CONNECT': [`CONNECT 127.0.0.1:443 HTTP/1.1`, ...framing],
    };
    const observed: Record<string, unknown>[] = [];
    for (const [name, lines] of Object.entries(heads)) {
      const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
      const seen = await writeThrough(client.port, head, body, LINGER_MS + 1000);
      observed.push({ name, ...seen, finMs: seen.finMs && Math.round(seen.finMs) });
      expect(seen.status, name).toBe(Number(name.slice(0, 3)));
      // The whole 8 MiB went out without a reset: the server read and discarded it after answering.
      expect(seen.writeError, name).toBeUndefined();
      expect(seen.bodyBytesWritten, name).toBe(body.length);
      expect(seen.finMs, name).toBeLessThan(STALL_BOUND_MS);
      // The linger is bounded: a second past it, the connection is gone.
      expect(['EPIPE', 'ECONNRESET'], name).toContain(seen.probeError);
    }
    figures.data.extra.lingeringClose = observed;
  });
});
