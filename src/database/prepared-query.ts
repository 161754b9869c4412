import { createHash } from 'node:crypto';
import type { Pool, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * Runs a statement on the DataSource's own pool, as a named prepared statement when `name` is given.
 * TypeORM sends every query unnamed, so PostgreSQL plans it on every call; for the hot statements that
 * planning cost more than the execution (pgbench: 3,820 vs 1,614 calls/s). Only fixed statement texts
 * may be named: each connection keeps every name it has prepared. Unnamed, it still skips TypeORM's
 * per-query QueryRunner.
 */
export async function preparedQuery<T extends QueryResultRow>(
  dataSource: DataSource,
  name: string | undefined,
  text: string,
  values: unknown[],
): Promise<T[]> {
  const pool = (dataSource.driver as unknown as { master: Pool }).master;
  // Through TypeORM's logger, as its own queries are (it filters by the `logging` option).
  dataSource.logger.logQuery(text, values);
  const result = await pool.query<T>(name === undefined ? { text, values } : { name, text, values });
  return result.rows;
}

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
