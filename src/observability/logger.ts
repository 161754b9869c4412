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
 * JSON lines through {@link bufferedStdout}. Elsewhere: readable lines (see {@link readableLog}). A
 * destination that buffers (has `flush`) is flushed after every warning or worse, so that a line
 * that may precede a crash is not held back.
 */
export function createLogger(
  settings: Pick<AppConfig, 'production' | 'logLevel' | 'tracing'>,
  destination: DestinationStream | Buffered = settings.production ? bufferedStdout() : readableLog(),
): Logger {
  const buffered = 'flush' in destination ? destination : undefined;
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
      ...(buffered
        ? {
            hooks: {
              logMethod(args, method, level) {
                method.apply(this, args);
                if (level >= URGENT_LEVEL) flushNow(buffered);
              },
            },
          }
        : {}),
    },
    destination,
  );
}

/** pino's `warn`: from it up, a line is written at once. */
const URGENT_LEVEL = 40;
/** Request lines gather up to this many bytes before a write. */
export const BUFFER_BYTES = 8 * 1024;
/** The longest a line waits in the buffer of a quiet process. */
export const FLUSH_INTERVAL_MS = 1000;

/**
 * stdout (or `fd`), asynchronous and buffered: a system call per 8 KiB of lines rather than one per
 * request line whenever the previous write is done (at a fixed 1,500 add-results/s, medians of six 8 s
 * runs: 253 against 283 µs of CPU per request). Written when the buffer fills, every second, after a
 * warning or worse, and at exit (pino flushes its destinations then). A SIGKILL loses at most the last
 * second of info lines.
 */
export function bufferedStdout(fd = 1, flushIntervalMs = FLUSH_INTERVAL_MS): Buffered {
  return pino.destination({ fd, sync: false, minLength: BUFFER_BYTES, periodicFlush: flushIntervalMs });
}

/** A destination that holds lines back until `flush` (a SonicBoom with a `minLength`). */
export interface Buffered extends DestinationStream {
  flush(): void;
  /** Set once it is closed: flushing then throws. */
  destroyed?: boolean;
}

function flushNow(out: Buffered): void {
  if (!out.destroyed) out.flush();
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
