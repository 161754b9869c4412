import { createHash } from 'node:crypto';

/**
 * The most statement texts built at run time that one process prepares. A `$filter` compiles to a text
 * that depends only on its shape (literals are parameters), and clients use a handful of shapes; past
 * this many, new shapes are planned on every call, so a client inventing shapes cannot make every
 * connection keep an unbounded number of statements.
 */
export const MAX_DYNAMIC_STATEMENTS = 64;
const dynamicNames = new Map<string, string>();

/** A stable name for a run-time statement text, or undefined once the budget is spent on other texts. */
export function dynamicStatementName(prefix: string, text: string): string | undefined {
  const known = dynamicNames.get(text);
  if (known !== undefined || dynamicNames.size >= MAX_DYNAMIC_STATEMENTS) return known;
  const name = `${prefix}_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
  dynamicNames.set(text, name);
  return name;
}

/**
 * The name of a statement whose text is fixed but for a `$filter`: `prefix` and `variants` (the few
 * fixed texts) without one, a name for its text with one.
 */
export function filteredStatementName(
  filter: string | undefined,
  text: string,
  prefix: string,
  ...variants: string[]
): string | undefined {
  return filter === undefined ? [prefix, ...variants].join('_') : dynamicStatementName(prefix, text);
}
