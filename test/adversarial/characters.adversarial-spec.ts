import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import { createFixture, type Fixture, RESULT_BODY, routeNamed, withoutContext } from './support/api.js';
import { MAX_RESPONSE_BYTES, requestsPath, VERSIONS } from './support/constants.js';
import { describeAnswer, expectAnswer } from './support/envelope.js';
import { asciiJson, hasLoneSurrogate, hostileText, percentEncode, SAMPLE_REQUESTS } from './support/inputs.js';
import { holds } from './support/properties.js';
import { classOfInputs } from './support/suite.js';
import { newTenant, type Tenant } from './support/tokens.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Issue point 3: every character a client can send is stored faithfully or refused clearly. NUL,
 * lone surrogates, controls, bidi and combining marks, non-BMP, in every string field, path segment,
 * query option and header: 201/200 with an exact echo (the 201 body equals a later GET) or 400
 * invalidRequest, never a 5xx.
 */
describe('(c) characters: stored faithfully or refused clearly', () => {
  const { figures, client } = classOfInputs('characters', '(c) characters');
  let tenant: Tenant;
  let ids: Fixture;

  beforeAll(async () => {
    tenant = await newTenant();
    ids = await createFixture(client, tenant);
  });

  /** Where a hostile text goes in a body: the stored field it lands in, or a field that only validates it. */
  const FIELDS = {
    'url: path': { kind: 'url', field: 'url', value: (t: string) => `http://test.com/${t}` },
    'url: host': { kind: 'url', field: 'url', value: (t: string) => `http://${t}.test.com/` },
    'mail: recipientEmail': { kind: 'mail', field: 'recipientEmail', value: (t: string) => `${t}@contoso.com` },
    'mail: messageUri': {
      kind: 'mail',
      field: 'messageUri',
      value: (t: string) => `https://graph.microsoft.com/v1.0/users/x/messages/${t}`,
    },
    'emailFile: recipientEmail domain': {
      kind: 'emailFile',
      field: 'recipientEmail',
      value: (t: string) => `user@${t}.com`,
    },
    'file: fileName': { kind: 'file', field: 'fileName', value: (t: string) => `${t}.txt` },
    'file: contentData': { kind: 'file', field: 'contentData', value: (t: string) => `VGhp${t}` },
    'mail: category': { kind: 'mail', field: 'category', value: (t: string) => t },
    'url: @odata.type': { kind: 'url', field: '@odata.type', value: (t: string) => `#microsoft.graph.${t}` },
    'result: message': { kind: 'result', field: 'message', value: (t: string) => t },
    'result: message in a sentence': { kind: 'result', field: 'message', value: (t: string) => `verdict: ${t} (end)` },
    'result: resultType': { kind: 'result', field: 'resultType', value: (t: string) => t },
    'url: an unknown key': { kind: 'url', field: '', value: (t: string) => t },
  } as const;
  /** Fields the service stores and echoes as given (contentData is never echoed; enums are not free text). */
  const STORED = new Set(['url', 'recipientEmail', 'messageUri', 'fileName', 'message']);

  it('every string field of every request type and of a result: 201 with an exact echo that a later GET repeats, or 400', async () => {
    await holds(
      figures,
      'hostile characters in body fields',
      fc.record({
        at: fc.constantFrom(...(Object.keys(FIELDS) as (keyof typeof FIELDS)[])),
        text: hostileText,
        json: fc.constantFrom('utf8', 'ascii-escaped'),
        version: fc.constantFrom(...VERSIONS),
      }),
      async ({ at, text, json, version }) => {
        const { kind, field, value } = FIELDS[at];
        const sent = value(text);
        const base = kind === 'result' ? RESULT_BODY : SAMPLE_REQUESTS[kind];
        const object = field === '' ? { ...base, [sent]: 'x' } : { ...base, [field]: sent };
        const path = kind === 'result' ? `${requestsPath(version)}/${ids.requestId}/results` : requestsPath(version);
        const what = `POST ${kind === 'result' ? 'add result' : `create ${kind} request`} (${version}) with ${at} = ${JSON.stringify(sent)} as ${json} JSON`;
        const answer = await client.send(
          {
            method: 'POST',
            target: path,
            headers: [
              ['authorization', `Bearer ${tenant.token}`],
              ['content-type', 'application/json'],
            ],
            body: json === 'utf8' ? JSON.stringify(object) : asciiJson(object),
          },
          what,
        );
        expectAnswer(answer, what, { statuses: [201, 400], maxMs: 1000, maxBytes: 16 * 1024 });
        if (answer.status !== 201) return;
        const created = answer.json as Record<string, unknown> & { id: string };
        const problems: string[] = [];
        if (STORED.has(field) && created[field] !== sent)
          problems.push(`201 echoes ${field} as ${JSON.stringify(created[field])}`);
        const read = await client.call('GET', `${path}/${created.id}`, { token: tenant.token }, `${what}: read back`);
        if (
          read.status !== 200 ||
          JSON.stringify(withoutContext(read.json)) !== JSON.stringify(withoutContext(created))
        ) {
          problems.push(`a later GET differs from the 201 body: ${describeAnswer(read)}`);
        }
        if (problems.length > 0) {
          const surrogate = hasLoneSurrogate(sent) ? ' (a lone surrogate: refuse it or store it as echoed)' : '';
          throw new Error(`${what}\n  → 201 but not stored faithfully${surrogate}: ${problems.join('; ')}`);
        }
      },
      { numRuns: 1500, maxMs: 60_000, shrink: true },
    );
  });

  it('ids in path segments, whatever their characters, answer 400 invalidRequest or 404 itemNotFound, never 5xx', async () => {
    const ITEM_ROUTES = [
      'get request',
      'delete request',
      'add result',
      'add result ($ref)',
      'list results',
      'count results',
      'get result',
    ];
    await holds(
      figures,
      'hostile characters in path ids',
      fc.record({
        route: fc.constantFrom(...ITEM_ROUTES),
        segment: fc.constantFrom('id', 'resultId'),
        text: hostileText,
        shape: fc.constantFrom('alone', 'after a GUID', 'inside a GUID'),
        version: fc.constantFrom(...VERSIONS),
      }),
      async ({ route: name, segment, text, shape, version }) => {
        const target = routeNamed(name);
        const guid = randomUUID();
        const hostile =
          shape === 'alone'
            ? text
            : shape === 'after a GUID'
              ? `${guid}${text}`
              : `${guid.slice(0, 8)}${text}${guid.slice(8)}`;
        const encoded = percentEncode(hostile);
        const fixture =
          segment === 'resultId' && name === 'get result'
            ? { ...ids, resultId: encoded }
            : { ...ids, requestId: encoded };
        const what = `${target.method} ${name} (${version}) with ${segment} ${JSON.stringify(hostile)} (${encoded})`;
        const answer = await client.call(
          target.method,
          target.path(version, fixture),
          { token: tenant.token, json: target.body === 'result' ? RESULT_BODY : undefined },
          what,
        );
        expectAnswer(answer, what, { statuses: [400, 404, 405], maxMs: 1000 });
      },
      { numRuns: 800, maxMs: 40_000, shrink: true },
    );
  });

  it('query options with any character answer 200 or 400 in the envelope, never 5xx', async () => {
    const escape = (t: string) => t.replaceAll("'", "''");
    const OPTIONS: Record<string, (t: string) => [string, string]> = {
      '$filter string literal': (t) => ['$filter', `category eq '${escape(t)}'`],
      '$filter in list': (t) => ['$filter', `contentType in ('mail','${escape(t)}')`],
      '$filter result literal': (t) => ['$filter', `resultType eq '${escape(t)}'`],
      '$filter text': (t) => ['$filter', t],
      $select: (t) => ['$select', `id,${t}`],
      $top: (t) => ['$top', t],
      $skip: (t) => ['$skip', `1${t}`],
      $skiptoken: (t) => ['$skiptoken', t],
      $orderby: (t) => ['$orderby', `createdDateTime ${t}`],
      $expand: (t) => ['$expand', t],
      $count: (t) => ['$count', t],
      $format: (t) => ['$format', t],
      'an unknown $ option': (t) => [`$${t}`, '1'],
      'an unknown parameter': (t) => [t, t],
    };
    const QUERY_ROUTES = [
      'list requests',
      'count requests',
      'get request',
      'list results',
      'count results',
      'get result',
    ];
    await holds(
      figures,
      'hostile characters in query options',
      fc.record({
        route: fc.constantFrom(...QUERY_ROUTES),
        option: fc.constantFrom(...Object.keys(OPTIONS)),
        text: hostileText,
        version: fc.constantFrom(...VERSIONS),
      }),
      async ({ route: name, option, text, version }) => {
        const [key, value] = OPTIONS[option](text);
        const query = `${percentEncode(key).replace(/^%24/, '$')}=${percentEncode(value)}`;
        const what = `GET ${name} (${version}) with ${option}: ${JSON.stringify(`${key}=${value}`)}`;
        const answer = await client.call(
          'GET',
          `${routeNamed(name).path(version, ids)}?${query}`,
          { token: tenant.token },
          what,
        );
        expectAnswer(answer, what, { statuses: [200, 400], maxMs: 1000, maxBytes: MAX_RESPONSE_BYTES });
      },
      { numRuns: 1500, maxMs: 40_000, shrink: true },
    );
  });

  it('client-request-id and Idempotency-Key with any character the HTTP parser passes: echoed exactly or replaced, stored faithfully or 400', async () => {
    await holds(
      figures,
      'hostile characters in headers',
      fc.record({
        header: fc.constantFrom('client-request-id', 'idempotency-key'),
        route: fc.constantFrom('create request', 'add result'),
        // What reaches the service: controls (CR and LF end the line) are the parser's to refuse, in the headers class.
        // eslint-disable-next-line no-control-regex -- matching them is the point
        text: hostileText.map((t) => t.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, '') || 'x'),
      }),
      async ({ header, route: name, text }) => {
        const target = routeNamed(name);
        // Keys are per tenant: a fresh prefix keeps one run's key from naming another run's request (422).
        const bytes = Buffer.from(header === 'idempotency-key' ? `${randomUUID()}${text}` : text, 'utf8');
        const what = `POST ${name} with ${header}: ${JSON.stringify(text)} (${bytes.toString('hex')})`;
        const send = () =>
          client.send(
            {
              method: 'POST',
              target: target.path('v1.0', ids),
              headers: [
                ['authorization', `Bearer ${tenant.token}`],
                ['content-type', 'application/json'],
                [header, bytes],
              ],
              body: JSON.stringify(target.body === 'result' ? RESULT_BODY : SAMPLE_REQUESTS.url),
            },
            what,
          );
        const answer = await send();
        expectAnswer(answer, what, { statuses: [201, 400], maxMs: 1000, maxBytes: 16 * 1024 });
        if (header === 'client-request-id') {
          // The answer's header as bytes (the raw client reads headers as latin1) is the one sent, or the request-id.
          // A field value never holds its leading and trailing spaces and tabs (RFC 9110, 5.5): those are not sent.
          const echoed = answer.headers['client-request-id'];
          const exact = echoed === bytes.toString('latin1').replace(/^[ \t]+|[ \t]+$/g, '');
          if (!exact && !(GUID.test(echoed ?? '') && echoed === answer.headers['request-id'])) {
            throw new Error(
              `${what}\n  → client-request-id answered as ${JSON.stringify(echoed)}: neither the one sent nor the request-id`,
            );
          }
          return;
        }
        if (answer.status !== 201) return;
        // A key stored faithfully names this request again: the same body replays the same id.
        const again = await send();
        const first = (answer.json as { id?: string }).id;
        const second = (again.json as { id?: string } | undefined)?.id;
        if (again.status !== 201 || second !== first || again.headers['idempotent-replayed'] !== 'true') {
          throw new Error(`${what}\n  → the same key again did not replay ${first}: ${describeAnswer(again)}`);
        }
      },
      { numRuns: 500, maxMs: 30_000, shrink: true },
    );
  });
});
