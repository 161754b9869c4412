import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { SECURITY_HEADERS } from './security-headers.js';

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (a raw space or control byte in the
 * URL, headers over the limit) still get Graph's envelope and correlation headers, not Node's text.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const requestId = randomUUID();
  const body = JSON.stringify({
    error: {
      code: 'invalidRequest',
      message: tooLarge ? 'The request headers are too large.' : 'The request line or headers are malformed.',
      innerError: {
        date: new Date().toISOString().slice(0, 19),
        'request-id': requestId,
        'client-request-id': requestId,
      },
    },
  });
  const headers = Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\nrequest-id: ${requestId}\r\n` +
      `client-request-id: ${requestId}\r\n${headers.join('')}connection: close\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
