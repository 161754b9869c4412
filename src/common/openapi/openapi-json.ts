import type { OpenAPIObject } from '@nestjs/swagger';

/** OpenAPI's own order for the root; everything else is alphabetical. */
const ROOT_ORDER = ['openapi', 'info', 'servers', 'security', 'tags', 'paths', 'components'];

/**
 * The committed `openapi.json`: pretty-printed with a stable key order, so that a diff shows what changed
 * in the API and not how Nest happened to collect it. Object keys are sorted, except where the order
 * means something: a schema's `properties` (the order readers see) and example values (Graph's bodies).
 */
export function toOpenApiJson(document: OpenAPIObject): string {
  return `${JSON.stringify(sortKeys(document, 'root'), null, 2)}\n`;
}

type Context = 'root' | 'node' | 'properties' | 'verbatim';

function sortKeys(value: unknown, context: Context): unknown {
  if (context === 'verbatim' || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => sortKeys(item, 'node'));
  const entries = Object.entries(value as Record<string, unknown>);
  const ordered =
    context === 'properties'
      ? entries
      : entries.sort(([a], [b]) => rank(a, context) - rank(b, context) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(ordered.map(([key, child]) => [key, sortKeys(child, childContext(key, context))]));
}

function rank(key: string, context: Context): number {
  if (context !== 'root') return 0;
  const index = ROOT_ORDER.indexOf(key);
  return index === -1 ? ROOT_ORDER.length : index;
}

function childContext(key: string, parent: Context): Context {
  // Inside `properties` the keys are property names: each value is a schema again.
  if (parent === 'properties') return 'node';
  if (key === 'properties') return 'properties';
  if (key === 'example' || key === 'value') return 'verbatim';
  return 'node';
}
