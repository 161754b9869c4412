import type { FastifyRequest } from 'fastify';

/**
 * The origin written into absolute links: `PUBLIC_BASE_URL` when configured, else the request's
 * (Fastify honours `X-Forwarded-Proto`/`-Host` only from proxies that `TRUST_PROXY` names), whose Host
 * configureApp has checked: well-formed, and one of `ALLOWED_HOSTS` when that is set.
 */
export function publicOrigin(request: FastifyRequest, configured?: string): string {
  return configured ?? `${request.protocol}://${request.host.toLowerCase()}`;
}

export class PublicUrls {
  constructor(
    private readonly request: FastifyRequest,
    private readonly configured?: string,
  ) {}

  /** `{origin}/{version}` as the client called it. */
  get base(): string {
    return `${publicOrigin(this.request, this.configured)}/${this.request.apiVersion}`;
  }

  context(fragment: string): string {
    return `${this.base}/$metadata#${fragment}`;
  }

  resource(path: string): string {
    return `${this.base}/${path}`;
  }

  /**
   * The next page's link: the request's own options as the client wrote them, minus `$skip` and any
   * earlier `$skiptoken` (the token already holds the position), plus the new `$skiptoken`.
   */
  nextLink(path: string, skiptoken: string): string {
    const url = this.request.url;
    const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
    const kept = query
      .split('&')
      .filter((pair) => pair !== '' && !['skip', 'skiptoken'].includes(optionName(pair)))
      .map(uriSafe);
    kept.push(`$skiptoken=${skiptoken}`);
    return `${this.resource(path)}?${kept.join('&')}`;
  }
}

/**
 * Clients send some characters a URI forbids (`{`, `|`, a space, a stray `%`) unencoded; the link is
 * written back as a valid URI, meaning the same thing once decoded.
 */
function uriSafe(pair: string): string {
  return pair.replace(/%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/gu, (char) =>
    [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

function optionName(pair: string): string {
  const key = pair.split('=')[0] ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    decoded = key;
  }
  return decoded.replace(/^\$/, '').toLowerCase();
}
