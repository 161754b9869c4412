import { type Context, ROOT_CONTEXT, type Span, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { tracer } from '../../observability/tracer.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The stored W3C traceparent as a remote parent; the root context without one (a trace of its own). */
export function parentContext(traceparent: string | null): Context {
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!match) return ROOT_CONTEXT;
  const [, traceId, spanId, flags] = match;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  });
}

export interface DeliverySpanAttributes {
  channel: 'change' | 'lifecycle';
  subscriptionId: string;
  tenantId: string;
  count: number;
  attempt: number;
  /** Host and port only: the URL's query can hold the receiver's secrets, its path too. */
  url: URL | undefined;
}

/**
 * A client span per POST, child of the trace of the change that recorded the batch's first row (a
 * no-op while tracing is off). Never the URL's path or query, the body, the clientState or a token.
 */
export function startDeliverySpan(traceparent: string | null, a: DeliverySpanAttributes): Span {
  return tracer.startSpan(
    'notification delivery',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': 'POST',
        ...(a.url
          ? {
              'server.address': a.url.hostname,
              'server.port': Number(a.url.port) || (a.url.protocol === 'https:' ? 443 : 80),
              'url.scheme': a.url.protocol.replace(':', ''),
            }
          : {}),
        'notification.channel': a.channel,
        'notification.count': a.count,
        'notification.attempt': a.attempt,
        'graph.subscription_id': a.subscriptionId,
        'graph.tenant_id': a.tenantId,
      },
    },
    parentContext(traceparent),
  );
}
