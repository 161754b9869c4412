import { ApiProperty } from '@nestjs/swagger';

/** Graph's subscription resource, as every route answers it. */
export class SubscriptionDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'informationProtection/threatAssessmentRequests' })
  resource!: string;

  @ApiProperty({ example: 'created,updated' })
  changeType!: string;

  @ApiProperty({ format: 'uri' })
  notificationUrl!: string;

  @ApiProperty({ format: 'uri', nullable: true, type: String })
  lifecycleNotificationUrl!: string | null;

  @ApiProperty({ format: 'date-time' })
  expirationDateTime!: string;

  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Returned by create and update; `null` when read back (GET), as Graph does.',
  })
  clientState!: string | null;

  @ApiProperty({ enum: [false] })
  includeResourceData!: boolean;

  @ApiProperty({ description: 'The client application that created it (`azp`, else `appid`).' })
  applicationId!: string;

  @ApiProperty({ description: 'The user, or the application service principal, that created it (`oid`).' })
  creatorId!: string;

  @ApiProperty({ enum: ['v1_2', 'v1_3'] })
  latestSupportedTlsVersion!: string;

  @ApiProperty({ nullable: true, type: String })
  encryptionCertificate!: string | null;

  @ApiProperty({ nullable: true, type: String })
  encryptionCertificateId!: string | null;

  @ApiProperty({ nullable: true, type: String })
  notificationUrlAppId!: string | null;

  @ApiProperty({ nullable: true, type: String, enum: [null] })
  notificationQueryOptions!: null;

  @ApiProperty({ enum: ['application/json'] })
  notificationContentType!: 'application/json';
}

export class SubscriptionEntityResponseDto extends SubscriptionDto {
  @ApiProperty({ name: '@odata.context', example: 'https://api.example.com/v1.0/$metadata#subscriptions/$entity' })
  '@odata.context'!: string;
}

/** A page of the caller's subscriptions. */
export class SubscriptionCollectionDto {
  @ApiProperty({ name: '@odata.context', example: 'https://api.example.com/v1.0/$metadata#subscriptions' })
  '@odata.context'!: string;

  @ApiProperty({
    name: '@odata.nextLink',
    required: false,
    format: 'uri',
    description: 'Present exactly when more subscriptions exist: follow it as is.',
  })
  '@odata.nextLink'?: string;

  @ApiProperty({ type: [SubscriptionDto], description: 'At most 100 subscriptions, oldest first.' })
  value!: SubscriptionDto[];
}
