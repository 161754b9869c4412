// Commit-to-delivery latency: 1,000 subscriptions in the benched tenant (one on each of 1,000 parents'
// results), a steady stream of add-result at a fixed rate, and an HTTPS receiver on loopback that
// notes when each notification arrives.
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { URL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { RESCAN_RESULT_EXAMPLE } from '#dist/threat-assessment/dto/threat-assessment.examples.js';
import { withClient } from './database.mjs';
import { request, summarize } from './processes.mjs';
import { REQUESTS } from './scenarios.mjs';
import { startService } from './setup.mjs';

/**
 * @typedef {{ subscriptions: number, ratePerSecond: number, seconds: number, pollIntervalMs: number,
 *   sent: number, delivered: number, duplicates: number, posts: number,
 *   latencyMs: ReturnType<typeof summarize> }} LatencyReport
 */

export const LATENCY = { subscriptions: 1000, seconds: 30, pollIntervalMs: 1000 };

/** A self-signed certificate for 127.0.0.1, trusted by the service through NODE_EXTRA_CA_CERTS. */
function certificate() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-receiver-'));
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'],
      ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
    ],
    { stdio: 'ignore' },
  );
  return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

/**
 * The rate is held by the sender (a request every 1/rate s, not waiting for answers); the latency of a
 * notification is from the 201 of its result (after the commit) to its arrival at the receiver.
 * @param {import('./setup.mjs').Context} ctx
 * @param {NodeJS.ProcessEnv} env
 * @param {string} outDir
 * @param {(...args: unknown[]) => void} log
 * @returns {Promise<LatencyReport>}
 */
export async function measureDeliveryLatency(ctx, env, outDir, log) {
  const { settings, token, url, tenantId } = ctx;
  const parents = ctx.parents.add.slice(0, LATENCY.subscriptions).map((p) => p.id);
  const ratePerSecond = settings.notificationRate;
  const tls = certificate();
  /** @type {Map<string, number>} result id → arrival (ms) */
  const arrivals = new Map();
  let duplicates = 0;
  let posts = 0;
  const receiver = createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      const token = new URL(req.url ?? '/', 'https://receiver').searchParams.get('validationToken');
      if (token !== null) return void res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
      posts++;
      const { value } = /** @type {{ value: { resource: string }[] }} */ (JSON.parse(Buffer.concat(chunks).toString()));
      for (const n of value) {
        const id = n.resource.split('/').at(-1) ?? '';
        if (arrivals.has(id)) duplicates++;
        else arrivals.set(id, at);
      }
      res.writeHead(202).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', () => resolve(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (receiver.address()).port;
  const target = await startService(env, settings, url, {
    name: 'notification-latency',
    logFile: join(outDir, 'notification-latency.log'),
    extraEnv: {
      NOTIFICATIONS_DELIVERY_ENABLED: 'true',
      NODE_EXTRA_CA_CERTS: tls.cert,
      NOTIFICATIONS_ALLOWED_CIDRS: '127.0.0.0/8',
      NOTIFICATIONS_POLL_INTERVAL_MS: String(LATENCY.pollIntervalMs),
    },
  });
  /** @type {Map<string, number>} result id → 201 received (ms) */
  const committed = new Map();
  try {
    await withClient(url, async (client) => {
      await client.query('DELETE FROM subscriptions WHERE tenant_id = $1', [tenantId]);
      await client.query(
        `INSERT INTO subscriptions (tenant_id, id, resource, canonical_resource, request_id, change_type, change_types,
           notification_url, expiration_date_time, application_id, creator_id, latest_supported_tls_version)
         SELECT $1, gen_random_uuid(), r, r, p, 'created', '{created}', $3, now() + interval '1 day', 'bench', 'bench', 'v1_2'
         FROM unnest($2::uuid[]) AS p, LATERAL (SELECT 'informationProtection/threatAssessmentRequests/' || p || '/results') AS x(r)`,
        [tenantId, parents, `https://127.0.0.1:${port}/hook`],
      );
    });
    await target.ready();
    log(
      `Notification latency: ${parents.length} subscriptions, add-result at ${ratePerSecond}/s for ${LATENCY.seconds} s, poll ${LATENCY.pollIntervalMs} ms…`,
    );
    const body = JSON.stringify(RESCAN_RESULT_EXAMPLE);
    /** @type {Promise<void>[]} */
    const inFlight = [];
    const total = ratePerSecond * LATENCY.seconds;
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / ratePerSecond;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const parent = parents[i % parents.length];
      inFlight.push(
        request({
          port: target.port,
          method: 'POST',
          path: `${REQUESTS}/${parent}/results`,
          headers: { authorization: `Bearer ${token}` },
          body,
        }).then((res) => {
          if (res.status === 201) committed.set(/** @type {{ id: string }} */ (res.json).id, performance.now());
        }),
      );
    }
    await Promise.all(inFlight);
    for (let waited = 0; waited < 30_000 && [...committed.keys()].some((id) => !arrivals.has(id)); waited += 100) {
      await sleep(100);
    }
  } finally {
    await target.stop();
    receiver.close();
    rmSync(tls.dir, { recursive: true, force: true });
    await withClient(url, (client) => client.query('DELETE FROM subscriptions WHERE tenant_id = $1', [tenantId]));
  }
  const latencies = [...committed].flatMap(([id, at]) => {
    const arrived = arrivals.get(id);
    return arrived === undefined ? [] : [Math.max(0, arrived - at)];
  });
  return {
    ...LATENCY,
    ratePerSecond,
    subscriptions: parents.length,
    sent: committed.size,
    delivered: latencies.length,
    duplicates,
    posts,
    latencyMs: summarize(latencies),
  };
}
