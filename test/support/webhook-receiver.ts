import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
  createServer as createHttpServer,
} from 'node:http';
import { type ServerOptions, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';

export interface ReceivedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  /** As sent, in order and case. */
  headerNames: string[];
  headers: IncomingHttpHeaders;
  body: string;
  /** The SNI name, or false without one; undefined over plain HTTP. */
  servername: string | false | undefined;
}

/** One notification of a collection POSTed to the receiver, with the POST it came in. */
export interface ReceivedNotification {
  notification: Record<string, unknown> & { id: string; subscriptionId: string };
  request: ReceivedRequest;
  /** Its POST's index in `requests`. */
  post: number;
}

export type ReceiverHandler = (req: IncomingMessage, res: ServerResponse, received: ReceivedRequest) => void;

/**
 * A webhook receiver on a loopback address that records what reaches it: TCP connections (also those
 * that never send a request), requests with their exact header names and bodies, and how many requests
 * it holds at once. Tests set `handler` to answer.
 */
export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  connections = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** Notification POSTs held at once per subscription (from the body's arrival to the response's end). */
  readonly inFlightBySubscription = new Map<string, number>();
  maxInFlightPerSubscription = 0;
  handler: ReceiverHandler = (_req, res) => res.end();
  private readonly sockets = new Set<Socket>();
  /** When each request's body had arrived (performance.now()); beside the record, which stays as sent. */
  private readonly arrivals = new WeakMap<ReceivedRequest, number>();
  /**
   * Each body's notifications, parsed once on arrival: tests poll `notifications()` while the receiver
   * answers on the same event loop, and re-parsing thousands of bodies per poll would slow its answers.
   */
  private readonly parsed = new WeakMap<ReceivedRequest, ReceivedNotification['notification'][]>();

  private constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      res.on('close', () => this.inFlight--);
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const headerNames = req.rawHeaders.filter((_, i) => i % 2 === 0);
        const socket = req.socket as Partial<TLSSocket>;
        const body = Buffer.concat(chunks).toString('utf8');
        const notifications = notificationsOf(body);
        const subscriptionId =
          typeof notifications[0]?.subscriptionId === 'string' ? notifications[0].subscriptionId : undefined;
        const received: ReceivedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headerNames,
          headers: req.headers,
          body,
          servername: socket.encrypted ? (socket.servername ?? false) : undefined,
        };
        this.arrivals.set(received, performance.now());
        this.parsed.set(received, notifications);
        if (subscriptionId) {
          const held = (this.inFlightBySubscription.get(subscriptionId) ?? 0) + 1;
          this.inFlightBySubscription.set(subscriptionId, held);
          this.maxInFlightPerSubscription = Math.max(this.maxInFlightPerSubscription, held);
          res.on('close', () =>
            this.inFlightBySubscription.set(subscriptionId, (this.inFlightBySubscription.get(subscriptionId) ?? 1) - 1),
          );
        }
        this.requests.push(received);
        this.handler(req, res, received);
      });
    });
  }

  /** HTTPS with `tls`, else plain HTTP. */
  static async start(host: string, tls?: ServerOptions): Promise<WebhookReceiver> {
    const server = tls ? createHttpsServer(tls) : createHttpServer();
    const receiver = new WebhookReceiver(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, resolve);
    });
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Sockets still open (a client that closed its side shows here until the server sees the close). */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** performance.now() when `request`'s body had arrived. */
  receivedAt(request: ReceivedRequest): number {
    return this.arrivals.get(request)!;
  }

  /**
   * Every notification received so far, in arrival order (POST order, then order within the POST).
   * The notification objects are shared between calls: read them, do not change them.
   */
  notifications(filter: (n: ReceivedNotification) => boolean = () => true): ReceivedNotification[] {
    return this.requests
      .flatMap((request, post) =>
        (this.parsed.get(request) ?? []).map((notification) => ({ notification, request, post })),
      )
      .filter(filter);
  }

  /** Polls until `ready()` returns true; throws after `timeoutMs`, with `describe()` in the message. */
  async waitUntil(ready: () => boolean, timeoutMs = 15_000, describe: () => string = () => ''): Promise<void> {
    const started = performance.now();
    while (!ready()) {
      if (performance.now() - started > timeoutMs) {
        throw new Error(`Not received within ${timeoutMs} ms. ${describe()} (${this.requests.length} requests so far)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  reset(): void {
    this.requests.length = 0;
    this.connections = 0;
    this.maxInFlight = this.inFlight;
    this.maxInFlightPerSubscription = 0;
    this.handler = (_req, res) => res.end();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function notificationsOf(body: string): ReceivedNotification['notification'][] {
  try {
    const parsed = JSON.parse(body) as { value?: unknown };
    return Array.isArray(parsed.value) ? (parsed.value as ReceivedNotification['notification'][]) : [];
  } catch {
    return [];
  }
}
