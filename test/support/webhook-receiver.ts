import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
  createServer as createHttpServer,
} from 'node:http';
import { type ServerOptions, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server, Socket } from 'node:net';
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
  handler: ReceiverHandler = (_req, res) => res.end();
  private readonly sockets = new Set<Socket>();

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
        const received: ReceivedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headerNames,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          servername: socket.encrypted ? (socket.servername ?? false) : undefined,
        };
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

  reset(): void {
    this.requests.length = 0;
    this.connections = 0;
    this.maxInFlight = this.inFlight;
    this.handler = (_req, res) => res.end();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
