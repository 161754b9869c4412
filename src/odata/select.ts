/**
 * `$select`: keeps the named properties, plus `@odata.type` and `id`, which Graph clients need to
 * deserialize an item and to address it.
 */
export function project<T extends object>(
  item: T,
  select: readonly string[] | undefined,
  keep: readonly string[] = [],
): Partial<T> {
  if (!select) return item;
  const wanted = new Set(['@odata.type', 'id', ...select, ...keep]);
  return Object.fromEntries(Object.entries(item).filter(([key]) => wanted.has(key))) as Partial<T>;
}

/** The `(a,b)` part of an `@odata.context` for a selection. */
export function selectionSuffix(select: readonly string[] | undefined, expand: readonly string[]): string {
  const parts = [...(select ?? []), ...expand.map((name) => `${name}()`)];
  return parts.length ? `(${parts.join(',')})` : '';
}
