import type * as SecurityHeaders from '../../../src/common/http/security-headers.js';
import { fromDist, MAX_ERROR_BYTES } from './constants.js';
import type { RawAnswer } from './raw-client.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The headers the service sets on every response: what the build holds, not a copy of it. */
export const { SECURITY_HEADERS } = await fromDist<typeof SecurityHeaders>('common/http/security-headers.js');

/** The error code Graph clients switch on, for each status the service answers. */
const CODES: Record<number, readonly string[]> = {
  400: ['invalidRequest', 'notSupported'],
  401: ['InvalidAuthenticationToken'],
  403: ['accessDenied'],
  404: ['itemNotFound'],
  405: ['notAllowed'],
  413: ['requestEntityTooLarge'],
  415: ['unsupportedMediaType'],
  422: ['invalidRequest'],
};

export interface Expectation {
  /** Statuses accepted; anything else is a problem. */
  statuses: readonly number[];
  /** Bound on the time to the end of the response. */
  maxMs: number;
  /** Bound on the response body; errors default to MAX_ERROR_BYTES. */
  maxBytes?: number;
  /** Bound on the time to the status line, when it matters more than the whole response. */
  maxHeadMs?: number;
  /** A HEAD request: headers only, no envelope to read. */
  headOnly?: boolean;
}

/**
 * Every way an answer departs from what the issue asks of every response: a status outside the
 * expected set (a 5xx never is), a slow or large answer, missing correlation or security headers, and
 * for errors anything but Graph's envelope with its innerError echoing the correlation headers.
 */
export function problemsOf(answer: RawAnswer, expected: Expectation): string[] {
  const problems: string[] = [];
  if (!answer.status || answer.status < 0) {
    problems.push(
      answer.timedOut
        ? `no answer within ${Math.round(answer.ms)} ms`
        : answer.networkError === 'EPIPE' || answer.networkError === 'ECONNRESET'
          ? `no HTTP answer: the connection was reset (${answer.networkError}) after ${answer.sentBytesAtHead} request bytes, ` +
            'before any answer could be read (a server that closes with request bytes unread resets the connection)'
          : `no HTTP answer (${answer.networkError ?? 'connection closed'})`,
    );
    return problems;
  }
  if (!expected.statuses.includes(answer.status)) {
    problems.push(`status ${answer.status}, expected ${expected.statuses.join('/')}`);
  }
  if (answer.ms > expected.maxMs) problems.push(`answered in ${Math.round(answer.ms)} ms (bound ${expected.maxMs})`);
  if (expected.maxHeadMs !== undefined && answer.headMs > expected.maxHeadMs) {
    problems.push(`status line after ${Math.round(answer.headMs)} ms (bound ${expected.maxHeadMs})`);
  }
  const maxBytes = expected.maxBytes ?? (answer.status >= 400 ? MAX_ERROR_BYTES : Infinity);
  if (answer.body.length > maxBytes) problems.push(`body of ${answer.body.length} bytes (bound ${maxBytes})`);
  const requestId = answer.headers['request-id'];
  const clientRequestId = answer.headers['client-request-id'];
  if (!requestId || !GUID.test(requestId)) problems.push(`request-id header ${JSON.stringify(requestId)}`);
  if (!clientRequestId) problems.push('no client-request-id header');
  if (answer.headerCounts['request-id'] > 1 || answer.headerCounts['client-request-id'] > 1) {
    problems.push('correlation headers sent twice');
  }
  const missing = Object.entries(SECURITY_HEADERS)
    .filter(([name, value]) => answer.headers[name] !== value)
    .map(([name]) => name);
  if (missing.length > 0) problems.push(`security headers missing or changed: ${missing.join(', ')}`);
  if (answer.status >= 400 && !expected.headOnly)
    problems.push(...envelopeProblems(answer, requestId, clientRequestId));
  if (answer.status >= 500) problems.push(`a 5xx: ${answer.text.slice(0, 200)}`);
  return problems;
}

function envelopeProblems(answer: RawAnswer, requestId?: string, clientRequestId?: string): string[] {
  if (answer.body.length === 0) return ['an error with an empty body, not the Graph envelope'];
  if (!/^application\/json/i.test(answer.headers['content-type'] ?? '')) {
    return [`an error as ${answer.headers['content-type'] ?? 'no content-type'}, not the Graph envelope`];
  }
  const body = answer.json as { error?: Record<string, unknown> } | undefined;
  const error = body?.error;
  if (
    !body ||
    typeof body !== 'object' ||
    Object.keys(body).join() !== 'error' ||
    !error ||
    typeof error !== 'object'
  ) {
    return [`not the Graph envelope: ${answer.text.slice(0, 200)}`];
  }
  const problems: string[] = [];
  const codes = CODES[answer.status];
  if (typeof error.code !== 'string' || (codes && !codes.includes(error.code))) {
    problems.push(`error.code ${JSON.stringify(error.code)} for ${answer.status}`);
  }
  if (typeof error.message !== 'string' || error.message === '') problems.push('no error.message');
  const inner = error.innerError as Record<string, unknown> | undefined;
  if (
    !inner ||
    typeof inner.date !== 'string' ||
    !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(inner.date) ||
    inner['request-id'] !== requestId ||
    inner['client-request-id'] !== clientRequestId
  ) {
    problems.push(`innerError ${JSON.stringify(inner)} does not match the correlation headers`);
  }
  if (answer.status === 401 && answer.headers['www-authenticate'] !== 'Bearer')
    problems.push('401 without WWW-Authenticate: Bearer');
  // SQL keywords in capitals, as drivers echo statements; stacks; driver names.
  if (/\bat \S+ \(|QueryFailedError|node_modules|SQLSTATE|\bviolates\b/.test(answer.text)) {
    problems.push('an internal detail leaked into the error');
  }
  return problems;
}

/** A one-line account of an answer for a failure message. */
export function describeAnswer(answer: RawAnswer): string {
  const status =
    answer.status > 0 ? String(answer.status) : answer.timedOut ? 'timeout' : (answer.networkError ?? 'none');
  const text = answer.text.length > 300 ? `${answer.text.slice(0, 300)}… (${answer.body.length} bytes)` : answer.text;
  return `${status} in ${Math.round(answer.ms)} ms (status line at ${Math.round(answer.headMs)} ms): ${JSON.stringify(text)}`;
}

/** Throws with every problem when there is one: fast-check reports the input that caused it. */
export function expectAnswer(answer: RawAnswer, what: string, expected: Expectation): void {
  const problems = problemsOf(answer, expected);
  if (problems.length > 0) throw new Error(`${what}\n  → ${problems.join('; ')}\n  answer: ${describeAnswer(answer)}`);
}
