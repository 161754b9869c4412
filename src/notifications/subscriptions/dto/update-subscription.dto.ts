import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString } from 'class-validator';

/** The body of "Update subscription": renew, move, or both. */
export class UpdateSubscriptionDto {
  @ApiPropertyOptional({
    description: 'The new end (UTC), under the same bounds as on create; may shorten the lifetime.',
    format: 'date-time',
    example: '2026-01-04T11:00:00.000Z',
  })
  @IsOptional()
  @IsString()
  expirationDateTime?: string;

  @ApiPropertyOptional({
    description: 'A new notification URL; validated by the handshake first, and on failure nothing changes.',
    format: 'uri',
  })
  @IsOptional()
  @IsString()
  notificationUrl?: string;
}
