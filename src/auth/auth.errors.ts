import { DomainError } from '../common/errors/domain-error.js';

/** 401 with `WWW-Authenticate: Bearer`: no token, or one that fails verification. */
export class AuthenticationRequiredError extends DomainError {
  readonly code = 'authenticationRequired';
}

/** 403: a valid token without the permission, or a personal Microsoft account. */
export class PermissionDeniedError extends DomainError {
  readonly code = 'permissionDenied';
}

/** 503: the identity provider's signing keys could not be fetched; the client should retry. */
export class IdentityProviderUnavailableError extends DomainError {
  readonly code = 'identityProviderUnavailable';

  constructor() {
    super('The signing keys of the identity provider are unavailable.');
  }
}
