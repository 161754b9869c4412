import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { sendRaw } from './raw-client.js';

export interface Scrape {
  /**
   * prom-client's nodejs_eventloop_lag_max_seconds, in ms: the largest gap between two ticks of a
   * 10 ms `monitorEventLoopDelay` timer since the previous scrape, which resets the histogram on each
   * collect. A stall of d ms reads d to d + 10; an idle loop about 10.
   */
  eventLoopMaxMs: number;
  /** process_resident_memory_bytes: VmRSS of /proc/self/status at the scrape. */
  rssBytes: number;
}

/** Scrapes GET /metrics. The first scrape of a test resets the event-loop histogram; the next reads it. */
export async function scrape(port: number): Promise<Scrape> {
  const answer = await sendRaw(port, { target: '/metrics', timeoutMs: 5000 });
  if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status || answer.networkError}`);
  const gauge = (name: string) => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(answer.text);
    if (!match) throw new Error(`GET /metrics has no ${name}`);
    return Number(match[1]);
  };
  return {
    eventLoopMaxMs: gauge('nodejs_eventloop_lag_max_seconds') * 1000,
    rssBytes: gauge('process_resident_memory_bytes'),
  };
}

/** VmRSS and VmHWM (the peak) of a process, read from outside it: no request, no effect on it. */
export function residentSet(pid: number): { rssBytes: number; peakBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rssBytes: kb('VmRSS'), peakBytes: kb('VmHWM') };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface ProbeResult {
  latenciesMs: number[];
  failures: { ms: number; error: string }[];
  maxMs: number;
}

/**
 * GET /health/live in a loop from a worker thread, its own event loop: what the test thread is busy
 * with (building or writing an 8 MB body) does not show up as the service's latency. One probe at a
 * time, `intervalMs` apart, at most `maxProbes` and `maxMs` in all.
 */
const PROBE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { port, intervalMs, maxProbes, maxMs, timeoutMs } = workerData;
const started = performance.now();
const latencies = [];
const failures = [];
let stopping = false;
parentPort.on('message', () => { stopping = true; });
const probe = () => new Promise((resolve) => {
  const at = performance.now();
  const request = http.get({ host: '127.0.0.1', port, path: '/health/live', agent: false, timeout: timeoutMs }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode === 200 ? { ms: performance.now() - at } : { ms: performance.now() - at, error: 'status ' + res.statusCode }));
  });
  request.on('timeout', () => request.destroy(new Error('timeout')));
  request.on('error', (error) => resolve({ ms: performance.now() - at, error: error.message }));
});
(async () => {
  while (!stopping && latencies.length + failures.length < maxProbes && performance.now() - started < maxMs) {
    const result = await probe();
    if (result.error) failures.push(result); else latencies.push(result.ms);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  parentPort.postMessage({ latencies, failures });
})();
`;

export function startHealthProbe(
  port: number,
  options: { intervalMs?: number; maxProbes?: number; maxMs?: number; timeoutMs?: number } = {},
): { stop(): Promise<ProbeResult> } {
  const worker = new Worker(PROBE_WORKER, {
    eval: true,
    workerData: {
      port,
      intervalMs: options.intervalMs ?? 20,
      maxProbes: options.maxProbes ?? 5000,
      maxMs: options.maxMs ?? 120_000,
      timeoutMs: options.timeoutMs ?? 5000,
    },
  });
  const result = new Promise<ProbeResult>((resolve, reject) => {
    worker.once('message', (message: { latencies: number[]; failures: { ms: number; error: string }[] }) => {
      resolve({
        latenciesMs: message.latencies,
        failures: message.failures,
        maxMs: Math.max(0, ...message.latencies, ...message.failures.map((f) => f.ms)),
      });
    });
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      try {
        return await result;
      } finally {
        await worker.terminate();
      }
    },
  };
}
