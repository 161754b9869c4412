import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ODataQueryError } from '../odata-query.error.js';
import { DATE_TIME_SOURCE } from './filter-date-time.js';
import { formatFilter } from '../../../test/support/filter/filter-formatter.js';
import { parseFilter } from './filter-parser.js';
import type { ComparisonOperator, FilterLiteral, FilterNode } from './filter.types.js';

/** A fully parenthesized rendering, so that tests read the tree's shape at a glance. */
function shape(node: FilterNode): string {
  const literal = (value: FilterLiteral): string =>
    value.type === 'string' ? `'${value.value}'` : `dt:${value.value}`;
  switch (node.kind) {
    case 'and':
    case 'or':
      return `(${shape(node.left)} ${node.kind} ${shape(node.right)})`;
    case 'not':
      return `(not ${shape(node.operand)})`;
    case 'compare':
      return `[${node.property} ${node.operator} ${literal(node.value)}]`;
    case 'in':
      return `[${node.property} in ${node.values.map(literal).join(',')}]`;
    case 'isof':
      return `[isof ${node.typeName}]`;
  }
}

const parseError = (text: string): ODataQueryError => {
  try {
    parseFilter(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ODataQueryError);
    return error as ODataQueryError;
  }
  throw new Error(`expected ${JSON.stringify(text.slice(0, 80))} to be rejected`);
};

const expectRejected = (text: string, message: string): void => {
  const error = parseError(text);
  expect({ option: error.option, message: error.message }).toEqual({ option: 'filter', message });
};

const elapsedMs = (run: () => void): number => {
  const start = performance.now();
  run();
  return performance.now() - start;
};

