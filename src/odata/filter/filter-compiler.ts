import { validateFilter, type CheckedFilter } from './filter-validator.js';
import type { CompiledFilter, ComparisonOperator, FilterNode, FilterSpec } from './filter.types.js';

const SQL_OPERATORS: Readonly<Record<ComparisonOperator, string>> = {
  eq: '=',
  ne: '<>',
  gt: '>',
  ge: '>=',
  lt: '<',
  le: '<=',
};

const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * Validates `node` against `spec` (throwing `ODataQueryError`) and compiles it for
 * `queryBuilder.andWhere(sql, params)`. The SQL holds only the spec's columns as `"alias"."column"`,
 * operators, parentheses, `TRUE`/`FALSE` and the parameters `:f0`, `:f1`, …; no input text ever reaches
 * it. Parameter names restart at `f0` on every call, so compile one filter per query builder.
 */
export function compileFilter(node: FilterNode, spec: FilterSpec, alias: string): CompiledFilter {
  const params: Record<string, unknown> = {};
  const parameter = (value: unknown): string => {
    const name = `f${Object.keys(params).length}`;
    params[name] = value;
    return name;
  };
  const column = (name: string): string => `${quoteIdentifier(alias)}.${quoteIdentifier(name)}`;

  // Binary nodes carry their own parentheses, so every fragment is safe wherever it lands.
  const emit = (checked: CheckedFilter): string => {
    switch (checked.kind) {
      case 'and':
      case 'or':
        return `(${emit(checked.left)} ${checked.kind.toUpperCase()} ${emit(checked.right)})`;
      case 'not': {
        const operand = emit(checked.operand);
        return checked.operand.kind === 'and' || checked.operand.kind === 'or' ? `NOT ${operand}` : `NOT (${operand})`;
      }
      case 'constant':
        return checked.value ? 'TRUE' : 'FALSE';
      case 'compare':
        return `${column(checked.column)} ${SQL_OPERATORS[checked.operator]} :${parameter(checked.value)}`;
      case 'in':
        return `${column(checked.column)} IN (:...${parameter(checked.values)})`;
      case 'isof':
        return `${column(checked.column)} = :${parameter(checked.discriminator)}`;
    }
  };

  return { sql: emit(validateFilter(node, spec)), params };
}
