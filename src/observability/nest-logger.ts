import type { LoggerService } from '@nestjs/common';
import type { Level } from 'pino';
import type { Logger } from './logger.js';

/**
 * Nest's LoggerService over the process's pino logger, so that Nest's own messages (bootstrap, routes,
 * uncaught errors) and every `new Logger(context)` of the app write the same lines as the request log.
 * Nest passes the context as the last argument, and an error's stack before it; a message may be an
 * object of fields (`{ err, requestId }`) followed by the text.
 */
export class NestPinoLogger implements LoggerService {
  constructor(
    readonly pino: Logger,
    private readonly context = 'ThreatAssessmentService',
  ) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const strings = params.filter((p): p is string => typeof p === 'string');
    const context = params.length > 0 && typeof params.at(-1) === 'string' ? strings.pop() : this.context;
    if (message instanceof Error) {
      this.pino[level]({ context, err: message }, strings[0] ?? message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.pino[level]({ context, ...message }, strings[0]);
    } else {
      // Nest's `error(message, stack, context)`.
      const stack = level === 'error' || level === 'fatal' ? strings[0] : undefined;
      this.pino[level]({ context, ...(stack ? { stack } : {}) }, String(message));
    }
  }
}
