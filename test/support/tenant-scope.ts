import { CROSS_TENANT_STATEMENTS as DELIVERY_CROSS_TENANT_STATEMENTS } from '../../src/notifications/delivery/outbox.store.js';

/**
 * A small SQL-aware check that a statement names `tenant_id` for every reference to a tenant table,
 * so that Citus can route it to the tenant's shard. Not a parser: it normalizes the text (comments and
 * string literals out, quotes off, lower case), finds each reference to a tenant table and its alias,
 * and looks in the reference's own parenthesized scope for `alias.tenant_id = $n`, or a join
 * `alias.tenant_id = other.tenant_id` in a statement that pins some tenant_id to a parameter. An INSERT
 * must list tenant_id among its columns.
 */
export const TENANT_TABLES = [
  'threat_assessment_requests',
  'threat_assessment_results',
  'idempotency_keys',
  'throttle_counters',
  'subscriptions',
  'notifications',
] as const;

/**
 * The statements that are cross-tenant by design, each exempt exactly as sent (after normalizing), not
 * by table or prefix: the expiry sweeps, and notification delivery's search for due work, lease release
 * at shutdown, housekeeping and queue gauges (CROSS_TENANT_STATEMENTS, documented there). All run on a
 * timer, none on a request's path; every other statement delivery sends must name the tenant.
 */
export const CROSS_TENANT_STATEMENTS: readonly string[] = [
  'DELETE FROM idempotency_keys WHERE expires_at < now()',
  'DELETE FROM throttle_counters WHERE expires_at < now()',
  ...Object.values(DELIVERY_CROSS_TENANT_STATEMENTS),
];

const EXEMPT = new Set(CROSS_TENANT_STATEMENTS.map(normalizeSql));

export function isCrossTenantByDesign(sql: string): boolean {
  return EXEMPT.has(normalizeSql(sql));
}

const NOT_AN_ALIAS = new Set(
  `as where on set join left right inner full outer cross natural using values select returning order group
  limit offset having window union except intersect for default`.split(/\s+/),
);

export function normalizeSql(sql: string): string {
  return sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"([^"]*)"/g, '$1')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/** The tenant tables a statement mentions, whatever it does with them. */
export function tablesOf(sql: string): string[] {
  const text = normalizeSql(sql);
  return TENANT_TABLES.filter((table) => new RegExp(`(?<![\\w.])${table}(?![\\w.])`).test(text));
}

/** Each reference to a tenant table that lacks a tenant_id condition, described; empty when all have one. */
export function untenantedReferences(sql: string): string[] {
  const text = normalizeSql(sql);
  const pinned = /(?<![\w.])(?:\w+\.)?tenant_id\s*=\s*\$\d+|\$\d+(?:::uuid)?\s*=\s*(?:\w+\.)?tenant_id(?![\w.])/.test(
    text,
  );
  const missing: string[] = [];
  const reference = new RegExp(`(?<![\\w.])(${TENANT_TABLES.join('|')})(?![\\w.])(?: (?:as )?(\\w+))?`, 'g');
  for (const match of text.matchAll(reference)) {
    const [, table, word] = match;
    const at = match.index;
    const before = text.slice(0, at).trimEnd();
    if (/\binto$/.test(before)) {
      const columns = /^\s*(?:as \w+ )?\(([^)]*)\)/.exec(text.slice(at + table.length));
      if (!columns || !/(?<![\w.])tenant_id(?![\w.])/.test(columns[1]))
        missing.push(`INSERT INTO ${table} without tenant_id`);
      continue;
    }
    const alias = word && !NOT_AN_ALIAS.has(word) ? word : table;
    const scope = scopeOf(text, at);
    const own = `(?:${alias}\\.)?tenant_id`;
    const value = `(?:\\$\\d+(?:::uuid)?|\\w+\\.tenant_id)`;
    const condition = new RegExp(
      `(?<![\\w.])${own}\\s*=\\s*${value}(?![\\w.])|(?<![\\w.])${value}\\s*=\\s*${own}(?![\\w.])`,
    );
    const found = condition.exec(scope);
    if (!found || (!/\$\d/.test(found[0]) && !pinned)) missing.push(`${table}${alias === table ? '' : ` ${alias}`}`);
  }
  return missing;
}

/** The text of the innermost parentheses around `at` (the whole statement at the top level). */
function scopeOf(text: string, at: number): string {
  let depth = 0;
  let start = 0;
  for (let i = at - 1; i >= 0; i--) {
    if (text[i] === ')') depth++;
    else if (text[i] === '(') {
      if (depth === 0) {
        start = i + 1;
        break;
      }
      depth--;
    }
  }
  depth = 0;
  let end = text.length;
  for (let i = at; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') {
      if (depth === 0) {
        end = i;
        break;
      }
      depth--;
    }
  }
  return text.slice(start, end);
}
