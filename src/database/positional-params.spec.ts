import { describe, expect, it } from 'vitest';
import { toPositional } from './positional-params.js';

describe('toPositional', () => {
  it('numbers named and spread parameters in order, from the given index', () => {
    expect(
      toPositional('("x"."a" = :f0 OR "x"."b" IN (:...f1)) AND "x"."c" > :f2', { f0: 'a', f1: ['b', 'c'], f2: 3 }, 4),
    ).toEqual({
      sql: '("x"."a" = $4 OR "x"."b" IN ($5, $6)) AND "x"."c" > $7',
      values: ['a', 'b', 'c', 3],
    });
  });

  it('leaves text that is not a known parameter alone (casts, times)', () => {
    expect(toPositional("now()::timestamptz = :f0 AND '10:30' <> :f0", { f0: 1 }, 1)).toEqual({
      sql: "now()::timestamptz = $1 AND '10:30' <> $2",
      values: [1, 1],
    });
  });
});
