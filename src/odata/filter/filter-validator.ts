import { DATE_TIME_FORMAT_HINT, parseDateTimeValue } from './filter-date-time.js';
import { filterError, quote, suggest } from './filter-error.js';
import type { ComparisonOperator, FilterFieldSpec, FilterLiteral, FilterNode, FilterSpec } from './filter.types.js';

/**
 * A filter checked against a spec and reduced to what both the SQL compiler and the evaluator need.
 * Both read only this tree, so whatever meaning is decided here (sub-millisecond literals included)
 * is necessarily the same in PostgreSQL and in memory.
 */
export type CheckedFilter =
  | { readonly kind: 'and' | 'or'; readonly left: CheckedFilter; readonly right: CheckedFilter }
  | { readonly kind: 'not'; readonly operand: CheckedFilter }
  | { readonly kind: 'constant'; readonly value: boolean }
  | {
      readonly kind: 'compare';
      readonly property: string;
      readonly column: string;
      readonly operator: ComparisonOperator;
      readonly value: string | Date;
    }
  | { readonly kind: 'in'; readonly property: string; readonly column: string; readonly values: readonly string[] }
  /** `odataType` as on the wire (`#microsoft.graph.…`); `discriminator` as stored in `column`. */
  | { readonly kind: 'isof'; readonly column: string; readonly discriminator: string; readonly odataType: string };

/** Checks each property, operator, literal and type name of `node` against `spec`; throws `ODataQueryError`. */
export function validateFilter(node: FilterNode, spec: FilterSpec): CheckedFilter {
  switch (node.kind) {
    case 'and':
    case 'or':
      return { kind: node.kind, left: validateFilter(node.left, spec), right: validateFilter(node.right, spec) };
    case 'not':
      return { kind: 'not', operand: validateFilter(node.operand, spec) };
    case 'compare': {
      const field = fieldOf(spec, node.property, node.position);
      if (field.kind === 'dateTime') return compareDateTime(node.property, field.column, node.operator, node.value);
      if (node.operator !== 'eq' && node.operator !== 'ne') {
        throw operatorError(node.operator, node.property, node.position);
      }
      const value = enumValue(field, node.property, node.value);
      return { kind: 'compare', property: node.property, column: field.column, operator: node.operator, value };
    }
    case 'in': {
      const field = fieldOf(spec, node.property, node.position);
      if (field.kind !== 'enum') throw operatorError('in', node.property, node.position);
      const values = node.values.map((literal) => enumValue(field, node.property, literal));
      return { kind: 'in', property: node.property, column: field.column, values };
    }
    case 'isof': {
      if (!spec.isof) throw filterError(`isof is not supported on this collection (at position ${node.position})`);
      const { column, types } = spec.isof;
      if (!Object.hasOwn(types, node.typeName)) {
        const hint = suggest(node.typeName, Object.keys(types), 'expected one of');
        throw filterError(`Unknown type ${quote(node.typeName)} in isof at position ${node.position}${hint}`);
      }
      return { kind: 'isof', column, discriminator: types[node.typeName], odataType: `#${node.typeName}` };
    }
  }
}

function fieldOf(spec: FilterSpec, property: string, position: number): FilterFieldSpec {
  // hasOwn: `constructor` or `__proto__` must be unknown properties, not Object's.
  if (Object.hasOwn(spec.fields, property)) return spec.fields[property];
  const hint = suggest(property, Object.keys(spec.fields), 'filterable properties are');
  throw filterError(`Unknown property ${quote(property)} in $filter at position ${position}${hint}`);
}

/** Enum properties take `eq`, `ne` and `in`; date-time ones the six comparisons. */
const operatorError = (operator: string, property: string, position: number): Error =>
  filterError(`'${operator}' is not supported on ${quote(property)} (at position ${position})`);

function enumValue(
  field: Extract<FilterFieldSpec, { kind: 'enum' }>,
  property: string,
  literal: FilterLiteral,
): string {
  if (literal.type !== 'string') {
    throw filterError(`${quote(property)} takes a quoted string, not a date-time, at position ${literal.position}`);
  }
  if (field.values.includes(literal.value)) return literal.value;
  const hint = suggest(literal.value, field.values, 'expected one of');
  throw filterError(
    `${quote(literal.value)} is not a value of ${quote(property)} at position ${literal.position}${hint}`,
  );
}

/**
 * Stored instants are whole milliseconds, so a literal L between two of them (floor F) compares exactly
 * by rewriting: x > L and x >= L mean x > F; x < L and x <= L mean x <= F; x = L never holds.
 */
function compareDateTime(
  property: string,
  column: string,
  operator: ComparisonOperator,
  literal: FilterLiteral,
): CheckedFilter {
  const instant = parseDateTimeValue(literal.value);
  if (!instant) {
    const where = `for ${quote(property)} at position ${literal.position}`;
    throw filterError(`Invalid date-time ${quote(literal.value)} ${where}; expected ${DATE_TIME_FORMAT_HINT}`);
  }
  const at = (comparison: ComparisonOperator): CheckedFilter => ({
    kind: 'compare',
    property,
    column,
    operator: comparison,
    value: new Date(instant.floorMs),
  });
  if (!instant.hasSubMillisecond) return at(operator);
  switch (operator) {
    case 'eq':
      return { kind: 'constant', value: false };
    case 'ne':
      return { kind: 'constant', value: true };
    case 'gt':
    case 'ge':
      return at('gt');
    case 'lt':
    case 'le':
      return at('le');
  }
}
