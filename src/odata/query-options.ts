import { NotSupportedError } from '../common/errors/domain-error.js';
import { ODataQueryError } from './odata-query.error.js';

export const DEFAULT_TOP = 100;
export const MAX_TOP = 999;
/** Offsets are for SDK compatibility; deep pages use next links, which cost the same at any depth. */
export const MAX_SKIP = 100_000;
const MAX_OPTION_LENGTH = 4096;

export type SortOrder = 'asc' | 'desc';

/** What a collection or item supports; option names and properties outside it are 400. */
export interface QuerySpec {
  selectable: readonly string[];
  expandable: readonly string[];
  defaultOrder: SortOrder;
}

export interface ItemQuery {
  /** Canonical property names; undefined: all. */
  select?: string[];
  expand: string[];
}

export interface CollectionQuery extends ItemQuery {
  top: number;
  skip: number;
  order: SortOrder;
  count: boolean;
  /** The `$filter` text; parsed by the filter module. */
  filter?: string;
  skiptoken?: string;
}

type RawQuery = Record<string, string | string[] | undefined>;

const COLLECTION_OPTIONS = new Set([
  'filter',
  'orderby',
  'top',
  'skip',
  'skiptoken',
  'select',
  'expand',
  'count',
  'format',
]);
const ITEM_OPTIONS = new Set(['select', 'expand', 'format']);
const UNSUPPORTED = new Set(['search', 'apply', 'compute', 'levels', 'deltatoken', 'schemaversion']);

/**
 * OData system query options by name: case-insensitive, with or without `$` (Graph accepts both;
 * Fastify has already percent-decoded `%24top`). Unknown `$` options are 400, other parameters ignored.
 */
export function normalizeOptions(raw: RawQuery, allowed: ReadonlySet<string>): Map<string, string> {
  const options = new Map<string, string>();
  for (const [key, value] of Object.entries(raw)) {
    const name = key.replace(/^\$/, '').toLowerCase();
    const dollar = key.startsWith('$');
    if (UNSUPPORTED.has(name)) throw new NotSupportedError(`The query option '$${name}' is not supported.`);
    if (!allowed.has(name)) {
      if (dollar || COLLECTION_OPTIONS.has(name)) {
        throw new ODataQueryError(name, `The query option '${key.slice(0, 50)}' is not supported on this resource.`);
      }
      continue;
    }
    if (Array.isArray(value) || options.has(name)) {
      throw new ODataQueryError(name, `The query option '$${name}' is given more than once.`);
    }
    const text = value ?? '';
    if (text.length > MAX_OPTION_LENGTH) {
      throw new ODataQueryError(name, `The query option '$${name}' is longer than ${MAX_OPTION_LENGTH} characters.`);
    }
    options.set(name, text);
  }
  const format = options.get('format');
  if (format !== undefined && !['json', 'application/json'].includes(format.toLowerCase())) {
    throw new NotSupportedError(`$format '${format.slice(0, 50)}' is not supported; only json.`);
  }
  return options;
}

export function parseItemQuery(raw: RawQuery, spec: QuerySpec): ItemQuery {
  const options = normalizeOptions(raw, ITEM_OPTIONS);
  return { select: parseSelect(options.get('select'), spec), expand: parseExpand(options.get('expand'), spec) };
}

export function parseCollectionQuery(raw: RawQuery, spec: QuerySpec): CollectionQuery {
  const options = normalizeOptions(raw, COLLECTION_OPTIONS);
  const filter = options.get('filter');
  if (filter !== undefined && filter.trim() === '') throw new ODataQueryError('filter', '$filter is empty.');
  const skiptoken = options.get('skiptoken');
  if (skiptoken !== undefined && skiptoken === '') throw new ODataQueryError('skiptoken', '$skiptoken is empty.');
  return {
    top: parseInteger(options.get('top'), 'top', 1, MAX_TOP) ?? DEFAULT_TOP,
    skip: parseInteger(options.get('skip'), 'skip', 0, MAX_SKIP) ?? 0,
    order: parseOrderBy(options.get('orderby'), spec),
    count: parseBoolean(options.get('count'), 'count'),
    select: parseSelect(options.get('select'), spec),
    expand: parseExpand(options.get('expand'), spec),
    filter: filter?.trim(),
    skiptoken,
  };
}

/** For `/$count`: only `$filter` applies. */
export function parseCountQuery(raw: RawQuery): { filter?: string } {
  const options = normalizeOptions(raw, new Set(['filter', 'format']));
  const filter = options.get('filter');
  if (filter !== undefined && filter.trim() === '') throw new ODataQueryError('filter', '$filter is empty.');
  return { filter: filter?.trim() };
}

function parseInteger(value: string | undefined, option: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value.trim())) {
    throw new ODataQueryError(option, `$${option} must be an integer from ${min} to ${max}.`);
  }
  const number = Number(value.trim());
  if (number < min || number > max) {
    throw new ODataQueryError(option, `$${option} must be an integer from ${min} to ${max}; got ${number}.`);
  }
  return number;
}

function parseBoolean(value: string | undefined, option: string): boolean {
  if (value === undefined) return false;
  const normalized = value.trim().toLowerCase();
  if (normalized === 'true') return true;
  if (normalized === 'false') return false;
  throw new ODataQueryError(option, `$${option} must be true or false.`);
}

function parseOrderBy(value: string | undefined, spec: QuerySpec): SortOrder {
  if (value === undefined) return spec.defaultOrder;
  const match = /^\s*createdDateTime(?:\s+(asc|desc))?\s*$/i.exec(value);
  if (!match) {
    throw new ODataQueryError(
      'orderby',
      `$orderby supports only 'createdDateTime asc' or 'createdDateTime desc'; got '${value.slice(0, 100)}'.`,
    );
  }
  return (match[1]?.toLowerCase() as SortOrder | undefined) ?? 'asc';
}

function parseSelect(value: string | undefined, spec: QuerySpec): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((name) => name.trim());
  if (names.some((name) => name === '')) throw new ODataQueryError('select', 'An empty property name is in $select.');
  if (names.includes('*')) return undefined;
  const selected = new Set<string>();
  for (const name of names) {
    const canonical = spec.selectable.find((p) => p.toLowerCase() === name.toLowerCase());
    if (!canonical) {
      throw new ODataQueryError('select', `Could not find a property named '${name.slice(0, 100)}' to $select.`);
    }
    selected.add(canonical);
  }
  return [...selected];
}

function parseExpand(value: string | undefined, spec: QuerySpec): string[] {
  if (value === undefined) return [];
  const names = value.split(',').map((name) => name.trim());
  const expanded = new Set<string>();
  for (const name of names) {
    const canonical = spec.expandable.find((p) => p.toLowerCase() === name.toLowerCase());
    if (!canonical) {
      throw new ODataQueryError(
        'expand',
        spec.expandable.length
          ? `$expand supports only ${spec.expandable.join(', ')}; got '${name.slice(0, 100)}'.`
          : '$expand is not supported on this resource.',
      );
    }
    expanded.add(canonical);
  }
  return [...expanded];
}
