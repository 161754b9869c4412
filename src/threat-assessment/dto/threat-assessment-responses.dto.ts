import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import {
  MAIL_DESTINATION_ROUTING_REASONS,
  type MailDestinationRoutingReason,
  RESULT_ODATA_TYPE,
  THREAT_ASSESSMENT_CONTENT_TYPES,
  THREAT_ASSESSMENT_REQUEST_SOURCES,
  THREAT_ASSESSMENT_RESULT_TYPES,
  THREAT_ASSESSMENT_STATUSES,
  THREAT_CATEGORIES,
  THREAT_EXPECTED_ASSESSMENTS,
  type ThreatAssessmentContentType,
  type ThreatAssessmentRequestSource,
  type ThreatAssessmentResultType,
  type ThreatAssessmentStatus,
  type ThreatCategory,
  type ThreatExpectedAssessment,
} from '../threat-assessment.enums.js';

export class IdentityDto {
  @ApiProperty({ example: 'c52ce8db-3e4b-4181-93c4-7d6b6bffaf60' })
  id!: string;

  @ApiPropertyOptional({ example: 'Ronald Admin' })
  displayName?: string;
}

/** Graph's identitySet: who created the request, from the caller's token. */
export class IdentitySetDto {
  @ApiPropertyOptional({ type: IdentityDto })
  user?: IdentityDto;

  @ApiPropertyOptional({ type: IdentityDto })
  application?: IdentityDto;
}

export class ThreatAssessmentResultDto {
  @ApiProperty({ name: '@odata.type', enum: [RESULT_ODATA_TYPE] })
  '@odata.type'!: typeof RESULT_ODATA_TYPE;

  @ApiProperty({ format: 'uuid', example: '4a4c6bb3-6bb3-4a4c-b36b-4c4ab36b4c4a' })
  id!: string;

  @ApiProperty({ format: 'date-time', example: '2019-11-27T05:45:16.550Z' })
  createdDateTime!: string;

  @ApiProperty({ enum: THREAT_ASSESSMENT_RESULT_TYPES, enumName: 'threatAssessmentResultType' })
  resultType!: ThreatAssessmentResultType;

  @ApiProperty({ example: 'No policy was hit.' })
  message!: string;
}

class ThreatAssessmentRequestFieldsDto {
  @ApiProperty({ format: 'uuid', example: '49c5ef5b-1f65-444a-e6b9-08d772ea2059' })
  id!: string;

  @ApiProperty({ format: 'date-time', example: '2019-11-27T03:30:18.689Z' })
  createdDateTime!: string;

  @ApiProperty({ enum: THREAT_ASSESSMENT_CONTENT_TYPES, enumName: 'threatAssessmentContentType' })
  contentType!: ThreatAssessmentContentType;

  @ApiProperty({ enum: THREAT_EXPECTED_ASSESSMENTS, enumName: 'threatExpectedAssessment' })
  expectedAssessment!: ThreatExpectedAssessment;

  @ApiProperty({ enum: THREAT_CATEGORIES, enumName: 'threatCategory' })
  category!: ThreatCategory;

  @ApiProperty({ enum: THREAT_ASSESSMENT_STATUSES, enumName: 'threatAssessmentStatus' })
  status!: ThreatAssessmentStatus;

  @ApiProperty({ enum: THREAT_ASSESSMENT_REQUEST_SOURCES, enumName: 'threatAssessmentRequestSource' })
  requestSource!: ThreatAssessmentRequestSource;

  @ApiProperty({ type: IdentitySetDto })
  createdBy!: IdentitySetDto;

  @ApiPropertyOptional({ type: [ThreatAssessmentResultDto], description: 'Only with `$expand=results`, oldest first.' })
  results?: ThreatAssessmentResultDto[];
}

export class MailAssessmentRequestDto extends ThreatAssessmentRequestFieldsDto {
  @ApiProperty({ name: '@odata.type', enum: ['#microsoft.graph.mailAssessmentRequest'] })
  '@odata.type'!: '#microsoft.graph.mailAssessmentRequest';

  @ApiProperty({ example: 'tifc@contoso.com' })
  recipientEmail!: string;

  @ApiProperty()
  messageUri!: string;

