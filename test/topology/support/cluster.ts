import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePorts } from '../../faults/support/ports.js';
import {
  type Daemon,
  postmasterPid,
  spawnDaemon,
  trackFolder,
  trackPostmaster,
  untrackFolder,
  waitUntil,
} from './daemons.js';
import { spawnHaproxy } from './haproxy.js';
import { ensureTopologyTools, PATRONI_STACK, PG_BIN, type SystemUser } from './install.js';

const run = promisify(execFile);

/**
 * Patroni's timing, in the DCS: the leader key lives `ttl` seconds, each member loops every `loop_wait`,
 * and DCS and PostgreSQL calls are retried for `retry_timeout`. Patroni wants
 * loop_wait + 2 × retry_timeout <= ttl, hence 4 and not 5.
 */
export const PATRONI_TIMING = { ttl: 10, loop_wait: 2, retry_timeout: 4 } as const;
const SCOPE = 'ta-topology';
const SUPERUSER = { username: 'postgres', password: 'topology-superuser-secret' };
const REPLICATION = { username: 'replicator', password: 'topology-replication-secret' };
const REWIND = { username: 'rewinder', password: 'topology-rewind-secret' };
export const APP_USER = { username: 'threat_assessment', password: 'topology-app-secret' };
/** A name that says it is for tests. */
export const APP_DATABASE = 'threat_assessment_topology_test';

export interface PatroniNode {
  name: string;
  pgPort: number;
  restPort: number;
  dir: string;
  dataDir: string;
  configFile: string;
  logFile: string;
  patroni?: Daemon;
}

export interface Member {
  name: string;
  role: string;
  state: string;
  lag?: number | string;
  timeline?: number;
}

export interface Healthy {
  leader: string;
  syncStandby: string;
  timeline: number | undefined;
  /** How long the wait took. */
  ms: number;
}

export interface PatroniCluster {
  nodes: PatroniNode[];
  haproxyPort: number;
  /** The service's connection string: through HAProxy, to whichever node is primary. */
  appUrl: string;
  /** Superuser on the service's database through HAProxy, for assertions. */
  admin: pg.Pool;
  node(name: string): PatroniNode;
  members(): Promise<Member[]>;
  /** Waits for a running leader and a streaming synchronous standby, HAProxy routing to the leader. */
  waitHealthy(timeoutMs: number): Promise<Healthy>;
  /** The leader's name, once there is one. */
  waitLeader(timeoutMs: number, notName?: string): Promise<string>;
  killPostmaster(name: string): number;
  /** kill -9 of Patroni and its postmaster, back to back: the node is gone as a whole. */
  killNode(name: string): { patroni: number; postmaster: number };
  startPatroni(name: string): void;
  switchover(leader: string, candidate: string): Promise<string>;
  /** Ends every process (Patroni stops its PostgreSQL) and removes the folder. */
  destroy(): Promise<void>;
  /** The last lines of every log, for failure messages. */
  tails(lines?: number): string;
  /** Where each node's log ends now, to read what a fault added. */
  logOffsets(): Record<string, number>;
  /** A node's log (Patroni's and its PostgreSQL's lines) written since `offsets`. */
  logSince(name: string, offsets: Record<string, number>): string;
  /** The errors PostgreSQL logged for the service's sessions since `offsets`, by SQLSTATE. */
  serviceErrorsSince(offsets: Record<string, number>): ServiceErrors;
}

export interface ServiceErrors {
  /** `{ '25006': 3, '57P01': 6 }`, every node together. */
  bySqlstate: Record<string, number>;
  /** Backends (pid) that logged 25006 more than once: a read-only connection served a second statement. */
  readOnlyBackendsReused: number;
  /** A few of the lines, for the report. */
  samples: string[];
}

/** `2026-12-02 13:52:48.213 UTC [26618] 25006 threat-assessment-service: ERROR:  cannot execute …` */
const SERVICE_ERROR_LINE = /\[(\d+)\] ([0-9A-Z]{5}) threat-assessment-service: (ERROR|FATAL):/;

