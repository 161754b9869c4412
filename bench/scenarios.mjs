// The scenarios, and one bounded autocannon run with exact latencies.
import { Buffer } from 'node:buffer';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { URL } from 'node:url';
import autocannon from 'autocannon';
import { summarize } from './processes.mjs';

export const REQUESTS = '/v1.0/informationProtection/threatAssessmentRequests';

const RESULT_BODIES = {
  mail: JSON.stringify({
    '@odata.type': '#microsoft.graph.threatAssessmentResult',
    resultType: 'checkPolicy',
    message: 'No policy was hit.',
  }),
  other: JSON.stringify({
    '@odata.type': '#microsoft.graph.threatAssessmentResult',
    resultType: 'rescan',
    message: 'Clean after rescan.',
  }),
};

export const CREATE_BODIES = [
  {
    '@odata.type': '#microsoft.graph.mailAssessmentRequest',
    recipientEmail: 'tifc@contoso.com',
    expectedAssessment: 'block',
    category: 'spam',
    messageUri:
      'https://graph.microsoft.com/v1.0/users/c52ce8db-3e4b-4181-93c4-7d6b6bffaf60/messages/AAMkADU3MWUxOTU0LWNlOTEt=',
  },
  {
    '@odata.type': '#microsoft.graph.urlAssessmentRequest',
    url: 'http://test.com',
    expectedAssessment: 'block',
    category: 'phishing',
  },
  {
    '@odata.type': '#microsoft.graph.fileAssessmentRequest',
    expectedAssessment: 'block',
    category: 'malware',
    fileName: 'test.txt',
    contentData: 'VGhpcyBpcyBhIHRlc3QgZmlsZQ==',
  },
  {
    '@odata.type': '#microsoft.graph.emailFileAssessmentRequest',
    recipientEmail: 'tifc@contoso.com',
    expectedAssessment: 'unblock',
    category: 'spam',
    contentData: Buffer.from('Received: from MW2PR00MB0314.namprd00.prod.outlook.com\r\n\r\nhello').toString('base64'),
  },
].map((body) => JSON.stringify(body));

/** `$filter` + `$top` on requests: selective and not, on indexed order with the filter applied to the walk. */
export const LIST_FILTERS = [
  "contentType eq 'mail' and expectedAssessment eq 'block'",
  "category eq 'phishing'",
  "status eq 'pending' and contentType eq 'url'",
].map((filter) => `${REQUESTS}?$filter=${encodeURIComponent(filter)}&$top=25`);

const pick = (list) => list[Math.floor(Math.random() * list.length)];

/** The path and query of an absolute next link: the bench talks to loopback whatever origin the link names. */
export function pathOf(link) {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
}

/**
 * Each scenario: what it sends (autocannon `requests`), whether the reference implements it (`reference`,
 * measured A B A B with the service), whether it is one of the two core routes (`core`: the tighter
 * targets), and which table it writes (`writes`: checked after every run against the 201s counted).
 */
export function scenarios(ctx) {
  const json = { 'content-type': 'application/json' };
  return [
    {
      name: 'list-results',
      title: 'List results of a request',
      reference: true,
      core: true,
      requests: [
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
      requests: [
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
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: pick(LIST_FILTERS) }) }],
    },
    {
      name: 'deep-page',
      title: 'Follow next links deep in a large list ($top=100)',
      reference: true,
      // A connection starts at a random deep link, then follows four next links; autocannon clears the
      // context after the last entry, and the walk starts again elsewhere.
      requests: [0, 1, 2, 3, 4].map((step) => ({
        method: 'GET',
        setupRequest: (req, context) => ({ ...req, path: (step > 0 && context.next) || pick(ctx.deepLinks) }),
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
      requests: [
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
      requests: [
        {
          method: 'POST',
          headers: json,
          setupRequest: (req) => ({ ...req, path: REQUESTS, body: pick(CREATE_BODIES) }),
        },
      ],
    },
  ];
}

/** The soak's mix: add a result, then list the results of another request, in turn. */
export function soakRequests(ctx) {
  const [listResults] = scenarios(ctx).filter((s) => s.name === 'list-results');
  const [addResult] = scenarios(ctx).filter((s) => s.name === 'add-result');
  return [...addResult.requests, ...listResults.requests];
}

/**
 * One bounded run. Latencies are taken from autocannon's per-response event in fractional ms (its own
 * histogram keeps whole ms, too coarse at 1-3 ms); requests/s counts every response over the run's length.
 * @param {{ port: number, token: string, connections: number, duration: number, requests: object[], overallRate?: number, keepLatencies?: boolean }} options
 */
export async function runLoad({ port, token, connections, duration, requests, overallRate, keepLatencies = true }) {
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
      })
    )
  );
  if (keepLatencies) instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  const result = await instance;
  const finished = performance.now();
  const status = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]),
  );
  const responses = Object.values(status).reduce((a, b) => a + b, 0);
  const latency = keepLatencies ? summarize(latencies) : { p50: result.latency.p50, p99: result.latency.p99 };
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
  };
}