describe('parseFilter', () => {
  describe('comparisons', () => {
    it.each<ComparisonOperator>(['eq', 'ne', 'gt', 'ge', 'lt', 'le'])('parses %s with its positions', (operator) => {
      expect(parseFilter(`status ${operator} 'pending'`)).toEqual({
        kind: 'compare',
        property: 'status',
        operator,
        value: { type: 'string', value: 'pending', position: 10 },
        position: 0,
      });
    });

    it('reads keywords in any case and normalizes operators to lower case', () => {
      expect(shape(parseFilter("NOT status EQ 'a' AnD category Ne 'b' oR contentType IN ('c') Or IsOf('t')"))).toBe(
        "((((not [status eq 'a']) and [category ne 'b']) or [contentType in 'c']) or [isof t])",
      );
    });

    it('keeps property names as written', () => {
      expect(shape(parseFilter("ContentType eq 'x'"))).toBe("[ContentType eq 'x']");
    });

    it('accepts flexible whitespace, including none around parentheses and commas', () => {
      expect(shape(parseFilter("\t( status\neq\r\n'a' )and(category in('b' ,'c'))  "))).toBe(
        "([status eq 'a'] and [category in 'b','c'])",
      );
    });
  });

  describe('precedence', () => {
    it('binds and tighter than or', () => {
      expect(shape(parseFilter("a eq 'x' or b eq 'y' and c eq 'z'"))).toBe(
        "([a eq 'x'] or ([b eq 'y'] and [c eq 'z']))",
      );
      expect(shape(parseFilter("a eq 'x' and b eq 'y' or c eq 'z'"))).toBe(
        "(([a eq 'x'] and [b eq 'y']) or [c eq 'z'])",
      );
    });

    it('binds not to the comparison after it, tighter than and', () => {
      expect(shape(parseFilter("not a eq 'x' and c eq 'z'"))).toBe("((not [a eq 'x']) and [c eq 'z'])");
      expect(shape(parseFilter("a eq 'x' or not b eq 'y'"))).toBe("([a eq 'x'] or (not [b eq 'y']))");
    });

    it('associates and and or to the left', () => {
      expect(shape(parseFilter("a eq '1' and b eq '2' and c eq '3'"))).toBe(
        "(([a eq '1'] and [b eq '2']) and [c eq '3'])",
      );
      expect(shape(parseFilter("a eq '1' or b eq '2' or c eq '3'"))).toBe("(([a eq '1'] or [b eq '2']) or [c eq '3'])");
    });

    it('lets parentheses override precedence, leaving no node of their own', () => {
      expect(shape(parseFilter("(a eq 'x' or b eq 'y') and c eq 'z'"))).toBe(
        "(([a eq 'x'] or [b eq 'y']) and [c eq 'z'])",
      );
      expect(shape(parseFilter("not (a eq 'x' or b eq 'y')"))).toBe("(not ([a eq 'x'] or [b eq 'y']))");
      expect(shape(parseFilter("a eq '1' and (b eq '2' and c eq '3')"))).toBe(
        "([a eq '1'] and ([b eq '2'] and [c eq '3']))",
      );
      expect(shape(parseFilter("((((a eq 'x'))))"))).toBe("[a eq 'x']");
    });

    it('stacks not', () => {
      expect(shape(parseFilter("not not a eq 'x'"))).toBe("(not (not [a eq 'x']))");
      expect(shape(parseFilter("not(not(a eq 'x'))"))).toBe("(not (not [a eq 'x']))");
    });
  });

  describe('in', () => {
    it('parses one or more items with their positions', () => {
      expect(parseFilter("contentType in ('mail','url')")).toEqual({
        kind: 'in',
        property: 'contentType',
        values: [
          { type: 'string', value: 'mail', position: 16 },
          { type: 'string', value: 'url', position: 23 },
        ],
        position: 0,
      });
      expect(shape(parseFilter("status in ('pending')"))).toBe("[status in 'pending']");
    });

    it('accepts 50 items', () => {
      const items = Array.from({ length: 50 }, (_, index) => `'v${index}'`).join(',');
      expect(parseFilter(`status in (${items})`)).toMatchObject({ kind: 'in' });
    });
  });

  describe('string literals', () => {
    it("unescapes '' to one quote", () => {
      expect(parseFilter("a eq 'it''s'")).toMatchObject({ value: { type: 'string', value: "it's" } });
      expect(parseFilter("a eq ''''")).toMatchObject({ value: { value: "'" } });
      expect(parseFilter("a eq ''")).toMatchObject({ value: { value: '' } });
      expect(parseFilter("a eq 'x'' or b eq ''y'")).toMatchObject({ value: { value: "x' or b eq 'y" } });
    });

    it('keeps every other character verbatim', () => {
      expect(parseFilter("a eq ' ;--\"()é\u{1F600}\n'")).toMatchObject({ value: { value: ' ;--"()é\u{1F600}\n' } });
    });
  });

  describe('date-time literals', () => {
    it.each([
      '2026-01-01T00:00:00Z',
      '2026-01-01T00:00Z',
      '2026-01-01T00:00:00.5Z',
      '2026-01-01T00:00:00.123Z',
      '2026-01-01T00:00:00.1234567Z',
      '2026-01-01T00:00:00.123456789012Z',
      '2026-01-01T00:00:00+02:00',
      '2026-01-01T00:00:00.123-05:30',
      '2026-01-01t00:00:00z',
    ])('reads %s unquoted, keeping its text', (text) => {
      expect(parseFilter(`createdDateTime ge ${text}`)).toMatchObject({
        value: { type: 'dateTime', value: text, position: 19 },
      });
    });

    it('reads a quoted date-time as a string, for the compiler to interpret', () => {
      expect(parseFilter("createdDateTime lt '2026-01-01T00:00:00Z'")).toMatchObject({
        value: { type: 'string', value: '2026-01-01T00:00:00Z' },
      });
    });

    it('ends a date-time at a closing parenthesis', () => {
      expect(shape(parseFilter('(createdDateTime gt 2026-01-01T00:00:00Z)'))).toBe(
        '[createdDateTime gt dt:2026-01-01T00:00:00Z]',
      );
    });
  });

  describe('isof', () => {
    it.each([
      "isof('microsoft.graph.urlAssessmentRequest')",
      "isof('#microsoft.graph.urlAssessmentRequest')",
      'isof(microsoft.graph.urlAssessmentRequest)',
      "ISOF( 'microsoft.graph.urlAssessmentRequest' )",
    ])('reads %s', (text) => {
      expect(parseFilter(text)).toEqual({
        kind: 'isof',
        typeName: 'microsoft.graph.urlAssessmentRequest',
        position: 0,
      });
    });

    it('combines with comparisons and not', () => {
      expect(shape(parseFilter("not isof('t') and status eq 'a'"))).toBe("((not [isof t]) and [status eq 'a'])");
    });

    it('leaves a property named isof alone when no parenthesis follows', () => {
      expect(shape(parseFilter("isof eq 'x'"))).toBe("[isof eq 'x']");
    });
  });

  describe('rejects', () => {
    it.each([
      ['', '$filter is empty'],
      ['   ', '$filter is empty'],
      ["status eq 'a", 'Unterminated string literal starting at position 10'],
      ["status eq 'a''", 'Unterminated string literal starting at position 10'],
      ['status eq "a"', `Unexpected character '"' at position 10; string literals take single quotes`],
      ["status/x eq 'a'", "Unexpected character '/' at position 6"],
      ["status eq 'a' & b", "Unexpected character '&' at position 14"],
      // Positions count UTF-16 code units, like JavaScript string offsets.
      ["a eq '\u{1F600}' \u{1F600}", "Unexpected character '\u{1F600}' at position 10"],
      [
        'createdDateTime gt 2026-01-01',
        'Invalid date-time literal at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm',
      ],
      [
        'createdDateTime gt 2026-01-01T00:00:00',
        'Invalid date-time literal at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm',
      ],
      [
        'createdDateTime gt 2026-01-01T00:00:00Zx',
        'Invalid date-time literal at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm',
      ],
      [
        'createdDateTime gt 2026-01-01T00:00:00.1234567890123Z',
        'Invalid date-time literal at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm',
      ],
      [
        'status eq 1',
        'Invalid date-time literal at position 10; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm',
      ],
      [
        'createdDateTime gt 2026-01-01T00:00:00 01:00',
        "Invalid date-time literal at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm; a '+' in a URL reads as a space: send it as %2B",
      ],
      [
        'createdDateTime gt 2026-01-01T00:00 05:30 and x',
        "Invalid date-time literal at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm; a '+' in a URL reads as a space: send it as %2B",
      ],
      [
        "eq 'a'",
        "Expected an operator (eq, ne, gt, ge, lt, le or in) after 'eq' at position 3, found a string literal",
      ],
      ["'a' eq status", "Expected a property, 'not', 'isof' or '(' at position 0, found a string literal"],
      [
        "status has 'a'",
        "Expected an operator (eq, ne, gt, ge, lt, le or in) after 'status' at position 7, found 'has'",
      ],
      [
        'status',
        "Expected an operator (eq, ne, gt, ge, lt, le or in) after 'status' at position 6, found the end of $filter",
      ],
      ['status eq', 'Expected a literal at position 9, found the end of $filter'],
      ['status eq pending', "Expected a literal at position 10: found 'pending'; string values take single quotes"],
      ['status eq null', "Expected a literal at position 10: 'null' is not supported here"],
      ['status eq TRUE', "Expected a literal at position 10: 'TRUE' is not supported here"],
      ["status eq 'a' 'b'", "Expected 'and', 'or' or the end of $filter at position 14, found a string literal"],
      ["status eq 'a' xor b eq 'c'", "Expected 'and', 'or' or the end of $filter at position 14, found 'xor'"],
      ["status eq 'a')", "Expected 'and', 'or' or the end of $filter at position 13, found ')'"],
      ["status eq 'a' and", "Expected a property, 'not', 'isof' or '(' at position 17, found the end of $filter"],
      [
        "and status eq 'a'",
        "Expected an operator (eq, ne, gt, ge, lt, le or in) after 'and' at position 4, found 'status'",
      ],
      ['not', "Expected a property, 'not', 'isof' or '(' at position 3, found the end of $filter"],
      ["(status eq 'pending'", "Expected ')' at position 20"],
      ["(status eq 'pending' xor", "Expected ')' at position 21"],
      ['()', "Expected a property, 'not', 'isof' or '(' at position 1, found ')'"],
      ["status in 'a'", "Expected '(' after 'in' at position 10"],
      ['status in ()', "Expected a literal at position 11, found ')'"],
      ["status in ('a' 'b')", "Expected ',' or ')' at position 15"],
      ["status in ('a',)", "Expected a literal at position 15, found ')'"],
      ["startswith(status,'a')", "Function 'startswith' is not supported in $filter at position 0"],
      ["status eq 'a' or contains(status,'a')", "Function 'contains' is not supported in $filter at position 17"],
      ['isof()', 'Expected a type name in isof at position 5'],
      ["isof(status, 'microsoft.graph.x')", "isof takes a single type name in $filter; unexpected ',' at position 11"],
      ["isof('a' eq 'b')", "Expected ')' at position 9"],
    ])('%j: %s', (text, message) => {
      expectRejected(text, message);
    });

    it('echoes at most 40 characters of a long token', () => {
      const property = 'p'.repeat(500);
      expectRejected(
        `${property} has 'a'`,
        `Expected an operator (eq, ne, gt, ge, lt, le or in) after '${'p'.repeat(40)}…' at position 501, found 'has'`,
      );
    });
  });

  describe('bounds', () => {
    it('accepts 2,048 characters and rejects 2,049 before reading them', () => {
      const base = "status eq 'pending' or ";
      const pad = (length: number): string => `${base}${'x'.repeat(length - base.length - 13)} eq 'pending'`;
      expect(pad(2048)).toHaveLength(2048);
      expect(parseFilter(pad(2048))).toMatchObject({ kind: 'or' });
      expectRejected(pad(2049), '$filter is longer than 2048 characters');
      expectRejected('('.repeat(2049), '$filter is longer than 2048 characters');
    });

    it('accepts nesting depth 10 and rejects 11, counting parentheses and not', () => {
      expect(shape(parseFilter(`${'('.repeat(10)}a eq 'x'${')'.repeat(10)}`))).toBe("[a eq 'x']");
      expectRejected(
        `${'('.repeat(11)}a eq 'x'${')'.repeat(11)}`,
        '$filter nests more than 10 levels deep at position 10',
      );
      expect(parseFilter(`${'not '.repeat(10)}a eq 'x'`)).toMatchObject({ kind: 'not' });
      expectRejected(`${'not '.repeat(11)}a eq 'x'`, '$filter nests more than 10 levels deep at position 40');
      expect(parseFilter(`${'not ('.repeat(5)}a eq 'x'${')'.repeat(5)}`)).toMatchObject({ kind: 'not' });
      expectRejected(
        `${'not ('.repeat(5)}not a eq 'x'${')'.repeat(5)}`,
        '$filter nests more than 10 levels deep at position 25',
      );
    });

    it('does not count the parentheses of in and isof as nesting', () => {
      const deep = `${'('.repeat(10)}a in ('x') and isof('t')${')'.repeat(10)}`;
      expect(parseFilter(deep)).toMatchObject({ kind: 'and' });
    });

    it('accepts 50 comparisons and rejects 51, counting in and isof once each', () => {
      const terms = (count: number): string[] =>
        Array.from({ length: count }, (_, index) => [`a eq '${index}'`, `b in ('x','y','z')`, "isof('t')"][index % 3]);
      expect(parseFilter(terms(50).join(' or '))).toMatchObject({ kind: 'or' });
      const text = terms(51).join(' or ');
      expectRejected(
        text,
        `$filter has more than 50 comparisons; the next one is at position ${text.lastIndexOf('isof')}`,
      );
    });

    it('rejects an in list of 51 items', () => {
      const items = Array.from({ length: 51 }, (_, index) => `'${index}'`).join(',');
      expectRejected(
        `status in (${items})`,
        `'in' takes at most 50 values; more at position ${`status in (${items})`.lastIndexOf("'50'")}`,
      );
    });

    it.each([
      ['2,049 characters', 'a'.repeat(2049)],
      ['2,048 open parentheses', '('.repeat(2048)],
      ['512 nots', 'not '.repeat(512)],
      ['alternating parentheses and nots', '(not '.repeat(409)],
      ['an unterminated run of quotes', `a eq '${"''".repeat(1020)}`],
      ['a 2,048-character identifier', 'x'.repeat(2048)],
      ['a 2,048-character dotted name', 'a.'.repeat(1023) + 'a('],
      ['hundreds of comparisons', "a eq 'x' or ".repeat(186)],
      ['a long in list', `a in (${"'x',".repeat(510)}`],
      ['almost-date-times', '2026-01-01T00:00:00.'.repeat(102)],
    ])('rejects %s in well under a second', (_, text) => {
      expect(elapsedMs(() => parseError(text))).toBeLessThan(100);
    });
  });
});