function patroniConfig(node: PatroniNode, etcdPort: number): unknown {
  const { ttl, loop_wait, retry_timeout } = PATRONI_TIMING;
  return {
    scope: SCOPE,
    name: node.name,
    log: { level: 'INFO' },
    restapi: { listen: `127.0.0.1:${node.restPort}`, connect_address: `127.0.0.1:${node.restPort}` },
    etcd3: { hosts: [`127.0.0.1:${etcdPort}`] },
    bootstrap: {
      dcs: {
        ttl,
        loop_wait,
        retry_timeout,
        maximum_lag_on_failover: 1048576,
        // A commit is acknowledged once the synchronous standby has it, so a failover loses no 201.
        synchronous_mode: true,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            wal_level: 'replica',
            hot_standby: 'on',
            wal_log_hints: 'on',
            max_connections: 100,
            max_wal_senders: 5,
            max_replication_slots: 5,
            wal_keep_size: '256MB',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'data-checksums'],
    },
    postgresql: {
      listen: `127.0.0.1:${node.pgPort}`,
      connect_address: `127.0.0.1:${node.pgPort}`,
      data_dir: node.dataDir,
      bin_dir: PG_BIN,
      pgpass: join(node.dir, 'pgpass'),
      authentication: { superuser: SUPERUSER, replication: REPLICATION, rewind: REWIND },
      // SQLSTATE (%e) and application (%a) on every server log line: the suite tallies the service's errors.
      parameters: { unix_socket_directories: node.dir, log_line_prefix: `%m [%p] %e %a: ` },
      pg_hba: [
        'local all all trust',
        `host replication ${REPLICATION.username} 127.0.0.1/32 md5`,
        'host all all 127.0.0.1/32 md5',
      ],
      // A node that cannot rewind after a failover starts again from a fresh base backup.
      remove_data_directory_on_rewind_failure: true,
      remove_data_directory_on_diverged_timelines: true,
    },
  };
}

/**
 * HAProxy's health checks. `fast` (the default, the set-up the README recommends): a node that stops
 * being primary is out within 2 s and its sessions are cut (`shutdown-sessions`) instead of lingering
 * on a read-only server. `patroni-template`: the timing of Patroni's sample haproxy.cfg without
 * shutdown-sessions; new connections reach a demoted primary for several seconds, which exercises the
 * read-only (25006) path: TOPOLOGY_HAPROXY_CHECKS=patroni-template npm run test:topology.
 */
const HAPROXY_CHECKS = {
  fast: 'inter 1s fastinter 500ms downinter 1s fall 2 rise 1 on-marked-down shutdown-sessions',
  'patroni-template': 'inter 3s fall 3 rise 2',
} as const;

export function haproxyChecks(): keyof typeof HAPROXY_CHECKS {
  const chosen = process.env.TOPOLOGY_HAPROXY_CHECKS ?? 'fast';
  if (!(chosen in HAPROXY_CHECKS))
    throw new Error(`TOPOLOGY_HAPROXY_CHECKS=${chosen}: one of ${Object.keys(HAPROXY_CHECKS).join(', ')}`);
  return chosen as keyof typeof HAPROXY_CHECKS;
}

function haproxyConfig(port: number, nodes: PatroniNode[]): string {
  // Patroni answers GET /primary 200 only on the leader.
  return [
    'global',
    '  maxconn 512',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 30m',
    '  timeout server 30m',
    '  timeout check 1s',
    'listen postgres',
    `  bind 127.0.0.1:${port}`,
    '  option httpchk GET /primary',
    '  http-check expect status 200',
    `  default-server ${HAPROXY_CHECKS[haproxyChecks()]}`,
    ...nodes.map((node) => `  server ${node.name} 127.0.0.1:${node.pgPort} maxconn 200 check port ${node.restPort}`),
    '',
  ].join('\n');
}

async function getJson<T>(url: string): Promise<T | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1500) }).catch(() => undefined);
  if (!res?.ok) {
    await res?.body?.cancel();
    return undefined;
  }
  return (await res.json()) as T;
}

async function queryOnce<T extends pg.QueryResultRow>(port: number, text: string): Promise<T[]> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: SUPERUSER.username,
    password: SUPERUSER.password,
    database: 'postgres',
    connectionTimeoutMillis: 1500,
    query_timeout: 2000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * etcd (one member), two Patroni nodes (PostgreSQL 15, synchronous replication) and HAProxy on free
 * loopback ports, in a temporary folder, every process as the unprivileged user; then the service's role
 * and database.
 */
