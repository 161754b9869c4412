import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestProject } from 'vitest/node';
import { type ControlledPostgres, startControlledPostgres } from '../../faults/support/postgres.js';
import { freePort } from '../../faults/support/ports.js';
import { type RunningService, startService } from '../../faults/support/service.js';
import { PUBLIC_BASE_URL, REQUEST_BODY_LIMIT, requestsPath, RESULT_ODATA_TYPE } from './constants.js';
import type { AdversarialContext } from './context.js';
import { ARTIFACTS, clearClassFigures, figuresTable, readClassFigures } from './figures.js';
import { sendRaw } from './raw-client.js';
import { isAlive, residentSet } from './service-metrics.js';
import { newTenant } from './tokens.js';

const SEED = Number(process.env.ADVERSARIAL_SEED ?? 20_261_202);

/**
 * One built service (`node dist/main.js`, production settings) for the whole suite, on a PostgreSQL of
 * its own (embedded) or DATABASE_URL when set, whose database name must say it is for tests. The
 * specs reach it through `inject('adversarial')`; the teardown writes the figures and prints the table.
 */
export default async function setup(project: TestProject) {
  clearClassFigures();
  const configured = process.env.DATABASE_URL?.trim();
  let db: ControlledPostgres | undefined;
  let databaseUrl: string;
  if (configured) {
    const name = new URL(configured).pathname.slice(1);
    if (!/test/i.test(name))
      throw new Error(`Refusing to run against database '${name}': its name must contain 'test'.`);
    databaseUrl = configured;
  } else {
    db = await startControlledPostgres('threat_assessment_adversarial_test');
    databaseUrl = db.url;
  }
  let service: RunningService | undefined;
  const inspectPort = await freePort();
  try {
    service = await startService('adversarial', {
      DATABASE_URL: databaseUrl,
      PUBLIC_BASE_URL,
      BODY_LIMIT_BYTES: String(REQUEST_BODY_LIMIT),
      // The image's memory settings that NODE_OPTIONS and the environment can carry (Dockerfile ENV),
      // and the inspector on loopback for the memory spec's heap readings.
      NODE_OPTIONS: `--max-semi-space-size=8 --inspect=127.0.0.1:${inspectPort}`,
      MALLOC_ARENA_MAX: '2',
    });
    await service.waitFor('/health/ready', 200, 60_000);
    await warmUp(service.port);
  } catch (error) {
    await service?.stop();
    await db?.destroy();
    throw error;
  }
  const running = service;
  await sleep(500);
  const warm = residentSet(running.pid);
  console.log(
    `[adversarial] seed ${SEED} (ADVERSARIAL_SEED), service pid ${running.pid} on ${running.baseUrl}, ` +
      `RSS after warm-up ${mb(warm.rssBytes)} MB, log ${running.logFile}`,
  );
  const provided: AdversarialContext = {
    baseUrl: running.baseUrl,
    port: running.port,
    pid: running.pid,
    databaseUrl,
    publicBaseUrl: PUBLIC_BASE_URL,
    warmRssBytes: warm.rssBytes,
    inspectPort,
    logFile: running.logFile,
    seed: SEED,
  };
  project.provide('adversarial', provided);

  return async () => {
    const end = isAlive(running.pid) ? residentSet(running.pid) : undefined;
    const crashed = running.exited;
    await running.stop();
    await db?.destroy();
    const classes = readClassFigures();
    const report = {
      measuredAt: new Date().toISOString(),
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`,
      database: configured ? 'DATABASE_URL' : 'embedded PostgreSQL',
      seed: SEED,
      service: {
        warmRssMb: mb(warm.rssBytes),
        endRssMb: end && mb(end.rssBytes),
        peakRssMb: end && mb(end.peakBytes),
        exitedDuringSuite: crashed ?? null,
      },
      classes,
    };
    writeFileSync(join(ARTIFACTS, 'figures.json'), `${JSON.stringify(report, null, 2)}\n`);
    console.log(
      `\n[adversarial] seed ${SEED}; service RSS ${report.service.warmRssMb} MB after warm-up, ` +
        `${report.service.endRssMb ?? '?'} MB at the end, peak ${report.service.peakRssMb ?? '?'} MB` +
        `${crashed ? `; the service EXITED during the suite: ${JSON.stringify(crashed)}` : ''}\n` +
        `${figuresTable(classes)}\n(test-artifacts/adversarial/figures.json)\n`,
    );
  };
}

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

/** Ordinary traffic first, so that the baseline RSS is a warm process's (JIT, pools, caches), not a cold one's. */
async function warmUp(port: number): Promise<void> {
  const tenant = await newTenant();
  const auth = ['authorization', `Bearer ${tenant.token}`] as const;
  const json = ['content-type', 'application/json'] as const;
  const created = await sendRaw(port, {
    method: 'POST',
    target: requestsPath(),
    headers: [auth, json],
    body: JSON.stringify({
      '@odata.type': '#microsoft.graph.urlAssessmentRequest',
      url: 'http://warm-up.test/',
      expectedAssessment: 'block',
      category: 'phishing',
    }),
  });
  const id = (created.json as { id?: string } | undefined)?.id;
  if (created.status !== 201 || !id)
    throw new Error(`warm-up: creating a request answered ${created.status}: ${created.text}`);
  const result = JSON.stringify({ '@odata.type': RESULT_ODATA_TYPE, resultType: 'rescan', message: 'warm-up' });
  for (let round = 0; round < 40; round++) {
    await Promise.all([
      sendRaw(port, { method: 'POST', target: `${requestsPath()}/${id}/results`, headers: [auth, json], body: result }),
      sendRaw(port, {
        target: `${requestsPath()}?$top=5&$filter=status eq 'completed'`.replaceAll(' ', '%20'),
        headers: [auth],
      }),
      sendRaw(port, { target: `${requestsPath()}/${id}?$expand=results`, headers: [auth] }),
      sendRaw(port, { target: `${requestsPath()}/${id}/results/$count`, headers: [auth] }),
      sendRaw(port, { method: 'POST', target: requestsPath(), headers: [auth, json], body: '{"@odata.type":1}' }),
      sendRaw(port, { target: requestsPath() }),
      sendRaw(port, { target: '/health/live' }),
    ]);
  }
}
