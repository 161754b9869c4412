import {
  EmailFileAssessmentRequestEntity,
  FileAssessmentRequestEntity,
  MailAssessmentRequestEntity,
  type ThreatAssessmentRequestEntity,
  UrlAssessmentRequestEntity,
} from './entities/threat-assessment-request.entity.js';
import type { ThreatAssessmentResultEntity } from './entities/threat-assessment-result.entity.js';
import type {
  ThreatAssessmentRequestDto,
  ThreatAssessmentResultDto,
  IdentitySetDto,
} from './dto/threat-assessment-responses.dto.js';
import { RESULT_ODATA_TYPE } from './threat-assessment.enums.js';

/** Whitelist mappers: a column reaches the wire only when it is named here. */
export function toThreatAssessmentRequestDto(entity: ThreatAssessmentRequestEntity): ThreatAssessmentRequestDto {
  const base = {
    id: entity.id,
    createdDateTime: entity.createdDateTime.toISOString(),
    contentType: entity.contentType,
    expectedAssessment: entity.expectedAssessment,
    category: entity.category,
    status: entity.status,
    requestSource: entity.requestSource,
    createdBy: toIdentitySet(entity.createdBy),
  };
  if (entity instanceof MailAssessmentRequestEntity) {
    return {
      '@odata.type': '#microsoft.graph.mailAssessmentRequest',
      ...base,
      recipientEmail: entity.recipientEmail,
      destinationRoutingReason: entity.destinationRoutingReason,
      messageUri: entity.messageUri,
    };
  }
  if (entity instanceof EmailFileAssessmentRequestEntity) {
    return {
      '@odata.type': '#microsoft.graph.emailFileAssessmentRequest',
      ...base,
      recipientEmail: entity.recipientEmail,
      destinationRoutingReason: entity.destinationRoutingReason,
      contentData: '',
    };
  }
  if (entity instanceof FileAssessmentRequestEntity) {
    return {
      '@odata.type': '#microsoft.graph.fileAssessmentRequest',
      ...base,
      fileName: entity.fileName,
      contentData: '',
    };
  }
  if (entity instanceof UrlAssessmentRequestEntity) {
    return { '@odata.type': '#microsoft.graph.urlAssessmentRequest', ...base, url: entity.url };
  }
  throw new Error(`Unmapped request type ${entity.constructor.name}`);
}

export function toThreatAssessmentResultDto(entity: ThreatAssessmentResultEntity): ThreatAssessmentResultDto {
  return {
    '@odata.type': RESULT_ODATA_TYPE,
    id: entity.id,
    createdDateTime: entity.createdDateTime.toISOString(),
    resultType: entity.resultType,
    message: entity.message,
  };
}

function toIdentitySet(createdBy: ThreatAssessmentRequestEntity['createdBy']): IdentitySetDto {
  const identity = (i: { id: string; displayName?: string }) =>
    i.displayName === undefined ? { id: i.id } : { id: i.id, displayName: i.displayName };
  return {
    ...(createdBy.user ? { user: identity(createdBy.user) } : {}),
    ...(createdBy.application ? { application: identity(createdBy.application) } : {}),
  };
}
