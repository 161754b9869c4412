import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import type { KeysetPosition } from './skiptoken.js';
import type { SortOrder } from './query-options.js';

export interface Page<T> {
  items: T[];
  /** Set exactly when more items follow. */
  next?: KeysetPosition;
}

/**
 * Keyset paging on (`created_date_time`, `id`): the row comparison continues after the last item
 * even when many rows share a millisecond, and walks the tenant-leading index at any depth.
 */
export async function keysetPage<T extends ObjectLiteral & { createdDateTime: Date; id: string }>(
  qb: SelectQueryBuilder<T>,
  options: { order: SortOrder; top: number; skip: number; after?: KeysetPosition },
): Promise<Page<T>> {
  const alias = qb.alias;
  const direction = options.order === 'asc' ? 'ASC' : 'DESC';
  if (options.after) {
    qb.andWhere(
      `("${alias}"."created_date_time", "${alias}"."id") ${options.order === 'asc' ? '>' : '<'} (:keysetTime, :keysetId)`,
      { keysetTime: options.after.createdDateTime, keysetId: options.after.id },
    );
  }
  const rows = await qb
    .orderBy(`${alias}.createdDateTime`, direction)
    .addOrderBy(`${alias}.id`, direction)
    .offset(options.skip || undefined)
    .limit(options.top + 1)
    .getMany();
  const items = rows.slice(0, options.top);
  const last = items.at(-1);
  return rows.length > options.top && last
    ? { items, next: { createdDateTime: last.createdDateTime, id: last.id } }
    : { items };
}
