import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { NestPinoLogger } from './nest-logger.js';

function capture(logLevel: 'info' | 'trace' = 'trace') {
  const lines: string[] = [];
  const pino = createLogger({ production: true, logLevel, tracing: undefined }, { write: (line) => lines.push(line) });
  const entries = () =>
    lines.map((line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      delete entry.timestamp;
      delete entry.pid;
      return entry;
    });
  return { logger: new NestPinoLogger(pino), entries };
}

describe('NestPinoLogger', () => {
  afterEach(() => Logger.overrideLogger(false));

  it("maps Nest's levels onto pino's, with the default context for a bare call", () => {
    const { logger, entries } = capture();
    logger.log('Ready in 900 ms');
    logger.verbose('verbose');
    logger.fatal('fatal');
    expect(entries()).toEqual([
      { level: 'info', context: 'ThreatAssessmentService', message: 'Ready in 900 ms' },
      { level: 'trace', context: 'ThreatAssessmentService', message: 'verbose' },
      { level: 'fatal', context: 'ThreatAssessmentService', message: 'fatal' },
    ]);
  });

  it("takes what a `new Logger(context)` sends: the context last, an error's stack before it, fields first", () => {
    const { logger, entries } = capture();
    Logger.overrideLogger(logger);
    new Logger('Database').log('Schema is up to date');
    new Logger('Database').warn('Database not reachable');
    new Logger('ExceptionHandler').error('boom', 'Error: boom\n    at x (y.js:1:1)');
    new Logger('GraphExceptionFilter').error({ err: new Error('kaput'), requestId: 'r-1' }, 'Unexpected error');
    expect(entries()).toEqual([
      { level: 'info', context: 'Database', message: 'Schema is up to date' },
      { level: 'warn', context: 'Database', message: 'Database not reachable' },
      { level: 'error', context: 'ExceptionHandler', stack: 'Error: boom\n    at x (y.js:1:1)', message: 'boom' },
      {
        level: 'error',
        context: 'GraphExceptionFilter',
        err: { type: 'Error', message: 'kaput', stack: expect.stringContaining('kaput') },
        requestId: 'r-1',
        message: 'Unexpected error',
      },
    ]);
  });

  it('writes an Error given as the message with its stack, and nothing below the level', () => {
    const { logger, entries } = capture('info');
    logger.debug('not at info', 'Ctx');
    logger.error(new Error('lost'), 'Ctx');
    expect(entries()).toEqual([
      {
        level: 'error',
        context: 'Ctx',
        err: { type: 'Error', message: 'lost', stack: expect.stringContaining('lost') },
        message: 'lost',
      },
    ]);
  });
});
