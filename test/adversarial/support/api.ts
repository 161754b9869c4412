import { MAIL_REQUEST } from '../../support/graph.js';
import { requestsPath, RESULT_ODATA_TYPE, type Version } from './constants.js';
import { describeAnswer } from './envelope.js';
import type { Figures } from './figures.js';
import { type HeaderList, type RawAnswer, type RawRequest, sendRaw } from './raw-client.js';
import type { Tenant } from './tokens.js';

export const RESULT_BODY = { '@odata.type': RESULT_ODATA_TYPE, resultType: 'rescan', message: 'adversarial' };

export interface CallOptions {
  token?: string;
  /** Serialised with JSON.stringify and sent as application/json. */
  json?: unknown;
  headers?: HeaderList;
  timeoutMs?: number;
}

/** Every request of a class goes through here, so that its figures count every answer. */
export class Client {
  constructor(
    readonly port: number,
    readonly figures: Figures,
  ) {}

  async send(request: RawRequest, what: string): Promise<RawAnswer> {
    return this.figures.record(await sendRaw(this.port, request), what);
  }

  /**
   * A body already serialised (often hostile: malformed, huge, nested), sent as application/json with
   * a token, after a short pause so that the head reaches the server first.
   */
  sendJsonBody(method: string, target: string, token: string, body: Buffer, what: string): Promise<RawAnswer> {
    return this.send(
      {
        method,
        target,
        headers: [
          ['authorization', `Bearer ${token}`],
          ['content-type', 'application/json'],
        ],
        body,
        timeoutMs: 20_000,
        pauseBeforeBodyMs: 20,
      },
      what,
    );
  }

  call(method: string, target: string | Buffer, options: CallOptions = {}, what?: string): Promise<RawAnswer> {
    const headers: (readonly [string, string | Buffer])[] = [];
    if (options.token !== undefined) headers.push(['authorization', `Bearer ${options.token}`]);
    if (options.json !== undefined) headers.push(['content-type', 'application/json']);
    headers.push(...(options.headers ?? []));
    return this.send(
      {
        method,
        target,
        headers,
        body: options.json === undefined ? undefined : JSON.stringify(options.json),
        timeoutMs: options.timeoutMs,
      },
      what ?? `${method} ${String(target).slice(0, 80)}`,
    );
  }
}

export interface Fixture {
  /** A mail request (checkPolicy results need mail) with one result. */
  requestId: string;
  resultId: string;
}

/** A request and a result to aim item routes at, created through the API as any client would. */
export async function createFixture(client: Client, tenant: Tenant, version: Version = 'v1.0'): Promise<Fixture> {
  const created = await client.call(
    'POST',
    requestsPath(version),
    { token: tenant.token, json: MAIL_REQUEST },
    'fixture',
  );
  const requestId = (created.json as { id?: string } | undefined)?.id;
  if (created.status !== 201 || !requestId) throw new Error(`creating the fixture request: ${describeAnswer(created)}`);
  const added = await client.call(
    'POST',
    `${requestsPath(version)}/${requestId}/results`,
    { token: tenant.token, json: RESULT_BODY },
    'fixture',
  );
  const resultId = (added.json as { id?: string } | undefined)?.id;
  if (added.status !== 201 || !resultId) throw new Error(`adding the fixture result: ${describeAnswer(added)}`);
  return { requestId, resultId };
}

/** A body without its `@odata.context`, the one property a create and a later read may spell differently. */
export function withoutContext(body: unknown): unknown {
  if (!body || typeof body !== 'object') return body;
  return Object.fromEntries(Object.entries(body).filter(([key]) => !key.endsWith('@odata.context')));
}

export interface Route {
  name: string;
  method: 'GET' | 'POST' | 'DELETE';
  path: (version: Version, ids: Fixture) => string;
  /** What the route takes as a body. */
  body?: 'request' | 'result';
  /** Addresses one item (an id in the path). */
  item?: boolean;
}

/** Every route of the API; health routes are public and handled apart. */
export const ROUTES: readonly Route[] = [
  { name: 'create request', method: 'POST', path: (v) => requestsPath(v), body: 'request' },
  { name: 'list requests', method: 'GET', path: (v) => requestsPath(v) },
  { name: 'count requests', method: 'GET', path: (v) => `${requestsPath(v)}/$count` },
  { name: 'get request', method: 'GET', path: (v, ids) => `${requestsPath(v)}/${ids.requestId}`, item: true },
  { name: 'delete request', method: 'DELETE', path: (v, ids) => `${requestsPath(v)}/${ids.requestId}`, item: true },
  {
    name: 'add result',
    method: 'POST',
    path: (v, ids) => `${requestsPath(v)}/${ids.requestId}/results`,
    body: 'result',
    item: true,
  },
  {
    name: 'add result ($ref)',
    method: 'POST',
    path: (v, ids) => `${requestsPath(v)}/${ids.requestId}/results/$ref`,
    body: 'result',
    item: true,
  },
  { name: 'list results', method: 'GET', path: (v, ids) => `${requestsPath(v)}/${ids.requestId}/results`, item: true },
  {
    name: 'count results',
    method: 'GET',
    path: (v, ids) => `${requestsPath(v)}/${ids.requestId}/results/$count`,
    item: true,
  },
  {
    name: 'get result',
    method: 'GET',
    path: (v, ids) => `${requestsPath(v)}/${ids.requestId}/results/${ids.resultId}`,
    item: true,
  },
  { name: 'unknown path', method: 'GET', path: (v) => `/${v}/informationProtection/threatAssessmentReqests` },
];

export const routeNamed = (name: string): Route => {
  const route = ROUTES.find((r) => r.name === name);
  if (!route) throw new Error(`no route ${name}`);
  return route;
};
