import { styleText } from 'node:util';
import type { DestinationStream } from 'pino';

type Style = Parameters<typeof styleText>[0];
const LEVEL_STYLES: Record<string, Style> = {
  trace: 'gray',
  debug: 'magenta',
  info: 'green',
  warn: 'yellow',
  error: 'red',
  fatal: ['red', 'bold'],
};

/**
 * Development's log lines, readable: `12:30:01.042 INFO  [HTTP] POST /v1.0/… 201 3.1 ms requestId=…`.
 * Formatted in the process and written to stdout: no transport worker and no dev-only package, so
 * `npm start` works wherever the dependencies are installed. Colours only on a terminal.
 */
export function readableLog(out: NodeJS.WriteStream = process.stdout): DestinationStream {
  // A terminal that takes colours (NO_COLOR, FORCE_COLOR and TERM respected), never a pipe or a file.
  const colours = out.hasColors?.() ?? false;
  return { write: (line: string) => out.write(formatLine(line, colours)) };
}

export function formatLine(line: string, colours = false): string {
  const { level, timestamp, context, message, err, stack, ...fields } = JSON.parse(line) as Entry;
  // Every line is this process's.
  delete fields.pid;
  const paint = (style: Style, text: string) => (colours ? styleText(style, text, { validateStream: false }) : text);
  const time = new Date(timestamp).toISOString().slice(11, 23);
  const label = paint(LEVEL_STYLES[level] ?? 'reset', level.toUpperCase().padEnd(5));
  const text = message === 'request' && typeof fields.route === 'string' ? requestSummary(fields) : (message ?? '');
  const rest = Object.entries(fields).map(
    ([key, value]) => ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
  );
  const prefix = context ? paint('cyan', `[${context}] `) : '';
  const trace = err?.stack ?? stack;
  return `${time} ${label} ${prefix}${text}${rest.join('')}${trace ? `\n${trace}` : ''}\n`;
}

interface Entry {
  level: string;
  timestamp: number;
  pid?: number;
  context?: string;
  message?: string;
  err?: { stack?: string };
  stack?: string;
  [field: string]: unknown;
}

/**
 * A request line's method, route, status and duration lead, as an access log reads; they leave the
 * fields, as does a client-request-id that only repeats the request-id.
 */
function requestSummary(fields: Record<string, unknown>): string {
  const { method, route, status, durationMs } = fields;
  for (const key of ['method', 'route', 'status', 'durationMs']) delete fields[key];
  if (fields.clientRequestId === fields.requestId) delete fields.clientRequestId;
  return `${String(method)} ${String(route)} ${String(status)} ${String(durationMs)} ms`;
}
