/**
 * A notification URL as it may appear in logs and errors: its query string can carry the receiver's
 * secrets (Graph sends it back on every POST, so receivers put tokens there), so only its presence shows.
 */
export function redactedUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search ? '?<redacted>' : ''}`;
}
