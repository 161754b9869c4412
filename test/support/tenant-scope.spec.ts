import { describe, expect, it } from 'vitest';
import { CROSS_TENANT_STATEMENTS as DELIVERY } from '../../src/notifications/delivery/outbox.store.js';
import { CROSS_TENANT_STATEMENTS, isCrossTenantByDesign, tablesOf, untenantedReferences } from './tenant-scope.js';

describe('untenantedReferences', () => {
  it('accepts a lookup pinned to the tenant, aliased, quoted or not', () => {
    expect(
      untenantedReferences('SELECT * FROM threat_assessment_requests r WHERE r.tenant_id = $1 AND r.id = $2'),
    ).toEqual([]);
    expect(
      untenantedReferences(
        'SELECT "R"."id" FROM "threat_assessment_requests" "R" WHERE ( "R"."tenant_id" = $1 AND "R"."id" = $2 )',
      ),
    ).toEqual([]);
    expect(untenantedReferences('DELETE FROM threat_assessment_requests WHERE tenant_id = $1 AND id = $2')).toEqual([]);
  });

  it('catches a statement without tenant_id', () => {
    expect(untenantedReferences('SELECT * FROM threat_assessment_results WHERE request_id = $1')).toEqual([
      'threat_assessment_results',
    ]);
    expect(untenantedReferences('DELETE FROM throttle_counters WHERE expires_at < now()')).toEqual([
      'throttle_counters',
    ]);
  });

  it('catches a tenant condition on another table only, or on a literal, or in a comment', () => {
    const sql = `SELECT * FROM threat_assessment_requests r JOIN threat_assessment_results x ON x.request_id = r.id
      WHERE r.tenant_id = $1 -- x.tenant_id = $1`;
    expect(untenantedReferences(sql)).toEqual(['threat_assessment_results x']);
    expect(untenantedReferences(`SELECT 1 FROM idempotency_keys WHERE key = 'tenant_id = $1'`)).toEqual([
      'idempotency_keys',
    ]);
  });

  it('accepts a join on tenant_id in a statement that pins the tenant', () => {
    const sql = `SELECT * FROM threat_assessment_requests r JOIN threat_assessment_results x
      ON x.tenant_id = r.tenant_id AND x.request_id = r.id WHERE r.tenant_id = $1`;
    expect(untenantedReferences(sql)).toEqual([]);
    expect(
      untenantedReferences(
        'SELECT * FROM threat_assessment_requests r JOIN threat_assessment_results x ON x.tenant_id = r.tenant_id',
      ),
    ).toEqual(['threat_assessment_requests r', 'threat_assessment_results x']);
  });

  it('looks for the condition in the reference’s own subquery', () => {
    const sql = `SELECT * FROM threat_assessment_requests r WHERE r.tenant_id = $1
      AND EXISTS (SELECT 1 FROM threat_assessment_results x WHERE x.request_id = r.id)`;
    expect(untenantedReferences(sql)).toEqual(['threat_assessment_results x']);
  });

  it('requires an INSERT to name tenant_id among its columns', () => {
    expect(
      untenantedReferences(
        'INSERT INTO idempotency_keys AS k (tenant_id, key) VALUES ($1, $2) ON CONFLICT (tenant_id, key) DO NOTHING',
      ),
    ).toEqual([]);
    expect(untenantedReferences('INSERT INTO threat_assessment_results (id, request_id) VALUES ($1, $2)')).toEqual([
      'INSERT INTO threat_assessment_results without tenant_id',
    ]);
  });
});

describe('tablesOf', () => {
  it('names the tenant tables a statement mentions, not columns or constraints named like them', () => {
    expect(tablesOf('SELECT 1 FROM "throttle_counters" c JOIN idempotency_keys k ON true')).toEqual([
      'idempotency_keys',
      'throttle_counters',
    ]);
    expect(tablesOf('ALTER TABLE t DROP CONSTRAINT pk_throttle_counters')).toEqual([]);
    expect(tablesOf('SELECT 1')).toEqual([]);
  });
});

describe('the cross-tenant statements exempt by design', () => {
  it('each needs its exemption: the check flags it', () => {
    for (const sql of CROSS_TENANT_STATEMENTS) expect(untenantedReferences(sql), sql).not.toEqual([]);
  });

  it('are exempt as written, whatever the spacing, quoting or case, and nothing else is', () => {
    expect(isCrossTenantByDesign(DELIVERY.candidates.replace(/\s+/g, '\n  '))).toBe(true);
    expect(isCrossTenantByDesign('delete from "idempotency_keys" where expires_at < now()')).toBe(true);
    // The same tables touched another way are not.
    expect(isCrossTenantByDesign(DELIVERY.releaseAll.replace('lease_owner = $1', 'lease_owner IS NOT NULL'))).toBe(
      false,
    );
    expect(isCrossTenantByDesign('DELETE FROM notifications')).toBe(false);
    expect(isCrossTenantByDesign(`${DELIVERY.candidates} `.replace('LIMIT $1', 'LIMIT 10'))).toBe(false);
  });
});
