// Child processes of the benchmark (the service, the reference), their memory, and a small HTTP client.
import { Buffer } from 'node:buffer';
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** @typedef {{ code: number | null, signal: NodeJS.Signals | null }} Exit */
/** @typedef {ReturnType<typeof startProcess>} Target */

/**
 * Spawns `[wrapper] node [nodeArgs] script` with `env`, its output to `logFile`. `wrapper` is a program
 * that runs node as its own process (valgrind), so that `pid` is still node's. `ready()` resolves when GET
 * `probe` answers 200; `stop()` sends SIGTERM (the service drains and exits, writing a CPU profile if asked).
 * @param {{ name: string, script: string, nodeArgs?: string[], wrapper?: string[], env: NodeJS.ProcessEnv, port: number, logFile: string, probe?: string }} options
 */
export function startProcess({
  name,
  script,
  nodeArgs = [],
  wrapper = [],
  env,
  port,
  logFile,
  probe = '/health/live',
}) {
  const started = performance.now();
  const startedWall = Date.now();
  const [command, ...args] = [...wrapper, process.execPath, ...nodeArgs, script];
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  /** @type {Exit | null} */
  let exited = null;
  /** @type {Promise<Exit | null> | undefined} */
  let stopping;
  /** @type {Promise<Exit>} */
  const exit = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  if (child.pid === undefined) throw new Error(`${name} could not be spawned`);
  return {
    name,
    pid: child.pid,
    env,
    port,
    started,
    startedWall,
    get exited() {
      return exited;
    },
    async ready(timeoutMs = 60_000) {
      const deadline = performance.now() + timeoutMs;
      while (performance.now() < deadline) {
        if (exited) throw new Error(`${name} exited (${JSON.stringify(exited)}) before it was ready; see ${logFile}`);
        const res = await request({ port, path: probe }).catch(() => null);
        if (res?.status === 200) return performance.now() - started;
        await sleep(25);
      }
      throw new Error(`${name} was not ready within ${timeoutMs} ms; see ${logFile}`);
    },
    async stop(timeoutMs = 20_000) {
      if (stopping) return stopping;
      stopping = stopChild(timeoutMs);
      return stopping;
    },
  };

  /** @param {number} timeoutMs */
  async function stopChild(timeoutMs) {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = sleep(timeoutMs).then(() => 'timeout');
      if ((await Promise.race([exit, timer])) === 'timeout') {
        child.kill('SIGKILL');
        await exit;
      }
    }
    // The child's output is drained before the log is closed, so that a reader sees every line.
    await new Promise(
      /** @param {(value?: unknown) => void} resolve */ (resolve) =>
        child.stdout.readableEnded ? resolve() : child.stdout.once('end', resolve),
    );
    await new Promise((resolve) => log.end(resolve));
    return exited;
  }
}

/**
 * Resident set size of a process in MB, from /proc (Linux); undefined elsewhere or once it has exited.
 * @param {number} pid
 */
export function rssMb(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU time (user + system) a process has used, in µs, from /proc (Linux); undefined elsewhere. Time the
 * hypervisor takes from the VM is steal, not the process's, so this stays meaningful on a noisy host.
 * @param {number} pid
 * @returns {number | undefined}
 */
export function cpuMicros(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** @typedef {{ name: string, phase: string, at: number, mb: number }} MemorySample */
/** @typedef {ReturnType<typeof memorySampler>} MemorySampler */

/**
 * Samples the RSS of `pids` every `intervalMs`, each sample tagged with the phase running at the time.
 * @param {Record<string, number>} pids
 */
export function memorySampler(pids, intervalMs = 250) {
  /** @type {MemorySample[]} */
  const samples = [];
  let phase = 'setup';
  const timer = setInterval(() => {
    const at = performance.now();
    for (const [name, pid] of Object.entries(pids)) {
      const mb = rssMb(pid);
      if (mb !== undefined) samples.push({ name, phase, at, mb });
    }
  }, intervalMs);
  timer.unref();
  return {
    samples,
    /** @param {string} next */
    setPhase(next) {
      phase = next;
    },
    stop() {
      clearInterval(timer);
    },
    /**
     * @param {string} name
     * @param {(phase: string) => boolean} [phaseFilter]
     */
    peak(name, phaseFilter) {
      let peak = 0;
      for (const s of samples) {
        if (s.name === name && (!phaseFilter || phaseFilter(s.phase))) peak = Math.max(peak, s.mb);
      }
      return peak || undefined;
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * One HTTP request on loopback; resolves with status, headers, raw text and (when JSON) the parsed body.
 * @param {{ port: number, method?: string, path: string, headers?: Record<string, string>, body?: unknown }} options
 * @returns {Promise<{ status: number, headers: import('node:http').IncomingHttpHeaders, text: string, json: any }>}
 */
export function request({ port, method = 'GET', path, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: {
          ...(payload !== undefined
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
          ...headers,
        },
      },
      (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          if (/json/.test(res.headers['content-type'] ?? '')) {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/**
 * Latency of `count` sequential requests (one connection, nothing else in flight): what one call costs.
 * @param {number} count
 * @param {(i: number) => Parameters<typeof request>[0]} next
 */
export async function sequentialLatency(count, next) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const options = next(i);
    const t0 = performance.now();
    const res = await request(options);
    times.push(performance.now() - t0);
    if (res.status >= 300)
      throw new Error(`${options.method ?? 'GET'} ${options.path} answered ${res.status}: ${res.text.slice(0, 300)}`);
  }
  return summarize(times);
}

/** @param {number[]} values */
export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  /** @param {number} q */
  const at = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);
  return { n: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? NaN };
}

/** @param {number[]} values */
export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
