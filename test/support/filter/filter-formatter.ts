import type { FilterLiteral, FilterNode } from '../../../src/odata/filter/filter.types.js';

const isBinary = (node: FilterNode): boolean => node.kind === 'and' || node.kind === 'or';

const group = (node: FilterNode, parenthesize: boolean): string =>
  parenthesize ? `(${formatFilter(node)})` : formatFilter(node);

const formatLiteral = (literal: FilterLiteral): string =>
  literal.type === 'dateTime' ? literal.value : `'${literal.value.replaceAll("'", "''")}'`;

/**
 * Canonical text of a filter, for the round-trip and differential tests: lower-case keywords, single
 * spaces, quoted isof type names without `#`, and only the parentheses the tree needs, so that
 * `parseFilter(formatFilter(node))` gives `node` back (positions aside) and never nests deeper than
 * the text it came from. Date-time literals keep their written form.
 */
export function formatFilter(node: FilterNode): string {
  switch (node.kind) {
    case 'or':
      return `${formatFilter(node.left)} or ${group(node.right, node.right.kind === 'or')}`;
    case 'and':
      return `${group(node.left, node.left.kind === 'or')} and ${group(node.right, isBinary(node.right))}`;
    case 'not':
      return `not ${group(node.operand, isBinary(node.operand))}`;
    case 'compare':
      return `${node.property} ${node.operator} ${formatLiteral(node.value)}`;
    case 'in':
      return `${node.property} in (${node.values.map(formatLiteral).join(', ')})`;
    case 'isof':
      return `isof('${node.typeName.replaceAll("'", "''")}')`;
  }
}
