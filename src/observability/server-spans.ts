import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { tracer } from './tracer.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's server span, when tracing is on (not for probes). */
    serverSpan?: Span;
  }
}

/**
 * A server span per request, named by its route template (`POST /v1.0/…/:id/results`), child of the
 * caller's `traceparent`/`tracestate` when it sent them. Installed only when tracing is on, before every
 * other hook, so that requests refused by those hooks have their span too; `untraced` routes (probes)
 * have none. Its attributes (OpenTelemetry's stable HTTP names, written out: the conventions package
 * costs more at start than it saves) are the method, route, path, status and the correlation ids: never a
 * header's value, the query (a `$filter` holds values) or a body.
 */
export function installServerSpans(fastify: FastifyInstance, untraced: ReadonlySet<string>): void {
  fastify.decorateRequest('serverSpan', undefined);
  fastify.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined && untraced.has(route)) {
      done();
      return;
    }
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const path = request.originalUrl.split('?', 1)[0];
    request.serverSpan = tracer.startSpan(
      route === undefined ? request.method : `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          ...(route === undefined ? {} : { 'http.route': route }),
          'url.path': path,
          'url.scheme': request.protocol,
          'network.protocol.version': request.raw.httpVersion,
          'graph.request_id': request.id,
        },
      },
      parent,
    );
    done();
  });
  // The handler (Nest's guards, pipes, services and their statements) runs inside the span. Entered here,
  // after the body is read: the body stream's callbacks run outside any request's context.
  fastify.addHook('preHandler', (request, _reply, done) => {
    if (request.serverSpan) context.with(trace.setSpan(ROOT_CONTEXT, request.serverSpan), done);
    else done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    end(request, reply.statusCode);
    done();
  });
  // A client that goes away before the answer: no onResponse, so the span ends here.
  fastify.addHook('onRequestAbort', (request, done) => {
    end(request, undefined);
    done();
  });
}

function end(request: FastifyRequest, status: number | undefined): void {
  const span = request.serverSpan;
  // Ended already (an aborted request answered anyway), or not sampled.
  if (!span?.isRecording()) return;
  span.setAttributes({
    'graph.client_request_id': request.clientRequestId,
    ...(request.caller ? { 'graph.tenant_id': request.caller.tenantId } : {}),
  });
  if (status === undefined) {
    span.setAttribute('error.type', 'aborted');
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'The client closed the connection before the answer' });
  } else {
    span.setAttribute('http.response.status_code', status);
    // A 4xx is the client's error, not the server's (OpenTelemetry's HTTP conventions).
    if (status >= 500) {
      span.setAttribute('error.type', String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}
