import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ODataQueryError } from '../odata-query.error.js';
import { compileFilter } from './filter-compiler.js';
import { parseFilter } from './filter-parser.js';
import type { FilterSpec } from './filter.types.js';

const requestsSpec: FilterSpec = {
  fields: {
    contentType: { kind: 'enum', column: 'content_type', values: ['mail', 'url', 'file'] },
    expectedAssessment: { kind: 'enum', column: 'expected_assessment', values: ['block', 'unblock'] },
    category: {
      kind: 'enum',
      column: 'category',
      values: ['undefined', 'spam', 'phishing', 'malware', 'unknownFutureValue'],
    },
    status: { kind: 'enum', column: 'status', values: ['pending', 'completed'] },
    requestSource: { kind: 'enum', column: 'request_source', values: ['undefined', 'user', 'administrator'] },
    createdDateTime: { kind: 'dateTime', column: 'created_date_time' },
  },
  isof: {
    column: 'kind',
    types: {
      'microsoft.graph.mailAssessmentRequest': 'mailAssessmentRequest',
      'microsoft.graph.emailFileAssessmentRequest': 'emailFileAssessmentRequest',
      'microsoft.graph.fileAssessmentRequest': 'fileAssessmentRequest',
      'microsoft.graph.urlAssessmentRequest': 'urlAssessmentRequest',
    },
  },
};

const resultsSpec: FilterSpec = {
  fields: {
    resultType: { kind: 'enum', column: 'result_type', values: ['checkPolicy', 'rescan', 'unknownFutureValue'] },
    createdDateTime: { kind: 'dateTime', column: 'created_date_time' },
  },
};

const compile = (text: string, spec = requestsSpec) => compileFilter(parseFilter(text), spec, 'r');

const compileError = (text: string, spec = requestsSpec): string => {
  try {
    compile(text, spec);
  } catch (error) {
    expect(error).toBeInstanceOf(ODataQueryError);
    expect((error as ODataQueryError).option).toBe('filter');
    return (error as ODataQueryError).message;
  }
  throw new Error(`expected ${JSON.stringify(text.slice(0, 80))} to be rejected`);
};

