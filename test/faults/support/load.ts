import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { type Answer, call, errorCodeOf, REQUESTS, type Tenant } from './graph-client.js';

export const RESULT_ODATA_TYPE = '#microsoft.graph.threatAssessmentResult';

export interface ResultPayload {
  '@odata.type': string;
  resultType: 'checkPolicy';
  /** Unique per Idempotency-Key, so that rows map back to the attempt that asked for them. */
  message: string;
}

export function resultPayload(key: string): ResultPayload {
  return { '@odata.type': RESULT_ODATA_TYPE, resultType: 'checkPolicy', message: `fault-test ${key}` };
}

/** One add-result POST of a load run: its Idempotency-Key, body (a message unique to the key) and answer. */
export interface Attempt extends Answer {
  key: string;
  /** False when the POST went without its key (the key then only names the message). */
  keySent: boolean;
  parentId: string;
  /** The request body; `body` is the answer's. */
  payload: ResultPayload;
  /** The id a 201 answered. */
  resultId?: string;
}

export interface LoadOptions {
  baseUrl: string;
  tenant: Tenant;
  parents: string[];
  concurrency?: number;
  /** Bounds: the run stops at whichever comes first, or at stop(). */
  maxRequests: number;
  maxDurationMs: number;
  /** A client that pauses briefly after a failure instead of spinning on 503s (Retry-After is 5 s, too long here). */
  pauseAfterFailureMs?: number;
  timeoutMs?: number;
  /** Every n-th request goes without an Idempotency-Key; unset: every request has one. */
  withoutKeyEvery?: number;
}

export interface Load {
  /** Answered (or failed) requests, in the order they ended. */
  attempts: Attempt[];
  /** Requests sent and not answered yet. */
  readonly inFlight: number;
  /** Stops starting new requests and waits for those in flight. */
  stop(): Promise<Attempt[]>;
  finished: Promise<Attempt[]>;
}

/**
 * `concurrency` loops, each posting add-result with a fresh Idempotency-Key (or, every `withoutKeyEvery`-th,
 * none) to the next parent, round robin.
 */
export function startLoad(options: LoadOptions): Load {
  const attempts: Attempt[] = [];
  const started = performance.now();
  let sent = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped && sent < options.maxRequests && performance.now() - started < options.maxDurationMs) {
      const n = sent++;
      const key = randomUUID();
      const parentId = options.parents[n % options.parents.length];
      const payload = resultPayload(key);
      const keySent = !options.withoutKeyEvery || n % options.withoutKeyEvery !== 0;
      const answer = await postResult(
        options.baseUrl,
        options.tenant,
        parentId,
        payload,
        keySent ? key : undefined,
        options.timeoutMs,
      );
      attempts.push({ ...answer, key, keySent, parentId, payload, resultId: resultIdOf(answer) });
      if (answer.status !== 201) await sleep(options.pauseAfterFailureMs ?? 20);
    }
  };
  const finished = Promise.all(Array.from({ length: options.concurrency ?? 32 }, worker)).then(() => attempts);
  return {
    attempts,
    get inFlight() {
      return sent - attempts.length;
    },
    finished,
    stop: () => {
      stopped = true;
      return finished;
    },
  };
}

export function postResult(
  baseUrl: string,
  tenant: Tenant,
  parentId: string,
  payload: ResultPayload,
  key: string | undefined,
  timeoutMs?: number,
) {
  return call(baseUrl, `${REQUESTS}/${parentId}/results`, {
    token: tenant.token,
    body: payload,
    idempotencyKey: key,
    timeoutMs,
  });
}

/** Posts one add-result with a fresh key and records it as an Attempt. */
export async function attemptResult(
  baseUrl: string,
  tenant: Tenant,
  parentId: string,
  timeoutMs?: number,
): Promise<Attempt> {
  const key = randomUUID();
  const payload = resultPayload(key);
  const answer = await postResult(baseUrl, tenant, parentId, payload, key, timeoutMs);
  return { ...answer, key, keySent: true, parentId, payload, resultId: resultIdOf(answer) };
}

