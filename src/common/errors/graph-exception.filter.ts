import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { databaseFailureOf } from '../../database/database-failure.js';
import { RouteTable } from '../http/route-table.js';
import { DomainError, UNAVAILABLE_RETRY_AFTER_SECONDS } from './domain-error.js';
import { type GraphErrorResponse, sendGraphError } from './graph-error-body.js';

/**
 * The one place an error becomes a response: always Graph's envelope, never a stack trace or SQL.
 * Registered as APP_FILTER, so the tests' app answers exactly like production.
 */
@Catch()
export class GraphExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('GraphExceptionFilter');

  constructor(private readonly routes: RouteTable) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const response = this.toResponse(exception, request);
    if (response.status >= 500 && response.code === 'generalException') {
      this.logger.error(
        { err: exception, requestId: request.id, route: request.routeOptions?.url },
        'Unexpected error',
      );
    }
    sendGraphError(request, reply, response);
  }

  private toResponse(exception: unknown, request: FastifyRequest): GraphErrorResponse {
    if (exception instanceof DomainError) return fromDomainError(exception);
    if (exception instanceof HttpException) {
      // Nest wraps Fastify's own 4xx errors (body parsing, limits) with the original as the cause; a 404
      // is a router miss (configureApp answers most of them before a body is read).
      if (exception.getStatus() === 404) return this.routes.miss(request);
      return fromFastifyError(exception.cause) ?? fromStatus(exception.getStatus()) ?? unexpected();
    }
    return fromFastifyError(exception) ?? fromDatabaseError(exception) ?? unexpected();
  }
}

/** The error says what the client gets: the filter knows no feature's errors. */
function fromDomainError(error: DomainError): GraphErrorResponse {
  return {
    status: error.status,
    code: error.code,
    message: error.message,
    details: error.details,
    headers: { ...error.headers },
  };
}

function fromStatus(status: number): GraphErrorResponse | undefined {
  switch (status) {
    case 400:
      return { status, code: 'invalidRequest', message: 'The request is malformed or incorrect.' };
    case 403:
      return { status, code: 'accessDenied', message: 'Access to this resource is denied.' };
    case 405:
      return { status, code: 'notAllowed', message: 'The method is not allowed on this resource.' };
    case 413:
      return { status, code: 'requestEntityTooLarge', message: 'The request body is too large.' };
    case 415:
      return {
        status,
        code: 'unsupportedMediaType',
        message: "The request body's Content-Type must be application/json.",
      };
    case 503:
      return unavailable();
    default:
      return undefined;
  }
}

/** Errors Fastify raises before a handler runs: body parsing, limits, content types. */
function fromFastifyError(error: unknown): GraphErrorResponse | undefined {
  if (!isObject(error) || typeof error.code !== 'string' || !error.code.startsWith('FST_')) {
    // JSON.parse failures come as SyntaxError with statusCode 400.
    if (error instanceof SyntaxError && isObject(error) && error.statusCode === 400) {
      return { status: 400, code: 'invalidRequest', message: 'The request body is not valid JSON.' };
    }
    return undefined;
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return fromStatus(413);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return fromStatus(415);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'invalidRequest', message: 'The request body is not valid JSON.' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'invalidRequest', message: 'The request body is empty; a JSON object is required.' };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'invalidRequest', message: 'Content-Length does not match the body.' };
    default: {
      const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
      if (status >= 400 && status < 500) {
        return (
          fromStatus(status) ?? { status, code: 'invalidRequest', message: 'The request is malformed or incorrect.' }
        );
      }
      return undefined;
    }
  }
}

function fromDatabaseError(error: unknown): GraphErrorResponse | undefined {
  switch (databaseFailureOf(error)) {
    case 'invalid':
      return { status: 400, code: 'invalidRequest', message: 'A value in the request is invalid or cannot be stored.' };
    case 'unavailable':
      return unavailable();
    default:
      return undefined;
  }
}

function unavailable(): GraphErrorResponse {
  return {
    status: 503,
    code: 'serviceNotAvailable',
    message: 'The service is temporarily unavailable. Retry after the time given in Retry-After.',
    headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
  };
}

function unexpected(): GraphErrorResponse {
  return { status: 500, code: 'generalException', message: 'An unexpected error occurred.' };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
