import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { AppConfig } from '../config/app-config.js';
import { readableLog } from './readable-log.js';

export type { Logger } from 'pino';

/**
 * Censored wherever a logged object carries them. Nothing logs headers or bodies; this keeps a later
 * `{ headers }`, `{ request }` or `{ body }` from carrying a token or file content into the logs.
 */
export const REDACTED_PATHS = [
  'authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
  'body',
  '*.body',
  'contentData',
  '*.contentData',
];

/**
 * The process's one logger: Nest's messages, the request lines and OpenTelemetry's warnings all go
 * through it, with the same fields (`level`, `timestamp`, `pid`, `context`, `message`). Production:
 * JSON lines through an asynchronous stdout writer: a synchronous write per line cost a system call per
 * request on the hot path (profiled), and lines written while one write is in flight go out together
 * with the next; pino flushes it at exit. Elsewhere: readable lines (see {@link readableLog}).
 */
export function createLogger(
  settings: Pick<AppConfig, 'production' | 'logLevel' | 'tracing'>,
  destination: DestinationStream = settings.production ? pino.destination({ fd: 1, sync: false }) : readableLog(),
): Logger {
  return pino(
    {
      level: settings.logLevel,
      messageKey: 'message',
      timestamp: () => `,"timestamp":${Date.now()}`,
      base: { pid: process.pid },
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: errorFields },
      redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
      // Only when tracing is on: with it off there is no span to name, and no call per line to find none.
      ...(settings.tracing ? { mixin: activeTrace } : {}),
    },
    destination,
  );
}

/**
 * The request lines' logger, without the redaction: their fields are fixed and built from no header and
 * no body, and redacting wildcard paths would cost more than writing the line (several µs a request).
 */
export function requestLogger(log: Logger): Logger {
  return log.child({ context: 'HTTP' }, { redact: [] });
}

/** The trace and span a line was written in; request lines carry their server span's instead. */
function activeTrace(): { traceId?: string; spanId?: string } {
  const span = trace.getSpan(context.active())?.spanContext();
  return span && isSpanContextValid(span) ? { traceId: span.traceId, spanId: span.spanId } : {};
}

/**
 * An error's type, message, stack and code (an SQLSTATE, a Node error code). Not its other properties:
 * a database error's `detail` or a query error's `parameters` hold the values of the statement.
 */
function errorFields(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    message: error.message,
    stack: error.stack,
    ...(typeof code === 'string' ? { code } : {}),
  };
}
