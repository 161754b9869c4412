// The scenarios, and one bounded autocannon run with exact latencies.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { URL } from 'node:url';
import autocannon from 'autocannon';
import {
  ADD_RESULT_EXAMPLE,
  CREATE_REQUEST_EXAMPLES,
  RESCAN_RESULT_EXAMPLE,
} from '#dist/threat-assessment/dto/threat-assessment.examples.js';
import { REQUESTS_PATH } from '#dist/threat-assessment/threat-assessment-requests.controller.js';
import { summarize } from './processes.mjs';

export const REQUESTS = `/v1.0/${REQUESTS_PATH}`;

const RESULT_BODIES = { mail: JSON.stringify(ADD_RESULT_EXAMPLE), other: JSON.stringify(RESCAN_RESULT_EXAMPLE) };

/** Graph's create examples, one per request type. */
export const CREATE_BODIES = Object.values(CREATE_REQUEST_EXAMPLES).map((example) => JSON.stringify(example.value));

/** `$filter` + `$top` on requests: selective and not, on indexed order with the filter applied to the walk. */
export const LIST_FILTERS = [
  "contentType eq 'mail' and expectedAssessment eq 'block'",
  "category eq 'phishing'",
  "status eq 'pending' and contentType eq 'url'",
].map((filter) => `${REQUESTS}?$filter=${encodeURIComponent(filter)}&$top=25`);

/** Where the picks come from: Math.random, or a seeded sequence (seedPicks). */
let random = Math.random;

/**
 * From now on, picks follow the sequence `seed` starts (mulberry32): two runs seeded alike send the same
 * requests in the same order.
 * @param {number} seed
 */
export function seedPicks(seed) {
  let state = seed >>> 0;
  random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @template T
 * @param {readonly T[]} list
 * @returns {T}
 */
const pick = (list) => list[Math.floor(random() * list.length)];

/**
 * The path and query of an absolute next link: the bench talks to loopback whatever origin the link names.
 * @param {string} link
 */
export function pathOf(link) {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
}

/**
 * What a scenario sends, from the bench's context: autocannon's requests, with the parents and deep
 * links the bench found.
 * @typedef {{ parents: import('./database.mjs').Parents, deepLinks?: string[] }} ScenarioContext
 * @typedef {{ next?: string }} WalkContext
 * @typedef {Omit<import('autocannon').Request, 'setupRequest' | 'onResponse'> & {
 *   setupRequest?: (req: import('autocannon').Request, context: WalkContext) => import('autocannon').Request,
 *   onResponse?: (status: number, body: string, context: WalkContext) => void,
 * }} LoadRequest
 * @typedef {object} Scenario
 * @property {string} name
 * @property {string} title
 * @property {boolean} reference whether the reference implements it (measured A B A B with the service)
 * @property {boolean} [core] one of the two core routes: the tighter targets
 * @property {'requests' | 'results'} [writes] the table it writes: checked after every run against the 201s counted
 * @property {(ctx: ScenarioContext) => LoadRequest[]} requests
 */

const json = { 'content-type': 'application/json' };

/** @type {Scenario[]} */
export const SCENARIOS = [
  {
    name: 'list-results',
    title: 'List results of a request',
    reference: true,
    core: true,
    requests: (ctx) => [
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: `${REQUESTS}/${pick(ctx.parents.read).id}/results` }),
      },
    ],
  },
  {
    name: 'get-expand',
    title: 'Get a request with $expand=results',
    reference: true,
    requests: (ctx) => [
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: `${REQUESTS}/${pick(ctx.parents.read).id}?$expand=results` }),
      },
    ],
  },
  {
    name: 'list-filter',
    title: 'List requests with $filter and $top=25',
    reference: true,
    requests: () => [{ method: 'GET', setupRequest: (req) => ({ ...req, path: pick(LIST_FILTERS) }) }],
  },
  {
    name: 'deep-page',
    title: 'Follow next links deep in a large list ($top=100)',
    reference: true,
    // A connection starts at a random deep link, then follows four next links; autocannon clears the
    // context after the last entry, and the walk starts again elsewhere.
    requests: (ctx) =>
      [0, 1, 2, 3, 4].map((step) => ({
        method: 'GET',
        setupRequest: (req, context) => ({ ...req, path: (step > 0 && context.next) || pick(ctx.deepLinks ?? []) }),
        onResponse: (status, body, context) => {
          context.next = undefined;
          if (status !== 200) return;
          const link = /"@odata\.nextLink":"([^"]+)"/.exec(body)?.[1];
          if (link) context.next = pathOf(link);
        },
      })),
  },
  {
    name: 'add-result',
    title: 'Add a result (POST …/{id}/results)',
    reference: true,
    core: true,
    writes: 'results',
    requests: (ctx) => [
      {
        method: 'POST',
        headers: json,
        setupRequest: (req) => {
          const parent = pick(ctx.parents.add);
          return {
            ...req,
            path: `${REQUESTS}/${parent.id}/results`,
            body: parent.mail ? RESULT_BODIES.mail : RESULT_BODIES.other,
          };
        },
      },
    ],
  },
  {
    name: 'create-request',
    title: 'Create a request (four types in turn)',
    reference: true,
    writes: 'requests',
    requests: () => [
      {
        method: 'POST',
        headers: json,
        setupRequest: (req) => ({ ...req, path: REQUESTS, body: pick(CREATE_BODIES) }),
      },
    ],
  },
];

