import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  Equals,
  IsBase64,
  IsEmail,
  IsIn,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  MaxLength,
} from 'class-validator';
import {
  MAIL_DESTINATION_ROUTING_REASONS,
  THREAT_CATEGORIES,
  THREAT_EXPECTED_ASSESSMENTS,
} from '../threat-assessment.enums.js';

/** The `@odata.type` a body must carry for this DTO. */
export const ODataTypeField = (odataType: string) =>
  applyDecorators(
    ApiProperty({
      name: '@odata.type',
      enum: [odataType],
      example: odataType,
      description: 'The concrete type of the request; it selects the other properties.',
    }),
    Equals(odataType, { message: `@odata.type must be '${odataType}'` }),
  );

export const ExpectedAssessmentField = () =>
  applyDecorators(
    ApiProperty({
      enum: THREAT_EXPECTED_ASSESSMENTS,
      enumName: 'threatExpectedAssessment',
      example: 'block',
      description: 'The expected assessment from submitter. Possible values are: `block`, `unblock`.',
    }),
    IsIn(THREAT_EXPECTED_ASSESSMENTS, {
      message: `expectedAssessment must be one of ${THREAT_EXPECTED_ASSESSMENTS.join(', ')}`,
    }),
  );

export const CategoryField = () =>
  applyDecorators(
    ApiProperty({
      enum: THREAT_CATEGORIES,
      enumName: 'threatCategory',
      example: 'spam',
      description: 'The threat category. Possible values are: `spam`, `phishing`, `malware`.',
    }),
    IsIn(THREAT_CATEGORIES, { message: `category must be one of ${THREAT_CATEGORIES.join(', ')}` }),
  );

export const RecipientEmailField = () =>
  applyDecorators(
    ApiProperty({
      description: 'The mail recipient whose policies are used to assess the mail.',
      example: 'tifc@contoso.com',
      maxLength: 320,
    }),
    IsString(),
    MaxLength(320),
    IsEmail({}, { message: 'recipientEmail must be an email address' }),
  );

export const DestinationRoutingReasonField = () =>
  applyDecorators(
    ApiPropertyOptional({
      enum: MAIL_DESTINATION_ROUTING_REASONS,
      enumName: 'mailDestinationRoutingReason',
      description: 'The reason for mail routed to its destination.',
    }),
    IsOptional(),
    IsIn(MAIL_DESTINATION_ROUTING_REASONS, {
      message: `destinationRoutingReason must be one of ${MAIL_DESTINATION_ROUTING_REASONS.join(', ')}`,
    }),
  );

/** Accepted, never stored in clear nor returned: the service keeps its size and SHA-256. */
export const ContentDataField = (description: string) =>
  applyDecorators(
    ApiProperty({ description, format: 'byte', example: 'VGhpcyBpcyBhIHRlc3QgZmlsZQ==' }),
    IsString(),
    IsNotEmpty(),
    IsBase64({}, { message: 'contentData must be base64' }),
  );

export const HttpUrlField = (description: string, example: string) =>
  applyDecorators(
    ApiProperty({ description, example, maxLength: 2048, format: 'uri' }),
    IsString(),
    MaxLength(2048),
    IsUrl(
      { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
      { message: '$property must be an absolute http(s) URL' },
    ),
  );

export const FileNameField = () =>
  applyDecorators(
    ApiProperty({ description: 'The file name.', example: 'test.txt', maxLength: 255 }),
    IsString(),
    IsNotEmpty(),
    MaxLength(255),
    // Control characters would end up in logs and downstream tools.
    // eslint-disable-next-line no-control-regex -- matching them is the point
    Matches(/^[^\u0000-\u001f\u007f]+$/, { message: 'fileName must not contain control characters' }),
  );
