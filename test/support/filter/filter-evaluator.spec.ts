import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ODataQueryError } from '../../../src/odata/odata-query.error.js';
import { compileFilter } from '../../../src/odata/filter/filter-compiler.js';
import { evaluateFilter } from './filter-evaluator.js';
import { parseFilter } from '../../../src/odata/filter/filter-parser.js';
import type { ComparisonOperator, FilterSpec } from '../../../src/odata/filter/filter.types.js';

const TYPES = {
  'microsoft.graph.mailAssessmentRequest': 'mailAssessmentRequest',
  'microsoft.graph.emailFileAssessmentRequest': 'emailFileAssessmentRequest',
  'microsoft.graph.fileAssessmentRequest': 'fileAssessmentRequest',
  'microsoft.graph.urlAssessmentRequest': 'urlAssessmentRequest',
} as const;

const spec: FilterSpec = {
  fields: {
    contentType: { kind: 'enum', column: 'content_type', values: ['mail', 'url', 'file'] },
    category: {
      kind: 'enum',
      column: 'category',
      values: ['undefined', 'spam', 'phishing', 'malware', 'unknownFutureValue'],
    },
    status: { kind: 'enum', column: 'status', values: ['pending', 'completed'] },
    createdDateTime: { kind: 'dateTime', column: 'created_date_time' },
  },
  isof: { column: 'kind', types: TYPES },
};

const BASE_MS = Date.parse('2026-01-01T00:00:00.000Z');

const urlRequest = {
  '@odata.type': '#microsoft.graph.urlAssessmentRequest',
  contentType: 'url',
  category: 'phishing',
  status: 'pending',
  createdDateTime: new Date('2026-01-01T00:00:00.123Z'),
};

const evaluate = (text: string, row: Record<string, unknown> = urlRequest): boolean =>
  evaluateFilter(parseFilter(text), spec, row);

describe('evaluateFilter', () => {
  it.each([
    ["contentType eq 'url'", true],
    ["contentType ne 'url'", false],
    ["contentType in ('mail', 'file')", false],
    ["contentType in ('mail', 'url')", true],
    ["not contentType in ('mail', 'url')", false],
    ["isof('microsoft.graph.urlAssessmentRequest')", true],
    ["isof('#microsoft.graph.mailAssessmentRequest')", false],
    ["status eq 'completed' or category eq 'phishing' and contentType eq 'url'", true],
    ["(status eq 'completed' or category eq 'phishing') and contentType eq 'mail'", false],
    ["not status eq 'completed' and category eq 'spam'", false],
    ["not (status eq 'completed' and category eq 'spam')", true],
    ['createdDateTime eq 2026-01-01T00:00:00.123Z', true],
    ['createdDateTime eq 2026-01-01T01:00:00.123+01:00', true],
    ["createdDateTime eq '2026-01-01T00:00:00.1230000Z'", true],
    ['createdDateTime ne 2026-01-01T00:00:00.123Z', false],
    ['createdDateTime gt 2026-01-01T00:00:00.122Z', true],
    ['createdDateTime gt 2026-01-01T00:00:00.123Z', false],
    ['createdDateTime ge 2026-01-01T00:00:00.123Z', true],
    ['createdDateTime lt 2026-01-01T00:00:00.124Z', true],
    ['createdDateTime lt 2026-01-01T00:00:00.123Z', false],
    ['createdDateTime le 2026-01-01T00:00:00.123Z', true],
    ['createdDateTime gt 2026-01-01T00:00:00.1225Z', true],
    ['createdDateTime gt 2026-01-01T00:00:00.1230001Z', false],
    ['createdDateTime ge 2026-01-01T00:00:00.1229999Z', true],
    ['createdDateTime ge 2026-01-01T00:00:00.1230001Z', false],
    ['createdDateTime lt 2026-01-01T00:00:00.1230001Z', true],
    ['createdDateTime le 2026-01-01T00:00:00.1229999Z', false],
    ['createdDateTime eq 2026-01-01T00:00:00.1230001Z', false],
    ['createdDateTime ne 2026-01-01T00:00:00.1230001Z', true],
  ])('%s is %s for a pending url request made at .123', (text, expected) => {
    expect(evaluate(text)).toBe(expected);
  });

  it('validates like compileFilter', () => {
    expect(() => evaluate("status gt 'pending'")).toThrow(ODataQueryError);
    expect(() => evaluate("foo eq 'x'")).toThrow("Unknown property 'foo' in $filter at position 0");
  });

  it('throws a TypeError for a row lacking a value the filter reads', () => {
    expect(() => evaluate("status eq 'pending'", { ...urlRequest, status: undefined })).toThrow(
      new TypeError("row['status'] must be a string"),
    );
    expect(() =>
      evaluate('createdDateTime gt 2026-01-01T00:00:00Z', { ...urlRequest, createdDateTime: '2026-01-01T00:00:00Z' }),
    ).toThrow(new TypeError("row['createdDateTime'] must be a Date"));
    expect(() => evaluate("isof('microsoft.graph.urlAssessmentRequest')", { status: 'pending' })).toThrow(
      new TypeError("row['@odata.type'] must be a string"),
    );
  });
});

