import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** Header lines in the order given, duplicates kept: what a hostile client writes, not what undici would. */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string | Buffer]>;

export interface RawRequest {
  method?: string;
  /** The request-target, sent byte for byte (a string as UTF-8). */
  target: string | Buffer;
  version?: string;
  /** The Host header; `null`: none. Default `127.0.0.1:{port}`. */
  host?: string | null;
  headers?: HeaderList;
  body?: Buffer | string;
  /** Content-Length is added for a body unless this is false or `headers` frames the body itself. */
  contentLength?: boolean;
  /** Sent verbatim instead of a request built from the fields above. */
  raw?: Buffer;
  /** The body goes out in chunks of this size (default 64 KiB), `chunkDelayMs` apart. */
  chunkBytes?: number;
  chunkDelayMs?: number;
  /** Only this many body bytes are sent; the rest of what Content-Length announced never comes. */
  stallAfterBytes?: number;
  /**
   * Waits this long after the head for an answer before sending the body: a refusal decided from the
   * head alone (Content-Length over the limit) is then read before any body byte could meet a reset.
   */
  pauseBeforeBodyMs?: number;
  timeoutMs?: number;
}

export interface RawAnswer {
  /** 0 when no final status line came (timeout, reset, close). */
  status: number;
  reason: string;
  /** 1xx interim statuses seen before the final one. */
  interim: number[];
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  headerCounts: Record<string, number>;
  body: Buffer;
  text: string;
  json: unknown;
  /** ms from the first request byte written to the final status line, and to the end of the response. */
  headMs: number;
  ms: number;
  requestBytes: number;
  /** Request bytes handed to the socket when the final status line arrived. */
  sentBytesAtHead: number;
  networkError?: string;
  timedOut: boolean;
}

const CRLF = Buffer.from('\r\n');
const toBuffer = (value: string | Buffer) => (Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'));

export function encodeRequest(port: number, request: RawRequest): { head: Buffer; body: Buffer } {
  if (request.raw) return { head: request.raw, body: Buffer.alloc(0) };
  const body = request.body === undefined ? Buffer.alloc(0) : toBuffer(request.body);
  const lines: Buffer[] = [
    Buffer.concat([
      Buffer.from(`${request.method ?? 'GET'} `),
      toBuffer(request.target),
      Buffer.from(` ${request.version ?? 'HTTP/1.1'}`),
    ]),
  ];
  if (request.host !== null) lines.push(Buffer.from(`host: ${request.host ?? `127.0.0.1:${port}`}`));
  const headers = request.headers ?? [];
  for (const [name, value] of headers) lines.push(Buffer.concat([Buffer.from(`${name}: `), toBuffer(value)]));
  const framed = headers.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name));
  if (request.body !== undefined && request.contentLength !== false && !framed) {
    lines.push(Buffer.from(`content-length: ${body.length}`));
  }
  return { head: Buffer.concat([...lines.flatMap((line) => [line, CRLF]), CRLF]), body };
}

/**
 * One request on its own TCP connection to 127.0.0.1, written and read at the byte level: a response
 * to a request Node's parser refuses is read as it came, and the time to the status line is measured
 * while the body may still be going out. Never throws; the connection is always destroyed at the end.
 */
