import { REQUESTS_RESOURCE } from '../persistence/record-notifications.js';

/** What a subscription watches: the requests collection, or one request's results. */
export type SubscribedResource =
  { kind: 'requests'; canonical: string } | { kind: 'results'; canonical: string; requestId: string };

export const CHANGE_TYPES_OF = {
  requests: ['created', 'updated', 'deleted'],
  results: ['created'],
} as const satisfies Record<SubscribedResource['kind'], readonly string[]>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KEYED = /^threatassessmentrequests\('([^']*)'\)$/i;

export const UNSUPPORTED_RESOURCE_MESSAGE =
  "resource must be 'informationProtection/threatAssessmentRequests' or " +
  "'informationProtection/threatAssessmentRequests/{id}/results', without a base URL, version, query or trailing '/'.";

/**
 * The resource in canonical form, or undefined when it is not one of ours. One leading `/` is allowed
 * and segment names match in any case; `{id}` may also be written `threatAssessmentRequests('{id}')`.
 */
export function parseResource(input: string): SubscribedResource | undefined {
  const path = input.startsWith('/') ? input.slice(1) : input;
  const segments = path.split('/');
  if (segments.some((s) => s === '') || segments[0].toLowerCase() !== 'informationprotection') return undefined;
  const rest = segments.slice(1);
  const [first, second, third] = rest;
  if (rest.length === 1 && first.toLowerCase() === 'threatassessmentrequests') {
    return { kind: 'requests', canonical: REQUESTS_RESOURCE };
  }
  let requestId: string | undefined;
  let results: string | undefined;
  if (rest.length === 3 && first.toLowerCase() === 'threatassessmentrequests') {
    requestId = second;
    results = third;
  } else if (rest.length === 2) {
    requestId = KEYED.exec(first)?.[1];
    results = second;
  }
  if (!requestId || !GUID.test(requestId) || results?.toLowerCase() !== 'results') return undefined;
  const id = requestId.toLowerCase();
  return { kind: 'results', canonical: `${REQUESTS_RESOURCE}/${id}/results`, requestId: id };
}

export type ChangeTypesVerdict = { ok: true; changeTypes: string[] } | { ok: false; message: string };

/** Tokens trimmed, each lower case, distinct and allowed for the resource; the set sorted. */
export function parseChangeTypes(input: string, kind: SubscribedResource['kind']): ChangeTypesVerdict {
  const allowed: readonly string[] = CHANGE_TYPES_OF[kind];
  const tokens = input.split(',').map((t) => t.trim());
  const expected = `a comma-separated list of ${allowed.join(', ')}`;
  if (tokens.some((t) => t === '')) return { ok: false, message: `changeType must be ${expected}.` };
  for (const token of tokens) {
    if (!allowed.includes(token)) {
      return {
        ok: false,
        message: `changeType '${token.slice(0, 40)}' is not supported for this resource; use ${expected}.`,
      };
    }
  }
  if (new Set(tokens).size !== tokens.length) return { ok: false, message: 'changeType lists a value twice.' };
  return { ok: true, changeTypes: [...tokens].sort() };
}
