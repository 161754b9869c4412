/**
 * Every failure the service raises on purpose. Services and guards throw these without knowing HTTP;
 * the exception filter maps each code to a status and Graph error code, exhaustively.
 */
export type DomainErrorCode =
  | 'invalidBody'
  | 'invalidQueryOption'
  | 'invalidId'
  | 'notSupported'
  | 'authenticationRequired'
  | 'permissionDenied'
  | 'requestNotFound'
  | 'resultNotFound'
  | 'checkPolicyRequiresMail'
  | 'databaseUnavailable'
  | 'identityProviderUnavailable'
  | 'throttled'
  | 'idempotencyKeyReused';

export interface ErrorDetail {
  /** The field or option at fault, as the client spelled it. */
  target: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode;
  readonly details: readonly ErrorDetail[] = [];

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A body that failed validation; `details` names each field. */
export class InvalidBodyError extends DomainError {
  readonly code = 'invalidBody';
  override readonly details: readonly ErrorDetail[];

  constructor(message: string, details: readonly ErrorDetail[] = []) {
    super(message);
    this.details = details;
  }
}

/** A path segment that must be a GUID and is not. */
export class InvalidIdError extends DomainError {
  readonly code = 'invalidId';

  constructor(readonly parameter: string) {
    super(`'${parameter}' must be a GUID`);
  }
}

export class NotSupportedError extends DomainError {
  readonly code = 'notSupported';
}

export function assertUnreachable(value: never): never {
  throw new Error(`Unhandled case: ${String(value)}`);
}
