import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/app-config.js';
import { dataSourceOptions } from '../database/data-source-options.js';
import { resolveDatabase } from '../database/resolve-database.js';
import { runMigrations } from '../database/run-migrations.js';

const USAGE = `usage: migrations <command>
  run                 apply pending migrations (MIGRATIONS_DATABASE_URL, else DATABASE_URL, else the embedded PostgreSQL)
  revert              undo the last applied migration
  check               fail when the entities and the committed migrations disagree (drift)
  generate <Name>     write src/database/migrations/<timestamp>-<Name>.ts from the drift`;

async function main(): Promise<number> {
  const { positionals } = parseArgs({ allowPositionals: true });
  const [command, name] = positionals;
  const config = loadConfig({ ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'development' });
  switch (command) {
    case 'run':
      return withDatabase(config, async (url) => {
        const applied = await runMigrations(url);
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'no pending migrations\n');
        return 0;
      });
    case 'revert':
      return withDatabase(config, async (url) => {
        const dataSource = await new DataSource(dataSourceOptions({ url, poolSize: 1 })).initialize();
        try {
          await dataSource.undoLastMigration({ transaction: 'each' });
          return 0;
        } finally {
          await dataSource.destroy();
        }
      });
    case 'check':
    case 'generate': {
      if (command === 'generate' && !/^[A-Z][A-Za-z0-9]+$/.test(name ?? '')) {
        process.stderr.write('generate needs a PascalCase name\n');
        return 2;
      }
      return withDatabase(config, (url) => withScratchDatabase(url, (scratch) => diff(scratch, command, name)));
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

async function withDatabase(config: ReturnType<typeof loadConfig>, work: (url: string) => Promise<number>) {
  // A direct connection when given: DATABASE_URL may name a transaction pooler, which cannot keep the
  // migration lock's session.
  if (config.migrationsDatabaseUrl) return work(config.migrationsDatabaseUrl);
  if (config.databasePooler === 'transaction') {
    throw new Error('DATABASE_URL names a transaction pooler (DATABASE_POOLER): set MIGRATIONS_DATABASE_URL');
  }
  const database = await resolveDatabase(config);
  try {
    return await work(database.url);
  } finally {
    await database.stop();
  }
}

/** Drift is measured on a throw-away database built only from the committed migrations. */
async function withScratchDatabase(url: string, work: (url: string) => Promise<number>): Promise<number> {
  const name = `migrations_scratch_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
    const scratch = new URL(url);
    scratch.pathname = `/${name}`;
    return await work(scratch.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function diff(url: string, command: string, name: string | undefined): Promise<number> {
  await runMigrations(url);
  const dataSource = await new DataSource(dataSourceOptions({ url, poolSize: 1 })).initialize();
  try {
    const sql = await dataSource.driver.createSchemaBuilder().log();
    const up = sql.upQueries.map((q) => q.query);
    const down = sql.downQueries.map((q) => q.query).reverse();
    if (command === 'check') {
      if (up.length === 0) {
        process.stdout.write('no drift: the entities match the committed migrations\n');
        return 0;
      }
      process.stderr.write(`drift: the entities need a migration:\n${up.map((q) => `  ${q};`).join('\n')}\n`);
      return 1;
    }
    if (up.length === 0) {
      process.stdout.write('no changes: nothing to generate\n');
      return 0;
    }
    const timestamp = Date.now();
    const file = resolve('src/database/migrations', `${timestamp}-${name}.ts`);
    writeFileSync(file, migrationSource(`${name}${timestamp}`, up, down));
    process.stdout.write(`wrote ${file}\nadd it to src/database/migrations/index.ts, then read it before committing\n`);
    return 0;
  } finally {
    await dataSource.destroy();
  }
}

function migrationSource(className: string, up: string[], down: string[]): string {
  const lines = (queries: string[]) => queries.map((q) => `    await queryRunner.query(${readable(q)});`).join('\n');
  return `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  async up(queryRunner: QueryRunner): Promise<void> {
${lines(up)}
  }

  async down(queryRunner: QueryRunner): Promise<void> {
${lines(down)}
  }
}
`;
}

/** A template literal, one column or constraint per line for CREATE TABLE, so reviewers can read it. */
function readable(query: string): string {
  const sql = query.replace(/ {2}\(/g, ' (').trim();
  const table = /^(CREATE TABLE "[^"]+") \((.*)\)$/s.exec(sql);
  if (!table) return `\`${sql}\``;
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of table[2]) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (char === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else current += char;
  }
  parts.push(current.trim());
  return `\`\n      ${table[1]} (\n${parts.map((p) => `        ${p}`).join(',\n')}\n      )\n    \``;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
