import pg from 'pg';
import { loadConfig } from '../config/app-config.js';
import { distribute } from '../database/citus-distribution.js';
import { resolveDatabase } from '../database/resolve-database.js';

/**
 * `npm run db:distribute`: after the migrations, distributes the tables by tenant_id when the database
 * has Citus, and says so and does nothing when it has not.
 */
async function main(): Promise<number> {
  const config = loadConfig({ ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'development' });
  const database = await resolveDatabase(config);
  const client = new pg.Client({ connectionString: database.url });
  try {
    await client.connect();
    const outcome = await distribute(client, (line) => process.stdout.write(`${line}\n`));
    switch (outcome.kind) {
      case 'no-citus':
        process.stdout.write('citus is not installed in this database: nothing to distribute\n');
        return 0;
      case 'problems':
        process.stderr.write(`cannot distribute:\n${outcome.problems.map((p) => `  ${p}`).join('\n')}\n`);
        return 1;
      case 'distributed':
        process.stdout.write(
          outcome.statements.length
            ? `distributed ${outcome.statements.length} table(s) by tenant_id\n`
            : 'every table is already distributed by tenant_id\n',
        );
        return 0;
    }
  } finally {
    await client.end();
    await database.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