export async function startPatroniCluster(): Promise<PatroniCluster> {
  const user: SystemUser = ensureTopologyTools(PATRONI_STACK);
  const base = mkdtempSync(join(tmpdir(), 'ta-topology-'));
  trackFolder(base);
  chmodSync(base, 0o700);
  chownSync(base, user.uid, user.gid);
  const [etcdClient, etcdPeer, haproxyPort, pg1, rest1, pg2, rest2] = await freePorts(7);
  const nodes: PatroniNode[] = [
    ['node1', pg1, rest1],
    ['node2', pg2, rest2],
  ].map(([name, pgPort, restPort]) => {
    const dir = join(base, name as string);
    return {
      name: name as string,
      pgPort: pgPort as number,
      restPort: restPort as number,
      dir,
      dataDir: join(dir, 'data'),
      configFile: join(dir, 'patroni.yml'),
      logFile: join(dir, 'patroni.log'),
    };
  });
  const ownDir = (dir: string) => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, user.uid, user.gid);
  };
  const daemons: Daemon[] = [];
  const spawnAs = (name: string, file: string, args: string[], logFile: string, cwd: string) => {
    const daemon = spawnDaemon(user, name, file, args, { logFile, cwd });
    daemons.push(daemon);
    return daemon;
  };

  ownDir(join(base, 'etcd'));
  const etcd = spawnAs(
    'etcd',
    '/usr/bin/etcd',
    [
      '--name=topology',
      `--data-dir=${join(base, 'etcd', 'data')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=topology=http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster-state=new',
    ],
    join(base, 'etcd', 'etcd.log'),
    join(base, 'etcd'),
  );

  const node = (name: string) => {
    const found = nodes.find((n) => n.name === name);
    if (!found) throw new Error(`no node ${name}`);
    return found;
  };
  const tails = (lines = 25) =>
    [...daemons.filter((d) => d.name !== 'etcd'), etcd]
      .map((d) => `--- ${d.name} (pid ${d.pid}${d.exited ? ', exited' : ''}) ${d.logFile}\n${d.tail(lines)}`)
      .join('\n');
  const startPatroni = (name: string) => {
    const n = node(name);
    n.patroni = spawnAs(`patroni ${name}`, '/usr/bin/patroni', [n.configFile], n.logFile, n.dir);
  };
  const members = async (): Promise<Member[]> => {
    for (const n of nodes) {
      const cluster = await getJson<{ members?: Member[] }>(`http://127.0.0.1:${n.restPort}/cluster`);
      if (cluster?.members) return cluster.members;
    }
    return [];
  };
  const waitLeader = (timeoutMs: number, notName?: string) =>
    waitUntil(
      `a leader${notName ? ` other than ${notName}` : ''}`,
      async () => {
        const leader = (await members()).find((m) => m.role === 'leader' && m.state === 'running');
        return leader && leader.name !== notName ? leader.name : undefined;
      },
      timeoutMs,
      100,
      () => tails(),
    );

  try {
    await waitUntil(
      'etcd healthy',
      async () =>
        (await getJson<{ health?: string }>(`http://127.0.0.1:${etcdClient}/health`))?.health === 'true' || undefined,
      20_000,
      100,
      () => etcd.tail(),
    );
    for (const n of nodes) {
      ownDir(n.dir);
      writeFileSync(n.configFile, JSON.stringify(patroniConfig(n, etcdClient), null, 2), { mode: 0o600 });
      chownSync(n.configFile, user.uid, user.gid);
      trackPostmaster(join(n.dataDir, 'postmaster.pid'));
    }
    // node1 bootstraps alone, so that the first leader is known; node2 then clones it with pg_basebackup.
    startPatroni('node1');
    await waitLeader(60_000);
    startPatroni('node2');

    const haproxyDir = join(base, 'haproxy');
    ownDir(haproxyDir);
    daemons.push(spawnHaproxy(user, haproxyDir, haproxyConfig(haproxyPort, nodes)));
  } catch (error) {
    await Promise.all(daemons.map((d) => d.stop(5000)));
    rmSync(base, { recursive: true, force: true });
    throw error;
  }

  const admin = new pg.Pool({
    host: '127.0.0.1',
    port: haproxyPort,
    user: SUPERUSER.username,
    password: SUPERUSER.password,
    database: APP_DATABASE,
    max: 2,
    connectionTimeoutMillis: 3000,
  });
  // Failovers end the admin pool's sessions too; its idle clients then report errors that are expected.
  admin.on('error', () => undefined);

  const cluster: PatroniCluster = {
    nodes,
    haproxyPort,
    appUrl: `postgres://${APP_USER.username}:${APP_USER.password}@127.0.0.1:${haproxyPort}/${APP_DATABASE}`,
    admin,
    node,
    members,
    waitLeader,
    async waitHealthy(timeoutMs) {
      const started = performance.now();
      return waitUntil(
        'a running leader, a streaming synchronous standby and HAProxy routing to the leader',
        async () => {
          const all = await members();
          const leader = all.find((m) => m.role === 'leader' && m.state === 'running');
          const sync = all.find((m) => m.role === 'sync_standby' && ['running', 'streaming'].includes(m.state));
          if (!leader || !sync) return undefined;
          const [replication] = await queryOnce<{ n: number }>(
            node(leader.name).pgPort,
            "SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'",
          );
          if (replication.n < 1) return undefined;
          const [routed] = await queryOnce<{ port: number; standby: boolean; timeline: string | null }>(
            haproxyPort,
            // The current WAL file's name starts with the timeline (8 hex digits); a standby has none.
            `SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby,
                    CASE WHEN NOT pg_is_in_recovery() THEN substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END AS timeline`,
          );
          if (routed.standby || routed.port !== node(leader.name).pgPort) return undefined;
          return {
            leader: leader.name,
            syncStandby: sync.name,
            timeline: routed.timeline === null ? undefined : parseInt(routed.timeline, 16),
            ms: Math.round(performance.now() - started),
          };
        },
        timeoutMs,
        200,
        () => tails(),
      );
    },
    killPostmaster(name) {
      const pid = postmasterPid(join(node(name).dataDir, 'postmaster.pid'));
      if (!pid) throw new Error(`${name} has no running postmaster`);
      process.kill(pid, 'SIGKILL');
      return pid;
    },
    killNode(name) {
      const n = node(name);
      const postmaster = postmasterPid(join(n.dataDir, 'postmaster.pid'));
      if (!n.patroni || n.patroni.exited || !postmaster) throw new Error(`${name} is not running`);
      process.kill(n.patroni.pid, 'SIGKILL');
      process.kill(postmaster, 'SIGKILL');
      return { patroni: n.patroni.pid, postmaster };
    },
    startPatroni,
    async switchover(leader, candidate) {
      const { stdout, stderr } = await run(
        '/usr/bin/patronictl',
        ['-c', node(leader).configFile, 'switchover', '--leader', leader, '--candidate', candidate, '--force', SCOPE],
        { timeout: 60_000 },
      );
      return `${stdout}${stderr}`;
    },
    async destroy() {
      await admin.end().catch(() => undefined);
      // Patroni stops its PostgreSQL on SIGTERM; HAProxy and etcd after it.
      await Promise.all(nodes.map((n) => n.patroni?.stop(20_000) ?? Promise.resolve()));
      for (const n of nodes) {
        const pid = postmasterPid(join(n.dataDir, 'postmaster.pid'));
        if (pid) process.kill(pid, 'SIGKILL');
      }
      await Promise.all(daemons.map((d) => d.stop(10_000)));
      rmSync(base, { recursive: true, force: true });
      untrackFolder(base);
    },
    tails,
    logOffsets() {
      return Object.fromEntries(nodes.map((n) => [n.name, existsSync(n.logFile) ? statSync(n.logFile).size : 0]));
    },
    logSince(name, offsets) {
      const n = node(name);
      return existsSync(n.logFile)
        ? readFileSync(n.logFile)
            .subarray(offsets[name] ?? 0)
            .toString('utf8')
        : '';
    },
    serviceErrorsSince(offsets) {
      const bySqlstate: Record<string, number> = {};
      const readOnlyByPid = new Map<string, number>();
      const samples: string[] = [];
      for (const n of nodes) {
        const lines = cluster.logSince(n.name, offsets).split('\n');
        for (const [index, line] of lines.entries()) {
          const match = SERVICE_ERROR_LINE.exec(line);
          if (!match) continue;
          // PostgreSQL logs the failed statement on the next line (log_min_error_statement = error).
          const statement = lines[index + 1]?.includes('STATEMENT:')
            ? ` | STATEMENT: ${lines
                .slice(index + 1, index + 5)
                .map((l) => l.replace(/^.*STATEMENT:/, '').trim())
                .join(' ')
                .slice(0, 200)}`
            : '';
          const [, pid, sqlstate] = match;
          bySqlstate[sqlstate] = (bySqlstate[sqlstate] ?? 0) + 1;
          if (sqlstate === '25006')
            readOnlyByPid.set(`${n.name}:${pid}`, (readOnlyByPid.get(`${n.name}:${pid}`) ?? 0) + 1);
          if (samples.length < 3 || !samples.some((sample) => sample.includes(` ${sqlstate} `)))
            samples.push(`${n.name}: ${line.slice(0, 200)}${statement}`);
        }
      }
      const readOnlyBackendsReused = [...readOnlyByPid.values()].filter((count) => count > 1).length;
      return { bySqlstate, readOnlyBackendsReused, samples: samples.slice(0, 8) };
    },
  };

  try {
    await cluster.waitHealthy(90_000);
    const leaderPort = node((await waitLeader(5000)).toString()).pgPort;
    const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
    await queryOnce(leaderPort, `CREATE ROLE ${APP_USER.username} LOGIN PASSWORD ${quote(APP_USER.password)}`);
    await queryOnce(leaderPort, `CREATE DATABASE ${APP_DATABASE} OWNER ${APP_USER.username}`);
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
  return cluster;
}
