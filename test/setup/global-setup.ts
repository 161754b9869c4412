import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { runMigrations } from '../../src/database/run-migrations.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

/**
 * One real PostgreSQL for the whole run: `DATABASE_URL` when set (its database name must say it is
 * for tests), else a throw-away embedded server. Migrated once; tests isolate by tenant.
 */
export default async function setup(project: TestProject) {
  const configured = process.env.DATABASE_URL?.trim();
  if (configured) {
    const name = new URL(configured).pathname.slice(1);
    if (!/test/i.test(name)) {
      throw new Error(`Refusing to run tests against database '${name}': its name must contain 'test'.`);
    }
    await runMigrations(configured);
    project.provide('databaseUrl', configured);
    return;
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
  };
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
