/** The six OData comparison operators, spelled as on the wire (lower case). */
export type ComparisonOperator = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';

/**
 * A literal as written: `'text'` (quotes removed, `''` unescaped) or an unquoted ISO 8601 date-time,
 * kept as its source text. What a literal means depends on the property, so the parser does not judge it.
 */
export interface FilterLiteral {
  readonly type: 'string' | 'dateTime';
  readonly value: string;
  /** Zero-based offset of the literal in the `$filter` text, for error messages. */
  readonly position: number;
}

/**
 * The syntax tree of a `$filter`. Parentheses leave no node: they only shape the tree.
 * `position` fields are zero-based offsets into the source text, used by error messages only.
 */
export type FilterNode =
  | { readonly kind: 'and' | 'or'; readonly left: FilterNode; readonly right: FilterNode }
  | { readonly kind: 'not'; readonly operand: FilterNode }
  | {
      readonly kind: 'compare';
      readonly property: string;
      readonly operator: ComparisonOperator;
      readonly value: FilterLiteral;
      readonly position: number;
    }
  | {
      readonly kind: 'in';
      readonly property: string;
      readonly values: readonly FilterLiteral[];
      readonly position: number;
    }
  /** `typeName` without the optional leading `#`, e.g. `microsoft.graph.urlAssessmentRequest`. */
  | { readonly kind: 'isof'; readonly typeName: string; readonly position: number };

/** How one filterable property is stored, and so which operators and literals it takes. */
export type FilterFieldSpec =
  /** A plain varchar column holding one of `values`: `eq`, `ne`, `in` with quoted strings. */
  | { readonly kind: 'enum'; readonly column: string; readonly values: readonly string[] }
  /** A `timestamptz(3)` column: all six comparisons with a date-time literal. */
  | { readonly kind: 'dateTime'; readonly column: string };

/** What a collection lets clients filter on. */
export interface FilterSpec {
  /** Keyed by the property name as on the wire, matched case-sensitively. Columns are assumed NOT NULL. */
  readonly fields: Readonly<Record<string, FilterFieldSpec>>;
  /** When present, `isof('<type>')` compares `column` with `types[<type>]`; absent, `isof` is refused. */
  readonly isof?: {
    readonly column: string;
    /** Qualified type name without `#` (`microsoft.graph.urlAssessmentRequest`) → discriminator value. */
    readonly types: Readonly<Record<string, string>>;
  };
}

/** A fragment for `SelectQueryBuilder.andWhere(sql, params)`. */
export interface CompiledFilter {
  readonly sql: string;
  readonly params: Record<string, unknown>;
}

/** Bounds on a `$filter`, so that a hostile one costs little to refuse. */
export const FILTER_LIMITS = {
  maxLength: 2048,
  /** Parentheses and `not`, each one level. */
  maxDepth: 10,
  /** Each comparison, `in` and `isof` counts once. */
  maxComparisons: 50,
  maxInItems: 50,
} as const;
