import { type Context, context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { tracer } from '../observability/tracer.js';

/**
 * Runs one statement in a client span, child of the request's span: named by the statement's name
 * (`add_result`) or else its first keyword (`SELECT`, `BEGIN`), with OpenTelemetry's stable database
 * attributes. Never the text's values, the parameters or the error's message (PostgreSQL quotes the
 * offending value in it): the SQLSTATE is the error. Outside a traced request (tracing off, background
 * sweeps, probes) the statement just runs.
 */
export function inStatementSpan<T>(name: string | undefined, text: string, run: () => Promise<T>): Promise<T> {
  const parent = context.active();
  // Not async itself: untraced, the statement costs no extra promise.
  return trace.getSpan(parent) === undefined ? run() : traced(parent, name, text, run);
}

async function traced<T>(parent: Context, name: string | undefined, text: string, run: () => Promise<T>): Promise<T> {
  const operation = /^\s*([a-z]+)/i.exec(text)?.[1]?.toUpperCase() ?? 'QUERY';
  const span = tracer.startSpan(
    name ?? operation,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': 'postgresql',
        'db.operation.name': operation,
        ...(name === undefined ? {} : { 'db.query.summary': name }),
      },
    },
    parent,
  );
  try {
    return await run();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const sqlstate = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
    span.setAttributes({
      'error.type': typeof code === 'string' ? code : error instanceof Error ? error.name : 'Error',
      ...(sqlstate ? { 'db.response.status_code': sqlstate } : {}),
    });
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
