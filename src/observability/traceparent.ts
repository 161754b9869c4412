import { isSpanContextValid, trace } from '@opentelemetry/api';

/**
 * The W3C `traceparent` of the active span, for work that continues the request's trace later and
 * elsewhere (a notification's delivery); undefined when nothing is traced.
 */
export function currentTraceparent(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  if (!context || !isSpanContextValid(context)) return undefined;
  return `00-${context.traceId}-${context.spanId}-${context.traceFlags.toString(16).padStart(2, '0')}`;
}