const operators: ComparisonOperator[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];

describe('date-time comparison', () => {
  it('is exact for literals up to picoseconds, though rows hold milliseconds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e6, max: 1e6 }),
        fc.integer({ min: 0, max: 999_999_999 }),
        fc.integer({ min: -2, max: 2 }),
        fc.constantFrom(...operators),
        (literalOffsetMs, subMillisecond, rowDelta, operator) => {
          const literalMs = BASE_MS + literalOffsetMs;
          const text = new Date(literalMs).toISOString().replace('Z', `${String(subMillisecond).padStart(9, '0')}Z`);
          const rowMs = literalMs + rowDelta;
          const [row, literal] = [
            BigInt(rowMs) * 1_000_000_000n,
            BigInt(literalMs) * 1_000_000_000n + BigInt(subMillisecond),
          ];
          const exact = {
            eq: row === literal,
            ne: row !== literal,
            gt: row > literal,
            ge: row >= literal,
            lt: row < literal,
            le: row <= literal,
          }[operator];
          expect(
            evaluate(`createdDateTime ${operator} ${text}`, { ...urlRequest, createdDateTime: new Date(rowMs) }),
          ).toBe(exact);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/**
 * Runs the SQL compileFilter emits, with PostgreSQL's precedence (OR < AND < NOT < comparison), over one
 * row keyed by column. It knows only the compiler's output grammar, which is the point: any SQL outside
 * it fails the test.
 */
function runSql(sql: string, params: Record<string, unknown>, columns: Record<string, unknown>): boolean {
  const tokens = sql.match(/"[^"]+"\."[^"]+"|<>|<=|>=|=|<|>|\(|\)|:\.\.\.f\d+|:f\d+|[A-Z]+|\S/g) ?? [];
  let index = 0;
  const take = (expected?: string): string => {
    const token = tokens[index++];
    if (token === undefined || (expected !== undefined && token !== expected))
      throw new Error(`bad SQL at token ${index}: ${sql}`);
    return token;
  };
  const parameter = (token: string): unknown => params[token.replace(/^:(\.\.\.)?/, '')];
  const time = (value: unknown): number => (value as Date).getTime();
  const or = (): boolean => {
    let value = and();
    while (tokens[index] === 'OR') {
      take();
      value = and() || value;
    }
    return value;
  };
  const and = (): boolean => {
    let value = not();
    while (tokens[index] === 'AND') {
      take();
      value = not() && value;
    }
    return value;
  };
  const not = (): boolean => (tokens[index] === 'NOT' ? (take(), !not()) : primary());
  const primary = (): boolean => {
    const token = take();
    if (token === '(') {
      const value = or();
      take(')');
      return value;
    }
    if (token === 'TRUE' || token === 'FALSE') return token === 'TRUE';
    const actual = columns[(/^"r"\."(\w+)"$/.exec(token) ?? [])[1] ?? ''];
    const operator = take();
    if (operator === 'IN') {
      take('(');
      const values = parameter(take()) as unknown[];
      take(')');
      return values.includes(actual);
    }
    const expected = parameter(take());
    switch (operator) {
      case '=':
        return actual instanceof Date ? time(actual) === time(expected) : actual === expected;
      case '<>':
        return actual instanceof Date ? time(actual) !== time(expected) : actual !== expected;
      case '>':
        return time(actual) > time(expected);
      case '>=':
        return time(actual) >= time(expected);
      case '<':
        return time(actual) < time(expected);
      case '<=':
        return time(actual) <= time(expected);
      default:
        throw new Error(`bad SQL operator ${operator}: ${sql}`);
    }
  };
  const result = or();
  if (index !== tokens.length) throw new Error(`trailing SQL: ${sql}`);
  return result;
}

const enumValues = (property: string): readonly string[] => {
  const field = spec.fields[property];
  return field?.kind === 'enum' ? field.values : [];
};

const row = fc.record({
  '@odata.type': fc.constantFrom(...Object.keys(TYPES).map((type) => `#${type}`)),
  contentType: fc.constantFrom(...enumValues('contentType')),
  category: fc.constantFrom(...enumValues('category')),
  status: fc.constantFrom(...enumValues('status')),
  createdDateTime: fc.integer({ min: -3, max: 3 }).map((delta) => new Date(BASE_MS + delta)),
});

/** A date-time near BASE_MS, sometimes finer than a millisecond, written in some offset. */
const dateTimeLiteral = fc
  .tuple(
    fc.integer({ min: -3, max: 3 }),
    fc.constantFrom('', '0000', '0001', '9999', '5'),
    fc.constantFrom(0, 120, -330),
  )
  .map(([delta, finer, offsetMinutes]) => {
    const local = new Date(BASE_MS + delta + offsetMinutes * 60_000).toISOString().slice(0, -1);
    const sign = offsetMinutes < 0 ? '-' : '+';
    const offset =
      offsetMinutes === 0
        ? 'Z'
        : `${sign}${String(Math.floor(Math.abs(offsetMinutes) / 60)).padStart(2, '0')}:${String(Math.abs(offsetMinutes) % 60).padStart(2, '0')}`;
    return `${local}${finer}${offset}`;
  });

const leaf = fc.oneof(
  ...['contentType', 'category', 'status'].map((property) =>
    fc.oneof(
      fc
        .tuple(fc.constantFrom('eq', 'ne'), fc.constantFrom(...enumValues(property)))
        .map(([operator, value]) => `${property} ${operator} '${value}'`),
      fc
        .uniqueArray(fc.constantFrom(...enumValues(property)), { minLength: 1 })
        .map((values) => `${property} in (${values.map((value) => `'${value}'`).join(', ')})`),
    ),
  ),
  fc
    .tuple(fc.constantFrom(...operators), dateTimeLiteral)
    .map(([operator, literal]) => `createdDateTime ${operator} ${literal}`),
  fc.constantFrom(...Object.keys(TYPES)).map((type) => `isof('${type}')`),
);

const { expression } = fc.letrec<{ expression: string }>((tie) => ({
  expression: fc.oneof(
    { maxDepth: 4 },
    leaf,
    tie('expression').map((inner) => `not (${inner})`),
    tie('expression').map((inner) => `not ${inner}`),
    fc
      .tuple(tie('expression'), fc.constantFrom('and', 'or'), tie('expression'))
      .map(([left, keyword, right]) => `(${left} ${keyword} ${right})`),
    fc
      .tuple(tie('expression'), fc.constantFrom('and', 'or'), tie('expression'))
      .map(([left, keyword, right]) => `${left} ${keyword} ${right}`),
  ),
}));

describe('compileFilter and evaluateFilter', () => {
  it('agree on every row', () => {
    fc.assert(
      fc.property(expression, fc.array(row, { minLength: 1, maxLength: 5 }), (text, rows) => {
        const node = parseFilter(text);
        const { sql, params } = compileFilter(node, spec, 'r');
        for (const candidate of rows) {
          const columns = {
            content_type: candidate.contentType,
            category: candidate.category,
            status: candidate.status,
            created_date_time: candidate.createdDateTime,
            kind: TYPES[candidate['@odata.type'].slice(1) as keyof typeof TYPES],
          };
          expect(runSql(sql, params, columns)).toBe(evaluateFilter(node, spec, candidate));
        }
      }),
      { numRuns: 1000 },
    );
  });
});
