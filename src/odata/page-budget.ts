import type { Page } from './keyset.js';
import type { KeysetPosition } from './skiptoken.js';

/**
 * The most bytes the items of one page serialize to (the `value` array, UTF-8 JSON): 1 MiB. Twice the
 * largest item the service can write (a request carrying 20 expanded results of 4,000 characters that
 * all need escaping, some 500 KB), so a page always ends on whole items within it; and four times an
 * ordinary `$top=999` page (results with messages of ~100 characters: ~250 KB), which is never cut.
 */
export const PAGE_BUDGET_BYTES = 1024 * 1024;

/** The budget as the OpenAPI descriptions say it. */
export const PAGE_BUDGET_TEXT = `${PAGE_BUDGET_BYTES / (1024 * 1024)} MiB`;

/** The longest number `JSON.stringify` writes: `-1.2345678901234567e-308`. */
const NUMBER_BYTES = 24;

/**
 * At least the bytes `JSON.stringify(value)` writes in UTF-8, from lengths alone: a UTF-16 unit of a
 * string becomes at most 6 bytes (`\u001f`, a lone surrogate), a surrogate pair 4, anything else at
 * most 3. Walks the value without building or escaping any text, so it is cheap whatever the text.
 */
export function jsonBytesBound(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return 2 + 6 * value.length;
    case 'number':
      return NUMBER_BYTES;
    case 'boolean':
      return 5;
    case 'object':
      break;
    default:
      return 0;
  }
  if (value === null) return 4;
  const json = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function') return jsonBytesBound(json.call(value));
  // Brackets, and a comma (or colon) per member: counted as one byte each, a little over.
  let bound = 2;
  if (Array.isArray(value)) {
    for (const item of value) bound += jsonBytesBound(item) + 1;
    return bound;
  }
  // for…in, not Object.entries: no array per member (some 1,500 for a page of 100 requests).
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (Object.hasOwn(record, key)) bound += 2 + 6 * key.length + jsonBytesBound(record[key]) + 2;
  }
  return bound;
}

/** How a collection's items reach the wire. */
export interface PageWire<T, W> {
  /** The item as it is serialized (mapped, projected, annotated). */
  wire: (item: T) => W;
  /** The keyset position of an item: a cut page continues after its last item. */
  position: (item: T) => KeysetPosition;
  budget?: number;
}

/**
 * Server-driven paging by size, as OData allows (a service may answer fewer items than `$top`, with a
 * next link): the page of `$top` items ends at the last item that keeps the `value` array within the
 * budget, always at least one, and `next` is then that item's position, so that following next links
 * yields every item once, in order. Items are serialized only while the bounds of those left exceed
 * what is left of the budget: an ordinary page is never serialized here.
 */
export function fitPage<T, W>(page: Page<T>, { wire, position, budget = PAGE_BUDGET_BYTES }: PageWire<T, W>): Page<W> {
  const items = page.items.map(wire);
  const bounds = items.map(jsonBytesBound);
  // The array's bytes: `[`, `]`, a comma between items; counted as one byte per item plus one.
  let rest = bounds.reduce((sum, bound) => sum + bound + 1, 0);
  let used = 1;
  for (let i = 0; i < items.length && used + rest > budget; i++) {
    rest -= bounds[i] + 1;
    used += Buffer.byteLength(JSON.stringify(items[i]), 'utf8') + 1;
    if (used > budget && i > 0) return { items: items.slice(0, i), next: position(page.items[i - 1]) };
  }
  return { items, next: page.next };
}
