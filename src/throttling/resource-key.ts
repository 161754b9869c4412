import { domainToASCII } from 'node:url';

/** RFC 3986's unreserved characters: percent-encoding one of them does not change the URI. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * One spelling per URL, so that the per-resource limit counts a resource once however it is written.
 * The WHATWG parser lowercases scheme and host, drops a default port and writes an IDN host in ASCII;
 * on top of that the fragment goes (it never reaches the server), dot segments are resolved, and
 * percent-encoding is normalised: unreserved characters decoded, other escapes in upper-case hex.
 * Text the parser refuses is its own key.
 */
export function canonicalUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  url.hash = '';
  const { href, pathname, search } = url;
  const path = pathname.startsWith('/') ? withoutDotSegments(pathname) : pathname;
  return `${href.slice(0, href.length - pathname.length - search.length)}${path}${search}`.replace(
    /%([0-9A-Fa-f]{2})/g,
    (_, hex: string) => {
      const char = String.fromCharCode(parseInt(hex, 16));
      return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
    },
  );
}

/**
 * WHATWG's dot-segment rules (`.`, `..` and their `%2e` spellings). The parser applies them too, but
 * Node 20's (Ada 2.9) skips them after a segment that starts with a dot: `/a/.b/../c` stays as is.
 */
function withoutDotSegments(path: string): string {
  const segments = path.slice(1).split('/');
  const kept: string[] = [];
  segments.forEach((segment, i) => {
    const dots = segment.replace(/%2e/gi, '.');
    if (dots !== '.' && dots !== '..') {
      kept.push(segment);
      return;
    }
    if (dots === '..') kept.pop();
    if (i === segments.length - 1) kept.push('');
  });
  return `/${kept.join('/')}`;
}

/**
 * An address by its domain, case-insensitive (lowercased, IDN in ASCII); the local part is kept as
 * written, as RFC 5321 lets the receiving host decide whether its case matters.
 */
export function canonicalEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0) return address;
  const domain = address.slice(at + 1).toLowerCase();
  return `${address.slice(0, at)}@${domainToASCII(domain) || domain}`;
}
