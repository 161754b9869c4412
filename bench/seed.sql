-- A realistic data set generated in SQL (no HTTP): used by `npm run bench` and by the EXPLAIN test.
--
-- Parameters are settings, so that psql, the bench and the test run this same file:
--   SET bench.requests = 1000000;  -- requests to insert
--   SET bench.results = 5000000;   -- results to insert
--   SET bench.tenants = 50;        -- tenants the requests are spread over
--   SET bench.share = 0.5;         -- fraction of the requests in tenant 0, the tenant the bench calls as
--   SET bench.end_ms = '…';        -- optional: Unix ms the newest request precedes (default: an hour ago)
--
-- Tenant t's id is md5('bench-tenant-' || t)::uuid. Ids are UUIDv7-shaped (time-ordered), as the service
-- makes them. Requests span the year before `end_ms`, oldest first; the oldest 80 % carry the results
-- (6 or so each, so `completed`), the newest 20 % none (`pending`), as a queue of fresh submissions would.
-- Kinds: 40 % mail, 30 % url, 20 % file, 10 % emailFile. Every expression is deterministic in the row number.

SELECT set_config('bench.end_ms',
  coalesce(nullif(current_setting('bench.end_ms', true), ''),
           ((extract(epoch FROM date_trunc('second', now())) * 1000)::bigint - 3600000)::text),
  false);

-- Unix ms in the first 48 bits, version 7, variant 8, the rest from md5(salt). One expression: inlined.
CREATE OR REPLACE FUNCTION pg_temp.bench_uuid(ms bigint, salt text) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
  SELECT overlay(overlay(md5(salt) PLACING lpad(to_hex(ms), 12, '0') || '7' FROM 1 FOR 13) PLACING '8' FROM 17 FOR 1)::uuid
$$;

-- STABLE, not IMMUTABLE: text || int is only stable, and a function is inlined only when its body
-- is no more volatile than it says.
CREATE OR REPLACE FUNCTION pg_temp.bench_tenant(i bigint, tenants int, share float8) RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT md5('bench-tenant-' || CASE
    WHEN tenants <= 1 OR abs(hashint8(i)) % 100000 < share * 100000 THEN 0
    ELSE 1 + abs(hashint8(i + 1000003)) % (tenants - 1)
  END)::uuid
$$;

