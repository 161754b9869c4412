import type { LoggerService } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import type { MetricsService } from './metrics.service.js';

/**
 * One line per request, written when the response is sent: correlation ids, tenant, route template,
 * status and duration. Headers and bodies are never logged, so neither `Authorization` nor
 * `contentData` can reach the logs. The same hook feeds the duration histogram.
 */
export function installRequestLogging(fastify: FastifyInstance, logger: LoggerService, metrics: MetricsService, json: boolean) {
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const durationMs = Math.round(reply.elapsedTime * 100) / 100;
    metrics.requestDuration.observe({ method: request.method, route, status: String(status) }, durationMs / 1000);
    const entry = {
      msg: 'request',
      requestId: request.id,
      clientRequestId: request.clientRequestId,
      tenantId: request.caller?.tenantId,
      method: request.method,
      route,
      status,
      durationMs,
    };
    if (json) logger.log(entry);
    else logger.log(`${entry.method} ${route} ${status} ${durationMs} ms request-id=${entry.requestId}${entry.tenantId ? ` tenant=${entry.tenantId}` : ''}`);
    done();
  });
}
