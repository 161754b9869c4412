import type pg from 'pg';

/** Distributed by this column, all in one co-location group: a tenant's rows of every table share a shard. */
export const DISTRIBUTION_COLUMN = 'tenant_id';

/**
 * In the order Citus needs: a table's foreign key may only point at a table already distributed and
 * co-located with it, so the results follow the requests they reference, the notifications their
 * subscriptions. The first is the group's anchor.
 */
export const DISTRIBUTED_TABLES = [
  'threat_assessment_requests',
  'threat_assessment_results',
  'idempotency_keys',
  'throttle_counters',
  'subscriptions',
  'notifications',
] as const;

/** A table Citus already knows (pg_dist_partition): its distribution column and co-location group. */
export interface DistributedTable {
  table: string;
  column: string | null;
  colocationId: number;
}

export interface DistributionPlan {
  /** The statements still to run, in order; empty when every table is distributed as it should be. */
  statements: string[];
  /** Tables distributed otherwise than by tenant_id in one group: the plan refuses to guess a fix. */
  problems: string[];
}

export function distributionPlan(existing: readonly DistributedTable[]): DistributionPlan {
  const byTable = new Map(existing.map((t) => [t.table, t]));
  const [anchor] = DISTRIBUTED_TABLES;
  const problems: string[] = [];
  const group = byTable.get(anchor)?.colocationId;
  for (const table of DISTRIBUTED_TABLES) {
    const known = byTable.get(table);
    if (!known) continue;
    if (known.column !== DISTRIBUTION_COLUMN) {
      problems.push(
        `${table} is distributed by ${known.column ?? 'no column (a reference or local table)'}, not ${DISTRIBUTION_COLUMN}`,
      );
    } else if (known.colocationId !== group) {
      problems.push(`${table} is not co-located with ${anchor}`);
    }
  }
  const statements = DISTRIBUTED_TABLES.filter((table) => !byTable.has(table)).map((table) =>
    table === anchor
      ? `SELECT create_distributed_table('${table}', '${DISTRIBUTION_COLUMN}')`
      : `SELECT create_distributed_table('${table}', '${DISTRIBUTION_COLUMN}', colocate_with => '${anchor}')`,
  );
  return { statements, problems };
}

export type DistributeOutcome =
  { kind: 'no-citus' } | { kind: 'problems'; problems: string[] } | { kind: 'distributed'; statements: string[] };

/**
 * Distributes the tables when the `citus` extension is installed in the database, else does
 * nothing. Each call is one statement in its own transaction: Citus copies a table's rows to its
 * shards inside create_distributed_table, and a failure leaves the tables before it distributed, so a
 * rerun goes on from there.
 */
export async function distribute(client: pg.Client, log: (line: string) => void): Promise<DistributeOutcome> {
  const { rows: citus } = await client.query<{ extversion: string }>(
    `SELECT extversion FROM pg_extension WHERE extname = 'citus'`,
  );
  if (citus.length === 0) return { kind: 'no-citus' };
  const { rows } = await client.query<{ table: string; column: string | null; colocation_id: number }>(
    `SELECT logicalrelid::regclass::text AS "table",
            column_to_column_name(logicalrelid, partkey) AS "column",
            colocationid AS colocation_id
       FROM pg_dist_partition
      WHERE logicalrelid::regclass::text = ANY($1)`,
    [DISTRIBUTED_TABLES],
  );
  const plan = distributionPlan(rows.map((r) => ({ table: r.table, column: r.column, colocationId: r.colocation_id })));
  if (plan.problems.length > 0) return { kind: 'problems', problems: plan.problems };
  for (const statement of plan.statements) {
    log(statement);
    await client.query(statement);
  }
  return { kind: 'distributed', statements: plan.statements };
}
