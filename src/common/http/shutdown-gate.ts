import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendGraphError } from '../errors/graph-error-body.js';

/**
 * Once the server starts closing, requests still arriving on open connections are answered 503
 * `serviceNotAvailable` with Retry-After and `Connection: close`, in Graph's envelope (Fastify's own
 * return503OnClosing answers outside it). Requests already in flight complete normally.
 */
export function createShutdownGate() {
  let closing = false;
  return {
    preClose(done: () => void): void {
      closing = true;
      done();
    },
    /** True when the request was answered here. */
    refuse(request: FastifyRequest, reply: FastifyReply): boolean {
      if (!closing) return false;
      sendGraphError(request, reply, {
        status: 503,
        code: 'serviceNotAvailable',
        message: 'The service is shutting down. Retry after the time given in Retry-After.',
        headers: { 'retry-after': '1', connection: 'close' },
      });
      return true;
    },
  };
}
