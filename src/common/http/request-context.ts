import type { FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The client's `client-request-id`, or the request-id when it sent none (Graph's behaviour). */
    clientRequestId: string;
    /** The version segment the client called: `/beta` is served by the `/v1.0` routes. */
    apiVersion: ApiVersion;
  }
}

export type ApiVersion = 'v1.0' | 'beta';

// Echoed into a response header: only a bounded, header-safe value is taken.
const CLIENT_REQUEST_ID = /^[\w.:/+=@-]{1,128}$/;

/** Every response, errors included, carries Graph's correlation headers. */
export function setCorrelation(request: FastifyRequest, reply: FastifyReply): void {
  const sent = request.headers['client-request-id'];
  request.clientRequestId = typeof sent === 'string' && CLIENT_REQUEST_ID.test(sent) ? sent : request.id;
  void reply.header('request-id', request.id);
  void reply.header('client-request-id', request.clientRequestId);
}

/**
 * Fastify `rewriteUrl`: `/beta/...` is served by the `/v1.0/...` routes, and the version the client
 * used is kept so that the links written back use it.
 */
export function rewriteVersion(raw: string): { url: string; version: ApiVersion } {
  const url = decodeDollarSegments(raw);
  if (url === '/beta' || url.startsWith('/beta/') || url.startsWith('/beta?')) {
    return { url: `/v1.0${url.slice('/beta'.length)}`, version: 'beta' };
  }
  return { url, version: 'v1.0' };
}

/** `/%24count` and `/%24ref` are `/$count` and `/$ref`: clients that encode every `$` reach the same routes. */
function decodeDollarSegments(url: string): string {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  if (!/\/%24/i.test(path)) return url;
  return path.replace(/\/%24/gi, '/$') + (query === -1 ? '' : url.slice(query));
}
