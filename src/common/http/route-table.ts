import type { RouteOptions } from 'fastify';

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
