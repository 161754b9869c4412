/**
 * Turns TypeORM-style named parameters (`:name`, and `:...name` for lists) into PostgreSQL's `$n`,
 * numbering from `first`, so that a compiled `$filter` can join a hand-written statement.
 */
export function toPositional(
  sql: string,
  params: Record<string, unknown>,
  first: number,
): { sql: string; values: unknown[] } {
  const values: unknown[] = [];
  const text = sql.replace(/:(\.\.\.)?([A-Za-z_]\w*)/g, (match, spread: string | undefined, name: string) => {
    if (!Object.hasOwn(params, name)) return match;
    const value = params[name];
    if (spread) {
      if (!Array.isArray(value)) throw new Error(`Parameter ${name} is spread but not an array`);
      return value.map((item) => `$${first + values.push(item) - 1}`).join(', ');
    }
    return `$${first + values.push(value) - 1}`;
  });
  return { sql: text, values };
}
