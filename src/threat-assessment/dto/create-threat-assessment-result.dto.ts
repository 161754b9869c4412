import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Equals, IsIn, IsOptional, IsString, Length } from 'class-validator';
import { ServerOwned } from '../../common/validation/polymorphic-body.js';
import {
  RESULT_ODATA_TYPE,
  THREAT_ASSESSMENT_RESULT_TYPES,
  type ThreatAssessmentResultType,
} from '../threat-assessment.enums.js';

/** The body of "Add results". `id` and `createdDateTime` are assigned by the service. */
@ServerOwned('id', 'createdDateTime')
export class CreateThreatAssessmentResultDto {
  @ApiPropertyOptional({ name: '@odata.type', enum: [RESULT_ODATA_TYPE], example: RESULT_ODATA_TYPE })
  @IsOptional()
  @Equals(RESULT_ODATA_TYPE, { message: `@odata.type must be '${RESULT_ODATA_TYPE}'` })
  '@odata.type'?: string;

  /** The result type: `checkPolicy` only for mail assessments. */
  @ApiProperty({
    enum: THREAT_ASSESSMENT_RESULT_TYPES,
    enumName: 'threatAssessmentResultType',
    example: 'checkPolicy',
    description: 'The result type. `checkPolicy` is the policy check result, only for mail assessment.',
  })
  @IsIn(THREAT_ASSESSMENT_RESULT_TYPES, {
    message: `resultType must be one of ${THREAT_ASSESSMENT_RESULT_TYPES.join(', ')}`,
  })
  resultType!: ThreatAssessmentResultType;

  @ApiProperty({ description: 'The result message.', example: 'No policy was hit.', minLength: 1, maxLength: 4000 })
  @IsString()
  @Length(1, 4000)
  message!: string;
}
