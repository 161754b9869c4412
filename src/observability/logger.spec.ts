import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BUFFER_BYTES, bufferedStdout, createLogger, FLUSH_INTERVAL_MS } from './logger.js';
import { formatLine } from './readable-log.js';

function capture(settings: Partial<Parameters<typeof createLogger>[0]> = {}) {
  const lines: string[] = [];
  const log = createLogger(
    { production: true, logLevel: 'trace', tracing: undefined, ...settings },
    { write: (line) => lines.push(line) },
  );
  return { log, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger', () => {
  afterEach(() => context.disable());

  it('writes level, timestamp, pid, context and message, as the JSON lines before pino did', () => {
    const { log, entries } = capture();
    log.child({ context: 'Database' }).info('Schema is up to date');
    expect(entries()).toEqual([
      {
        level: 'info',
        timestamp: expect.any(Number),
        pid: process.pid,
        context: 'Database',
        message: 'Schema is up to date',
      },
    ]);
  });

  it('keeps LOG_LEVEL: below it nothing is written, silent writes nothing', () => {
    const warn = capture({ logLevel: 'warn' });
    warn.log.info('no');
    warn.log.warn('yes');
    expect(warn.entries().map((e) => e.message)).toEqual(['yes']);
    const silent = capture({ logLevel: 'silent' });
    silent.log.fatal('no');
    expect(silent.lines).toEqual([]);
  });

  it('censors an Authorization header, a cookie, a body and contentData wherever a logged object holds them', () => {
    const { log, lines, entries } = capture();
    log.warn(
      {
        authorization: 'Bearer eyJtop.level.token',
        headers: { authorization: 'Bearer eyJheaders.token', cookie: 'session=cookie-secret' },
        request: { headers: { authorization: 'Bearer eyJnested.token' }, body: { contentData: 'U0VDUkVU' } },
        body: { url: 'https://secret.example' },
        contentData: 'RklMRS1DT05URU5U',
      },
      'something odd',
    );
    expect(lines.join('')).not.toMatch(/eyJ|cookie-secret|U0VDUkVU|secret\.example|RklMRS1DT05URU5U/);
    expect(entries()[0]).toMatchObject({
      authorization: '[Redacted]',
      headers: { authorization: '[Redacted]', cookie: '[Redacted]' },
      request: { headers: { authorization: '[Redacted]' }, body: '[Redacted]' },
      body: '[Redacted]',
      contentData: '[Redacted]',
    });
  });

  it("logs an error's type, message, stack and code, not the values a database error carries", () => {
    const { log, entries } = capture();
    const error = Object.assign(new Error('duplicate key value violates unique constraint'), {
      code: '23505',
      detail: 'Key (tenant_id, key)=(t, secret-idempotency-key) already exists.',
      parameters: ['secret-parameter'],
    });
    log.error({ err: error }, 'Unexpected error');
    const [entry] = entries();
    expect(entry.err).toEqual({
      type: 'Error',
      message: 'duplicate key value violates unique constraint',
      stack: expect.stringContaining('duplicate key value'),
      code: '23505',
    });
    expect(JSON.stringify(entry)).not.toMatch(/secret-/);
  });

  it('names the active trace and span on every line when tracing is on', () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const { log, entries } = capture({ tracing: { sampler: 'parentbased_always_on', samplerRatio: 1 } });
    const span = trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 });
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => log.info('inside'));
    log.info('outside');
    expect(entries()).toEqual([
      expect.objectContaining({ message: 'inside', traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }),
      expect.not.objectContaining({ traceId: expect.anything() }),
    ]);
  });
});

describe('bufferedStdout (production)', () => {
  /** The messages in the file so far. */
  const messages = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { message: string }).message);

  async function until(done: () => boolean, timeoutMs: number): Promise<void> {
    const started = performance.now();
    while (!done()) {
      if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  /** A buffered destination on a file of its own, and what was written to it; `run` logs through it. */
  async function withFile(
    flushIntervalMs: number | undefined,
    run: (log: ReturnType<typeof createLogger>, file: string) => Promise<void>,
  ) {
    const dir = mkdtempSync(join(tmpdir(), 'buffered-log-'));
    const file = join(dir, 'out.log');
    // end() closes the descriptor.
    const out = bufferedStdout(openSync(file, 'w'), flushIntervalMs) as ReturnType<typeof pino.destination>;
    try {
      await run(createLogger({ production: true, logLevel: 'info', tracing: undefined }, out), file);
    } finally {
      out.end();
      await new Promise((resolve) => out.once('close', resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  }

  // Bounds are generous (a loaded machine delays a write); with the periodic flush an hour away, what
  // arrives came from the warning or the full buffer.
  it('holds info lines back, and writes at once after a warning and when the buffer fills', async () => {
    await withFile(3_600_000, async (log, file) => {
      log.info('held');
      await sleep(100);
      expect(messages(file)).toEqual([]);

      log.child({ context: 'Database' }).warn('urgent');
      await until(() => messages(file).length === 2, 10_000);
      expect(messages(file)).toEqual(['held', 'urgent']);

      const filler = 'x'.repeat(200);
      const lines = Math.ceil(BUFFER_BYTES / filler.length) + 1;
      for (let i = 0; i < lines; i++) log.info(filler);
      await until(() => messages(file).length >= 2 + lines - 1, 10_000);
    });
  });

  it('writes the lines of a quiet process within the flush interval (every second by default)', async () => {
    expect(FLUSH_INTERVAL_MS).toBe(1000);
    // The default interval, as production runs it.
    await withFile(undefined, async (log, file) => {
      log.info('quiet');
      await until(() => messages(file).at(-1) === 'quiet', 10_000);
    });
  });
});

describe('formatLine (development)', () => {
  it('reads a request line as an access log, then its fields', () => {
    const line = JSON.stringify({
      level: 'info',
      timestamp: Date.UTC(2026, 0, 1, 12, 30, 1, 42),
      pid: 1,
      context: 'HTTP',
      requestId: 'r-1',
      clientRequestId: 'r-1',
      tenantId: 't-1',
      method: 'POST',
      route: '/v1.0/things/:id',
      status: 201,
      durationMs: 3.1,
      message: 'request',
    });
    expect(formatLine(line)).toBe(
      '12:30:01.042 INFO  [HTTP] POST /v1.0/things/:id 201 3.1 ms requestId=r-1 tenantId=t-1\n',
    );
  });

  it('prints an error with its stack on the lines below', () => {
    const line = JSON.stringify({
      level: 'error',
      timestamp: Date.UTC(2026, 0, 1),
      context: 'GraphExceptionFilter',
      requestId: 'r-2',
      err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x (y.js:1:1)' },
      message: 'Unexpected error',
    });
    expect(formatLine(line)).toBe(
      '00:00:00.000 ERROR [GraphExceptionFilter] Unexpected error requestId=r-2\nError: boom\n    at x (y.js:1:1)\n',
    );
  });
});
