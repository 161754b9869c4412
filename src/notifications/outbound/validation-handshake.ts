/**
 * Graph's validation handshake: before a subscription is created (or moved), its URL must echo back the
 * token it is sent, proving that the receiver exists and answers for itself.
 */
import { NOTIFICATION_URL_HOST_NOT_ALLOWED_MESSAGE } from './notification-url-policy.js';
import { redactedUrl } from './redacted-url.js';
import type { WebhookClient } from './webhook-client.js';

export const VALIDATION_TIMEOUT_MS = 10_000;
export const VALIDATION_MAX_BODY_BYTES = 1024;

export const VALIDATION_FAILED_MESSAGE =
  'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.';
export const VALIDATION_MISMATCH_MESSAGE =
  'Subscription validation request failed. Response must exactly match validationToken query parameter.';
export const VALIDATION_TIMED_OUT_MESSAGE = 'Subscription validation request timed out.';

/** Graph's wording; the spaces and colons make a receiver that does not decode the query fail. */
export function validationToken(requestId: string): string {
  return `Validation: Testing client application reachability for subscription Request-Id: ${requestId}`;
}

/**
 * The URL with `validationToken` appended to its query as it is: re-serialising the query would change
 * how the receiver's own parameters are encoded.
 */
export function validationUrl(notificationUrl: URL, token: string): string {
  const base = notificationUrl.href;
  const separator = notificationUrl.search ? '&' : base.endsWith('?') ? '' : '?';
  return `${base}${separator}validationToken=${encodeURIComponent(token)}`;
}

export type ValidationFailure =
  /** Status other than 200, redirects included (never followed). */
  | 'not-ok'
  | 'body-too-large'
  /** 200, but not `text/plain` or not exactly the token. */
  | 'mismatch'
  | 'timeout'
  /** The host resolved to a refused address since it was checked: no connection was opened. */
  | 'refused-address'
  /** DNS, connection, TLS or HTTP protocol failure. */
  | 'unreachable';

export type ValidationResult =
  { ok: true } | { ok: false; failure: ValidationFailure; message: string; /** Safe to log. */ detail: string };

const MESSAGES: Record<ValidationFailure, string> = {
  'not-ok': VALIDATION_FAILED_MESSAGE,
  'body-too-large': VALIDATION_FAILED_MESSAGE,
  unreachable: VALIDATION_FAILED_MESSAGE,
  mismatch: VALIDATION_MISMATCH_MESSAGE,
  timeout: VALIDATION_TIMED_OUT_MESSAGE,
  'refused-address': NOTIFICATION_URL_HOST_NOT_ALLOWED_MESSAGE,
};

/** `timeoutMs` is the contract's 10 s unless a test shortens it. */
export async function validateNotificationUrl(
  client: WebhookClient,
  notificationUrl: URL,
  token: string,
  { timeoutMs = VALIDATION_TIMEOUT_MS }: { timeoutMs?: number } = {},
): Promise<ValidationResult> {
  const result = await client.post(validationUrl(notificationUrl, token), {
    body: '',
    contentType: 'text/plain; charset=utf-8',
    timeoutMs,
    maxBodyBytes: VALIDATION_MAX_BODY_BYTES,
  });
  const failed = (failure: ValidationFailure, detail: string): ValidationResult => ({
    ok: false,
    failure,
    message: MESSAGES[failure],
    detail,
  });
  const answered = (failure: ValidationFailure, what: string) =>
    failed(failure, `POST ${redactedUrl(notificationUrl)}: answered ${what}`);
  switch (result.outcome) {
    case 'response':
      if (result.status !== 200) return answered('not-ok', `status ${result.status}`);
      if (result.truncated) return answered('body-too-large', `more than ${VALIDATION_MAX_BODY_BYTES} bytes`);
      if (mediaType(result.contentType) !== 'text/plain') {
        return answered('mismatch', `Content-Type ${result.contentType ?? '(none)'}`);
      }
      if (result.body !== token) return answered('mismatch', 'a body other than the token');
      return { ok: true };
    case 'timeout':
      return failed('timeout', result.detail);
    case 'refused-address':
      return failed('refused-address', result.detail);
    case 'refused-url':
    case 'dns-error':
    case 'connection-error':
    case 'tls-error':
    case 'invalid-response':
      return failed('unreachable', result.detail);
  }
}

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0].trim().toLowerCase();
}
