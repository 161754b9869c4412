/**
 * The one way the service sends HTTP to receivers (handshakes and notifications). Each attempt
 * resolves and checks the host, then connects on a fresh connection to the addresses it just checked
 * and to nothing else; certificates are verified, redirects are not followed, and what the receiver
 * may send back is bounded in time and size.
 */
import { Buffer } from 'node:buffer';
import { type ClientRequest, type IncomingMessage, request as httpRequest, validateHeaderValue } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type LookupFunction, isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { getCACertificates } from 'node:tls';
import { type AddressPolicy, unbracket } from './address-policy.js';
import { HostConcurrencyLimiter } from './host-concurrency-limiter.js';
import { checkNotificationUrl } from './notification-url-policy.js';
import { redactedUrl } from './redacted-url.js';
import { type CheckedAddress, type HostResolver, resolveAndCheck, systemResolver } from './resolve-and-check.js';

export const MAX_RESPONSE_HEADER_BYTES = 16 * 1024;
export const MAX_CONCURRENT_REQUESTS_PER_HOST = 8;
export const WEBHOOK_USER_AGENT = 'ThreatAssessmentService-Webhook/1.0';

export interface WebhookClientOptions {
  addressPolicy: AddressPolicy;
  /** `http:` URLs besides `https:`; the configuration never allows it in production. */
  allowHttp?: boolean;
  resolve?: HostResolver;
  /**
   * PEM certificates trusted in addition to Node's default store (which already holds
   * NODE_EXTRA_CA_CERTS); for tests. Verification itself cannot be turned off.
   */
  extraCaCertificates?: readonly string[];
  maxConcurrentPerHost?: number;
}

export interface WebhookRequest {
  body: string | Buffer;
  contentType: string;
  /** From the start of sending (resolution included) to the end of the body; queueing is not counted. */
  timeoutMs: number;
  /** More than this and the connection is closed, the result marked `truncated`. */
  maxBodyBytes: number;
  maxHeaderBytes?: number;
}

export interface WebhookTiming {
  /** Waiting for a free slot for the host. */
  queuedMs: number;
  /** The attempt itself, from resolution to result. */
  durationMs: number;
}

export type WebhookResponse = {
  outcome: 'response';
  status: number;
  contentType: string | undefined;
  /** UTF-8, at most `maxBodyBytes` bytes of it. */
  body: string;
  truncated: boolean;
  remoteAddress: string | undefined;
  timing: WebhookTiming;
};

export type WebhookFailureOutcome =
  | 'timeout'
  /** The URL is not one the service may call (syntax, or `http` where not allowed): nothing was sent. */
  | 'refused-url'
  /** The host is or resolves to a refused address: no connection was opened. */
  | 'refused-address'
  | 'dns-error'
  | 'connection-error'
  | 'tls-error'
  /** Not HTTP/1.1, or headers over the limit. */
  | 'invalid-response';

export type WebhookFailure = {
  outcome: WebhookFailureOutcome;
  /** Safe to log: the URL's query string is redacted. */
  detail: string;
  timing: WebhookTiming;
};

export type WebhookResult = WebhookResponse | WebhookFailure;

type Phase = 'resolving' | 'connecting' | 'tls-handshake' | 'awaiting-response' | 'reading-body';

/** Where an attempt has got to, for the timeout's detail and the response's peer. */
type Progress = { phase: Phase; remoteAddress: string | undefined };

/** An attempt's result before timing and the URL are added. */
type Exchange = Omit<WebhookResponse, 'timing'> | { outcome: WebhookFailureOutcome; why: string };

export class WebhookClient {
  private readonly policy: AddressPolicy;
  private readonly allowHttp: boolean;
  private readonly resolve: HostResolver;
  private readonly ca: string[] | undefined;
  private readonly limiter: HostConcurrencyLimiter;

  constructor(options: WebhookClientOptions) {
    this.policy = options.addressPolicy;
    this.allowHttp = options.allowHttp ?? false;
    this.resolve = options.resolve ?? systemResolver;
    // `ca` replaces the default store, so extra certificates are added to a copy of it.
    this.ca = options.extraCaCertificates?.length
      ? [...getCACertificates('default'), ...options.extraCaCertificates]
      : undefined;
    this.limiter = new HostConcurrencyLimiter(options.maxConcurrentPerHost ?? MAX_CONCURRENT_REQUESTS_PER_HOST);
  }

  /**
   * Every failure on the receiver's side is a result; this rejects only on a defect of the caller's (a
   * content type that is not a header value) or of this code.
   */
  async post(target: string | URL, request: WebhookRequest): Promise<WebhookResult> {
    validateHeaderValue('Content-Type', request.contentType);
    const verdict = checkNotificationUrl(String(target), { allowHttp: this.allowHttp });
    if (!verdict.ok) {
      return { outcome: 'refused-url', detail: verdict.message, timing: { queuedMs: 0, durationMs: 0 } };
    }
    const url = verdict.url;
    const queued = performance.now();
    const release = await this.limiter.acquire(url.hostname);
    const queuedMs = Math.round(performance.now() - queued);
    try {
      return await this.attempt(url, request, queuedMs);
    } finally {
      release();
    }
  }

