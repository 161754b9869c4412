import type { MigrationInterface, QueryRunner } from 'typeorm';

const REQUESTS = 'threat_assessment_requests';
const RESULTS = 'threat_assessment_results';
const REQUESTS_PK = 'pk_threat_assessment_requests';
const RESULTS_PK = 'pk_threat_assessment_results';
const REQUESTS_UQ = 'uq_threat_assessment_requests_tenant_id';
const FK = 'fk_threat_assessment_results_request';

/**
 * The primary keys of requests and results become (tenant_id, id): a table distributed by `tenant_id`
 * (Citus) may only have keys that include it, and the tenant-leading key serves tenant-scoped lookups.
 * The requests' UNIQUE (tenant_id, id), until now the target of the results' foreign key, is the
 * primary key itself from here on, so it goes.
 *
 * Built without blocking writes where PostgreSQL allows: each new key's index is built concurrently,
 * outside a transaction; the swap (drop the old key, promote the index, re-point the foreign key
 * NOT VALID) is one short transaction that touches no rows; the foreign key is then validated under a
 * lock that lets writes go on. Safe to re-run after a failure part-way: a table whose key already
 * leads with tenant_id is skipped, and a half-built index is dropped first. The revert runs in a
 * transaction (TypeORM reverts in one whatever the migration says), so it builds the old keys the
 * plain way.
 */
export class TenantLeadsEveryKey1795960000000 implements MigrationInterface {
  name = 'TenantLeadsEveryKey1795960000000';
  transaction = false;

  async up(queryRunner: QueryRunner): Promise<void> {
    if (!(await keyLeadsWithTenant(queryRunner, REQUESTS_PK))) {
      await buildIndex(queryRunner, REQUESTS, REQUESTS_PK);
      await inTransaction(queryRunner, [
        `ALTER TABLE "${RESULTS}" DROP CONSTRAINT IF EXISTS "${FK}"`,
        `ALTER TABLE "${REQUESTS}" DROP CONSTRAINT "${REQUESTS_PK}"`,
        `ALTER TABLE "${REQUESTS}" ADD CONSTRAINT "${REQUESTS_PK}" PRIMARY KEY USING INDEX "${REQUESTS_PK}_next"`,
        `ALTER TABLE "${REQUESTS}" DROP CONSTRAINT IF EXISTS "${REQUESTS_UQ}"`,
        `ALTER TABLE "${RESULTS}" ADD CONSTRAINT "${FK}" FOREIGN KEY ("tenant_id", "request_id") REFERENCES "${REQUESTS}"("tenant_id", "id") ON DELETE CASCADE ON UPDATE NO ACTION NOT VALID`,
      ]);
    }
    // A no-op when already valid; after a failed validation, the rerun tries again.
    await queryRunner.query(`ALTER TABLE "${RESULTS}" VALIDATE CONSTRAINT "${FK}"`);
    if (!(await keyLeadsWithTenant(queryRunner, RESULTS_PK))) {
      await buildIndex(queryRunner, RESULTS, RESULTS_PK);
      await inTransaction(queryRunner, [
        `ALTER TABLE "${RESULTS}" DROP CONSTRAINT "${RESULTS_PK}"`,
        `ALTER TABLE "${RESULTS}" ADD CONSTRAINT "${RESULTS_PK}" PRIMARY KEY USING INDEX "${RESULTS_PK}_next"`,
      ]);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "${RESULTS}" DROP CONSTRAINT "${FK}"`);
    await queryRunner.query(`ALTER TABLE "${RESULTS}" DROP CONSTRAINT "${RESULTS_PK}"`);
    await queryRunner.query(`ALTER TABLE "${RESULTS}" ADD CONSTRAINT "${RESULTS_PK}" PRIMARY KEY ("id")`);
    await queryRunner.query(`ALTER TABLE "${REQUESTS}" DROP CONSTRAINT "${REQUESTS_PK}"`);
    await queryRunner.query(`ALTER TABLE "${REQUESTS}" ADD CONSTRAINT "${REQUESTS_PK}" PRIMARY KEY ("id")`);
    await queryRunner.query(`ALTER TABLE "${REQUESTS}" ADD CONSTRAINT "${REQUESTS_UQ}" UNIQUE ("tenant_id", "id")`);
    await queryRunner.query(
      `ALTER TABLE "${RESULTS}" ADD CONSTRAINT "${FK}" FOREIGN KEY ("request_id", "tenant_id") REFERENCES "${REQUESTS}"("id", "tenant_id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }
}

async function keyLeadsWithTenant(queryRunner: QueryRunner, constraint: string): Promise<boolean> {
  const rows = (await queryRunner.query(
    `SELECT a.attname AS "column"
       FROM pg_constraint c
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
      WHERE c.conname = $1 AND c.contype = 'p'`,
    [constraint],
  )) as { column: string }[];
  return rows[0]?.column === 'tenant_id';
}

async function buildIndex(queryRunner: QueryRunner, table: string, constraint: string): Promise<void> {
  // A concurrent build that failed half-way leaves an invalid index behind: a rerun starts from scratch.
  await queryRunner.query(`DROP INDEX CONCURRENTLY IF EXISTS "${constraint}_next"`);
  await queryRunner.query(`CREATE UNIQUE INDEX CONCURRENTLY "${constraint}_next" ON "${table}" ("tenant_id", "id")`);
}

async function inTransaction(queryRunner: QueryRunner, statements: string[]): Promise<void> {
  await queryRunner.startTransaction();
  try {
    for (const statement of statements) await queryRunner.query(statement);
    await queryRunner.commitTransaction();
  } catch (error) {
    await queryRunner.rollbackTransaction();
    throw error;
  }
}