describe('compileFilter', () => {
  describe('enum properties', () => {
    it('compiles eq and ne to a column and a parameter', () => {
      expect(compile("status eq 'pending'")).toEqual({ sql: '"r"."status" = :f0', params: { f0: 'pending' } });
      expect(compile("requestSource ne 'user'")).toEqual({
        sql: '"r"."request_source" <> :f0',
        params: { f0: 'user' },
      });
    });

    it('compiles in to a spread array parameter', () => {
      expect(compile("contentType in ('mail','url')")).toEqual({
        sql: '"r"."content_type" IN (:...f0)',
        params: { f0: ['mail', 'url'] },
      });
      expect(compile("category in ('spam')")).toEqual({ sql: '"r"."category" IN (:...f0)', params: { f0: ['spam'] } });
    });

    it('passes a value holding a quote as a parameter', () => {
      const spec: FilterSpec = { fields: { name: { kind: 'enum', column: 'name', values: ["o'clock"] } } };
      expect(compile("name eq 'o''clock'", spec)).toEqual({ sql: '"r"."name" = :f0', params: { f0: "o'clock" } });
    });

    it('works with the results collection', () => {
      expect(compile("resultType eq 'rescan'", resultsSpec)).toEqual({
        sql: '"r"."result_type" = :f0',
        params: { f0: 'rescan' },
      });
    });
  });

  describe('date-time properties', () => {
    it.each([
      ['eq', '='],
      ['ne', '<>'],
      ['gt', '>'],
      ['ge', '>='],
      ['lt', '<'],
      ['le', '<='],
    ])('compiles %s to %s with a Date parameter', (operator, sql) => {
      expect(compile(`createdDateTime ${operator} 2026-01-01T00:00:00Z`)).toEqual({
        sql: `"r"."created_date_time" ${sql} :f0`,
        params: { f0: new Date('2026-01-01T00:00:00.000Z') },
      });
    });

    it.each([
      ['2026-01-01T00:00Z', '2026-01-01T00:00:00.000Z'],
      ['2026-01-01T00:00:00.5Z', '2026-01-01T00:00:00.500Z'],
      ['2026-01-01T00:00:00.123Z', '2026-01-01T00:00:00.123Z'],
      ['2026-01-01T00:00:00.1230000Z', '2026-01-01T00:00:00.123Z'],
      ['2026-01-01T02:00:00+02:00', '2026-01-01T00:00:00.000Z'],
      ['2025-12-31T19:30:00.25-04:30', '2026-01-01T00:00:00.250Z'],
      ['2026-01-01t00:00:00z', '2026-01-01T00:00:00.000Z'],
      ["'2026-01-01T00:00:00Z'", '2026-01-01T00:00:00.000Z'],
      ["'2026-01-01T01:00:00.999+01:00'", '2026-01-01T00:00:00.999Z'],
      ['2024-02-29T23:59:59Z', '2024-02-29T23:59:59.000Z'],
      ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
      ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00.000Z'],
    ])('reads %s as %s', (literal, instant) => {
      expect(compile(`createdDateTime eq ${literal}`).params).toEqual({ f0: new Date(instant) });
    });

    it('compares a literal finer than a millisecond exactly: stored instants are whole milliseconds', () => {
      const at = (operator: string) => compile(`createdDateTime ${operator} 2026-01-01T00:00:00.1234567Z`);
      const floor = { f0: new Date('2026-01-01T00:00:00.123Z') };
      expect(at('gt')).toEqual({ sql: '"r"."created_date_time" > :f0', params: floor });
      expect(at('ge')).toEqual({ sql: '"r"."created_date_time" > :f0', params: floor });
      expect(at('lt')).toEqual({ sql: '"r"."created_date_time" <= :f0', params: floor });
      expect(at('le')).toEqual({ sql: '"r"."created_date_time" <= :f0', params: floor });
      expect(at('eq')).toEqual({ sql: 'FALSE', params: {} });
      expect(at('ne')).toEqual({ sql: 'TRUE', params: {} });
      expect(compile("not createdDateTime eq 2026-01-01T00:00:00.0000001Z and status eq 'pending'")).toEqual({
        sql: '(NOT (FALSE) AND "r"."status" = :f0)',
        params: { f0: 'pending' },
      });
    });
  });

  describe('isof', () => {
    it.each([
      "isof('microsoft.graph.urlAssessmentRequest')",
      "isof('#microsoft.graph.urlAssessmentRequest')",
      'isof(microsoft.graph.urlAssessmentRequest)',
    ])('compiles %s to the discriminator column', (text) => {
      expect(compile(text)).toEqual({ sql: '"r"."kind" = :f0', params: { f0: 'urlAssessmentRequest' } });
    });
  });

  describe('logic', () => {
    it('parenthesizes every and and or, numbering parameters in order', () => {
      expect(compile("status eq 'pending' or category eq 'spam' and contentType ne 'url'")).toEqual({
        sql: '("r"."status" = :f0 OR ("r"."category" = :f1 AND "r"."content_type" <> :f2))',
        params: { f0: 'pending', f1: 'spam', f2: 'url' },
      });
    });

    it('compiles not to NOT (…) without doubling parentheses', () => {
      expect(compile("not status eq 'pending'")).toEqual({
        sql: 'NOT ("r"."status" = :f0)',
        params: { f0: 'pending' },
      });
      expect(compile("not (status eq 'pending' or isof('microsoft.graph.mailAssessmentRequest'))")).toEqual({
        sql: 'NOT ("r"."status" = :f0 OR "r"."kind" = :f1)',
        params: { f0: 'pending', f1: 'mailAssessmentRequest' },
      });
      expect(compile("not not contentType in ('mail')")).toEqual({
        sql: 'NOT (NOT ("r"."content_type" IN (:...f0)))',
        params: { f0: ['mail'] },
      });
    });

    it('restarts parameter names on every call', () => {
      const node = parseFilter("status eq 'pending'");
      expect(compileFilter(node, requestsSpec, 'r').params).toEqual(compileFilter(node, requestsSpec, 'r').params);
    });

    it('quotes the alias as an identifier', () => {
      expect(compileFilter(parseFilter("status eq 'pending'"), requestsSpec, 'odd"alias').sql).toBe(
        '"odd""alias"."status" = :f0',
      );
    });
  });

  describe('rejects', () => {
    it.each([
      [
        "foo eq 'x'",
        "Unknown property 'foo' in $filter at position 0; filterable properties are: contentType, expectedAssessment, category, status, requestSource, createdDateTime",
      ],
      [
        "status eq 'pending' and Status eq 'pending'",
        "Unknown property 'Status' in $filter at position 24; did you mean 'status'?",
      ],
      [
        "constructor eq 'x'",
        "Unknown property 'constructor' in $filter at position 0; filterable properties are: contentType, expectedAssessment, category, status, requestSource, createdDateTime",
      ],
      [
        "__proto__ in ('x')",
        "Unknown property '__proto__' in $filter at position 0; filterable properties are: contentType, expectedAssessment, category, status, requestSource, createdDateTime",
      ],
      ["status eq 'done'", "'done' is not a value of 'status' at position 10; expected one of: pending, completed"],
      ["status eq 'Pending'", "'Pending' is not a value of 'status' at position 10; did you mean 'pending'?"],
      [
        "contentType in ('mail', 'pdf')",
        "'pdf' is not a value of 'contentType' at position 24; expected one of: mail, url, file",
      ],
      ['status eq 2026-01-01T00:00:00Z', "'status' takes a quoted string, not a date-time, at position 10"],
      ["status gt 'pending'", "'gt' is not supported on 'status' (at position 0)"],
      ["not category le 'spam'", "'le' is not supported on 'category' (at position 4)"],
      ['createdDateTime in (2026-01-01T00:00:00Z)', "'in' is not supported on 'createdDateTime' (at position 0)"],
      [
        "createdDateTime gt 'yesterday'",
        "Invalid date-time 'yesterday' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        "createdDateTime gt '2026-01-01'",
        "Invalid date-time '2026-01-01' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        "createdDateTime gt ' 2026-01-01T00:00:00Z'",
        "Invalid date-time ' 2026-01-01T00:00:00Z' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        'createdDateTime gt 2026-13-01T00:00:00Z',
        "Invalid date-time '2026-13-01T00:00:00Z' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        'createdDateTime gt 2025-02-29T00:00:00Z',
        "Invalid date-time '2025-02-29T00:00:00Z' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        'createdDateTime gt 2026-04-31T00:00:00Z',
        "Invalid date-time '2026-04-31T00:00:00Z' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        'createdDateTime gt 2026-01-00T00:00:00Z',
        "Invalid date-time '2026-01-00T00:00:00Z' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        'createdDateTime gt 2026-01-01T24:00:00Z',
        "Invalid date-time '2026-01-01T24:00:00Z' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        'createdDateTime gt 2026-01-01T00:60:00Z',
        "Invalid date-time '2026-01-01T00:60:00Z' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        'createdDateTime gt 2026-01-01T00:00:60Z',
        "Invalid date-time '2026-01-01T00:00:60Z' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        'createdDateTime gt 2026-01-01T00:00:00+24:00',
        "Invalid date-time '2026-01-01T00:00:00+24:00' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        'createdDateTime gt 2026-01-01T00:00:00+01:60',
        "Invalid date-time '2026-01-01T00:00:00+01:60' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        'createdDateTime gt 0000-01-01T00:00:00Z',
        "Invalid date-time '0000-01-01T00:00:00Z' for 'createdDateTime' at position 19; expected YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm",
      ],
      [
        "isof('microsoft.graph.threatAssessmentRequest')",
        "Unknown type 'microsoft.graph.threatAssessmentRequest' in isof at position 0; expected one of: microsoft.graph.mailAssessmentRequest, microsoft.graph.emailFileAssessmentRequest, microsoft.graph.fileAssessmentRequest, microsoft.graph.urlAssessmentRequest",
      ],
      [
        "status eq 'pending' or isof('microsoft.graph.URLAssessmentRequest')",
        "Unknown type 'microsoft.graph.URLAssessmentRequest' in isof at position 23; did you mean 'microsoft.graph.urlAssessmentRequest'?",
      ],
      [
        "isof('toString')",
        "Unknown type 'toString' in isof at position 0; expected one of: microsoft.graph.mailAssessmentRequest, microsoft.graph.emailFileAssessmentRequest, microsoft.graph.fileAssessmentRequest, microsoft.graph.urlAssessmentRequest",
      ],
    ])('%j: %s', (text, message) => {
      expect(compileError(text)).toBe(message);
    });

    it('refuses isof where the spec has none, and properties of another collection', () => {
      expect(compileError("isof('microsoft.graph.urlAssessmentRequest')", resultsSpec)).toBe(
        'isof is not supported on this collection (at position 0)',
      );
      expect(compileError("resultType eq 'rescan' and status eq 'pending'", resultsSpec)).toBe(
        "Unknown property 'status' in $filter at position 27; filterable properties are: resultType, createdDateTime",
      );
    });

    it('echoes at most 40 characters of a long value', () => {
      expect(compileError(`status eq '${'x'.repeat(1000)}'`)).toBe(
        `'${'x'.repeat(40)}…' is not a value of 'status' at position 10; expected one of: pending, completed`,
      );
    });
  });
});

