import { ApiHideProperty, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow, Equals, IsBoolean, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { ServerOwned } from '../../../common/validation/polymorphic-body.js';
import { NOTIFICATION_URL_MAX_LENGTH } from '../../outbound/notification-url-policy.js';

export const SUBSCRIPTION_ODATA_TYPE = '#microsoft.graph.subscription';
export const TLS_VERSIONS = ['v1_2', 'v1_3'] as const;
export const CLIENT_STATE_MAX_LENGTH = 128;
export const EXPIRATION_REQUIRED_MESSAGE = 'expirationDateTime is a required property for subscription creation';

/**
 * The body of "Create subscription". `id`, `applicationId`, `creatorId` and `notificationContentType`
 * are the service's. Graph's Universal Print and Web Push properties are accepted here only to be refused
 * as `notSupported` by the service, not as unknown.
 */
@ServerOwned('id', 'applicationId', 'creatorId', 'notificationContentType')
export class CreateSubscriptionDto {
  @ApiPropertyOptional({ name: '@odata.type', enum: [SUBSCRIPTION_ODATA_TYPE] })
  @IsOptional()
  @Equals(SUBSCRIPTION_ODATA_TYPE, { message: `@odata.type must be '${SUBSCRIPTION_ODATA_TYPE}'` })
  '@odata.type'?: string;

  @ApiProperty({
    description:
      '`informationProtection/threatAssessmentRequests` or `informationProtection/threatAssessmentRequests/{id}/results`. Echoed as sent.',
    example: 'informationProtection/threatAssessmentRequests',
    maxLength: 512,
  })
  @IsString({ message: 'resource is a required string' })
  @MaxLength(512)
  resource!: string;

  @ApiProperty({
    description:
      'Comma-separated: `created`, `updated`, `deleted` on the collection; `created` on a request results. Echoed as sent.',
    example: 'created,updated',
    maxLength: 64,
  })
  @IsString({ message: 'changeType is a required string' })
  @MaxLength(64)
  changeType!: string;

  @ApiProperty({
    description:
      'The https URL notifications are POSTed to (its query string is kept). Validated by the handshake before the subscription is created.',
    example: 'https://engine.example.com/hooks/ta?src=prod',
    format: 'uri',
    maxLength: NOTIFICATION_URL_MAX_LENGTH,
  })
  @IsString({ message: 'notificationUrl is a required string' })
  notificationUrl!: string;

  @ApiPropertyOptional({
    description: 'Where lifecycle notifications (`missed`, `subscriptionRemoved`) go; same rules and handshake.',
    format: 'uri',
    nullable: true,
    type: String,
  })
  @IsOptional()
  @IsString()
  lifecycleNotificationUrl?: string | null;

  @ApiProperty({
    description:
      'When the subscription ends (UTC). At most NOTIFICATIONS_MAX_EXPIRATION_MINUTES (4230) from now; a value sooner than NOTIFICATIONS_MIN_EXPIRATION_MINUTES (45) is raised to it.',
    example: '2026-01-03T18:23:45.935Z',
    format: 'date-time',
  })
  @IsString({ message: EXPIRATION_REQUIRED_MESSAGE })
  expirationDateTime!: string;

  @ApiPropertyOptional({
    description: 'Echoed in every notification: check it on receipt.',
    maxLength: CLIENT_STATE_MAX_LENGTH,
    nullable: true,
    type: String,
  })
  @IsOptional()
  @IsString()
  @MaxLength(CLIENT_STATE_MAX_LENGTH, { message: `clientState must be at most ${CLIENT_STATE_MAX_LENGTH} characters` })
  clientState?: string | null;

  @ApiPropertyOptional({ description: 'Only `false`: notifications carry identifiers, never resource data.' })
  @IsOptional()
  @IsBoolean()
  includeResourceData?: boolean | null;

  @ApiPropertyOptional({ enum: TLS_VERSIONS, description: 'Default `v1_2`. Outbound TLS is 1.2 or later always.' })
  @IsOptional()
  @IsIn(TLS_VERSIONS, { message: 'Invalid property value for LatestSupportedTlsVersion' })
  latestSupportedTlsVersion?: string | null;

  @ApiPropertyOptional({
    description: 'Stored and echoed; unused (no rich notifications).',
    nullable: true,
    type: String,
  })
  @IsOptional()
  @IsString()
  @MaxLength(16_384)
  encryptionCertificate?: string | null;

  @ApiPropertyOptional({ description: 'Stored and echoed; unused.', nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  encryptionCertificateId?: string | null;

  @ApiPropertyOptional({ description: 'Stored and echoed; unused.', nullable: true, type: String })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  notificationUrlAppId?: string | null;

  @ApiHideProperty()
  @Allow()
  notificationQueryOptions?: unknown;

  @ApiHideProperty()
  @Allow()
  vapidPublicKey?: unknown;

  @ApiHideProperty()
  @Allow()
  webPushEncryptionKey?: unknown;

  @ApiHideProperty()
  @Allow()
  webPushEncryptionAuthenticationSecret?: unknown;
}

/** The properties Graph has for other workloads only: present (even null), they are `notSupported`. */
export const UNSUPPORTED_PROPERTIES = [
  'notificationQueryOptions',
  'vapidPublicKey',
  'webPushEncryptionKey',
  'webPushEncryptionAuthenticationSecret',
] as const;