export function resultIdOf(answer: Answer): string | undefined {
  return answer.status === 201 ? (answer.body as { id?: string }).id : undefined;
}

/** 503, or no answer at all: the write may or may not have happened. */
export function isAmbiguous(answer: Answer): boolean {
  return answer.networkError !== undefined || answer.status === 503;
}

/** Counts by status, or by network error code: `{ '201': 4100, '503': 37, ECONNRESET: 2 }`. */
export function tally(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) {
    const label = answer.status !== undefined ? String(answer.status) : answer.networkError!;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** What every non-201 must look like: Graph's envelope; 503 and 429 with Retry-After. */
export function envelopeViolations(answers: Answer[]): string[] {
  const violations: string[] = [];
  for (const answer of answers) {
    if (answer.status === undefined || answer.status === 201) continue;
    const code = errorCodeOf(answer);
    const retryAfter = answer.headers.get('retry-after');
    if (answer.status === 503 && (code !== 'serviceNotAvailable' || !/^\d+$/.test(retryAfter ?? ''))) {
      violations.push(`503 with code ${code} and Retry-After ${retryAfter}`);
    }
    if (answer.status === 429 && (code !== 'TooManyRequests' || !/^\d+$/.test(retryAfter ?? ''))) {
      violations.push(`429 with code ${code} and Retry-After ${retryAfter}`);
    }
  }
  return [...new Set(violations)];
}

export interface Recovery {
  /** From the database being back (or the fault's end) to the first 201 of a request sent after it. */
  firstSuccessMs: number | undefined;
  /** From the same moment to the end of the last failed request; 0 when none failed after it. */
  lastFailureMs: number;
  /** The larger of the two: the service serves again, and keeps serving, from then on. */
  recoveredMs: number | undefined;
  /** 201s for requests sent after the last failure: proof the load went on long enough to see recovery. */
  successesAfter: number;
}

export function recoveryAfter(attempts: Attempt[], backAt: number): Recovery {
  const firstSuccess = Math.min(
    ...attempts.filter((a) => a.status === 201 && a.startedAt >= backAt).map((a) => a.endedAt),
  );
  const failures = attempts.filter((a) => a.status !== 201 && a.endedAt >= backAt);
  const lastFailureEnd = failures.length ? Math.max(...failures.map((a) => a.endedAt)) : backAt;
  const firstSuccessMs = Number.isFinite(firstSuccess) ? Math.round(firstSuccess - backAt) : undefined;
  const lastFailureMs = Math.round(lastFailureEnd - backAt);
  return {
    firstSuccessMs,
    lastFailureMs,
    recoveredMs: firstSuccessMs === undefined ? undefined : Math.max(firstSuccessMs, lastFailureMs),
    successesAfter: attempts.filter((a) => a.status === 201 && a.startedAt > lastFailureEnd).length,
  };
}

interface ResultRow {
  id: string;
  request_id: string;
  message: string;
}

export interface RowAudit {
  rowsChecked: number;
  /** Ambiguous answers (503, network error) whose write had in fact committed. */
  committedAmbiguous: Attempt[];
  uncommittedAmbiguous: Attempt[];
  /** Row id by Idempotency-Key, for the keys that have a row. */
  rowIdByKey: Map<string, string>;
  violations: string[];
}

/**
 * The database against the answers: a 201 has exactly its row (id, parent) and, when it sent its key,
 * the key claimed for that id; a 4xx has no row; an ambiguous answer has at most one; no key has two
 * rows, a key never sent is never claimed, and no row exists that no attempt asked for.
 */
export async function auditRows(admin: pg.Pool, tenantId: string, attempts: Attempt[]): Promise<RowAudit> {
  const results = await admin.query<ResultRow>(
    'SELECT id, request_id, message FROM threat_assessment_results WHERE tenant_id = $1',
    [tenantId],
  );
  const keys = await admin.query<{ key: string; resource_id: string }>(
    'SELECT key, resource_id FROM idempotency_keys WHERE tenant_id = $1',
    [tenantId],
  );
  const rowsByMessage = new Map<string, ResultRow[]>();
  for (const row of results.rows) rowsByMessage.set(row.message, [...(rowsByMessage.get(row.message) ?? []), row]);
  const claimed = new Map(keys.rows.map((row) => [row.key, row.resource_id]));
  const violations: string[] = [];
  const committedAmbiguous: Attempt[] = [];
  const uncommittedAmbiguous: Attempt[] = [];
  const rowIdByKey = new Map<string, string>();
  const asked = new Set<string>();
  for (const attempt of attempts) {
    asked.add(attempt.payload.message);
    const rows = rowsByMessage.get(attempt.payload.message) ?? [];
    const label = `key ${attempt.key} (answered ${attempt.status ?? attempt.networkError})`;
    if (rows.length > 1) violations.push(`${label}: ${rows.length} rows`);
    const row = rows[0];
    if (row) {
      rowIdByKey.set(attempt.key, row.id);
      if (row.request_id !== attempt.parentId)
        violations.push(`${label}: row under parent ${row.request_id}, not ${attempt.parentId}`);
      if (attempt.keySent && claimed.get(attempt.key) !== row.id)
        violations.push(`${label}: key claims ${claimed.get(attempt.key)}, row is ${row.id}`);
    }
    if (!attempt.keySent && claimed.has(attempt.key)) {
      violations.push(`${label}: sent without its key, yet the key is claimed`);
    } else if (!row && claimed.has(attempt.key)) {
      violations.push(`${label}: key claimed for ${claimed.get(attempt.key)} but no row`);
    }
    if (attempt.status === 201) {
      if (!row) violations.push(`${label}: no row for the 201's id ${attempt.resultId}`);
      else if (row.id !== attempt.resultId)
        violations.push(`${label}: 201 answered ${attempt.resultId}, row is ${row.id}`);
    } else if (attempt.status !== undefined && attempt.status >= 400 && attempt.status < 500) {
      if (row) violations.push(`${label}: a row exists after a ${attempt.status}`);
    } else if (isAmbiguous(attempt)) {
      (row ? committedAmbiguous : uncommittedAmbiguous).push(attempt);
    }
  }
  const orphans = results.rows.filter((row) => !asked.has(row.message));
  if (orphans.length) violations.push(`${orphans.length} rows no attempt asked for, e.g. ${orphans[0].message}`);
  return { rowsChecked: results.rows.length, committedAmbiguous, uncommittedAmbiguous, rowIdByKey, violations };
}

export interface Replay {
  attempt: Attempt;
  final: Answer;
  tries: number;
  replayed: boolean;
}

/**
 * Retries each ambiguous attempt with the same Idempotency-Key and body until 201 (at most `maxTries`,
 * pausing `pauseMs` between), `concurrency` at a time.
 */
export async function replay(
  baseUrl: string,
  tenant: Tenant,
  attempts: Attempt[],
  maxTries = 20,
  pauseMs = 100,
  concurrency = 8,
) {
  const replays: Replay[] = [];
  const queue = [...attempts];
  const worker = async () => {
    for (let attempt = queue.shift(); attempt; attempt = queue.shift()) {
      let final: Answer | undefined;
      let tries = 0;
      while (tries < maxTries) {
        tries++;
        final = await postResult(baseUrl, tenant, attempt.parentId, attempt.payload, attempt.key);
        if (final.status === 201) break;
        await sleep(pauseMs);
      }
      replays.push({ attempt, final: final!, tries, replayed: final!.headers.get('idempotent-replayed') === 'true' });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return replays;
}