export function sendRaw(port: number, request: RawRequest): Promise<RawAnswer> {
  const { head, body } = encodeRequest(port, request);
  const method = (request.method ?? 'GET').toUpperCase();
  const parser = new ResponseParser(method === 'HEAD');
  const timeoutMs = request.timeoutMs ?? 10_000;
  return new Promise<RawAnswer>((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    let started = performance.now();
    let written = 0;
    let sentAtHead = -1;
    let headAt = 0;
    let networkError: string | undefined;
    let timedOut = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const end = performance.now();
      const result = parser.result();
      resolve({
        ...result,
        headMs: result.status ? headAt - started : end - started,
        ms: end - started,
        requestBytes: head.length + body.length,
        sentBytesAtHead: sentAtHead < 0 ? written : sentAtHead,
        networkError: result.status && parser.complete ? undefined : networkError,
        timedOut,
      });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      finish();
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      if (parser.status && sentAtHead < 0) {
        sentAtHead = written;
        headAt = performance.now();
      }
      if (parser.complete) finish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      networkError ??= error.code ?? error.message;
    });
    socket.on('close', () => {
      parser.end();
      finish();
    });
    socket.once('connect', () => {
      started = performance.now();
      /** Writes `data` in chunks, with a turn of the event loop between them, until an answer arrives. */
      const write = async (data: Buffer, step: number, delayMs?: number) => {
        for (let at = 0; at < data.length && !done && sentAtHead < 0; at += step) {
          const chunk = data.subarray(at, at + step);
          written += chunk.length;
          if (!socket.write(chunk)) await drained(socket);
          // An early answer is read before the next write can meet a reset and lose it.
          await (delayMs ? sleep(delayMs) : new Promise<void>((next) => setImmediate(next)));
        }
      };
      void (async () => {
        // A head over the parser's 16 KiB is refused after its first 16 KiB; paced at 16 KiB a millisecond, the
        // refusal is read before more bytes meet the reset of a server that closes with bytes unread.
        await write(head, 16 * 1024, head.length > 64 * 1024 ? 1 : undefined);
        if (request.pauseBeforeBodyMs && body.length > 0) await sleep(request.pauseBeforeBodyMs);
        // Once the answer is in, the rest of the body is not sent: a server that answered early needs none of it.
        const limit = Math.min(body.length, request.stallAfterBytes ?? body.length);
        await write(body.subarray(0, limit), request.chunkBytes ?? 64 * 1024, request.chunkDelayMs);
      })().catch(() => undefined);
    });
  });
}

/** Resolves once `socket` can take more writes, or has closed. */
function drained(socket: Socket): Promise<void> {
  return new Promise<void>((resume) => {
    const go = () => {
      socket.off('drain', go);
      socket.off('close', go);
      resume();
    };
    socket.on('drain', go);
    socket.on('close', go);
  });
}

type ParsedResponse = Pick<
  RawAnswer,
  'status' | 'reason' | 'interim' | 'headers' | 'headerCounts' | 'body' | 'text' | 'json'
>;

/**
 * HTTP/1.x response framing: interim 1xx, Content-Length, chunked, or until close. Chunks after the
 * head are kept in a list and joined once, so that a 40 MB answer costs one copy, not one per packet.
 */
