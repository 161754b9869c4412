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
  400: 'Malformed JSON, a body past the shape limits (32 levels, 1,000 values) or holding a NUL or unpaired surrogate, failed validation (`details` names the first 10 problems), a bad query option, an id that is not a GUID, or a missing, malformed or not allowed `Host` (`invalidRequest`); `$search` or another unsupported feature (`notSupported`).',
  401: 'Missing, expired or invalid token (`InvalidAuthenticationToken`, with `WWW-Authenticate: Bearer`).',
  403: 'The token lacks the permission, or is a personal Microsoft account (`accessDenied`).',
  404: "Unknown id, or another tenant's; for a create replayed by its `Idempotency-Key`, the request it created was deleted (`itemNotFound`).",
  405: 'Method not allowed (`notAllowed`).',
  413: 'Body too large: `BODY_LIMIT_BYTES` (8 MiB by default) to create a request, 32 KiB for every other route (`requestEntityTooLarge`).',
  409: 'A subscription of this application and user already watches this resource for these change types (`conflict`).',
  415: 'Content-Type is not application/json (`unsupportedMediaType`).',
  422: 'The `Idempotency-Key` was already used in this tenant with a different request (`invalidRequest`).',
  429: 'Throttled (`TooManyRequests`, with `Retry-After`).',
  500: 'Unexpected error (`generalException`).',
  503: 'Database unreachable, or the service is shutting down (`serviceNotAvailable`, with `Retry-After`).',
};

/** One example per status, as the service writes it. */
const EXAMPLES: Record<
  number,
  { code: string; message: string; details?: { code: string; message: string; target: string }[] }
> = {
  400: {
    code: 'invalidRequest',
    message: 'resultType must be one of checkPolicy, rescan, unknownFutureValue',
    details: [
      {
        code: 'invalidRequest',
        message: 'resultType must be one of checkPolicy, rescan, unknownFutureValue',
        target: 'resultType',
      },
    ],
  },
  401: { code: 'InvalidAuthenticationToken', message: 'Access token is empty.' },
  403: {
    code: 'accessDenied',
    message: 'Missing permission: this operation needs one of ThreatAssessment.ReadWrite.All as a delegated scope.',
  },
  404: {
    code: 'itemNotFound',
    message: "The threatAssessmentRequest '0f8fad5b-d9cb-469f-a165-70867728950e' does not exist.",
  },
  405: { code: 'notAllowed', message: 'PATCH is not allowed on this resource; allowed: DELETE, GET.' },
  413: { code: 'requestEntityTooLarge', message: 'The request body is too large.' },
  415: { code: 'unsupportedMediaType', message: "The request body's Content-Type must be application/json." },
  422: { code: 'invalidRequest', message: 'This Idempotency-Key was already used with a different request.' },
  409: {
    code: 'conflict',
    message: 'Subscription Id 7f105c7d-2dc5-4530-97cd-4e7ae6534c07 already exists for the requested combination',
  },
  429: { code: 'TooManyRequests', message: 'Too many requests for this tenant. Retry after 540 seconds.' },
  500: { code: 'generalException', message: 'An unexpected error occurred.' },
  503: {
    code: 'serviceNotAvailable',
    message: 'The service is temporarily unavailable. Retry after the time given in Retry-After.',
  },
};

/** Headers an error carries besides the correlation ones. */
const HEADERS: Record<
  number,
  Record<string, { description: string; required: true; schema: Record<string, unknown> }>
> = {
  401: {
    'WWW-Authenticate': {
      description: 'Always `Bearer`.',
      required: true,
      schema: { type: 'string', enum: ['Bearer'] },
    },
  },
  429: {
    'Retry-After': {
      description: 'Seconds to wait before retrying.',
      required: true,
      schema: { type: 'integer', minimum: 0 },
    },
  },
  503: {
    'Retry-After': {
      description: 'Seconds to wait before retrying.',
      required: true,
      schema: { type: 'integer', minimum: 0 },
    },
  },
};

const example = (status: number) => {
  const { code, message, details } = EXAMPLES[status] ?? EXAMPLES[500];
  return {
    error: {
      code,
      message,
      ...(details ? { details } : {}),
      innerError: {
        date: '2026-01-01T00:00:00',
        'request-id': 'b0b8f5e9-4c0e-4a6c-9d3c-2c7b2a1f0e11',
        'client-request-id': 'b0b8f5e9-4c0e-4a6c-9d3c-2c7b2a1f0e11',
      },
    },
  };
};

const READ = [400, 401, 403, 404, 500, 503];
/**
 * What each kind of operation can answer. Writes also refuse bodies, reused idempotency keys and excess;
 * a create replayed by its `Idempotency-Key` after its request was deleted is 404; a DELETE may carry a
 * body, which is refused like any other (GET and HEAD bodies are ignored).
 */
export const ERRORS_OF = {
  read: READ,
  list: READ.filter((s) => s !== 404),
  create: [...READ, 413, 415, 422, 429],
  write: [...READ, 413, 415, 422, 429],
  delete: [...READ, 413, 415],
  /** Subscription create and update: also a duplicate (409); a quota is a 403. */
  subscriptionWrite: [...READ, 409, 413, 415, 429],
  /** Probes: a malformed or missing Host (400), and 503 while the database is down or the service stops. */
  probe: [400, 503],
} as const;

/** Documents each status this operation can answer with the envelope schema, in one place. */
export function ApiGraphErrors(statuses: readonly number[]) {
  return applyDecorators(
    ApiExtraModels(GraphErrorResponseDto),
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: DESCRIPTIONS[status] ?? 'Error',
        ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
        content: {
          'application/json': { schema: { $ref: getSchemaPath(GraphErrorResponseDto) }, example: example(status) },
        },
      }),
    ),
  );
}
