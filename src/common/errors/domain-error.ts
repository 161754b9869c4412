import type { GraphErrorCode } from './graph-error-body.js';

export interface ErrorDetail {
  /** The field or option at fault, as the client spelled it. */
  target: string;
  message: string;
}

/** What a {@link DomainError} answers: its status, Graph error code and the headers that go with them. */
export interface ErrorAnswer {
  status: number;
  code: GraphErrorCode;
  headers?: Readonly<Record<string, string>>;
}

/**
 * Every failure the service raises on purpose. Services and guards throw these without knowing HTTP;
 * each error carries the answer a client gets (status, Graph code, headers), and the message is that
 * answer's text, so the exception filter knows no feature: it writes what the error says.
 */
export abstract class DomainError extends Error {
  readonly status: number;
  readonly code: GraphErrorCode;
  readonly headers: Readonly<Record<string, string>>;
  readonly details: readonly ErrorDetail[];

  constructor(message: string, answer: ErrorAnswer, details: readonly ErrorDetail[] = []) {
    super(message);
    this.name = new.target.name;
    this.status = answer.status;
    this.code = answer.code;
    this.headers = answer.headers ?? {};
    this.details = details;
  }
}

/** 400 `invalidRequest`: a body, an option or a value the client must change. */
export abstract class InvalidRequestError extends DomainError {
  constructor(message: string, details: readonly ErrorDetail[] = []) {
    super(message, { status: 400, code: 'invalidRequest' }, details);
  }
}

/** A body that failed validation; `details` names the first problems. */
export class InvalidBodyError extends InvalidRequestError {}

/** A path segment that must be a GUID and is not. */
export class InvalidIdError extends InvalidRequestError {
  constructor(readonly parameter: string) {
    super(`'${parameter}' must be a GUID`);
  }
}

/** 400 `notSupported`: a feature of Graph's API this service does not offer. */
export class NotSupportedError extends DomainError {
  constructor(message: string) {
    super(message, { status: 400, code: 'notSupported' });
  }
}

/** Seconds a client should wait before retrying while a dependency is unreachable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** 503 `serviceNotAvailable` with `Retry-After`: a dependency (the database, the identity provider) is down. */
export abstract class ServiceUnavailableError extends DomainError {
  constructor() {
    super('The service is temporarily unavailable. Retry after the time given in Retry-After.', {
      status: 503,
      code: 'serviceNotAvailable',
      headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
    });
  }
}
