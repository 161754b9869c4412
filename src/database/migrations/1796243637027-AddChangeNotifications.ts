import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Change notifications: the subscriptions and the outbox of notifications to deliver. Both tables lead
 * with tenant_id and the outbox's foreign key includes it, so Citus co-locates them with the requests
 * (a write and the notifications it records stay on one shard).
 */
export class AddChangeNotifications1796243637027 implements MigrationInterface {
  name = 'AddChangeNotifications1796243637027';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Subscription writes are throttled per tenant with the same counters.
    await queryRunner.query(`ALTER TABLE "throttle_counters" DROP CONSTRAINT "ck_throttle_counters_scope"`);
    await queryRunner.query(
      `ALTER TABLE "throttle_counters" ADD CONSTRAINT "ck_throttle_counters_scope" CHECK ("scope" IN ('tenant', 'resource', 'results', 'subscriptions'))`,
    );
    await queryRunner.query(`
      CREATE TABLE "subscriptions" (
        "tenant_id" uuid NOT NULL,
        "id" uuid NOT NULL,
        "resource" character varying(512) NOT NULL,
        "canonical_resource" character varying(128) NOT NULL,
        "request_id" uuid,
        "change_type" character varying(64) NOT NULL,
        "change_types" character varying(16) array NOT NULL,
        "notification_url" character varying(2048) NOT NULL,
        "lifecycle_notification_url" character varying(2048),
        "expiration_date_time" TIMESTAMP WITH TIME ZONE NOT NULL,
        "client_state" character varying(128),
        "application_id" character varying(128) NOT NULL,
        "creator_id" character varying(128) NOT NULL,
        "latest_supported_tls_version" character varying(8) NOT NULL,
        "encryption_certificate" text,
        "encryption_certificate_id" character varying(256),
        "notification_url_app_id" character varying(256),
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "retired_at" TIMESTAMP WITH TIME ZONE,
        "missed" boolean NOT NULL DEFAULT false,
        "lease_owner" character varying(64),
        "lease_until" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "pk_subscriptions" PRIMARY KEY ("tenant_id", "id")
      )
    `);
    await queryRunner.query(
      `CREATE INDEX "ix_subscriptions_resource" ON "subscriptions" ("tenant_id", "canonical_resource") WHERE "retired_at" IS NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_subscriptions_combination" ON "subscriptions" ("tenant_id", "application_id", "creator_id", "canonical_resource", "change_types") WHERE "retired_at" IS NULL`,
    );
    await queryRunner.query(`
      CREATE TABLE "notifications" (
        "tenant_id" uuid NOT NULL,
        "subscription_id" uuid NOT NULL,
        "seq" BIGSERIAL NOT NULL,
        "id" uuid NOT NULL,
        "channel" character varying(16) NOT NULL,
        "event" character varying(32) NOT NULL,
        "request_id" uuid,
        "result_id" uuid,
        "request_kind" character varying(40),
        "traceparent" character varying(55),
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "attempts" integer NOT NULL DEFAULT '0',
        "first_attempt_at" TIMESTAMP WITH TIME ZONE,
        "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "abandoned_at" TIMESTAMP WITH TIME ZONE,
        "last_error" character varying(128),
        CONSTRAINT "ck_notifications_channel" CHECK ("channel" IN ('change', 'lifecycle')),
        CONSTRAINT "pk_notifications" PRIMARY KEY ("tenant_id", "subscription_id", "seq")
      )
    `);
    await queryRunner.query(
      `CREATE INDEX "ix_notifications_due" ON "notifications" ("next_attempt_at") WHERE "abandoned_at" IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_notifications_queue" ON "notifications" ("tenant_id", "subscription_id", "channel", "seq") WHERE "abandoned_at" IS NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "notifications" ADD CONSTRAINT "fk_notifications_subscription" FOREIGN KEY ("tenant_id", "subscription_id") REFERENCES "subscriptions"("tenant_id","id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "notifications" DROP CONSTRAINT "fk_notifications_subscription"`);
    await queryRunner.query(`DROP INDEX "public"."ix_notifications_queue"`);
    await queryRunner.query(`DROP INDEX "public"."ix_notifications_due"`);
    await queryRunner.query(`DROP TABLE "notifications"`);
    await queryRunner.query(`DROP INDEX "public"."uq_subscriptions_combination"`);
    await queryRunner.query(`DROP INDEX "public"."ix_subscriptions_resource"`);
    await queryRunner.query(`DROP TABLE "subscriptions"`);
    await queryRunner.query(`DELETE FROM "throttle_counters" WHERE "scope" = 'subscriptions'`);
    await queryRunner.query(`ALTER TABLE "throttle_counters" DROP CONSTRAINT "ck_throttle_counters_scope"`);
    await queryRunner.query(
      `ALTER TABLE "throttle_counters" ADD CONSTRAINT "ck_throttle_counters_scope" CHECK ("scope" IN ('tenant', 'resource', 'results'))`,
    );
  }
}
