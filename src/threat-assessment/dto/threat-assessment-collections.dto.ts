import { ApiExtraModels, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PAGE_BUDGET_TEXT } from '../../odata/page-budget.js';
import { REQUEST_TYPES, requestTypesSchema, type ThreatAssessmentRequestDto } from '../request-types.js';
import { ThreatAssessmentResultDto } from './threat-assessment-responses.dto.js';

/** The annotations of every collection page; each collection adds its `value`. */
abstract class CollectionPageDto {
  @ApiProperty({ name: '@odata.context', description: "The collection's `$metadata` context URL." })
  '@odata.context'!: string;

  @ApiPropertyOptional({
    name: '@odata.count',
    type: 'integer',
    minimum: 0,
    description: 'With `$count=true`: the number of items that match `$filter`, on every page.',
  })
  '@odata.count'?: number;

  @ApiPropertyOptional({
    name: '@odata.nextLink',
    format: 'uri',
    description:
      'Present exactly when more items exist: an absolute URL that repeats the options and adds `$skiptoken`. Follow it as is. ' +
      `A page holds at most \`$top\` items and at most ${PAGE_BUDGET_TEXT} of them, so it may hold fewer than \`$top\` ` +
      'with more to follow: the link, not the count, tells whether more exist.',
  })
  '@odata.nextLink'?: string;
}

/** A page of threatAssessmentRequests. */
@ApiExtraModels(...REQUEST_TYPES.map((type) => type.responseDto))
export class ThreatAssessmentRequestCollectionDto extends CollectionPageDto {
  @ApiProperty({
    type: 'array',
    items: requestTypesSchema('responseDto'),
    description: `At most \`$top\` requests and at most ${PAGE_BUDGET_TEXT} of them, newest first unless \`$orderby\` says otherwise.`,
  })
  value!: ThreatAssessmentRequestDto[];
}

/** A page of threatAssessmentResults. */
export class ThreatAssessmentResultCollectionDto extends CollectionPageDto {
  @ApiProperty({
    type: [ThreatAssessmentResultDto],
    description: `At most \`$top\` results and at most ${PAGE_BUDGET_TEXT} of them, oldest first unless \`$orderby\` says otherwise.`,
  })
  value!: ThreatAssessmentResultDto[];
}
