import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { runMigrations } from '../../src/database/run-migrations.js';
import { createTestCertificates, type TestCertificates } from '../support/test-certificates.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    testCertificates: TestCertificates;
  }
}

/**
 * One real PostgreSQL for the whole run: `DATABASE_URL` when set (its database name must say it is
 * for tests), else a throw-away embedded server. Migrated once; tests isolate by tenant.
 */
export default async function setup(project: TestProject) {
  const removeCa = trustTestCertificateAuthority(project);
  const configured = process.env.DATABASE_URL?.trim();
  if (configured) {
    const name = new URL(configured).pathname.slice(1);
    if (!/test/i.test(name)) {
      throw new Error(`Refusing to run tests against database '${name}': its name must contain 'test'.`);
    }
    await runMigrations(configured);
    project.provide('databaseUrl', configured);
    return removeCa;
  }
  const dir = mkdtempSync(join(tmpdir(), 'threat-assessment-test-pg-'));
  const server = await startEmbeddedPostgres({
    dir,
    port: await freePort(),
    database: 'threat_assessment_test',
    persistent: false,
  });
  await runMigrations(server.url);
  project.provide('databaseUrl', server.url);
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    removeCa();
  };
}

/**
 * A CA made for this run, trusted the way production trusts a private CA: NODE_EXTRA_CA_CERTS, read by
 * every Node process at start (the test workers forked after this, and the services they spawn). The
 * webhook receivers of the tests serve certificates it signed.
 */
function trustTestCertificateAuthority(project: TestProject): () => void {
  const certificates = createTestCertificates();
  const dir = mkdtempSync(join(tmpdir(), 'threat-assessment-test-ca-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, certificates.caCert);
  process.env.NODE_EXTRA_CA_CERTS = caFile;
  project.provide('testCertificates', certificates);
  return () => rmSync(dir, { recursive: true, force: true });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
