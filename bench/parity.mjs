// Parity: the same requests on the service and the reference, compared byte for byte.
import { randomUUID } from 'node:crypto';
import { CREATE_REQUEST_EXAMPLES } from '#dist/threat-assessment/dto/threat-assessment.examples.js';
import { request } from './processes.mjs';
import { CREATE_BODIES, LIST_FILTERS, REQUESTS, pathOf } from './scenarios.mjs';

/**
 * @typedef {import('./processes.mjs').Target} Target
 * @typedef {Awaited<ReturnType<typeof import('./processes.mjs').request>>} Response
 * @typedef {{ links: string[], depthRows: number }} DeepLinks
 * @typedef {{ what: string, pass: boolean, service: string, reference: string }} ParityCheck
 */

/**
 * Deep links: walk 999 a page to ~90 % of the list, then continue at $top=100 and keep 20 consecutive links.
 * @param {number} port
 * @param {string} token
 * @param {number} tenantRequests
 * @returns {Promise<DeepLinks>}
 */
export async function findDeepLinks(port, token, tenantRequests) {
  const headers = { authorization: `Bearer ${token}` };
  const target = Math.floor(tenantRequests * 0.9);
  let depth = 0;
  let path = `${REQUESTS}?$top=999`;
  while (depth + 999 < target) {
    const res = await request({ port, path, headers });
    if (res.status !== 200) throw new Error(`walking the list: ${res.status} ${res.text.slice(0, 300)}`);
    const next = res.json['@odata.nextLink'];
    depth += res.json.value.length;
    if (!next) break;
    path = pathOf(next);
  }
  // The $skiptoken is bound to tenant, collection, order and filter, not to $top: the same position at 100 a page.
  let start = path.replace('$top=999', '$top=100');
  let probe = await request({ port, path: start, headers });
  if (probe.status !== 200) {
    // Should a token ever be bound to $top, walk at 100 a page instead (slower).
    depth = 0;
    start = `${REQUESTS}?$top=100`;
    for (let pages = 0; depth + 100 < target && pages < 5000; pages++) {
      probe = await request({ port, path: start, headers });
      const next = probe.json?.['@odata.nextLink'];
      if (probe.status !== 200 || !next) break;
      depth += probe.json.value.length;
      start = pathOf(next);
    }
  }
  const links = [start];
  for (let i = 0; i < 19; i++) {
    const res = await request({ port, path: /** @type {string} */ (links.at(-1)), headers });
    const next = res.json?.['@odata.nextLink'];
    if (res.status !== 200 || !next) break;
    links.push(pathOf(next));
  }
  return { links, depthRows: depth };
}

/**
 * The same request on both: read bodies must be byte-identical (next links too, followed once), created
 * bodies identical but for id and time.
 * @param {Target} service
 * @param {Target} reference
 * @param {string} token
 * @param {import('./database.mjs').Parents} parents
 * @param {string[]} deepLinks
 */
