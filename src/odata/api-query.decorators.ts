import { applyDecorators } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import { PAGE_BUDGET_TEXT } from './page-budget.js';
import { DEFAULT_TOP, MAX_SKIP, MAX_TOP } from './query-options.js';

const option = (name: string, description: string, schema: Record<string, unknown> = { type: 'string' }) =>
  ApiQuery({ name, required: false, description, schema });

/** A comma-separated list, as OData writes it (`$select=status,category`); Graph's OpenAPI describes it so. */
export const ApiSelect = (properties: readonly string[]) =>
  ApiQuery({
    name: '$select',
    required: false,
    description:
      'Comma-separated list of properties to include in the response (`*` for all). The response then carries ' +
      'only these, plus `@odata.type` and `id`.',
    style: 'form',
    explode: false,
    schema: { type: 'array', uniqueItems: true, items: { type: 'string', enum: [...properties] } },
  });

/** `limit`: the most results a request carries inline; `results@odata.nextLink` leads to the rest. */
export const ApiExpandResults = (limit: number) =>
  option(
    '$expand',
    `Only \`results\`: includes the threat assessment results, oldest first, at most ${limit} per request. ` +
      'A request with more also carries `results@odata.nextLink`, the next page of its results list.',
    { type: 'string', enum: ['results'] },
  );

export const ApiFilter = (description: string) => option('$filter', description);

/**
 * The collection options; names also work without `$` and in any case. `expand`: the collection takes
 * `$expand=results`, with at most `limit` results per item.
 */
export function ApiCollectionQuery(options: {
  properties: readonly string[];
  filter: string;
  expand?: { limit: number };
  defaultOrder: string;
}) {
  return applyDecorators(
    ApiFilter(options.filter),
    option('$orderby', `\`createdDateTime asc\` or \`createdDateTime desc\` (default ${options.defaultOrder}).`, {
      type: 'string',
      enum: ['createdDateTime asc', 'createdDateTime desc'],
    }),
    option(
      '$top',
      `Page size, 1 to ${MAX_TOP} (default ${DEFAULT_TOP}). A page may hold fewer: it ends within ${PAGE_BUDGET_TEXT} ` +
        'of items, with `@odata.nextLink` to the rest.',
      {
        type: 'integer',
        minimum: 1,
        maximum: MAX_TOP,
      },
    ),
    option('$skip', 'Items to skip (prefer next links).', { type: 'integer', minimum: 0, maximum: MAX_SKIP }),
    option('$skiptoken', 'Opaque paging cursor: follow `@odata.nextLink` rather than building it.'),
    ApiSelect(options.properties),
    ...(options.expand ? [ApiExpandResults(options.expand.limit)] : []),
    option('$count', '`true` adds `@odata.count`, the number of items that match `$filter`.', { type: 'boolean' }),
  );
}