/** Everything compiled SQL may contain: quoted spec columns, operators, keywords, parameter names. */
const SAFE_SQL =
  /^(?:\s+|"r"\."(?:content_type|expected_assessment|category|status|request_source|created_date_time|kind)"|<>|<=|>=|=|<|>|\(|\)|IN|AND|OR|NOT|TRUE|FALSE|:(?:\.\.\.)?f\d+)*$/;

const allowedStrings = new Set([
  ...Object.values(requestsSpec.fields).flatMap((field) => (field.kind === 'enum' ? field.values : [])),
  ...Object.values(requestsSpec.isof?.types ?? {}),
]);

const isAllowedParameter = (value: unknown): boolean =>
  value instanceof Date
    ? !Number.isNaN(value.getTime())
    : Array.isArray(value)
      ? value.every(isAllowedParameter)
      : allowedStrings.has(value as string);

const hostile = fc.oneof(
  fc.string({
    unit: fc.constantFrom(
      "'",
      "''",
      '"',
      ';',
      '--',
      '/*',
      '*/',
      ' ',
      '(',
      ')',
      ',',
      ':',
      'f0',
      '...',
      'DROP',
      'TABLE',
      '\\',
      '\0',
      '$1',
      'pending',
      'or',
    ),
    maxLength: 10,
  }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.constantFrom(
    "'; DROP TABLE threat_assessment_requests; --",
    "pending' OR '1'='1",
    '"r"."status"',
    ':f0',
    '2026-01-01T00:00:00Z',
  ),
);

const quoted = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** Mostly what the spec accepts, sometimes hostile, so that both outcomes are exercised. */
const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.oneof({ arbitrary: good, weight: 5 }, { arbitrary: bad, weight: 1 });

const leaf = fc.oneof(
  ...Object.entries(requestsSpec.fields).map(([property, field]) =>
    field.kind === 'enum'
      ? fc
          .tuple(
            mostly(fc.constantFrom('eq', 'ne', 'in'), fc.constantFrom('gt', 'le')),
            fc.array(mostly(fc.constantFrom(...field.values), hostile), { minLength: 1, maxLength: 3 }),
          )
          .map(([operator, values]) =>
            operator === 'in'
              ? `${property} in (${values.map(quoted).join(',')})`
              : `${property} ${operator} ${quoted(values[0])}`,
          )
      : fc
          .tuple(
            fc.constantFrom('eq', 'ne', 'gt', 'ge', 'lt', 'le'),
            mostly(fc.constantFrom('2026-01-01T00:00:00Z', '2026-01-01T00:00:00.1234567+02:00'), hostile),
            fc.boolean(),
          )
          .map(([operator, value, bare]) => `${property} ${operator} ${bare ? value : quoted(value)}`),
  ),
  mostly(fc.constantFrom(...Object.keys(requestsSpec.isof?.types ?? {})), hostile).map(
    (type) => `isof(${quoted(type)})`,
  ),
  fc
    .tuple(fc.constantFrom('kind', 'Status', 'status;', 'r.status', '"status"'), hostile)
    .map(([property, value]) => `${property} eq ${quoted(value)}`),
);

const { expression } = fc.letrec<{ expression: string }>((tie) => ({
  expression: fc.oneof(
    { maxDepth: 3 },
    leaf,
    tie('expression').map((inner) => `not (${inner})`),
    fc
      .tuple(tie('expression'), fc.constantFrom('and', 'or'), tie('expression'))
      .map(([left, keyword, right]) => `${left} ${keyword} ${right}`),
  ),
}));

const hostileFilter = fc.oneof({ arbitrary: expression, weight: 8 }, hostile, fc.string({ maxLength: 60 }));

describe('compileFilter on hostile input', () => {
  it('either refuses with ODataQueryError or puts every input value in a parameter, never in the SQL', () => {
    let compiledCount = 0;
    fc.assert(
      fc.property(hostileFilter, (text) => {
        let compiled;
        try {
          compiled = compile(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ODataQueryError);
          return;
        }
        expect(compiled.sql).toMatch(SAFE_SQL);
        expect(Object.values(compiled.params).every(isAllowedParameter)).toBe(true);
        compiledCount += 1;
      }),
      { numRuns: 2000 },
    );
    // Guards against a generator so hostile that only the refusal branch ever runs.
    expect(compiledCount).toBeGreaterThan(400);
  });
});