export const SCENARIO_NAMES = SCENARIOS.map((s) => s.name);

/**
 * @param {string} name
 * @returns {Scenario}
 */
export function scenarioNamed(name) {
  const found = SCENARIOS.find((s) => s.name === name);
  if (!found) throw new Error(`no scenario '${name}'`);
  return found;
}

/**
 * The soak's mix: add a result, then list the results of another request, in turn.
 * @param {ScenarioContext} ctx
 */
export function soakRequests(ctx) {
  return [...scenarioNamed('add-result').requests(ctx), ...scenarioNamed('list-results').requests(ctx)];
}

/**
 * One run's figures; `cpuUsPerRequest` and `integrity` are filled in by whoever measured the process.
 * @typedef {object} Run
 * @property {number} started
 * @property {number} finished
 * @property {number} seconds
 * @property {number} responses
 * @property {number} rps
 * @property {number} p50
 * @property {number} p99
 * @property {number} max
 * @property {Record<string, number>} status
 * @property {number} non2xx
 * @property {number} errors
 * @property {number} timeouts
 * @property {number} created
 * @property {number} loadAvg1m
 * @property {number} cpuUsPerRequest
 * @property {import('./measure.mjs').Integrity} [integrity]
 */

/**
 * One bounded run: `duration` seconds, or exactly `amount` requests when given. Latencies are taken from
 * autocannon's per-response event in fractional ms (its own histogram keeps whole ms, too coarse at 1-3
 * ms); requests/s counts every response over the run's length.
 * @param {{ port: number, token: string, connections: number, duration: number, amount?: number, requests: LoadRequest[], overallRate?: number, keepLatencies?: boolean }} options
 * @returns {Promise<Run>}
 */
export async function runLoad({
  port,
  token,
  connections,
  duration,
  amount,
  requests,
  overallRate,
  keepLatencies = true,
}) {
  /** @type {number[]} */
  const latencies = [];
  const load = loadavg()[0];
  const started = performance.now();
  // Without a callback autocannon returns its instance, which is also a promise of the result.
  const instance = /** @type {import('autocannon').Instance & Promise<import('autocannon').Result>} */ (
    /** @type {unknown} */ (
      autocannon({
        url: `http://127.0.0.1:${port}`,
        connections,
        duration,
        pipelining: 1,
        timeout: 10,
        headers: { authorization: `Bearer ${token}` },
        requests: /** @type {import('autocannon').Request[]} */ (requests),
        ...(overallRate ? { overallRate } : {}),
        ...(amount ? { amount } : {}),
      })
    )
  );
  if (keepLatencies) instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  const result = await instance;
  const finished = performance.now();
  /** @type {Record<string, number>} */
  const status = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, stats?.count ?? 0]),
  );
  const responses = Object.values(status).reduce((a, b) => a + b, 0);
  const latency = keepLatencies
    ? summarize(latencies)
    : { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max };
  return {
    started,
    finished,
    seconds: result.duration,
    responses,
    rps: responses / result.duration,
    p50: latency.p50,
    p99: latency.p99,
    max: latency.max,
    status,
    non2xx: result.non2xx,
    errors: result.errors,
    // autocannon counts timeouts among the errors too.
    timeouts: result.timeouts,
    created: status['201'] ?? 0,
    loadAvg1m: load,
    cpuUsPerRequest: NaN,
  };
}
