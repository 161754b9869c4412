/**
 * The outbox's write side: CTEs that a change's own statement includes, so that a change and the
 * notifications it causes commit together (or not at all), in the same round trip. Each inserts one
 * row per subscription of the tenant active at that moment, on the changed resource, for that change
 * type; with none, it costs one probe of a partial index.
 */

/** The collection resource, in the canonical form subscriptions store. */
export const REQUESTS_RESOURCE = 'informationProtection/threatAssessmentRequests';

/** SQL for a request's results resource in canonical form (ids are lower case as uuid text). */
export function resultsResourceSql(requestIdSql: string): string {
  return `'${REQUESTS_RESOURCE}/' || ${requestIdSql}::text || '/results'`;
}

export type ChangeEvent = 'created' | 'updated' | 'deleted';

export interface ChangeNotificationsCte {
  /** The CTE's name. */
  name: string;
  /** Rows of this relation each cause the change (one, or none when nothing changed). */
  source: string;
  tenantSql: string;
  /** The subscriptions' canonical resource to match, as SQL. */
  resourceSql: string;
  event: ChangeEvent;
  requestIdSql: string;
  resultIdSql?: string;
  requestKindSql: string;
  /** The W3C traceparent of the request that makes the change, or NULL. */
  traceparentSql: string;
}

export function changeNotificationsCte(cte: ChangeNotificationsCte): string {
  return `${cte.name} AS (
    INSERT INTO notifications (id, tenant_id, subscription_id, channel, event, request_id, result_id, request_kind,
      traceparent)
    SELECT gen_random_uuid(), s.tenant_id, s.id, 'change', '${cte.event}', ${cte.requestIdSql}, ${cte.resultIdSql ?? 'NULL::uuid'},
      ${cte.requestKindSql}, ${cte.traceparentSql}
    FROM ${cte.source}
    JOIN subscriptions s ON s.tenant_id = ${cte.tenantSql} AND s.canonical_resource = ${cte.resourceSql}
      AND s.retired_at IS NULL AND s.expiration_date_time > now() AND '${cte.event}' = ANY (s.change_types)
  )`;
}