  @ApiProperty({ enum: MAIL_DESTINATION_ROUTING_REASONS, enumName: 'mailDestinationRoutingReason', nullable: true })
  destinationRoutingReason!: MailDestinationRoutingReason | null;
}

export class EmailFileAssessmentRequestDto extends ThreatAssessmentRequestFieldsDto {
  @ApiProperty({ name: '@odata.type', enum: ['#microsoft.graph.emailFileAssessmentRequest'] })
  '@odata.type'!: '#microsoft.graph.emailFileAssessmentRequest';

  @ApiProperty({ example: 'tifc@contoso.com' })
  recipientEmail!: string;

  @ApiProperty({ enum: MAIL_DESTINATION_ROUTING_REASONS, enumName: 'mailDestinationRoutingReason', nullable: true })
  destinationRoutingReason!: MailDestinationRoutingReason | null;

  @ApiProperty({ enum: [''], description: 'Never returned: always "".' })
  contentData!: '';
}

export class FileAssessmentRequestDto extends ThreatAssessmentRequestFieldsDto {
  @ApiProperty({ name: '@odata.type', enum: ['#microsoft.graph.fileAssessmentRequest'] })
  '@odata.type'!: '#microsoft.graph.fileAssessmentRequest';

  @ApiProperty({ example: 'test.txt' })
  fileName!: string;

  @ApiProperty({ enum: [''], description: 'Never returned: always "".' })
  contentData!: '';
}

export class UrlAssessmentRequestDto extends ThreatAssessmentRequestFieldsDto {
  @ApiProperty({ name: '@odata.type', enum: ['#microsoft.graph.urlAssessmentRequest'] })
  '@odata.type'!: '#microsoft.graph.urlAssessmentRequest';

  @ApiProperty({ example: 'http://test.com' })
  url!: string;
}

export type ThreatAssessmentRequestDto =
  | MailAssessmentRequestDto
  | EmailFileAssessmentRequestDto
  | FileAssessmentRequestDto
  | UrlAssessmentRequestDto;

export const REQUEST_RESPONSE_DTOS = [
  MailAssessmentRequestDto,
  EmailFileAssessmentRequestDto,
  FileAssessmentRequestDto,
  UrlAssessmentRequestDto,
] as const;

/** `oneOf` the four request types, discriminated by `@odata.type`, for request and response bodies. */
export function requestTypesSchema(models: readonly (new () => object)[], odataTypes: readonly string[]) {
  return {
    oneOf: models.map((model) => ({ $ref: getSchemaPath(model) })),
    discriminator: {
      propertyName: '@odata.type',
      mapping: Object.fromEntries(odataTypes.map((type, i) => [type, getSchemaPath(models[i])])),
    },
  };
}

export const REQUEST_ODATA_TYPES = [
  '#microsoft.graph.mailAssessmentRequest',
  '#microsoft.graph.emailFileAssessmentRequest',
  '#microsoft.graph.fileAssessmentRequest',
  '#microsoft.graph.urlAssessmentRequest',
] as const;

@ApiExtraModels(...REQUEST_RESPONSE_DTOS)
export class ThreatAssessmentRequestCollectionDto {
  @ApiProperty({ name: '@odata.context' })
  '@odata.context'!: string;

  @ApiPropertyOptional({ name: '@odata.count', description: 'With `$count=true`.' })
  '@odata.count'?: number;

  @ApiPropertyOptional({ name: '@odata.nextLink', format: 'uri', description: 'Present exactly when more items exist.' })
  '@odata.nextLink'?: string;

  @ApiProperty({ type: 'array', items: requestTypesSchema(REQUEST_RESPONSE_DTOS, REQUEST_ODATA_TYPES) })
  value!: ThreatAssessmentRequestDto[];
}

export class ThreatAssessmentResultCollectionDto {
  @ApiProperty({ name: '@odata.context' })
  '@odata.context'!: string;

  @ApiPropertyOptional({ name: '@odata.count', description: 'With `$count=true`.' })
  '@odata.count'?: number;

  @ApiPropertyOptional({ name: '@odata.nextLink', format: 'uri', description: 'Present exactly when more items exist.' })
  '@odata.nextLink'?: string;

  @ApiProperty({ type: [ThreatAssessmentResultDto] })
  value!: ThreatAssessmentResultDto[];
}
