import { Inject, Injectable } from '@nestjs/common';
import type { Caller } from '../../auth/caller.js';
import { uuidv7 } from '../../database/uuid-v7.js';
import { NotSupportedError } from '../../common/errors/domain-error.js';
import type { AppConfig, NotificationsConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { ThreatAssessmentRequestNotFoundError } from '../../threat-assessment/threat-assessment.errors.js';
import { Throttler } from '../../throttling/throttler.service.js';
import { AddressPolicy } from '../outbound/address-policy.js';
import {
  checkNotificationUrl,
  NOTIFICATION_URL_HOST_NOT_ALLOWED_MESSAGE,
} from '../outbound/notification-url-policy.js';
import { resolveAndCheck } from '../outbound/resolve-and-check.js';
import { validateNotificationUrl, validationToken } from '../outbound/validation-handshake.js';
import { WebhookClient } from '../outbound/webhook-client.js';
import {
  type CreateSubscriptionDto,
  EXPIRATION_REQUIRED_MESSAGE,
  UNSUPPORTED_PROPERTIES,
} from './dto/create-subscription.dto.js';
import type { UpdateSubscriptionDto } from './dto/update-subscription.dto.js';
import { parseChangeTypes, parseResource, UNSUPPORTED_RESOURCE_MESSAGE } from './subscription-resource.js';
import {
  DuplicateSubscriptionError,
  InvalidSubscriptionError,
  SubscriberUnknownError,
  SubscriptionNotFoundError,
  SubscriptionQuotaError,
  SubscriptionValidationError,
} from './subscriptions.errors.js';
import { type Subscriber, type SubscriptionRow, SubscriptionsStore } from './subscriptions.store.js';

type UrlField = 'notificationUrl' | 'lifecycleNotificationUrl';

/** RFC 3339 with a zone: what Graph's `DateTimeOffset` takes. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/**
 * The subscription API. A create runs its checks in the contract's order (body, the watched request,
 * quotas and duplicates, each URL's addresses, the handshakes), stores nothing before the last, and
 * holds no transaction while a receiver answers its handshake.
 */
@Injectable()
export class SubscriptionsService {
  private readonly settings: NotificationsConfig;

  constructor(
    private readonly store: SubscriptionsStore,
    private readonly throttler: Throttler,
    private readonly webhooks: WebhookClient,
    private readonly addressPolicy: AddressPolicy,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.settings = config.notifications;
  }

  async create(caller: Caller, body: CreateSubscriptionDto, requestId: string): Promise<SubscriptionRow> {
    const subscriber = subscriberOf(caller);
    const now = Date.now();
    for (const property of UNSUPPORTED_PROPERTIES) {
      if (body[property] !== undefined) throw new NotSupportedError(`${property} is not supported for this resource.`);
    }
    if (body.includeResourceData === true) {
      throw new NotSupportedError('includeResourceData is not supported: notifications carry identifiers only.');
    }
    const resource = parseResource(body.resource);
    if (!resource) throw new InvalidSubscriptionError('resource', UNSUPPORTED_RESOURCE_MESSAGE);
    const changeTypes = parseChangeTypes(body.changeType, resource.kind);
    if (!changeTypes.ok) throw new InvalidSubscriptionError('changeType', changeTypes.message);
    const notificationUrl = this.checkUrl('notificationUrl', body.notificationUrl);
    const lifecycleUrl =
      body.lifecycleNotificationUrl == null
        ? undefined
        : this.checkUrl('lifecycleNotificationUrl', body.lifecycleNotificationUrl);
    const expirationDateTime = this.expiration(body.expirationDateTime, now);

    await this.throttler.admitSubscriptionWrite(subscriber.tenantId);
    const requestIdOfResource = resource.kind === 'results' ? resource.requestId : null;
    if (requestIdOfResource && !(await this.store.requestExists(subscriber.tenantId, requestIdOfResource))) {
      throw new ThreatAssessmentRequestNotFoundError(requestIdOfResource);
    }
    const quotas = { tenant: this.settings.maxPerTenant, app: this.settings.maxPerApp };
    const counts = await this.store.counts(subscriber.tenantId, subscriber.applicationId);
    if (counts.tenant >= quotas.tenant) throw new SubscriptionQuotaError('tenant', quotas.tenant);
    if (counts.app >= quotas.app) throw new SubscriptionQuotaError('application', quotas.app);
    const duplicate = await this.store.duplicateOf(subscriber, resource.canonical, changeTypes.changeTypes);
    if (duplicate) throw new DuplicateSubscriptionError(duplicate);

    await this.checkAddresses('notificationUrl', notificationUrl);
    if (lifecycleUrl) await this.checkAddresses('lifecycleNotificationUrl', lifecycleUrl);
    const token = validationToken(requestId);
    await this.handshake('notificationUrl', notificationUrl, token);
    if (lifecycleUrl && lifecycleUrl.href !== notificationUrl.href) {
      await this.handshake('lifecycleNotificationUrl', lifecycleUrl, token);
    }

    const inserted = await this.store.insert(
      subscriber,
      {
        id: uuidv7(),
        resource: body.resource,
        canonicalResource: resource.canonical,
        requestId: requestIdOfResource,
        changeType: body.changeType,
        changeTypes: changeTypes.changeTypes,
        notificationUrl: body.notificationUrl,
        lifecycleNotificationUrl: body.lifecycleNotificationUrl ?? null,
        expirationDateTime,
        clientState: body.clientState ?? null,
        latestSupportedTlsVersion: body.latestSupportedTlsVersion ?? 'v1_2',
        encryptionCertificate: body.encryptionCertificate ?? null,
        encryptionCertificateId: body.encryptionCertificateId ?? null,
        notificationUrlAppId: body.notificationUrlAppId ?? null,
      },
      quotas,
    );
    switch (inserted.outcome) {
      case 'created':
        return inserted.row;
      case 'request-missing':
        throw new ThreatAssessmentRequestNotFoundError(requestIdOfResource!);
      case 'quota':
        throw new SubscriptionQuotaError(inserted.scope, inserted.scope === 'tenant' ? quotas.tenant : quotas.app);
      case 'duplicate':
        throw new DuplicateSubscriptionError(inserted.existingId);
    }
  }

  async get(caller: Caller, id: string): Promise<SubscriptionRow> {
    const row = await this.store.get(subscriberOf(caller), id);
    if (!row) throw new SubscriptionNotFoundError(id);
    return row;
  }

  list(caller: Caller, top: number, afterId?: string): Promise<SubscriptionRow[]> {
    return this.store.list(subscriberOf(caller), top, afterId);
  }

  /** Renew and/or move: a new URL passes the address policy and the handshake first, or nothing changes. */
  async update(caller: Caller, id: string, body: UpdateSubscriptionDto, requestId: string): Promise<SubscriptionRow> {
    const subscriber = subscriberOf(caller);
    const now = Date.now();
    if (body.expirationDateTime === undefined && body.notificationUrl === undefined) {
      throw new InvalidSubscriptionError(
        'expirationDateTime',
        'An update needs expirationDateTime, notificationUrl or both.',
      );
    }
    const notificationUrl =
      body.notificationUrl === undefined ? undefined : this.checkUrl('notificationUrl', body.notificationUrl);
    const expirationDateTime =
      body.expirationDateTime === undefined ? undefined : this.expiration(body.expirationDateTime, now);
    await this.throttler.admitSubscriptionWrite(subscriber.tenantId);
    if (!(await this.store.get(subscriber, id))) throw new SubscriptionNotFoundError(id);
    if (notificationUrl) {
      await this.checkAddresses('notificationUrl', notificationUrl);
      await this.handshake('notificationUrl', notificationUrl, validationToken(requestId));
    }
    const row = await this.store.update(subscriber, id, { expirationDateTime, notificationUrl: body.notificationUrl });
    if (!row) throw new SubscriptionNotFoundError(id);
    return row;
  }

  async delete(caller: Caller, id: string): Promise<void> {
    if (!(await this.store.delete(subscriberOf(caller), id))) throw new SubscriptionNotFoundError(id);
  }

  /** Graph's action: the guard has re-checked the permission; nothing else changes. */
  async reauthorize(caller: Caller, id: string): Promise<void> {
    await this.get(caller, id);
  }

  private checkUrl(field: UrlField, input: string): URL {
    const verdict = checkNotificationUrl(input, { allowHttp: this.settings.allowHttp });
    if (!verdict.ok) throw new InvalidSubscriptionError(field, verdict.message);
    return verdict.url;
  }

  /** Every address the host has now must be allowed; a name that does not resolve fails at the handshake. */
  private async checkAddresses(field: UrlField, url: URL): Promise<void> {
    const check = await resolveAndCheck(url.hostname, this.addressPolicy);
    if (check.outcome === 'refused-address') {
      throw new InvalidSubscriptionError(field, NOTIFICATION_URL_HOST_NOT_ALLOWED_MESSAGE);
    }
  }

  private async handshake(field: UrlField, url: URL, token: string): Promise<void> {
    const result = await validateNotificationUrl(this.webhooks, url, token);
    if (!result.ok) {
      if (result.failure === 'refused-address') throw new InvalidSubscriptionError(field, result.message);
      throw new SubscriptionValidationError(field, result.message);
    }
  }

  /** Graph's bounds: in the future, at most the maximum ahead, raised to the minimum when sooner. */
  private expiration(input: string | undefined, now: number): Date {
    if (input === undefined) throw new InvalidSubscriptionError('expirationDateTime', EXPIRATION_REQUIRED_MESSAGE);
    const at = DATE_TIME.test(input) ? Date.parse(input) : Number.NaN;
    if (Number.isNaN(at)) {
      throw new InvalidSubscriptionError(
        'expirationDateTime',
        'expirationDateTime must be a date and time with its zone, e.g. 2026-01-03T18:23:45.935Z.',
      );
    }
    if (at <= now)
      throw new InvalidSubscriptionError('expirationDateTime', 'Subscription expiration must be in the future.');
    const { maxExpirationMinutes, minExpirationMinutes } = this.settings;
    if (at > now + maxExpirationMinutes * 60_000) {
      throw new InvalidSubscriptionError(
        'expirationDateTime',
        `Subscription expiration can only be ${maxExpirationMinutes} minutes in the future.`,
      );
    }
    return new Date(Math.max(at, now + minExpirationMinutes * 60_000));
  }
}

/** Graph's scoping: a user sees what its app made for it, an application what it made in the tenant. */
function subscriberOf(caller: Caller): Subscriber {
  const applicationId = caller.applicationId ?? (caller.kind === 'application' ? caller.id : undefined);
  if (!applicationId) throw new SubscriberUnknownError();
  const objectId = caller.objectId ?? caller.id;
  return {
    tenantId: caller.tenantId,
    applicationId,
    creatorId: caller.kind === 'user' ? objectId : undefined,
    objectId,
  };
}