class ResponseParser {
  status = 0;
  complete = false;
  private head: Buffer = Buffer.alloc(0);
  private readonly chunks: Buffer[] = [];
  private received = 0;
  private reason = '';
  private readonly interim: number[] = [];
  private headers: Record<string, string> = {};
  private headerCounts: Record<string, number> = {};
  private framing: { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' } | undefined;
  private body: Buffer = Buffer.alloc(0);

  constructor(private readonly headRequest: boolean) {}

  push(chunk: Buffer): void {
    if (this.framing) {
      this.chunks.push(chunk);
      this.received += chunk.length;
    } else {
      this.head = Buffer.concat([this.head, chunk]);
      this.parseHead();
    }
    this.checkComplete();
  }

  end(): void {
    if (this.framing?.kind === 'close') {
      this.body = Buffer.concat(this.chunks);
      this.complete = true;
    }
  }

  result(): ParsedResponse {
    const text = this.body.toString('utf8');
    let json: unknown;
    if (/json/i.test(this.headers['content-type'] ?? '')) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return {
      status: this.status,
      reason: this.reason,
      interim: this.interim,
      headers: this.headers,
      headerCounts: this.headerCounts,
      body: this.body,
      text,
      json,
    };
  }

  private parseHead(): void {
    while (!this.framing) {
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...lines] = this.head.subarray(0, end).toString('latin1').split('\r\n');
      this.head = this.head.subarray(end + 4);
      const match = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/.exec(statusLine);
      const status = match ? Number(match[1]) : 0;
      if (status >= 100 && status < 200 && status !== 101) {
        this.interim.push(status);
        continue;
      }
      this.status = status || -1;
      this.reason = match?.[2] ?? statusLine;
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        this.headerCounts[name] = (this.headerCounts[name] ?? 0) + 1;
        this.headers[name] = name in this.headers ? `${this.headers[name]}, ${value}` : value;
      }
      const noBody = this.headRequest || status === 204 || status === 304;
      if (noBody) this.framing = { kind: 'length', length: 0 };
      else if (/chunked/i.test(this.headers['transfer-encoding'] ?? '')) this.framing = { kind: 'chunked' };
      else if (this.headers['content-length'] !== undefined)
        this.framing = { kind: 'length', length: Number(this.headers['content-length']) };
      else this.framing = { kind: 'close' };
      this.chunks.push(this.head);
      this.received = this.head.length;
    }
  }

  private checkComplete(): void {
    if (this.complete || !this.framing) return;
    if (this.framing.kind === 'length' && this.received >= this.framing.length) {
      this.body = Buffer.concat(this.chunks).subarray(0, this.framing.length);
      this.complete = true;
    } else if (this.framing.kind === 'chunked' && this.endsWithLastChunk()) {
      this.body = decodeChunked(Buffer.concat(this.chunks));
      this.complete = true;
    }
  }

  /** The last chunk and the empty trailer ("0\r\n\r\n") end the body; the service sends no trailers. */
  private endsWithLastChunk(): boolean {
    const last = this.chunks.at(-1);
    if (!last) return false;
    const tail = last.length >= 5 ? last.subarray(-5) : Buffer.concat(this.chunks).subarray(-5);
    return tail.toString('latin1') === '0\r\n\r\n';
  }
}

function decodeChunked(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

export interface WriteThrough {
  /** The status line read while the body was going out (0: none). */
  status: number;
  /** Body bytes handed to the socket before it failed, or all of them. */
  bodyBytesWritten: number;
  /** The first write error while the body went out (a reset: the server closed with bytes unread). */
  writeError?: string;
  /** ms from the head to the server's FIN. */
  finMs?: number;
  /** What a write `probeAfterMs` after the head met: the server must have closed by then. */
  probeError?: string;
}

/**
 * A client that ignores an early refusal and writes its whole body as fast as the socket takes it,
 * its side left open (half-open) after the server's FIN; then, `probeAfterMs` after the head, a byte
 * or two more, which only a server that has closed answers with a reset.
 */
export function writeThrough(port: number, head: Buffer, body: Buffer, probeAfterMs: number): Promise<WriteThrough> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const parser = new ResponseParser(false);
    const result: WriteThrough = { status: 0, bodyBytesWritten: 0 };
    let started = 0;
    let probing = false;
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('end', () => (result.finMs ??= performance.now() - started));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (probing) result.probeError ??= error.code ?? error.message;
      else result.writeError ??= error.code ?? error.message;
    });
    socket.once('connect', () => {
      started = performance.now();
      socket.write(head);
      void (async () => {
        for (let at = 0; at < body.length && !socket.destroyed; at += 64 * 1024) {
          const chunk = body.subarray(at, at + 64 * 1024);
          if (!socket.write(chunk)) await drained(socket);
          if (!socket.destroyed) result.bodyBytesWritten += chunk.length;
        }
        if (socket.writableLength > 0) await drained(socket);
        await sleep(Math.max(0, probeAfterMs - (performance.now() - started)));
        probing = true;
        // The first byte draws the closed peer's reset, the second meets it.
        for (let probe = 0; probe < 2 && !socket.destroyed; probe += 1) {
          socket.write('x');
          await sleep(100);
        }
        socket.destroy();
        result.status = parser.status;
        resolve(result);
      })();
    });
  });
}
