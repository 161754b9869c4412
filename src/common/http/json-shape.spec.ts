import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JSON_LIMITS, jsonShapeProblem } from './json-shape.js';
import { isStorableText } from './storable-text.js';

/** Whether any string in a JSON value (keys included) is one PostgreSQL would not give back unchanged. */
function holdsUnstorable(value: unknown): boolean {
  if (typeof value === 'string') return !isStorableText(value);
  if (Array.isArray(value)) return value.some(holdsUnstorable);
  if (value && typeof value === 'object')
    return Object.entries(value).some(([key, item]) => !isStorableText(key) || holdsUnstorable(item));
  return false;
}

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('jsonShapeProblem', () => {
  it('accepts the bodies of this API', () => {
    const body = {
      '@odata.type': '#microsoft.graph.fileAssessmentRequest',
      expectedAssessment: 'block',
      category: 'malware',
      fileName: 'a "quoted" \\ name \u00e9 \ud83d\ude00.txt',
      contentData: 'QUJD'.repeat(100_000),
      createdBy: { user: { id: 'x', displayName: 'y' } },
    };
    expect(jsonShapeProblem(JSON.stringify(body))).toBeUndefined();
  });

  it('refuses nesting past the limit, and only past it', () => {
    expect(jsonShapeProblem(nested(JSON_LIMITS.maxDepth))).toBeUndefined();
    expect(jsonShapeProblem(nested(JSON_LIMITS.maxDepth + 1))).toEqual({ kind: 'depth' });
    expect(jsonShapeProblem(`{"a":${nested(100_000)}}`)).toEqual({ kind: 'depth' });
  });

  it('refuses more values than the limit, counting members and elements alike', () => {
    const members = (n: number) =>
      JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
    expect(jsonShapeProblem(members(JSON_LIMITS.maxValues - 1))).toBeUndefined();
    expect(jsonShapeProblem(members(JSON_LIMITS.maxValues + 1))).toEqual({ kind: 'values' });
    expect(jsonShapeProblem(JSON.stringify(Array.from({ length: 500_000 }, () => 0)))).toEqual({ kind: 'values' });
  });

  it('does not count brackets and commas inside strings', () => {
    expect(jsonShapeProblem(JSON.stringify({ message: '[{,'.repeat(10_000) }))).toBeUndefined();
  });

  it.each([
    ['an escaped NUL', '{"message":"a\\u0000b"}', 'nul'],
    ['an escaped NUL in a key', '{"a\\u0000":1}', 'nul'],
    ['a lone high surrogate', '{"message":"\\ud800"}', 'loneSurrogate'],
    ['a high surrogate before a non-surrogate escape', '{"message":"\\ud800\\u0041"}', 'loneSurrogate'],
    ['a lone low surrogate', '{"message":"x\\uDC00"}', 'loneSurrogate'],
    ['a reversed pair', '{"message":"\\udc00\\ud800"}', 'loneSurrogate'],
  ])('refuses %s', (_, text, kind) => {
    expect(jsonShapeProblem(text)).toEqual({ kind });
  });

  it.each([
    ['an escaped backslash before u0000 (the text \\u0000, not a NUL)', '{"message":"\\\\u0000"}'],
    ['a surrogate pair', '{"message":"\\ud83d\\ude00"}'],
    ['an escaped quote', '{"message":"say \\"hi\\" [,"}'],
  ])('accepts %s', (_, text) => {
    expect(jsonShapeProblem(text)).toBeUndefined();
  });

  it('finds an unstorable string exactly when JSON.stringify wrote one (property)', () => {
    // JSON.stringify escapes lone surrogates and NUL, as a client's serializer does.
    const unit = fc.oneof(
      fc.constantFrom('\0', '\ud800', '\udc00', '"', '\\', '['),
      fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
    );
    const text = fc.string({ unit });
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.integer(),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(text, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (body) => {
        const problem = jsonShapeProblem(JSON.stringify(body));
        expect(problem === undefined).toBe(!holdsUnstorable(body));
      }),
      { numRuns: 500 },
    );
  });
});
