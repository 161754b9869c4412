import { ApiProperty, type ApiPropertyOptions, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import {
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
import { EXPANDED_RESULTS_LIMIT } from '../threat-assessment.query-specs.js';

/** Graph's identity: a user or an application. */
export class IdentityDto {
  @ApiProperty({
    description: 'The identifier of the identity (`oid` of a user, the client id of an application).',
    example: 'c52ce8db-3e4b-4181-93c4-7d6b6bffaf60',
  })
  id!: string;

  @ApiPropertyOptional({
    description: 'The display name of the identity, when the token carries one.',
    example: 'Ronald Admin',
  })
  displayName?: string;
}

/** Graph's identitySet: who created the request, from the caller's token. */
export class IdentitySetDto {
  @ApiPropertyOptional({ type: IdentityDto, description: 'The user, for a delegated token.' })
  user?: IdentityDto;

  @ApiPropertyOptional({ type: IdentityDto, description: 'The application, for an app-only token.' })
  application?: IdentityDto;
}

/** On a single entity (create, get); never on the items of a collection. */
const ENTITY_CONTEXT = {
  name: '@odata.context',
  description: "The entity's `$metadata` context URL. Only on a single entity (create, get), not on collection items.",
};
const CREATED_DATE_TIME = {
  format: 'date-time',
  description:
    'The Timestamp type represents date and time information using ISO 8601 format and is always in UTC time. For example, midnight UTC on Jan 1, 2014 is 2014-01-01T00:00:00Z.',
};

/** Graph's threatAssessmentResult: the result of a threat assessment (a policy check or a rescan). */
export class ThreatAssessmentResultDto {
  @ApiPropertyOptional(ENTITY_CONTEXT)
  '@odata.context'?: string;

  @ApiProperty({ name: '@odata.type', enum: [RESULT_ODATA_TYPE] })
  '@odata.type'!: typeof RESULT_ODATA_TYPE;

  @ApiProperty({
    format: 'uuid',
    description: 'The threat assessment result ID is a globally unique identifier (GUID).',
    example: '4a4c6bb3-6bb3-4a4c-b36b-4c4ab36b4c4a',
  })
  id!: string;

  @ApiProperty({ ...CREATED_DATE_TIME, example: '2019-11-27T05:45:16.550Z' })
  createdDateTime!: string;

  @ApiProperty({
    enum: THREAT_ASSESSMENT_RESULT_TYPES,
    enumName: 'threatAssessmentResultType',
    description:
      'The threat assessment result type. Possible values are: `checkPolicy` (only for mail assessment), `rescan`.',
  })
  resultType!: ThreatAssessmentResultType;

  @ApiProperty({ description: 'The result message for each threat assessment.', example: 'No policy was hit.' })
  message!: string;
}

/** The properties of the abstract threatAssessmentRequest, which every concrete type carries. */
export class ThreatAssessmentRequestFieldsDto {
  @ApiPropertyOptional(ENTITY_CONTEXT)
  '@odata.context'?: string;

  @ApiProperty({
    format: 'uuid',
    description: 'The threat assessment request ID is a globally unique identifier (GUID).',
    example: '49c5ef5b-1f65-444a-e6b9-08d772ea2059',
  })
  id!: string;

  @ApiProperty({ ...CREATED_DATE_TIME, example: '2019-11-27T03:30:18.689Z' })
  createdDateTime!: string;

  @ApiProperty({
    enum: THREAT_ASSESSMENT_CONTENT_TYPES,
    enumName: 'threatAssessmentContentType',
    description:
      'The content type of threat assessment, derived from the type: mail and email file requests are `mail`.',
  })
  contentType!: ThreatAssessmentContentType;

  @ApiProperty({
    enum: THREAT_EXPECTED_ASSESSMENTS,
    enumName: 'threatExpectedAssessment',
    description: 'The expected assessment from submitter. Possible values are: `block`, `unblock`.',
  })
  expectedAssessment!: ThreatExpectedAssessment;

  @ApiProperty({
    enum: THREAT_CATEGORIES,
    enumName: 'threatCategory',
    description: 'The threat category. Possible values are: `spam`, `phishing`, `malware`.',
  })
  category!: ThreatCategory;

  @ApiProperty({
    enum: THREAT_ASSESSMENT_STATUSES,
    enumName: 'threatAssessmentStatus',
    description: 'The assessment process status: `pending` at creation, `completed` once the first result is recorded.',
  })
  status!: ThreatAssessmentStatus;

  @ApiProperty({
    enum: THREAT_ASSESSMENT_REQUEST_SOURCES,
    enumName: 'threatAssessmentRequestSource',
    description: 'The source of the threat assessment request: `administrator` for requests made through this API.',
  })
  requestSource!: ThreatAssessmentRequestSource;

  @ApiProperty({ type: IdentitySetDto, description: 'The threat assessment request creator, from the access token.' })
  createdBy!: IdentitySetDto;

  @ApiPropertyOptional({
    name: 'results@odata.context',
    description: 'The context URL of the expanded results. Only on a single request read with `$expand=results`.',
  })
  'results@odata.context'?: string;

  @ApiPropertyOptional({
    type: [ThreatAssessmentResultDto],
    maxItems: EXPANDED_RESULTS_LIMIT,
    description: `A collection of threat assessment results. Read-only. Not returned unless \`$expand=results\` is applied; oldest first, at most ${EXPANDED_RESULTS_LIMIT}.`,
  })
  results?: ThreatAssessmentResultDto[];

  @ApiPropertyOptional({
    name: 'results@odata.nextLink',
    format: 'uri',
    description:
      `With \`$expand=results\`, present exactly when the request has more than ${EXPANDED_RESULTS_LIMIT} results: ` +
      "an absolute URL of the request's results list (`…/threatAssessmentRequests/{id}/results?$skiptoken=…`) that " +
      'continues after the last expanded result. Follow it, then its `@odata.nextLink`, as is.',
  })
  'results@odata.nextLink'?: string;
}

const RECIPIENT_EMAIL = {
  description: 'The mail recipient whose policies are used to assess the mail.',
  example: 'tifc@contoso.com',
};
/**
 * The named enum or null, written as Graph's own OpenAPI writes a nullable enum (`anyOf` the enum and a
 * nullable placeholder): `nullable` beside a `$ref` would mean nothing in OpenAPI 3.0.
 */
const DESTINATION_ROUTING_REASON: ApiPropertyOptions = {
  anyOf: [{ $ref: getSchemaPath('mailDestinationRoutingReason') }, { type: 'object', nullable: true }],
  description: 'The reason for mail routed to its destination, as posted; `null` when none was sent.',
};
const CONTENT_DATA = {
  enum: [''] as string[],
  description: 'The content is never stored in clear nor returned: always "".',
};

/** Graph's mailAssessmentRequest: a mail message in a mailbox, assessed against the recipient's policies. */
export class MailAssessmentRequestDto extends ThreatAssessmentRequestFieldsDto {
  @ApiProperty({ name: '@odata.type', enum: ['#microsoft.graph.mailAssessmentRequest'] })
  '@odata.type'!: '#microsoft.graph.mailAssessmentRequest';

  @ApiProperty(RECIPIENT_EMAIL)
  recipientEmail!: string;

  @ApiProperty({ description: 'The resource URI of the mail message for assessment.' })
  messageUri!: string;

  @ApiProperty(DESTINATION_ROUTING_REASON)
  destinationRoutingReason!: MailDestinationRoutingReason | null;
}

/** Graph's emailFileAssessmentRequest: an .eml file, assessed against the recipient's policies. */
export class EmailFileAssessmentRequestDto extends ThreatAssessmentRequestFieldsDto {
  @ApiProperty({ name: '@odata.type', enum: ['#microsoft.graph.emailFileAssessmentRequest'] })
  '@odata.type'!: '#microsoft.graph.emailFileAssessmentRequest';

  @ApiProperty(RECIPIENT_EMAIL)
  recipientEmail!: string;

  @ApiProperty(DESTINATION_ROUTING_REASON)
  destinationRoutingReason!: MailDestinationRoutingReason | null;

  @ApiProperty(CONTENT_DATA)
  contentData!: '';
}

/** Graph's fileAssessmentRequest: a file. */
export class FileAssessmentRequestDto extends ThreatAssessmentRequestFieldsDto {
  @ApiProperty({ name: '@odata.type', enum: ['#microsoft.graph.fileAssessmentRequest'] })
  '@odata.type'!: '#microsoft.graph.fileAssessmentRequest';

  @ApiProperty({ description: 'The file name.', example: 'test.txt' })
  fileName!: string;

  @ApiProperty(CONTENT_DATA)
  contentData!: '';
}

/** Graph's urlAssessmentRequest: a URL. */
export class UrlAssessmentRequestDto extends ThreatAssessmentRequestFieldsDto {
  @ApiProperty({ name: '@odata.type', enum: ['#microsoft.graph.urlAssessmentRequest'] })
  '@odata.type'!: '#microsoft.graph.urlAssessmentRequest';

  @ApiProperty({ description: 'The URL string.', example: 'http://test.com' })
  url!: string;
}
