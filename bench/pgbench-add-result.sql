-- pgbench: PostgreSQL's own limit for the service's add-result statement (threat-assessment-results.service.ts),
-- verbatim except for its parameters: the parent is drawn from bench_pgbench_parents (made by the bench
-- from the same parents the HTTP scenario uses), the new id is a UUIDv7 built in SQL.
--   pgbench -n -M prepared -c 10 -j 2 -T 10 -D parents=2000 -f bench/pgbench-add-result.sql "$DATABASE_URL"
\set n random(1, :parents)
WITH parent AS (
  SELECT id, tenant_id, content_type, status
  FROM threat_assessment_requests
  WHERE tenant_id = (SELECT tenant_id FROM bench_pgbench_parents WHERE n = :n)
    AND id = (SELECT id FROM bench_pgbench_parents WHERE n = :n)
), inserted AS (
  INSERT INTO threat_assessment_results (id, tenant_id, request_id, result_type, message)
  SELECT overlay(overlay(md5(random()::text) PLACING lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' FROM 1 FOR 13) PLACING '8' FROM 17 FOR 1)::uuid,
         tenant_id, id, 'rescan'::varchar, 'Clean after rescan.'::varchar FROM parent
  WHERE 'rescan'::varchar <> 'checkPolicy' OR content_type = 'mail'
  RETURNING created_date_time
), completed AS (
  UPDATE threat_assessment_requests r SET status = 'completed'
  FROM parent p
  WHERE r.tenant_id = p.tenant_id AND r.id = p.id AND r.status = 'pending' AND EXISTS (SELECT 1 FROM inserted)
)
SELECT p.content_type, i.created_date_time FROM parent p LEFT JOIN inserted i ON true;