CREATE OR REPLACE FUNCTION pg_temp.bench_kind(i bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE abs(hashint8(i + 2000003)) % 10
    WHEN 0 THEN 'mailAssessmentRequest' WHEN 1 THEN 'mailAssessmentRequest'
    WHEN 2 THEN 'mailAssessmentRequest' WHEN 3 THEN 'mailAssessmentRequest'
    WHEN 4 THEN 'urlAssessmentRequest' WHEN 5 THEN 'urlAssessmentRequest' WHEN 6 THEN 'urlAssessmentRequest'
    WHEN 7 THEN 'fileAssessmentRequest' WHEN 8 THEN 'fileAssessmentRequest'
    ELSE 'emailFileAssessmentRequest'
  END
$$;

-- The request's creation time in Unix ms: a year, spread evenly, ending at bench.end_ms.
CREATE OR REPLACE FUNCTION pg_temp.bench_request_ms(i bigint, n bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT current_setting('bench.end_ms')::bigint - 31536000000 + (i - 1) * (31536000000 / greatest(n, 1))
$$;

-- How many of the requests carry results: the oldest 80 %, never more than there are results.
CREATE OR REPLACE FUNCTION pg_temp.bench_with_results(n bigint, r bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN r <= 0 THEN 0 ELSE least(greatest(n * 8 / 10, 1), r, n) END
$$;

INSERT INTO threat_assessment_requests (
  id, tenant_id, created_date_time, kind, content_type, expected_assessment, category, status,
  request_source, created_by, recipient_email, message_uri, destination_routing_reason,
  content_size, content_sha256, file_name, url
)
SELECT
  pg_temp.bench_uuid(x.ms, 'request-' || i),
  x.tenant,
  to_timestamp(x.ms / 1000.0),
  x.kind,
  CASE x.kind WHEN 'urlAssessmentRequest' THEN 'url' WHEN 'fileAssessmentRequest' THEN 'file' ELSE 'mail' END,
  CASE WHEN abs(hashint8(i + 3000017)) % 10 < 7 THEN 'block' ELSE 'unblock' END,
  (ARRAY['spam', 'phishing', 'malware', 'undefined'])[1 + abs(hashint8(i + 4000037)) % 4],
  CASE WHEN i <= p.with_results THEN 'completed' ELSE 'pending' END,
  'administrator',
  jsonb_build_object('user', jsonb_build_object(
    'id', md5('bench-user-' || (i % 7))::uuid, 'displayName', 'Bench User ' || (i % 7))),
  CASE WHEN x.kind IN ('mailAssessmentRequest', 'emailFileAssessmentRequest')
    THEN 'user' || (i % 5000) || '@contoso.com' END,
  CASE WHEN x.kind = 'mailAssessmentRequest'
    THEN 'https://graph.microsoft.com/v1.0/users/c52ce8db-3e4b-4181-93c4-7d6b6bffaf60/messages/'
         || encode(decode(md5('message-' || i), 'hex'), 'base64') END,
  CASE WHEN x.kind IN ('mailAssessmentRequest', 'emailFileAssessmentRequest')
    THEN (ARRAY['none', 'junk', 'notJunk', 'mailFlowRule'])[1 + abs(hashint8(i + 5000011)) % 4] END,
  CASE WHEN x.kind IN ('fileAssessmentRequest', 'emailFileAssessmentRequest')
    THEN 1024 + abs(hashint8(i + 6000011)) % 1000000 END,
  CASE WHEN x.kind IN ('fileAssessmentRequest', 'emailFileAssessmentRequest') THEN sha256(int8send(i)) END,
  CASE WHEN x.kind = 'fileAssessmentRequest' THEN 'attachment-' || i || '.docx' END,
  CASE WHEN x.kind = 'urlAssessmentRequest' THEN 'https://site-' || (i % 20000) || '.example.com/login?session=' || i END
FROM (
  SELECT current_setting('bench.requests')::bigint AS n,
         current_setting('bench.tenants')::int AS tenants,
         current_setting('bench.share')::float8 AS share,
         pg_temp.bench_with_results(current_setting('bench.requests')::bigint,
                                    current_setting('bench.results')::bigint) AS with_results
) AS p
CROSS JOIN LATERAL generate_series(1::bigint, p.n) AS i
CROSS JOIN LATERAL (
  SELECT pg_temp.bench_request_ms(i, p.n) AS ms, pg_temp.bench_kind(i) AS kind,
         pg_temp.bench_tenant(i, p.tenants, p.share) AS tenant
  OFFSET 0 -- an optimisation fence: evaluated once per row, not once per reference
) AS x;

-- Request i (i <= with_results) gets floor(r*i/m) - floor(r*(i-1)/m) results, so exactly r in all,
-- a minute apart after the request; the first result of a mail request is a checkPolicy verdict.
INSERT INTO threat_assessment_results (id, tenant_id, request_id, created_date_time, result_type, message)
SELECT
  pg_temp.bench_uuid(x.ms + (s + 1) * 60000, 'result-' || i || '-' || s),
  x.tenant,
  pg_temp.bench_uuid(x.ms, 'request-' || i),
  to_timestamp((x.ms + (s + 1) * 60000) / 1000.0),
  CASE WHEN s = 0 AND x.mail THEN 'checkPolicy' ELSE 'rescan' END,
  (ARRAY['No policy was hit.', 'Not Spam', 'Phishing link detected in the message body.', 'Clean after rescan.'])
    [1 + abs(hashint8(i * 31 + s)) % 4]
FROM (
  SELECT current_setting('bench.requests')::bigint AS n,
         current_setting('bench.results')::bigint AS r,
         current_setting('bench.tenants')::int AS tenants,
         current_setting('bench.share')::float8 AS share,
         pg_temp.bench_with_results(current_setting('bench.requests')::bigint,
                                    current_setting('bench.results')::bigint) AS m
) AS p
CROSS JOIN LATERAL generate_series(1::bigint, p.m) AS i
CROSS JOIN LATERAL (
  SELECT pg_temp.bench_request_ms(i, p.n) AS ms, pg_temp.bench_tenant(i, p.tenants, p.share) AS tenant,
         pg_temp.bench_kind(i) IN ('mailAssessmentRequest', 'emailFileAssessmentRequest') AS mail
  OFFSET 0
) AS x
CROSS JOIN LATERAL generate_series(0::bigint, (p.r * i / p.m) - (p.r * (i - 1) / p.m) - 1) AS s;
