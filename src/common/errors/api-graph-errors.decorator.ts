import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';

export class GraphInnerErrorDto {
  @ApiProperty({ example: '2026-01-01T00:00:00' })
  date!: string;

  @ApiProperty({ name: 'request-id', format: 'uuid' })
  'request-id'!: string;

  @ApiProperty({ name: 'client-request-id' })
  'client-request-id'!: string;
}

export class GraphErrorDetailDto {
  @ApiProperty({ example: 'invalidRequest' })
  code!: string;

  @ApiProperty({ example: 'resultType must be one of checkPolicy, rescan, unknownFutureValue' })
  message!: string;

  @ApiProperty({ example: 'resultType' })
  target!: string;
}

export class GraphErrorDto {
  @ApiProperty({
    example: 'itemNotFound',
    description:
      'invalidRequest, notSupported, InvalidAuthenticationToken, accessDenied, itemNotFound, notAllowed, ' +
      'requestEntityTooLarge, unsupportedMediaType, TooManyRequests, serviceNotAvailable, generalException',
  })
  code!: string;

  @ApiProperty({ example: "The threatAssessmentRequest '…' does not exist." })
  message!: string;

  @ApiPropertyOptional({ type: [GraphErrorDetailDto], description: 'One entry per invalid field (400).' })
  details?: GraphErrorDetailDto[];

  @ApiProperty({ type: GraphInnerErrorDto })
  innerError!: GraphInnerErrorDto;
}

/** Graph's error envelope: every 4xx and 5xx answers with it. */
export class GraphErrorResponseDto {
  @ApiProperty({ type: GraphErrorDto })
  error!: GraphErrorDto;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed JSON, failed validation, a bad query option or an id that is not a GUID (`invalidRequest`); `$search` (`notSupported`).',
  401: 'Missing, expired or invalid token (`InvalidAuthenticationToken`, with `WWW-Authenticate: Bearer`).',
  403: 'The token lacks the permission, or is a personal Microsoft account (`accessDenied`).',
  404: "Unknown id, or another tenant's (`itemNotFound`).",
  405: 'Method not allowed (`notAllowed`).',
  413: 'Body too large (`requestEntityTooLarge`).',
  415: 'Content-Type is not application/json (`unsupportedMediaType`).',
  429: 'Throttled (`TooManyRequests`, with `Retry-After`).',
  500: 'Unexpected error (`generalException`).',
  503: 'Database unreachable (`serviceNotAvailable`, with `Retry-After`).',
};

const READ = [400, 401, 403, 404, 500, 503];
/** What each kind of operation can answer; throttling (429) joins the writes once it is enforced. */
export const ERRORS_OF = {
  read: READ,
  list: READ.filter((s) => s !== 404),
  create: [...READ.filter((s) => s !== 404), 413, 415],
  write: [...READ, 413, 415],
} as const;

/** Documents each status this operation can answer with the envelope schema, in one place. */
export function ApiGraphErrors(statuses: readonly number[]) {
  return applyDecorators(
    ApiExtraModels(GraphErrorResponseDto),
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: DESCRIPTIONS[status] ?? 'Error',
        content: { 'application/json': { schema: { $ref: getSchemaPath(GraphErrorResponseDto) } } },
      }),
    ),
  );
}
