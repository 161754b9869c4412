import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { GraphErrorResponse } from '../errors/graph-error-body.js';

const HOST =
  /^(\[[0-9a-f:.]+\]|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?)(?::(\d{1,5}))?$/i;

/** A `Host` header value: a DNS name, an IPv4 address or a bracketed IPv6 address, and an optional port. */
export function isHostHeader(value: string): boolean {
  const match = value.length <= 260 ? HOST.exec(value) : null;
  if (!match) return false;
  const [, host = '', port] = match;
  if (port !== undefined && Number(port) > 65535) return false;
  return !host.startsWith('[') || isIP(host.slice(1, -1)) === 6;
}

/**
 * Checks the Host a request names (`X-Forwarded-Host` from a trusted proxy, else `Host`): present
 * on HTTP/1.1 (RFC 9112 section 3.2), well-formed, and, when `allowed` is not empty, one of `allowed`
 * (an entry without a port allows every port). Node's own check answers outside Graph's envelope, so
 * it is off and this one answers instead.
 */
export function hostProblem(request: FastifyRequest, allowed: readonly string[]): GraphErrorResponse | undefined {
  // Node keeps the first of two Host headers; which one a proxy in front used is anyone's guess.
  if (hostHeaders(request.raw.rawHeaders) > 1) {
    return { status: 400, code: 'invalidRequest', message: 'The request names more than one Host.' };
  }
  const host = request.host;
  if (!host) {
    if (request.raw.httpVersion === '1.0') return undefined;
    return { status: 400, code: 'invalidRequest', message: 'The Host header is missing.' };
  }
  if (!isHostHeader(host)) return { status: 400, code: 'invalidRequest', message: 'The Host header is malformed.' };
  if (allowed.length === 0) return undefined;
  const name = host.toLowerCase();
  const bare = name.replace(/:\d+$/, '');
  if (allowed.includes(name) || allowed.includes(bare)) return undefined;
  return { status: 400, code: 'invalidRequest', message: 'The Host header names a host this service does not serve.' };
}

function hostHeaders(raw: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') count++;
  return count;
}
