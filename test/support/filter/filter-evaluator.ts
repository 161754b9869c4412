import { validateFilter, type CheckedFilter } from '../../../src/odata/filter/filter-validator.js';
import type { FilterNode, FilterSpec } from '../../../src/odata/filter/filter.types.js';

/**
 * The in-memory twin of `compileFilter`, for tests: `row` is keyed by wire property name, date-time
 * properties hold `Date`s and `row['@odata.type']` the `#microsoft.graph.…` type. Validates like
 * `compileFilter`; a row lacking a value the filter reads is a test bug and throws a `TypeError`
 * (the columns are NOT NULL, so SQL never sees a missing value either).
 */
export function evaluateFilter(node: FilterNode, spec: FilterSpec, row: Readonly<Record<string, unknown>>): boolean {
  return evaluate(validateFilter(node, spec), row);
}

function evaluate(checked: CheckedFilter, row: Readonly<Record<string, unknown>>): boolean {
  switch (checked.kind) {
    case 'and':
      return evaluate(checked.left, row) && evaluate(checked.right, row);
    case 'or':
      return evaluate(checked.left, row) || evaluate(checked.right, row);
    case 'not':
      return !evaluate(checked.operand, row);
    case 'constant':
      return checked.value;
    case 'in':
      return checked.values.includes(stringAt(row, checked.property));
    case 'isof':
      return stringAt(row, '@odata.type') === checked.odataType;
    case 'compare': {
      if (!(checked.value instanceof Date)) {
        const actual = stringAt(row, checked.property);
        return checked.operator === 'eq' ? actual === checked.value : actual !== checked.value;
      }
      const actual = row[checked.property];
      if (!(actual instanceof Date)) throw new TypeError(`row['${checked.property}'] must be a Date`);
      const [left, right] = [actual.getTime(), checked.value.getTime()];
      switch (checked.operator) {
        case 'eq':
          return left === right;
        case 'ne':
          return left !== right;
        case 'gt':
          return left > right;
        case 'ge':
          return left >= right;
        case 'lt':
          return left < right;
        case 'le':
          return left <= right;
      }
    }
  }
}

function stringAt(row: Readonly<Record<string, unknown>>, key: string): string {
  const value = row[key];
  if (typeof value !== 'string') throw new TypeError(`row['${key}'] must be a string`);
  return value;
}
