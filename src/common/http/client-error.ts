import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { closeLingering, isLingering } from './lingering-close.js';
import { SECURITY_HEADERS } from './security-headers.js';

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (a raw space or control byte in the
 * URL, an unknown method, headers over the limit) still get Graph's envelope and correlation headers,
 * not Node's text.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  // Node's parser reports its error again for every chunk that arrives after it.
  if (isLingering(socket)) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const { headers, body } = graphError(
    tooLarge ? 'The request headers are too large.' : 'The request line or headers are malformed.',
  );
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  closeLingering(
    socket,
    `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\n${lines.join('')}\r\n${body}`,
  );
}

/**
 * Node's `connect` (a CONNECT request, which Node would drop without a word): this is no proxy, so 405
 * in the envelope, and the connection closes.
 */
export function connectRefused(_request: IncomingMessage, socket: Socket): void {
  const { headers, body } = graphError('CONNECT is not allowed: this service is not a proxy.', 'notAllowed');
  const lines = Object.entries({ ...headers, allow: 'DELETE, GET, HEAD, POST' }).map(([n, v]) => `${n}: ${v}\r\n`);
  closeLingering(socket, `HTTP/1.1 405 Method Not Allowed\r\n${lines.join('')}\r\n${body}`);
}

/**
 * Node's `checkExpectation`: an `Expect` other than `100-continue` is 417, which Node would answer
 * with an empty body of its own.
 */
export function expectationFailed(_request: IncomingMessage, response: ServerResponse): void {
  const { headers, body } = graphError('The only expectation supported is Expect: 100-continue.');
  response.writeHead(417, headers).end(body);
}

function graphError(message: string, code = 'invalidRequest'): { headers: Record<string, string>; body: string } {
  const requestId = randomUUID();
  const body = JSON.stringify({
    error: {
      code,
      message,
      innerError: {
        date: new Date().toISOString().slice(0, 19),
        'request-id': requestId,
        'client-request-id': requestId,
      },
    },
  });
  return {
    body,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'request-id': requestId,
      'client-request-id': requestId,
      ...SECURITY_HEADERS,
      connection: 'close',
      'content-length': String(Buffer.byteLength(body)),
    },
  };
}
