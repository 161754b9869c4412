import type { ThreatAssessmentRequestEntity } from './entities/threat-assessment-request.entity.js';
import type { ThreatAssessmentResultEntity } from './entities/threat-assessment-result.entity.js';
import type { ThreatAssessmentResultDto, IdentitySetDto } from './dto/threat-assessment-responses.dto.js';
import { requestTypeOfKind, type ThreatAssessmentRequestDto } from './request-types.js';
import { RESULT_ODATA_TYPE } from './threat-assessment.enums.js';

/** Whitelist mappers: a column reaches the wire only when it is named here or in its type's `toResponse`. */
export function toThreatAssessmentRequestDto(entity: ThreatAssessmentRequestEntity): ThreatAssessmentRequestDto {
  const type = requestTypeOfKind(entity.kind);
  return {
    '@odata.type': type.odataType,
    id: entity.id,
    createdDateTime: entity.createdDateTime.toISOString(),
    contentType: entity.contentType,
    expectedAssessment: entity.expectedAssessment,
    category: entity.category,
    status: entity.status,
    requestSource: entity.requestSource,
    createdBy: toIdentitySet(entity.createdBy),
    ...type.toResponse(entity),
  } as ThreatAssessmentRequestDto;
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
  const set: IdentitySetDto = {};
  if (createdBy.user) set.user = identity(createdBy.user);
  if (createdBy.application) set.application = identity(createdBy.application);
  return set;
}