const identifier = fc
  .stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}(\.[A-Za-z_][A-Za-z0-9_]{0,4})?$/)
  // A property named not would read as the keyword.
  .filter((name) => name.toLowerCase() !== 'not');

const trickyString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({
    unit: fc.constantFrom("'", "''", '"', ';', '--', ' ', '(', ')', ',', 'or', 'eq', '\n', '/*', 'é', '\u{1F600}'),
    maxLength: 8,
  }),
  fc.string({ unit: 'binary', maxLength: 6 }),
);

const literal: fc.Arbitrary<FilterLiteral> = fc.oneof(
  trickyString.map((value) => ({ type: 'string' as const, value, position: 0 })),
  fc
    .stringMatching(new RegExp(`^${DATE_TIME_SOURCE}$`))
    .map((value) => ({ type: 'dateTime' as const, value, position: 0 })),
);

const { node: filterNode } = fc.letrec<{ node: FilterNode }>((tie) => ({
  node: fc.oneof(
    // Four levels keep formatted text within the depth (two per level at most) and comparison bounds.
    { maxDepth: 4, depthSize: 'small', withCrossShrink: true },
    fc.record({
      kind: fc.constant('compare' as const),
      property: identifier,
      operator: fc.constantFrom<ComparisonOperator>('eq', 'ne', 'gt', 'ge', 'lt', 'le'),
      value: literal,
      position: fc.constant(0),
    }),
    fc.record({
      kind: fc.constant('in' as const),
      property: identifier,
      values: fc.array(literal, { minLength: 1, maxLength: 3 }),
      position: fc.constant(0),
    }),
    fc.record({
      kind: fc.constant('isof' as const),
      typeName: trickyString.filter((name) => !name.startsWith('#')),
      position: fc.constant(0),
    }),
    fc.record({ kind: fc.constant('not' as const), operand: tie('node') }),
    fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), left: tie('node'), right: tie('node') }),
  ),
}));

/** Positions describe source text, so they cannot survive a trip through another text. */
function withoutPositions(node: FilterNode): unknown {
  return JSON.parse(JSON.stringify(node, (key, value: unknown) => (key === 'position' ? undefined : value)));
}

describe('formatFilter and parseFilter', () => {
  it('round-trip any tree within the bounds', () => {
    fc.assert(
      fc.property(filterNode, (node) => {
        const text = formatFilter(node);
        fc.pre(text.length <= 2048);
        expect(withoutPositions(parseFilter(text))).toEqual(withoutPositions(node));
      }),
      { numRuns: 1000 },
    );
  });

  it('give a fixed point: formatting parsed canonical text changes nothing', () => {
    fc.assert(
      fc.property(filterNode, (node) => {
        const text = formatFilter(node);
        fc.pre(text.length <= 2048);
        expect(formatFilter(parseFilter(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});
