export { compileFilter } from './filter-compiler.js';
export { parseFilter } from './filter-parser.js';
export {
  FILTER_LIMITS,
  type CompiledFilter,
  type ComparisonOperator,
  type FilterFieldSpec,
  type FilterLiteral,
  type FilterNode,
  type FilterSpec,
} from './filter.types.js';
