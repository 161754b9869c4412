import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorDetail } from './domain-error.js';
import { lingerAfterResponse } from '../http/lingering-close.js';

/** Graph's error codes, as clients switch on them. */
export type GraphErrorCode =
  | 'invalidRequest'
  | 'notSupported'
  | 'InvalidAuthenticationToken'
  | 'accessDenied'
  | 'itemNotFound'
  | 'notAllowed'
  | 'conflict'
  | 'quotaLimitReached'
  | 'ValidationError'
  | 'requestEntityTooLarge'
  | 'unsupportedMediaType'
  | 'TooManyRequests'
  | 'serviceNotAvailable'
  | 'generalException';

export interface GraphErrorResponse {
  status: number;
  code: GraphErrorCode;
  message: string;
  details?: readonly ErrorDetail[];
  headers?: Record<string, string>;
}

/** Writes the envelope `{"error":{"code","message","innerError":{…}}}` that every error uses. */
export function sendGraphError(request: FastifyRequest, reply: FastifyReply, error: GraphErrorResponse): void {
  const body = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details?.length
        ? { details: error.details.map((d) => ({ code: error.code, message: d.message, target: d.target })) }
        : {}),
      innerError: {
        // Graph writes this date without fraction or zone.
        date: new Date().toISOString().slice(0, 19),
        'request-id': request.id,
        'client-request-id': request.clientRequestId ?? request.id,
      },
    },
  };
  // Refused before its body was read (a 401, a miss, a limit): the rest is not worth reading.
  if (!request.raw.complete) {
    void reply.header('connection', 'close');
    lingerAfterResponse(request.raw.socket);
  }
  void reply
    .status(error.status)
    .headers(error.headers ?? {})
    .type('application/json; charset=utf-8')
    .send(body);
}
