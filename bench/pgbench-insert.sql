-- pgbench: a bare INSERT of one result (foreign key checked, both indexes maintained), for scale: the
-- figure the issue quotes as "PostgreSQL alone inserts ~13,600 rows/s".
--   pgbench -n -M prepared -c 10 -j 2 -T 10 -D parents=2000 -f bench/pgbench-insert.sql "$DATABASE_URL"
\set n random(1, :parents)
INSERT INTO threat_assessment_results (id, tenant_id, request_id, result_type, message)
SELECT overlay(overlay(md5(random()::text) PLACING lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' FROM 1 FOR 13) PLACING '8' FROM 17 FOR 1)::uuid,
       tenant_id, id, 'rescan', 'Clean after rescan.'
FROM bench_pgbench_parents WHERE n = :n;
