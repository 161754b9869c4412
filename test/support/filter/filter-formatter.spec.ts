import { describe, expect, it } from 'vitest';
import { formatFilter } from './filter-formatter.js';
import { parseFilter } from '../../../src/odata/filter/filter-parser.js';

const canonical = (text: string): string => formatFilter(parseFilter(text));

describe('formatFilter', () => {
  it.each([
    [
      "  NOT(Status EQ 'it''s')AND(a eq 'x' OR b in('y' ,'z'))  ",
      "not Status eq 'it''s' and (a eq 'x' or b in ('y', 'z'))",
    ],
    ["((a eq 'x'))", "a eq 'x'"],
    ["(a eq 'x' and b eq 'y') and c eq 'z'", "a eq 'x' and b eq 'y' and c eq 'z'"],
    ["a eq 'x' and (b eq 'y' and c eq 'z')", "a eq 'x' and (b eq 'y' and c eq 'z')"],
    ["a eq 'x' or (b eq 'y' or c eq 'z')", "a eq 'x' or (b eq 'y' or c eq 'z')"],
    ["(a eq 'x' or b eq 'y') and c eq 'z'", "(a eq 'x' or b eq 'y') and c eq 'z'"],
    ["a eq 'x' or (b eq 'y' and c eq 'z')", "a eq 'x' or b eq 'y' and c eq 'z'"],
    ["not (a eq 'x' or b eq 'y')", "not (a eq 'x' or b eq 'y')"],
    ["not (not (a eq 'x'))", "not not a eq 'x'"],
    ['IsOf(microsoft.graph.urlAssessmentRequest)', "isof('microsoft.graph.urlAssessmentRequest')"],
    ["isof('#microsoft.graph.urlAssessmentRequest')", "isof('microsoft.graph.urlAssessmentRequest')"],
    ['createdDateTime GE 2026-01-01t00:00:00.5+02:00', 'createdDateTime ge 2026-01-01t00:00:00.5+02:00'],
    ["createdDateTime lt '2026-01-01T00:00:00Z'", "createdDateTime lt '2026-01-01T00:00:00Z'"],
  ])('writes %j as %j', (text, expected) => {
    expect(canonical(text)).toBe(expected);
  });
});
