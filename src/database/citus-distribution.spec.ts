import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { distribute, distributionPlan, type DistributedTable } from './citus-distribution.js';

const ALL = [
  "SELECT create_distributed_table('threat_assessment_requests', 'tenant_id')",
  "SELECT create_distributed_table('threat_assessment_results', 'tenant_id', colocate_with => 'threat_assessment_requests')",
  "SELECT create_distributed_table('idempotency_keys', 'tenant_id', colocate_with => 'threat_assessment_requests')",
  "SELECT create_distributed_table('throttle_counters', 'tenant_id', colocate_with => 'threat_assessment_requests')",
  "SELECT create_distributed_table('subscriptions', 'tenant_id', colocate_with => 'threat_assessment_requests')",
  "SELECT create_distributed_table('notifications', 'tenant_id', colocate_with => 'threat_assessment_requests')",
];

const done = (table: string, colocationId = 7, column: string | null = 'tenant_id'): DistributedTable => ({
  table,
  column,
  colocationId,
});

/** A pg client that answers the two catalog reads as a Citus coordinator would, and records the rest. */
function fakeCitus(extension: boolean, existing: DistributedTable[]) {
  const issued: string[] = [];
  const client = {
    query: (text: string) => {
      if (text.includes('FROM pg_extension'))
        return Promise.resolve({ rows: extension ? [{ extversion: '13.0' }] : [] });
      if (text.includes('FROM pg_dist_partition')) {
        const rows = existing.map((t) => ({ table: t.table, column: t.column, colocation_id: t.colocationId }));
        return Promise.resolve({ rows });
      }
      issued.push(text);
      return Promise.resolve({ rows: [] });
    },
  } as unknown as pg.Client;
  return { client, issued };
}

describe('distributionPlan', () => {
  it('distributes the requests first, then co-locates the others with them, each after what its foreign key references', () => {
    expect(distributionPlan([])).toEqual({ statements: ALL, problems: [] });
  });

  it('skips the tables already distributed, and co-locates the rest with the requests', () => {
    expect(distributionPlan([done('threat_assessment_requests'), done('threat_assessment_results')])).toEqual({
      statements: ALL.slice(2),
      problems: [],
    });
  });

  it('is empty once every table is distributed in one group', () => {
    const all = [
      'threat_assessment_requests',
      'threat_assessment_results',
      'idempotency_keys',
      'throttle_counters',
      'subscriptions',
      'notifications',
    ];
    expect(distributionPlan(all.map((t) => done(t)))).toEqual({ statements: [], problems: [] });
  });

  it('refuses a table distributed by another column or in another group', () => {
    const plan = distributionPlan([
      done('threat_assessment_requests'),
      done('idempotency_keys', 7, null),
      done('throttle_counters', 8),
    ]);
    expect(plan.problems).toEqual([
      'idempotency_keys is distributed by no column (a reference or local table), not tenant_id',
      'throttle_counters is not co-located with threat_assessment_requests',
    ]);
  });
});

describe('distribute', () => {
  it('issues nothing when the citus extension is not installed', async () => {
    const { client, issued } = fakeCitus(false, []);
    await expect(distribute(client, () => undefined)).resolves.toEqual({ kind: 'no-citus' });
    expect(issued).toEqual([]);
  });

  it('issues the plan, in order, on a coordinator where nothing is distributed yet', async () => {
    const { client, issued } = fakeCitus(true, []);
    const logged: string[] = [];
    await expect(distribute(client, (line) => logged.push(line))).resolves.toEqual({
      kind: 'distributed',
      statements: ALL,
    });
    expect(issued).toEqual(ALL);
    expect(logged).toEqual(ALL);
  });

  it('issues nothing when a table is distributed the wrong way', async () => {
    const { client, issued } = fakeCitus(true, [done('threat_assessment_requests', 1, 'id')]);
    await expect(distribute(client, () => undefined)).resolves.toEqual({
      kind: 'problems',
      problems: ['threat_assessment_requests is distributed by id, not tenant_id'],
    });
    expect(issued).toEqual([]);
  });
});
