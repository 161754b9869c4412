import { DomainError, type ErrorDetail, InvalidRequestError } from '../../common/errors/domain-error.js';

/** Also for another tenant's, application's or user's subscription, and an expired one. */
export class SubscriptionNotFoundError extends DomainError {
  constructor(id: string) {
    super(`The subscription '${id}' does not exist.`, { status: 404, code: 'itemNotFound' });
  }
}

/** A body field that breaks the subscription rules: `details` names it. */
export class InvalidSubscriptionError extends InvalidRequestError {
  constructor(target: string, message: string) {
    super(message, [{ target, message }]);
  }
}

/** Graph's code and texts for a failed validation handshake. */
export class SubscriptionValidationError extends DomainError {
  constructor(target: 'notificationUrl' | 'lifecycleNotificationUrl', message: string) {
    const details: ErrorDetail[] = [{ target, message }];
    super(message, { status: 400, code: 'ValidationError' }, details);
  }
}

/** Graph's text for its duplicate rule. */
export class DuplicateSubscriptionError extends DomainError {
  constructor(existingId: string) {
    super(`Subscription Id ${existingId} already exists for the requested combination`, {
      status: 409,
      code: 'conflict',
    });
  }
}

export class SubscriptionQuotaError extends DomainError {
  constructor(scope: 'tenant' | 'application', limit: number) {
    super(
      scope === 'tenant'
        ? `The tenant has reached its limit of ${limit} active subscriptions.`
        : `The application has reached its limit of ${limit} active subscriptions in this tenant.`,
      { status: 403, code: 'quotaLimitReached' },
    );
  }
}

/** A subscription needs the client application; a delegated token without `azp` or `appid` has none. */
export class SubscriberUnknownError extends DomainError {
  constructor() {
    super('The access token names no client application (azp/appid), which a subscription records.', {
      status: 403,
      code: 'accessDenied',
    });
  }
}
