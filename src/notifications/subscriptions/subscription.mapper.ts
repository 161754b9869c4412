import type { SubscriptionDto } from './dto/subscription.dto.js';
import type { SubscriptionRow } from './subscriptions.store.js';

/** Graph's shape; `clientState` only where Graph returns it (create and update), else null. */
export function toSubscriptionDto(
  row: SubscriptionRow,
  { withClientState }: { withClientState: boolean },
): SubscriptionDto {
  return {
    id: row.id,
    resource: row.resource,
    changeType: row.change_type,
    notificationUrl: row.notification_url,
    lifecycleNotificationUrl: row.lifecycle_notification_url,
    expirationDateTime: row.expiration_date_time.toISOString(),
    clientState: withClientState ? row.client_state : null,
    includeResourceData: false,
    applicationId: row.application_id,
    creatorId: row.creator_id,
    latestSupportedTlsVersion: row.latest_supported_tls_version,
    encryptionCertificate: row.encryption_certificate,
    encryptionCertificateId: row.encryption_certificate_id,
    notificationUrlAppId: row.notification_url_app_id,
    notificationQueryOptions: null,
    notificationContentType: 'application/json',
  };
}
