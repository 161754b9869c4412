import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type GraphErrorResponse, sendGraphError } from '../errors/graph-error-body.js';
import { setCorrelation } from './request-context.js';
import { setSecurityHeaders } from './security-headers.js';

/**
 * Fastify `frameworkErrors`: the router refuses a URL before any hook runs (malformed percent-encoding,
 * a path segment longer than `maxParamLength`); the answer still carries Graph's envelope, the
 * correlation headers and the security headers.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  setSecurityHeaders(reply);
  setCorrelation(request, reply);
  sendGraphError(request, reply, refusalOf(error));
}

function refusalOf(error: FastifyError): GraphErrorResponse {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return { status: 400, code: 'invalidRequest', message: 'The URL is not validly percent-encoded.' };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { status: 414, code: 'invalidRequest', message: 'A segment of the URL path is too long.' };
    default:
      return { status: 400, code: 'invalidRequest', message: 'The request is malformed or incorrect.' };
  }
}
