// The benchmark's database: an embedded PostgreSQL of its own (or DATABASE_URL), migrated and seeded in SQL.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { URL } from 'node:url';
import pg from 'pg';

export const SEED_SQL = readFileSync(new URL('./seed.sql', import.meta.url), 'utf8');

/**
 * @typedef {{ add: { id: string, mail: boolean }[], read: { id: string, results: number }[] }} Parents
 * @typedef {{ requests: number, results: number, pendingWithResults: number }} Counts
 */

/** Tenant t of the seed (bench/seed.sql): md5('bench-tenant-' || t) read as a uuid. Tenant 0 is the bench's. */
export function seedTenantId(t = 0) {
  const hex = createHash('md5').update(`bench-tenant-${t}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The bench empties tables: it refuses a database whose name does not say it is for benchmarks or tests.
 * @param {string} url
 */
export function assertDisposable(url) {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/bench|test/i.test(name)) {
    throw new Error(
      `Refusing to benchmark against database '${name}': the bench empties its tables, so its name must contain 'bench' or 'test'.`,
    );
  }
}

/**
 * @template T
 * @param {string} url
 * @param {(client: pg.Client) => Promise<T>} fn
 */
export async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-harness' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Empties both tables and seeds `requests` requests and `results` results (bench/seed.sql) in one
 * transaction. Large seeds drop the plain indexes first and build them again after (one sort instead of
 * millions of random inserts), with their exact definitions; as a superuser, foreign-key triggers are
 * skipped (session_replication_role), the data being consistent by construction. Then VACUUM ANALYZE.
 * @param {string} url
 * @param {{ requests: number, results: number, tenants: number, share: number }} sizes
 */
export async function seedDatabase(url, { requests, results, tenants, share }) {
  return withClient(url, async (client) => {
    const started = performance.now();
    const { rows: su } = await client.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
    await client.query('BEGIN');
    try {
      await client.query('TRUNCATE threat_assessment_requests, threat_assessment_results');
      await client.query("SET LOCAL maintenance_work_mem = '512MB'");
      if (su[0]?.rolsuper) await client.query('SET LOCAL session_replication_role = replica');
      /** @type {{ rows: { name: string, definition: string }[] }} */
      const { rows: indexes } =
        requests + results >= 200_000
          ? await client.query(`
              SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
              FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
              WHERE t.relname IN ('threat_assessment_requests', 'threat_assessment_results')
                AND t.relnamespace = current_schema()::regnamespace
                AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`)
          : { rows: [] };
      for (const index of indexes) await client.query(`DROP INDEX ${index.name}`);
      for (const [name, value] of Object.entries({ requests, results, tenants, share })) {
        await client.query('SELECT set_config($1, $2, true)', [`bench.${name}`, String(value)]);
      }
      await client.query("SELECT set_config('bench.end_ms', '', true)");
      await client.query(SEED_SQL);
      const inserted = performance.now();
      for (const index of indexes) await client.query(index.definition);
      await client.query('COMMIT');
      // Steady state, as autovacuum leaves a table: visibility map set (index-only scans), hint bits written.
      await client.query('VACUUM (ANALYZE) threat_assessment_requests, threat_assessment_results');
      return {
        seconds: (performance.now() - started) / 1000,
        insertSeconds: (inserted - started) / 1000,
        rebuiltIndexes: indexes.map((i) => i.name),
      };
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  });
}

/**
 * Parents for the scenarios, all in the bench tenant and disjoint: `add` receive results during the
 * bench, `read` are only read (their lists keep their seeded length, so every round reads the same).
 * @param {string} url
 * @param {string} tenantId
 * @returns {Promise<Parents>}
 */
export async function pickParents(url, tenantId, { add = 2000, read = 2000 } = {}) {
  return withClient(url, async (client) => {
    // A deterministic sample spread over the whole list (ordered by a hash of the id, not by time).
    /** @type {{ rows: { id: string, content_type: string, results: number }[] }} */
    const { rows } = await client.query(
      `SELECT r.id, r.content_type, (SELECT count(*) FROM threat_assessment_results x
                                     WHERE x.tenant_id = r.tenant_id AND x.request_id = r.id)::int AS results
       FROM threat_assessment_requests r WHERE r.tenant_id = $1 ORDER BY md5(r.id::text) LIMIT $2`,
      [tenantId, 2 * (add + read)],
    );
    const withResults = rows.filter((r) => r.results > 0);
    const readSet = withResults.slice(0, read);
    const readIds = new Set(readSet.map((r) => r.id));
    const addSet = rows.filter((r) => !readIds.has(r.id)).slice(0, add);
    return {
      add: addSet.map((r) => ({ id: r.id, mail: r.content_type === 'mail' })),
      read: readSet.map((r) => ({ id: r.id, results: r.results })),
    };
  });
}

/**
 * @param {string} url
 * @param {string} tenantId
 * @returns {Promise<Counts>}
 */
export async function countRows(url, tenantId) {
  return withClient(url, async (client) => {
    const { rows } = await client.query(
      `SELECT (SELECT count(*) FROM threat_assessment_requests WHERE tenant_id = $1)::bigint AS requests,
              (SELECT count(*) FROM threat_assessment_results WHERE tenant_id = $1)::bigint AS results,
              (SELECT count(*) FROM threat_assessment_requests r WHERE r.tenant_id = $1 AND r.status = 'pending'
                 AND EXISTS (SELECT 1 FROM threat_assessment_results x WHERE x.tenant_id = r.tenant_id AND x.request_id = r.id))::bigint
                AS pending_with_results`,
      [tenantId],
    );
    return {
      requests: Number(rows[0].requests),
      results: Number(rows[0].results),
      pendingWithResults: Number(rows[0].pending_with_results),
    };
  });
}

/** @typedef {{ version: string, shared_buffers: string, synchronous_commit: string, fsync: string, max_connections: string }} ServerInfo */

/**
 * @param {string} url
 * @returns {Promise<ServerInfo>}
 */
export async function serverInfo(url) {
  return withClient(url, async (client) => {
    /** @type {{ rows: ServerInfo[] }} */
    const { rows } = await client.query(
      "SELECT version() AS version, current_setting('shared_buffers') AS shared_buffers, current_setting('synchronous_commit') AS synchronous_commit, current_setting('fsync') AS fsync, current_setting('max_connections') AS max_connections",
    );
    return rows[0];
  });
}
