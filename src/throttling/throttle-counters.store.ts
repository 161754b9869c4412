import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import type { ThrottleScope } from './throttle-limits.js';

/** The gate's four array parameters: scopes, keys, window lengths and limits. */
export type ThrottleWindows = [ThrottleScope[], string[], number[], number[]];

/** A window the gate counted: what a refusal outside a transaction gives back. */
export interface CountedWindow {
  scope: ThrottleScope;
  key: string;
  seconds: number;
  start: string;
}

/** The columns a gated statement returns beside its own; all null when the write was not refused. */
export interface ThrottleVerdict {
  throttle_scope: ThrottleScope | null;
  throttle_retry_after: number | null;
  /** The windows counted before a concurrent write filled another: only on that race. */
  throttle_undo: CountedWindow[] | null;
}

export interface ThrottleGate {
  /** CTEs that open the write's `WITH`. */
  ctes: string;
  /** Holds when every window counted the write: the write's own condition adds it. */
  accepted: string;
  /** The verdict's columns, for the statement's result row. */
  columns: string;
}

/**
 * The throttle, counted by the write's own statement: a write that fails (a database error, a parent
 * deleted meanwhile) takes its counts with it, and an accepted write costs no round trip of its own,
 * where a separate count or a transaction around both would cost one or two. The price: a tenant's
 * throttled writes queue on its counter rows until each commits.
 *
 * The windows are four array parameters from `first` on (a ThrottleWindows: scopes, keys, seconds,
 * limits); `tenant` is the tenant's parameter; `when` the write's own precondition: a write that does
 * not happen for its own reasons is neither counted nor refused.
 *
 * A window full in the statement's snapshot stops every count, so a plain 429 increments nothing.
 * Each increment re-checks the latest row under its lock (`ON CONFLICT … WHERE`), so concurrent
 * writers never push a window past its limit; only when a concurrent write fills one window after this
 * one counted another does `throttle_undo` list what to give back.
 */
export function throttleGate({
  tenant,
  first,
  when = 'true',
}: {
  tenant: string;
  first: number;
  when?: string;
}): ThrottleGate {
  const [scopes, keys, seconds, limits] = [0, 1, 2, 3].map((i) => `$${first + i}`);
  const ctes = `throttle_windows AS (
    SELECT s.scope, s.key, s.seconds, s.max,
           to_timestamp(floor(extract(epoch FROM now()) / s.seconds) * s.seconds) AS start
    FROM unnest(${scopes}::varchar[], ${keys}::varchar[], ${seconds}::int[], ${limits}::int[])
      AS s(scope, key, seconds, max)
  ), throttle_full AS (
    -- A scalar subquery per window: one primary-key lookup each, never a scan of the tenant's counters.
    SELECT w.scope, w.seconds
    FROM throttle_windows w
    WHERE w.max <= (
      SELECT c.count FROM throttle_counters c
      WHERE c.tenant_id = ${tenant} AND c.scope = w.scope AND c.key = w.key
        AND c.window_seconds = w.seconds AND c.window_start = w.start
    )
  ), throttle_counted AS (
    INSERT INTO throttle_counters AS c (tenant_id, scope, key, window_seconds, window_start, count, expires_at)
    SELECT ${tenant}, w.scope, w.key, w.seconds, w.start, 1, w.start + make_interval(secs => w.seconds)
    FROM throttle_windows w
    WHERE NOT EXISTS (SELECT 1 FROM throttle_full) AND ${when}
    ON CONFLICT (tenant_id, scope, key, window_seconds, window_start) DO UPDATE SET count = c.count + 1
      WHERE c.count < (SELECT w.max FROM throttle_windows w WHERE w.scope = c.scope AND w.seconds = c.window_seconds)
    RETURNING c.scope, c.key, c.window_seconds, c.window_start
  ), throttle_refused AS (
    SELECT w.scope, ceil(extract(epoch FROM w.start + make_interval(secs => w.seconds) - now()))::int AS retry_after
    FROM throttle_windows w
    WHERE ${when} AND (
      EXISTS (SELECT 1 FROM throttle_full f WHERE f.scope = w.scope AND f.seconds = w.seconds)
      OR NOT EXISTS (SELECT 1 FROM throttle_full)
        AND NOT EXISTS (SELECT 1 FROM throttle_counted c WHERE c.scope = w.scope AND c.window_seconds = w.seconds)
    )
  )`;
  const columns = `(SELECT scope FROM throttle_refused ORDER BY retry_after DESC LIMIT 1) AS throttle_scope,
    (SELECT max(retry_after) FROM throttle_refused) AS throttle_retry_after,
    (SELECT json_agg(json_build_object('scope', scope, 'key', key, 'seconds', window_seconds, 'start', window_start))
     FROM throttle_counted WHERE EXISTS (SELECT 1 FROM throttle_refused)) AS throttle_undo`;
  return { ctes, accepted: 'NOT EXISTS (SELECT 1 FROM throttle_refused)', columns };
}

/** The gate alone, for a write that is not one statement (a subscription's, around its handshake). */
const COUNT_SQL = (() => {
  const gate = throttleGate({ tenant: '$1::uuid', first: 2 });
  return `WITH ${gate.ctes} SELECT ${gate.columns}`;
})();

/** Gives back the counts of a write refused after it counted some windows (see throttleGate). */
const GIVE_BACK_SQL = `
  UPDATE throttle_counters c SET count = c.count - 1
  FROM json_to_recordset($2::json) AS u(scope varchar, key varchar, seconds int, start timestamptz)
  WHERE c.tenant_id = $1 AND c.scope = u.scope AND c.key = u.key
    AND c.window_seconds = u.seconds AND c.window_start = u.start`;

@Injectable()
export class ThrottleCountersStore {
  constructor(private readonly database: Database) {}

  async count(tenantId: string, windows: ThrottleWindows): Promise<ThrottleVerdict> {
    const [row] = await this.database.query<ThrottleVerdict>('count_throttle_windows', COUNT_SQL, [
      tenantId,
      ...windows,
    ]);
    return row;
  }

  async giveBack(tenantId: string, windows: CountedWindow[]): Promise<void> {
    await this.database.query('give_back_throttle_counts', GIVE_BACK_SQL, [tenantId, JSON.stringify(windows)]);
  }

  /** A sweep across tenants, outside any request: the one statement not scoped to a tenant. */
  async deleteExpired(): Promise<void> {
    if (!this.database.isOpen()) return;
    await this.database.query(undefined, 'DELETE FROM throttle_counters WHERE expires_at < now()');
  }
}
