import type { LoggerService } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import sonicBoom, { type SonicBoom as SonicBoomType } from 'sonic-boom';

// A CommonJS package whose module object is the class; its typings describe it as a named export.
const SonicBoom = sonicBoom as unknown as typeof SonicBoomType;
import type { MetricsService } from './metrics.service.js';

export interface RequestLogEntry {
  msg: 'request';
  requestId: string;
  clientRequestId: string;
  tenantId?: string;
  method: string;
  route: string;
  status: number;
  durationMs: number;
}

/**
 * One line per request, written when the response is sent: correlation ids, tenant, route template,
 * status and duration. Headers and bodies are never logged, so neither `Authorization` nor
 * `contentData` can reach the logs. The same hook feeds the duration histogram.
 */
export function installRequestLogging(
  fastify: FastifyInstance,
  metrics: MetricsService,
  log: (entry: RequestLogEntry) => void,
) {
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const durationMs = Math.round(reply.elapsedTime * 100) / 100;
    metrics.requestDuration.observe({ method: request.method, route, status: String(status) }, durationMs / 1000);
    log({
      msg: 'request',
      requestId: request.id,
      clientRequestId: request.clientRequestId,
      tenantId: request.caller?.tenantId,
      method: request.method,
      route,
      status,
      durationMs,
    });
    done();
  });
}

/**
 * Production: JSON lines through an asynchronous, buffered stdout writer. The synchronous writes of
 * a console logger cost a system call per request on the hot path (profiled); the buffer is flushed
 * at exit.
 */
export function jsonRequestLog(): (entry: RequestLogEntry) => void {
  const out = new SonicBoom({ fd: 1, sync: false, minLength: 8 * 1024 });
  process.once('exit', () => out.flushSync());
  const flush = setInterval(() => out.flush(), 1000);
  flush.unref();
  return (entry) =>
    out.write(`${JSON.stringify({ level: 'log', timestamp: Date.now(), context: 'HTTP', ...entry })}\n`);
}

/** Development: a readable line through the application logger. */
export function textRequestLog(logger: LoggerService): (entry: RequestLogEntry) => void {
  return (e) => {
    logger.log(
      `${e.method} ${e.route} ${e.status} ${e.durationMs} ms request-id=${e.requestId}${e.tenantId ? ` tenant=${e.tenantId}` : ''}`,
    );
  };
}
