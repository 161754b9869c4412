import { ODataQueryError } from '../odata-query.error.js';

const MAX_ECHO = 40;

export const filterError = (message: string): ODataQueryError => new ODataQueryError('filter', message);

/** Client text in single quotes, cut short: a message must never carry a long slice of the input back. */
export const quote = (text: string): string => `'${text.length > MAX_ECHO ? `${text.slice(0, MAX_ECHO)}…` : text}'`;

/**
 * `; did you mean 'x'?` when `name` differs from a known name only by case (names are case-sensitive,
 * so this is the likeliest slip), else `; <label>: a, b, c`.
 */
export function suggest(name: string, known: readonly string[], label: string): string {
  const lower = name.toLowerCase();
  const sameButCase = known.find((candidate) => candidate.toLowerCase() === lower);
  return sameButCase === undefined ? `; ${label}: ${known.join(', ')}` : `; did you mean ${quote(sameButCase)}?`;
}
