import type { FastifyRequest, RouteOptions } from 'fastify';
import type { GraphErrorResponse } from '../errors/graph-error-body.js';

/**
 * Remembers every route's path and methods as Fastify registers them, so that a miss can be told
 * apart: a known path with another method is 405 with `Allow`, anything else 404.
 */
export class RouteTable {
  private readonly routes = new Map<string, { pattern: RegExp; methods: Set<string> }>();

  readonly onRoute = (route: RouteOptions): void => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const entry = this.routes.get(route.url) ?? { pattern: toPattern(route.url), methods: new Set<string>() };
    for (const method of methods) entry.methods.add(method.toUpperCase());
    this.routes.set(route.url, entry);
  };

  /** The answer to a request that matched no route: 405 with `Allow` on a known path, else 404. */
  miss(request: FastifyRequest): GraphErrorResponse {
    const allowed = this.allowedMethods(request.url.split('?')[0] ?? '/');
    if (allowed.length === 0)
      return { status: 404, code: 'itemNotFound', message: 'Resource not found for the segment.' };
    return {
      status: 405,
      code: 'notAllowed',
      message: `${request.method.slice(0, 20)} is not allowed on this resource; allowed: ${allowed.join(', ')}.`,
      headers: { allow: allowed.join(', ') },
    };
  }

  allowedMethods(path: string): string[] {
    const allowed = new Set<string>();
    for (const { pattern, methods } of this.routes.values()) {
      if (pattern.test(path)) methods.forEach((m) => allowed.add(m));
    }
    return [...allowed].filter((m) => m !== 'HEAD').sort();
  }
}

function toPattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}