async function parity(service, reference, token, parents, deepLinks) {
  const headers = { authorization: `Bearer ${token}` };
  /** @type {ParityCheck[]} */
  const checks = [];
  const large = await largeRequest(service.port, headers);
  const reads = [
    ...['', '?$top=2'].map((query) => [`GET …/results${query}`, `${REQUESTS}/${parents.read[0].id}/results${query}`]),
    ['GET …/{id}?$expand=results', `${REQUESTS}/${parents.read[0].id}?$expand=results`],
    ...LIST_FILTERS.map((path) => [`GET requests?${decodeURIComponent(path.split('?')[1])}`, path]),
    ['GET requests?$top=100&$skiptoken=… (deep)', deepLinks[0]],
    [
      `GET …/{id}?$expand=results (${LARGE_RESULTS} results: results@odata.nextLink)`,
      `${REQUESTS}/${large}?$expand=results`,
    ],
    [
      `GET …/results?$top=999 (${LARGE_RESULTS} of 4,000 characters: the page budget)`,
      `${REQUESTS}/${large}/results?$top=999`,
    ],
  ];
  for (const [what, path] of reads) {
    const [a, b] = await Promise.all([
      request({ port: service.port, path, headers }),
      request({ port: reference.port, path, headers }),
    ]);
    let pass = a.status === 200 && a.status === b.status && a.text === b.text;
    const next = a.json?.['@odata.nextLink'] ?? a.json?.['results@odata.nextLink'];
    if (pass && next) {
      const [x, y] = await Promise.all([
        request({ port: service.port, path: pathOf(next), headers }),
        request({ port: reference.port, path: pathOf(next), headers }),
      ]);
      pass = x.status === 200 && x.text === y.text;
    }
    checks.push({ what, pass, service: a.text.slice(0, 400), reference: b.text.slice(0, 400) });
  }
  for (const created of CREATE_BODIES) {
    const [a, b] = await Promise.all(
      [service, reference].map((target) =>
        request({ port: target.port, method: 'POST', path: REQUESTS, headers, body: JSON.parse(created) }),
      ),
    );
    checks.push(createdParity(`POST requests (${JSON.parse(created)['@odata.type'].split('.').at(-1)})`, a, b));
  }
  const parent = parents.add[0];
  const body = parent.mail
    ? { '@odata.type': '#microsoft.graph.threatAssessmentResult', resultType: 'checkPolicy', message: 'parity' }
    : { resultType: 'rescan', message: 'parity' };
  const path = `${REQUESTS}/${parent.id}/results`;
  const a = await request({ port: service.port, method: 'POST', path, headers, body });
  const b = await request({ port: reference.port, method: 'POST', path, headers, body });
  checks.push(createdParity('POST …/results', a, b));
  for (const [what, p] of [
    ['POST …/results for a missing request', `${REQUESTS}/${randomUUID()}/results`],
    ['POST …/results with an unknown property', `${REQUESTS}/${parent.id}/results`],
  ]) {
    const bad = what.includes('unknown') ? { ...body, extra: 1 } : body;
    const [x, y] = await Promise.all([
      request({ port: service.port, method: 'POST', path: p, headers, body: bad }),
      request({ port: reference.port, method: 'POST', path: p, headers, body: bad }),
    ]);
    checks.push({
      what,
      pass: x.status === y.status && x.json?.error?.code === y.json?.error?.code,
      service: x.text.slice(0, 300),
      reference: y.text.slice(0, 300),
    });
  }
  return checks;
}

const LARGE_RESULTS = 300;

/**
 * A request of the parity check's own, with more results than an expansion shows and of the longest
 * messages, so that both the nested next link and a page that the page budget ends before `$top` are
 * compared. Added through the service: it is then `completed`, as the integrity check expects.
 * @param {number} port
 * @param {Record<string, string>} headers
 */
async function largeRequest(port, headers) {
  const created = await request({
    port,
    method: 'POST',
    path: REQUESTS,
    headers,
    body: CREATE_REQUEST_EXAMPLES.urlAssessmentRequest.value,
  });
  if (created.status !== 201) throw new Error(`parity: creating a request answered ${created.status}`);
  for (let i = 0; i < LARGE_RESULTS; i++) {
    const body = { resultType: 'rescan', message: `${i} `.padEnd(4000, 'x') };
    const added = await request({
      port,
      method: 'POST',
      path: `${REQUESTS}/${created.json.id}/results`,
      headers,
      body,
    });
    if (added.status !== 201) throw new Error(`parity: adding a result answered ${added.status}`);
  }
  return created.json.id;
}

/**
 * Two 201s with the same body and Location but for the new id and its time.
 * @param {string} what
 * @param {Response} a
 * @param {Response} b
 * @returns {ParityCheck}
 */
function createdParity(what, a, b) {
  /** @param {Response} res */
  const normalize = (res) => JSON.stringify({ ...res.json, id: 'ID', createdDateTime: 'TIME' });
  return {
    what,
    pass:
      a.status === 201 &&
      b.status === 201 &&
      normalize(a) === normalize(b) &&
      a.headers.location?.replace(a.json.id, 'ID') === b.headers.location?.replace(b.json.id, 'ID'),
    service: a.text.slice(0, 400),
    reference: b.text.slice(0, 400),
  };
}

/**
 * Runs the parity checks and prints one line each: 'same', or 'DIFFERENT' with both bodies.
 * @param {Target} service
 * @param {Target} reference
 * @param {string} token
 * @param {import('./database.mjs').Parents} parents
 * @param {string[]} deepLinks
 * @param {import('./setup.mjs').Log} log
 */
export async function checkParity(service, reference, token, parents, deepLinks, log) {
  const checks = await parity(service, reference, token, parents, deepLinks);
  for (const check of checks) {
    log(`Parity ${check.what}: ${check.pass ? 'same' : 'DIFFERENT'}`);
    if (!check.pass) log(`  service:   ${check.service}\n  reference: ${check.reference}`);
  }
  return checks;
}
