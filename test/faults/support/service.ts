import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAIN } from './dist.js';
import { freePort } from './ports.js';

export const AUTH_SECRET = 'fault-tests-hs256-secret-0123456789-abcdefgh';
const SKIPTOKEN_SECRET = 'fault-tests-skiptoken-secret-0123456789-abcd';
const ARTIFACTS = resolve('test-artifacts/faults');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** performance.now() when the process exited. */
  at: number;
}

/** The built service (`node dist/main.js`) as its own process, as production runs it. */
export interface RunningService {
  name: string;
  port: number;
  baseUrl: string;
  pid: number;
  /** Resolves when the process exits, for whatever reason. */
  exit: Promise<Exit>;
  readonly exited: Exit | undefined;
  /** Polls GET `path` until it answers `status`; resolves with the ms waited. */
  waitFor(path: string, status?: number, timeoutMs?: number): Promise<number>;
  /**
   * Waits until its output holds a line matching `pattern`. Production buffers its lines (flushed once
   * ready, every second, after a warning): what it logged may arrive after a probe's answer.
   */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL if it has not exited after `timeoutMs`. Safe to call twice. */
  stop(timeoutMs?: number): Promise<Exit>;
  /** The last lines it wrote (stdout and stderr), for failure messages; all of it is in `logFile`. */
  tail(lines?: number): string;
  /** The last error and warning lines it wrote (unexpected errors are logged with their stack). */
  problems(lines?: number): string;
  logFile: string;
}

/**
 * Spawns the service with production settings on a free loopback port, or on `env.PORT` (an instance
 * restarted where a load balancer expects it). `env` adds to (or, with `undefined`, removes from) the
 * defaults, e.g. `{ DATABASE_URL: undefined }` for the embedded server.
 */
export async function startService(name: string, env: Record<string, string | undefined>): Promise<RunningService> {
  const port = env.PORT === undefined ? await freePort() : Number(env.PORT);
  const merged: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    AUTH_HS256_SECRET: AUTH_SECRET,
    SKIPTOKEN_SECRET,
    DOCS_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    ...env,
  };
  const childEnv = Object.fromEntries(
    Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  mkdirSync(ARTIFACTS, { recursive: true });
  const logFile = join(ARTIFACTS, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'w' });
  const child: ChildProcess = spawn(process.execPath, [MAIN], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const recent: string[] = [];
  const problems: string[] = [];
  const keep = (chunk: Buffer) => {
    log.write(chunk);
    const lines = chunk.toString('utf8').split('\n').filter(Boolean);
    recent.push(...lines);
    problems.push(...lines.filter((line) => !line.startsWith('{') || /"level":"(error|warn|fatal)"/.test(line)));
    if (recent.length > 400) recent.splice(0, recent.length - 400);
    if (problems.length > 100) problems.splice(0, problems.length - 100);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: Exit | undefined;
  const exit = new Promise<Exit>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal, at: performance.now() };
      log.end();
      resolveExit(exited);
    });
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const service: RunningService = {
    name,
    port,
    baseUrl,
    pid: child.pid!,
    exit,
    get exited() {
      return exited;
    },
    logFile,
    async waitFor(path, status = 200, timeoutMs = 60_000) {
      const started = performance.now();
      while (performance.now() - started < timeoutMs) {
        if (exited)
          throw new Error(`${name} exited (${JSON.stringify(exited)}) while waiting for ${path}:\n${service.tail()}`);
        const res = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        await res?.body?.cancel();
        if (res?.status === status) return performance.now() - started;
        await sleep(25);
      }
      throw new Error(`${name}: GET ${path} did not answer ${status} within ${timeoutMs} ms:\n${service.tail()}`);
    },
    async waitForLine(pattern, timeoutMs = 5000) {
      const started = performance.now();
      while (!recent.some((line) => pattern.test(line))) {
        if (performance.now() - started > timeoutMs)
          throw new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms:\n${service.tail()}`);
        await sleep(20);
      }
    },
    kill(signal) {
      if (!exited) child.kill(signal);
    },
    async stop(timeoutMs = 15_000) {
      if (exited) return exited;
      child.kill('SIGTERM');
      const done = await Promise.race([exit, sleep(timeoutMs).then(() => undefined)]);
      if (done) return done;
      child.kill('SIGKILL');
      return exit;
    },
    tail(lines = 40) {
      return recent.slice(-lines).join('\n');
    },
    problems(lines = 10) {
      return problems.slice(-lines).join('\n') || '(no errors or warnings logged)';
    },
  };
  return service;
}
