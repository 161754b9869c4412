/**
 * The syntax and scheme a notification URL must have before anything is resolved or sent. The host's
 * addresses are the address policy's business, checked at subscription time and at every connection.
 */

export const NOTIFICATION_URL_MAX_LENGTH = 2048;

export const INVALID_NOTIFICATION_URL_MESSAGE = 'NotificationUrl is not a valid absolute URL.';
export const NOTIFICATION_URL_HOST_NOT_ALLOWED_MESSAGE = 'NotificationUrl host is not allowed.';

export function unsupportedSchemeMessage(scheme: string): string {
  return `NotificationUrl scheme='${scheme}' is not supported.`;
}

export type NotificationUrlVerdict =
  { ok: true; url: URL } | { ok: false; reason: 'invalid-url' | 'unsupported-scheme'; message: string };

export interface NotificationUrlOptions {
  /** `http` besides `https`; never in production (the configuration refuses it). */
  allowHttp: boolean;
}

/**
 * Whitespace and control characters are refused rather than silently dropped by the URL parser, and
 * backslashes rather than read as `/`: what is stored is then what is used, and other parsers (a
 * receiver's logs, an operator's tools) see the same host.
 */
function hasAmbiguousCharacters(input: string): boolean {
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f || code === 0x5c) return true;
  }
  return false;
}

/** `scheme://authority…` with no user info (an `@` in the authority, even with nothing before it). */
const AUTHORITY_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?@]+(?:[/?]|$)/i;

export function checkNotificationUrl(input: string, options: NotificationUrlOptions): NotificationUrlVerdict {
  const invalid = { ok: false, reason: 'invalid-url', message: INVALID_NOTIFICATION_URL_MESSAGE } as const;
  if (input.length > NOTIFICATION_URL_MAX_LENGTH || hasAmbiguousCharacters(input)) return invalid;
  const url = URL.parse(input);
  if (!url) return invalid;
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'https' && !(scheme === 'http' && options.allowHttp)) {
    return { ok: false, reason: 'unsupported-scheme', message: unsupportedSchemeMessage(scheme) };
  }
  if (!AUTHORITY_FORM.test(input) || input.includes('#')) return invalid;
  return { ok: true, url };
}
