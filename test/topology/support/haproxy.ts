import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePorts } from '../../faults/support/ports.js';
import { type Daemon, spawnDaemon, trackFolder, untrackFolder, waitUntil } from './daemons.js';
import type { SystemUser } from './install.js';

const HAPROXY_BIN = '/usr/sbin/haproxy';
const ARTIFACTS = resolve('test-artifacts/faults');

/**
 * Writes `config` into `dir` (the user's), has HAProxy check it (a mistake fails here, saying where,
 * instead of as a proxy that never answers), and starts it in the foreground as the user.
 */
export function spawnHaproxy(user: SystemUser, dir: string, config: string): Daemon {
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  chownSync(file, user.uid, user.gid);
  try {
    execFileSync(HAPROXY_BIN, ['-c', '-q', '-f', file], { encoding: 'utf8', stdio: 'pipe', timeout: 10_000 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`haproxy refused its configuration:\n${stdout}${stderr}\n${config}`, { cause: error });
  }
  return spawnDaemon(user, 'haproxy', HAPROXY_BIN, ['-db', '-f', file], {
    logFile: join(dir, 'haproxy.log'),
    cwd: dir,
  });
}

export interface HttpServer {
  name: string;
  port: number;
}

/** What HAProxy's stats report for the backend as a whole, since it started. */
export interface BackendCounters {
  /** Requests sent again to a server (`wretr`), and those moved to another server (`wredis`). */
  retries: number;
  redispatches: number;
  /** Failed connections to a server (`econ`) and failed responses from one (`eresp`). */
  connectionErrors: number;
  responseErrors: number;
}

export interface HttpLoadBalancer {
  port: number;
  baseUrl: string;
  config: string;
  daemon: Daemon;
  /** Each server's state in HAProxy's stats: `UP`, `DOWN`, or `UP 1/2` / `DOWN 1/2` while checks change it. */
  states(): Promise<Record<string, string>>;
  counters(): Promise<BackendCounters>;
  /** Resolves with the ms waited once HAProxy reports `server` in `state`. */
  waitState(server: string, state: 'UP' | 'DOWN', timeoutMs: number): Promise<number>;
  /** Stops HAProxy and removes its folder. */
  destroy(): Promise<void>;
}

/** The Graph envelope HAProxy answers when no instance can take a request; clients retry after Retry-After. */
const NO_INSTANCE_503 = JSON.stringify({
  error: {
    code: 'serviceNotAvailable',
    message: 'No instance of the service can take the request. Retry after the time given in Retry-After.',
  },
});

/**
 * HTTP load balancing over instances of the service: readiness checks every 500 ms (out after two
 * failures, back after two successes), round robin, and each request that may safely be sent twice
 * (a GET, or a POST with an Idempotency-Key, which the service replays) retried on another instance
 * when its instance refused the connection, closed it without answering, timed out or answered 503.
 * `X-Served-By` names the instance that answered.
 */
export function httpLoadBalancerConfig(port: number, statsPort: number, servers: HttpServer[]): string {
  return [
    'global',
    '  maxconn 1024',
    '  log stdout format raw local0',
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    // Only failed, retried or redispatched requests are logged.
    '  option dontlog-normal',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 20s',
    '  timeout http-request 10s',
    // Longer than the idle time clients are told (Keep-Alive below), so that they close first.
    '  timeout http-keep-alive 10s',
    '  timeout check 1s',
    'frontend api',
    `  bind 127.0.0.1:${port}`,
    '  option forwardfor',
    // The service trusts these from HAProxy (TRUST_PROXY): a client's own never reach it.
    '  http-request del-header X-Forwarded-Host',
    '  http-request set-header X-Forwarded-Proto http',
    '  http-request disable-l7-retry if !METH_GET !{ req.hdr(idempotency-key) -m found }',
    // The instance's hint (72 s) would have clients reuse connections HAProxy has closed after 10 s.
    '  http-response set-header Keep-Alive timeout=5',
    '  default_backend instances',
    'backend instances',
    '  balance roundrobin',
    '  option httpchk GET /health/ready',
    '  http-check expect status 200',
    '  default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2',
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response response-timeout 503',
    `  http-error status 503 content-type application/json string '${NO_INSTANCE_503}' hdr Retry-After 1`,
    '  http-response set-header X-Served-By %s',
    ...servers.map((server) => `  server ${server.name} 127.0.0.1:${server.port} check maxconn 64`),
    'listen stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
}

/**
 * HAProxy on loopback `port` (the instances are configured with it before it starts) in front of
 * `servers`, in a temporary folder; resolves once every server is UP.
 */
export async function startHttpLoadBalancer(
  user: SystemUser,
  port: number,
  servers: HttpServer[],
  timeoutMs: number,
): Promise<HttpLoadBalancer> {
  const dir = mkdtempSync(join(tmpdir(), 'ta-haproxy-'));
  trackFolder(dir);
  chmodSync(dir, 0o700);
  chownSync(dir, user.uid, user.gid);
  const [statsPort] = (await freePorts(2)).filter((free) => free !== port);
  const config = httpLoadBalancerConfig(port, statsPort, servers);
  const removeDir = () => {
    rmSync(dir, { recursive: true, force: true });
    untrackFolder(dir);
  };
  let daemon: Daemon;
  try {
    daemon = spawnHaproxy(user, dir, config);
  } catch (error) {
    removeDir();
    throw error;
  }
  const destroy = async () => {
    await daemon.stop(10_000);
    // Kept beside the service's logs: it names each retried, redispatched or failed request.
    mkdirSync(ARTIFACTS, { recursive: true });
    copyFileSync(daemon.logFile, join(ARTIFACTS, 'load-balancer-haproxy.log'));
    removeDir();
  };

  const stats = async (): Promise<Record<string, string>[]> => {
    const res = await fetch(`http://127.0.0.1:${statsPort}/stats;csv`, { signal: AbortSignal.timeout(1500) });
    const [header, ...lines] = (await res.text()).trim().split('\n');
    const columns = header.replace(/^# /, '').split(',');
    return lines.map((line) => Object.fromEntries(line.split(',').map((value, i) => [columns[i], value])));
  };
  const backend = async () => (await stats()).filter((row) => row.pxname === 'instances');
  const states = async () =>
    Object.fromEntries(
      (await backend()).filter((row) => row.svname !== 'BACKEND').map((row) => [row.svname, row.status]),
    );
  const balancer: HttpLoadBalancer = {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    config,
    daemon,
    states,
    async counters() {
      const total = (await backend()).find((row) => row.svname === 'BACKEND');
      const count = (column: string) => Number(total?.[column] || 0);
      return {
        retries: count('wretr'),
        redispatches: count('wredis'),
        connectionErrors: count('econ'),
        responseErrors: count('eresp'),
      };
    },
    async waitState(server, state, waitMs) {
      const from = performance.now();
      await waitUntil(
        `HAProxy reporting ${server} ${state}`,
        async () => ((await states())[server] === state ? true : undefined),
        waitMs,
        50,
        () => daemon.tail(),
      );
      return Math.round(performance.now() - from);
    },
    destroy,
  };
  try {
    await waitUntil(
      'HAProxy reporting every instance UP',
      async () => {
        const now = await states();
        return servers.every((server) => now[server.name] === 'UP') ? true : undefined;
      },
      timeoutMs,
      100,
      () => daemon.tail(),
    );
  } catch (error) {
    await destroy();
    throw error;
  }
  return balancer;
}
