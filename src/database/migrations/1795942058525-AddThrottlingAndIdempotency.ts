import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddThrottlingAndIdempotency1795942058525 implements MigrationInterface {
  name = 'AddThrottlingAndIdempotency1795942058525';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "idempotency_keys" (
        "tenant_id" uuid NOT NULL,
        "key" character varying(255) NOT NULL,
        "request_hash" bytea NOT NULL,
        "resource_id" uuid NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "pk_idempotency_keys" PRIMARY KEY ("tenant_id", "key")
      )
    `);
    await queryRunner.query(`CREATE INDEX "ix_idempotency_keys_expires" ON "idempotency_keys" ("expires_at")`);
    await queryRunner.query(`
      CREATE TABLE "throttle_counters" (
        "tenant_id" uuid NOT NULL,
        "scope" character varying(16) NOT NULL,
        "key" character varying(64) NOT NULL,
        "window_seconds" integer NOT NULL,
        "window_start" TIMESTAMP WITH TIME ZONE NOT NULL,
        "count" integer NOT NULL,
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "ck_throttle_counters_scope" CHECK ("scope" IN ('tenant', 'resource', 'results')),
        CONSTRAINT "pk_throttle_counters" PRIMARY KEY ("tenant_id", "scope", "key", "window_seconds", "window_start")
      )
    `);
    await queryRunner.query(`CREATE INDEX "ix_throttle_counters_expires" ON "throttle_counters" ("expires_at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_throttle_counters_expires"`);
    await queryRunner.query(`DROP TABLE "throttle_counters"`);
    await queryRunner.query(`DROP INDEX "public"."ix_idempotency_keys_expires"`);
    await queryRunner.query(`DROP TABLE "idempotency_keys"`);
  }
}
