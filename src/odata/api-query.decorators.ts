import { applyDecorators } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import { DEFAULT_TOP, MAX_SKIP, MAX_TOP } from './query-options.js';

const option = (name: string, description: string, schema: Record<string, unknown> = { type: 'string' }) =>
  ApiQuery({ name, required: false, description, schema });

export const ApiSelect = (properties: readonly string[]) =>
  option('$select', `Comma-separated properties: ${properties.join(', ')}.`);

export const ApiExpandResults = () =>
  option('$expand', 'Only `results`: adds the results, oldest first.', { type: 'string', enum: ['results'] });

export const ApiFilter = (description: string) => option('$filter', description);

/** The collection options of CONTRACT section 3; names also work without `$` and in any case. */
export function ApiCollectionQuery(options: { properties: readonly string[]; filter: string; expand: boolean; defaultOrder: string }) {
  return applyDecorators(
    ApiFilter(options.filter),
    option('$orderby', `\`createdDateTime asc\` or \`createdDateTime desc\` (default ${options.defaultOrder}).`, {
      type: 'string',
      enum: ['createdDateTime asc', 'createdDateTime desc'],
    }),
    option('$top', `Page size, 1 to ${MAX_TOP} (default ${DEFAULT_TOP}).`, { type: 'integer', minimum: 1, maximum: MAX_TOP }),
    option('$skip', 'Items to skip (prefer next links).', { type: 'integer', minimum: 0, maximum: MAX_SKIP }),
    option('$skiptoken', 'Opaque cursor from `@odata.nextLink`.'),
    ApiSelect(options.properties),
    ...(options.expand ? [ApiExpandResults()] : []),
    option('$count', 'Adds `@odata.count`.', { type: 'boolean' }),
  );
}
