import type { FastifyInstance } from 'fastify';
import type { Logger } from './logger.js';
import type { MetricsService } from './metrics.service.js';

export interface RequestLogEntry {
  requestId: string;
  clientRequestId: string;
  tenantId?: string;
  method: string;
  route: string;
  status: number;
  durationMs: number;
  /** The request's server span, when tracing is on. */
  traceId?: string;
  spanId?: string;
}

/**
 * One line per request (`message: "request"`), written when the response is sent: correlation ids,
 * tenant, route template, status, duration and trace. Headers and bodies are never logged, so neither
 * `Authorization` nor `contentData` can reach the logs. Probes (`quiet` routes, polled every few seconds
 * by every orchestrator) are logged at debug, everything else at info. The same hook feeds the duration
 * histogram.
 */
export function installRequestLogging(
  fastify: FastifyInstance,
  metrics: MetricsService,
  log: Logger,
  quiet: ReadonlySet<string>,
) {
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const durationMs = Math.round(reply.elapsedTime * 100) / 100;
    metrics.requestDuration.observe({ method: request.method, route, status: String(status) }, durationMs / 1000);
    const entry: RequestLogEntry = {
      requestId: request.id,
      clientRequestId: request.clientRequestId,
      tenantId: request.caller?.tenantId,
      method: request.method,
      route,
      status,
      durationMs,
    };
    const span = request.serverSpan?.spanContext();
    if (span) {
      entry.traceId = span.traceId;
      entry.spanId = span.spanId;
    }
    if (quiet.has(route)) log.debug(entry, 'request');
    else log.info(entry, 'request');
    done();
  });
}
