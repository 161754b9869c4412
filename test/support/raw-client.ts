import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `head` (the request line and headers, CRLF-separated, without the blank line) and then `body`,
 * exactly as given, on a new loopback connection, and reads one response. Supertest and fetch would
 * fix what these tests send wrong on purpose: a missing Host, a bad method, a declared but unsent body.
 * With `sendBody: false` the body is declared (Content-Length) but never sent: a response proves the
 * server answered without waiting for it.
 */
export function rawRequest(
  port: number,
  head: string,
  body = '',
  options: { sendBody?: boolean; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const timer = setTimeout(() => finish(new Error('no complete response in time')), options.timeoutMs ?? 5000);
    const finish = (error?: Error) => {
      if (settled) return;
      const response = parse(Buffer.concat(chunks).toString('utf8'));
      if (!error && !response) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (response) resolve(response);
      else reject(error ?? new Error('no response'));
    };
    socket.on('connect', () => {
      socket.write(`${head}\r\n\r\n`);
      if (options.sendBody !== false && body) socket.write(body);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      finish();
    });
    socket.on('end', () => finish(new Error('closed')));
    socket.on('error', (error) => finish(error));
  });
}

function parse(text: string): RawResponse | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = text.slice(end + 4);
  const length = Number(headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(length) && Buffer.byteLength(body) < length) return undefined;
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}
