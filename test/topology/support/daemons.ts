import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SystemUser } from './install.js';

/** A long-running process of the topology (etcd, Patroni, HAProxy), started as the unprivileged user. */
export interface Daemon {
  name: string;
  pid: number;
  logFile: string;
  readonly exited: boolean;
  /** Resolves once the process has exited. */
  exit: Promise<void>;
  /** SIGTERM, then SIGKILL after `timeoutMs`. Safe to call after it exited. */
  stop(timeoutMs?: number): Promise<void>;
  /** The last lines of its log, for failure messages. */
  tail(lines?: number): string;
}

/** Every daemon and folder this process made, so that an exit hook can end them whatever happened. */
const daemons = new Set<Daemon>();
const postmasterPidFiles = new Set<string>();
const folders = new Set<string>();
/** Other processes to end with them (the service under test), by pid. */
const others = new Set<number>();
let hooked = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The postmaster's pid from `postmaster.pid`, only while that pid is a running postgres (pids are reused). */
export function postmasterPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
  return cmdline.includes('postgres') ? pid : undefined;
}

/** Last resort, synchronous (exit hooks cannot wait): SIGKILL to every daemon and postmaster by pid, folders removed. */
export function killEverything(): void {
  for (const daemon of daemons) if (!daemon.exited) process.kill(daemon.pid, 'SIGKILL');
  for (const pidFile of postmasterPidFiles) {
    const pid = postmasterPid(pidFile);
    if (pid) process.kill(pid, 'SIGKILL');
  }
  for (const pid of others) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  others.clear();
  daemons.clear();
  postmasterPidFiles.clear();
  folders.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', killEverything);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killEverything();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** Remembers a folder (removed by the exit hook) and a postmaster.pid to check (its server killed by it). */
export function trackFolder(folder: string): void {
  hookExit();
  folders.add(folder);
}

export function trackPostmaster(pidFile: string): void {
  hookExit();
  postmasterPidFiles.add(pidFile);
}

/** A process the exit hook kills too, if it is still running then. */
export function trackProcess(pid: number): void {
  hookExit();
  others.add(pid);
}

export function untrackFolder(folder: string): void {
  folders.delete(folder);
}

export function spawnDaemon(
  user: SystemUser,
  name: string,
  file: string,
  args: string[],
  options: { logFile: string; cwd: string; env?: Record<string, string> },
): Daemon {
  hookExit();
  const fd = openSync(options.logFile, 'a');
  // uid/gid: the process itself runs as the user (no runuser in between), so its pid is the one to kill.
  const child: ChildProcess = spawn(file, args, {
    cwd: options.cwd,
    uid: user.uid,
    gid: user.gid,
    env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', HOME: user.home, LANG: 'C.UTF-8', ...options.env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      daemons.delete(daemon);
      resolve();
    });
  });
  child.once('error', () => undefined);
  const daemon: Daemon = {
    name,
    pid: child.pid!,
    logFile: options.logFile,
    get exited() {
      return exited;
    },
    exit,
    async stop(timeoutMs = 15_000) {
      if (exited) return;
      child.kill('SIGTERM');
      const started = performance.now();
      while (!exited && performance.now() - started < timeoutMs) await sleep(50);
      if (!exited) child.kill('SIGKILL');
      await exit;
    },
    tail(lines = 30) {
      return existsSync(options.logFile)
        ? readFileSync(options.logFile, 'utf8').split('\n').slice(-lines).join('\n')
        : '(no log)';
    },
  };
  daemons.add(daemon);
  return daemon;
}

/** Polls `probe` until it returns a value (not undefined), at most `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 100,
  context: () => string = () => '',
): Promise<T> {
  const started = performance.now();
  let lastError: unknown;
  while (performance.now() - started < timeoutMs) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`${what}: not within ${timeoutMs} ms${reason}\n${context()}`);
}
