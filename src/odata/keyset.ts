import { toPositional } from '../database/positional-params.js';
import { compileFilter, type FilterSpec, parseFilter } from './filter/index.js';
import type { SortOrder } from './query-options.js';
import type { KeysetPosition } from './skiptoken.js';

export interface Page<T> {
  items: T[];
  /** Set exactly when more items follow. */
  next?: KeysetPosition;
}

/**
 * The WHERE conditions of a hand-written page query: the compiled `$filter` and the keyset position,
 * appended to `values` as parameters. Keyset paging on (`created_date_time`, `id`): the row comparison
 * continues after the last item even when many rows share a millisecond, and walks the tenant-leading
 * index at any depth.
 */
export function pageConditions(
  alias: string,
  values: unknown[],
  spec: FilterSpec,
  filter: string | undefined,
  order?: SortOrder,
  after?: KeysetPosition,
): string {
  let where = '';
  if (filter !== undefined) {
    const compiled = compileFilter(parseFilter(filter), spec, alias);
    const positional = toPositional(compiled.sql, compiled.params, values.length + 1);
    values.push(...positional.values);
    where += ` AND (${positional.sql})`;
  }
  if (after && order) {
    values.push(after.createdDateTime, after.id);
    const op = order === 'asc' ? '>' : '<';
    where += ` AND (${alias}.created_date_time, ${alias}.id) ${op} ($${values.length - 1}, $${values.length})`;
  }
  return where;
}

/** A page from `top + 1` fetched rows: the extra row only says that more follow. */
export function pageOf<T extends { createdDateTime: Date; id: string }>(rows: T[], top: number): Page<T> {
  const items = rows.slice(0, top);
  const last = items.at(-1);
  return rows.length > top && last
    ? { items, next: { createdDateTime: last.createdDateTime, id: last.id } }
    : { items };
}
