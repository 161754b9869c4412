import { DomainError, ServiceUnavailableError } from '../common/errors/domain-error.js';

/** 401 with `WWW-Authenticate: Bearer`: no token, or one that fails verification. */
export class AuthenticationRequiredError extends DomainError {
  constructor(message: string) {
    super(message, { status: 401, code: 'InvalidAuthenticationToken', headers: { 'www-authenticate': 'Bearer' } });
  }
}

/** 403: a valid token without the permission, or a personal Microsoft account. */
export class PermissionDeniedError extends DomainError {
  constructor(message: string) {
    super(message, { status: 403, code: 'accessDenied' });
  }
}

/** 503: the identity provider's signing keys could not be fetched; the client should retry. */
export class IdentityProviderUnavailableError extends ServiceUnavailableError {}