  /**
   * One deadline for the whole attempt. Aborting the controller destroys the request (and its socket),
   * whichever way the attempt ended, so nothing outlives it.
   */
  private async attempt(url: URL, request: WebhookRequest, queuedMs: number): Promise<WebhookResult> {
    const started = performance.now();
    const controller = new AbortController();
    const progress: Progress = { phase: 'resolving', remoteAddress: undefined };
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<Exchange>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            outcome: 'timeout',
            why: `no complete response within ${request.timeoutMs} ms (while ${progress.phase})`,
          }),
        request.timeoutMs,
      );
    });
    try {
      const exchange = await Promise.race([this.exchange(url, request, controller.signal, progress), expired]);
      const timing = { queuedMs, durationMs: Math.round(performance.now() - started) };
      if (exchange.outcome === 'response') return { ...exchange, timing };
      return { outcome: exchange.outcome, detail: `POST ${redactedUrl(url)}: ${exchange.why}`, timing };
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  private async exchange(
    url: URL,
    request: WebhookRequest,
    signal: AbortSignal,
    progress: Progress,
  ): Promise<Exchange> {
    const check = await resolveAndCheck(url.hostname, this.policy, this.resolve);
    if (check.outcome === 'dns-error') {
      return { outcome: 'dns-error', why: `resolving ${url.hostname} failed (${check.code})` };
    }
    if (check.outcome === 'refused-address') {
      return { outcome: 'refused-address', why: `${url.hostname} resolves to ${check.address}, which is not allowed` };
    }
    // The deadline passed while resolving: its result is already in, and nothing is sent.
    if (signal.aborted) return { outcome: 'timeout', why: 'expired while resolving' };
    progress.phase = 'connecting';
    return new Promise((resolve) => {
      const req = this.send(url, request, check.addresses, signal);
      req.on('socket', (socket) => {
        socket.once('connect', () => {
          // Read now: a socket the receiver has closed no longer knows its peer.
          progress.remoteAddress = socket.remoteAddress;
          progress.phase = url.protocol === 'https:' ? 'tls-handshake' : 'awaiting-response';
        });
        socket.once('secureConnect', () => (progress.phase = 'awaiting-response'));
      });
      req.on('error', (error: NodeJS.ErrnoException) =>
        resolve({ outcome: failureOf(error, progress.phase), why: describe(error, progress.phase) }),
      );
      req.on('response', (res) => {
        progress.phase = 'reading-body';
        res.on('error', (error: NodeJS.ErrnoException) =>
          resolve({
            outcome: 'connection-error',
            why: `the body after status ${res.statusCode} was cut off (${describe(error, progress.phase)})`,
          }),
        );
        readBounded(res, request.maxBodyBytes, (body, truncated) =>
          resolve({
            outcome: 'response',
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body,
            truncated,
            remoteAddress: progress.remoteAddress,
          }),
        );
      });
    });
  }

  private send(
    url: URL,
    request: WebhookRequest,
    addresses: readonly CheckedAddress[],
    signal: AbortSignal,
  ): ClientRequest {
    const host = unbracket(url.hostname);
    const body = Buffer.from(request.body);
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)({
      method: 'POST',
      hostname: host,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      // Nothing else, ever: no credentials, cookies or internal headers reach a receiver.
      headers: {
        Host: url.host,
        'User-Agent': WEBHOOK_USER_AGENT,
        'Content-Type': request.contentType,
        'Content-Length': String(body.length),
      },
      // A fresh connection per attempt (no pooled socket to an address checked for an earlier
      // attempt), and no proxy from the environment, which would connect wherever it likes.
      agent: false,
      signal,
      lookup: checkedLookup(host, addresses),
      maxHeaderSize: request.maxHeaderBytes ?? MAX_RESPONSE_HEADER_BYTES,
      minVersion: 'TLSv1.2',
      // Explicit, so that NODE_TLS_REJECT_UNAUTHORIZED=0 cannot turn verification off either.
      rejectUnauthorized: true,
      ca: this.ca,
      // SNI names the host; an IP literal has none (RFC 6066).
      servername: isIP(host) ? undefined : host,
    });
    req.end(body);
    return req;
  }
}

/**
 * Node's lookup hook, answering with the addresses checked for this attempt and never asking DNS: what
 * the connection reaches is what was checked, so a name that changes its answer in between (DNS
 * rebinding) changes nothing. IP literals never reach a lookup; they were checked as they are.
 */
function checkedLookup(hostname: string, addresses: readonly CheckedAddress[]): LookupFunction {
  return (name, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    const matching = addresses.filter((a) => name === hostname && (!family || a.family === family));
    if (matching.length === 0) {
      const error: NodeJS.ErrnoException = new Error(`${name} has no checked address of family ${family ?? 'any'}`);
      error.code = 'ENOTFOUND';
      return callback(error, '', 0);
    }
    if (options.all) return callback(null, matching);
    callback(null, matching[0].address, matching[0].family);
  };
}

/** Keeps at most `maxBytes` and closes the connection as soon as more arrives. */
function readBounded(res: IncomingMessage, maxBytes: number, done: (body: string, truncated: boolean) => void): void {
  const chunks: Buffer[] = [];
  let kept = 0;
  res.on('data', (chunk: Buffer) => {
    if (res.destroyed) return;
    if (kept + chunk.length > maxBytes) {
      chunks.push(chunk.subarray(0, maxBytes - kept));
      done(Buffer.concat(chunks).toString('utf8'), true);
      res.destroy();
      return;
    }
    chunks.push(chunk);
    kept += chunk.length;
  });
  res.on('end', () => done(Buffer.concat(chunks).toString('utf8'), false));
}

/** By phase, since a reset during the handshake is as much a TLS failure as a bad certificate. */
function failureOf(error: NodeJS.ErrnoException, phase: Phase): WebhookFailureOutcome {
  if (error.code?.startsWith('HPE_')) return 'invalid-response';
  if (phase === 'tls-handshake' || error.code?.startsWith('ERR_SSL_') || error.code?.startsWith('ERR_TLS_')) {
    return 'tls-error';
  }
  return 'connection-error';
}

function describe(error: NodeJS.ErrnoException, phase: Phase): string {
  return `${error.code ?? error.name} while ${phase}: ${error.message}`;
}
