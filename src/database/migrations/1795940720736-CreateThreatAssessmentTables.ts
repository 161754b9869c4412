import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateThreatAssessmentTables1795940720736 implements MigrationInterface {
  name = 'CreateThreatAssessmentTables1795940720736';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "threat_assessment_requests" (
        "id" uuid NOT NULL,
        "tenant_id" uuid NOT NULL,
        "created_date_time" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "kind" character varying(40) NOT NULL,
        "content_type" character varying(16) NOT NULL,
        "expected_assessment" character varying(16) NOT NULL,
        "category" character varying(32) NOT NULL,
        "status" character varying(16) NOT NULL DEFAULT 'pending',
        "request_source" character varying(16) NOT NULL,
        "created_by" jsonb NOT NULL,
        "recipient_email" character varying(320),
        "message_uri" character varying(2048),
        "destination_routing_reason" character varying(32),
        "content_size" integer,
        "content_sha256" bytea,
        "file_name" character varying(255),
        "url" character varying(2048),
        CONSTRAINT "uq_threat_assessment_requests_tenant_id" UNIQUE ("tenant_id", "id"),
        CONSTRAINT "ck_threat_assessment_requests_request_source" CHECK ("request_source" IN ('undefined', 'user', 'administrator')),
        CONSTRAINT "ck_threat_assessment_requests_status" CHECK ("status" IN ('pending', 'completed')),
        CONSTRAINT "ck_threat_assessment_requests_category" CHECK ("category" IN ('undefined', 'spam', 'phishing', 'malware', 'unknownFutureValue')),
        CONSTRAINT "ck_threat_assessment_requests_expected_assessment" CHECK ("expected_assessment" IN ('block', 'unblock')),
        CONSTRAINT "ck_threat_assessment_requests_content_type" CHECK ("content_type" IN ('mail', 'url', 'file')),
        CONSTRAINT "ck_threat_assessment_requests_kind" CHECK ("kind" IN ('mailAssessmentRequest', 'emailFileAssessmentRequest', 'fileAssessmentRequest', 'urlAssessmentRequest')),
        CONSTRAINT "pk_threat_assessment_requests" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(
      `CREATE INDEX "ix_threat_assessment_requests_tenant_created" ON "threat_assessment_requests" ("tenant_id", "created_date_time", "id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_threat_assessment_requests_kind_unused" ON "threat_assessment_requests" ("kind") WHERE false`,
    );
    await queryRunner.query(`
      CREATE TABLE "threat_assessment_results" (
        "id" uuid NOT NULL,
        "tenant_id" uuid NOT NULL,
        "request_id" uuid NOT NULL,
        "created_date_time" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "result_type" character varying(32) NOT NULL,
        "message" character varying(4000) NOT NULL,
        CONSTRAINT "ck_threat_assessment_results_message_length" CHECK (char_length("message") BETWEEN 1 AND 4000),
        CONSTRAINT "ck_threat_assessment_results_result_type" CHECK ("result_type" IN ('checkPolicy', 'rescan', 'unknownFutureValue')),
        CONSTRAINT "pk_threat_assessment_results" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(
      `CREATE INDEX "ix_threat_assessment_results_tenant_request_created" ON "threat_assessment_results" ("tenant_id", "request_id", "created_date_time", "id")`,
    );
    await queryRunner.query(
      `ALTER TABLE "threat_assessment_results" ADD CONSTRAINT "fk_threat_assessment_results_request" FOREIGN KEY ("request_id", "tenant_id") REFERENCES "threat_assessment_requests"("id","tenant_id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "threat_assessment_results" DROP CONSTRAINT "fk_threat_assessment_results_request"`,
    );
    await queryRunner.query(`DROP INDEX "public"."ix_threat_assessment_results_tenant_request_created"`);
    await queryRunner.query(`DROP TABLE "threat_assessment_results"`);
    await queryRunner.query(`DROP INDEX "public"."ix_threat_assessment_requests_kind_unused"`);
    await queryRunner.query(`DROP INDEX "public"."ix_threat_assessment_requests_tenant_created"`);
    await queryRunner.query(`DROP TABLE "threat_assessment_requests"`);
  }
}
