import type { FastifyRequest } from 'fastify';

/**
 * The origin written into absolute links: `PUBLIC_BASE_URL` when configured, else the request's
 * (Fastify honours `X-Forwarded-Proto`/`-Host` only from proxies that `TRUST_PROXY` names).
 */
export function publicOrigin(request: FastifyRequest, configured?: string): string {
  return configured ?? `${request.protocol}://${request.host}`;
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
    const query = this.request.url.split('?')[1] ?? '';
    const kept = query
      .split('&')
      .filter((pair) => pair !== '' && !['skip', 'skiptoken'].includes(optionName(pair)));
    kept.push(`$skiptoken=${skiptoken}`);
    return `${this.resource(path)}?${kept.join('&')}`;
  }
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
