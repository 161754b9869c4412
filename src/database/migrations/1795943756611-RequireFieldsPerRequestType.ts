import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RequireFieldsPerRequestType1795943756611 implements MigrationInterface {
  name = 'RequireFieldsPerRequestType1795943756611';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "threat_assessment_requests" ADD CONSTRAINT "ck_threat_assessment_requests_url_fields" CHECK ("kind" <> 'urlAssessmentRequest' OR "url" IS NOT NULL)`,
    );
    await queryRunner.query(
      `ALTER TABLE "threat_assessment_requests" ADD CONSTRAINT "ck_threat_assessment_requests_file_fields" CHECK ("kind" <> 'fileAssessmentRequest' OR ("file_name" IS NOT NULL AND "content_size" IS NOT NULL AND "content_sha256" IS NOT NULL))`,
    );
    await queryRunner.query(
      `ALTER TABLE "threat_assessment_requests" ADD CONSTRAINT "ck_threat_assessment_requests_email_file_fields" CHECK ("kind" <> 'emailFileAssessmentRequest' OR ("recipient_email" IS NOT NULL AND "content_size" IS NOT NULL AND "content_sha256" IS NOT NULL))`,
    );
    await queryRunner.query(
      `ALTER TABLE "threat_assessment_requests" ADD CONSTRAINT "ck_threat_assessment_requests_mail_fields" CHECK ("kind" <> 'mailAssessmentRequest' OR ("recipient_email" IS NOT NULL AND "message_uri" IS NOT NULL))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "threat_assessment_requests" DROP CONSTRAINT "ck_threat_assessment_requests_mail_fields"`,
    );
    await queryRunner.query(
      `ALTER TABLE "threat_assessment_requests" DROP CONSTRAINT "ck_threat_assessment_requests_email_file_fields"`,
    );
    await queryRunner.query(
      `ALTER TABLE "threat_assessment_requests" DROP CONSTRAINT "ck_threat_assessment_requests_file_fields"`,
    );
    await queryRunner.query(
      `ALTER TABLE "threat_assessment_requests" DROP CONSTRAINT "ck_threat_assessment_requests_url_fields"`,
    );
  }
}
