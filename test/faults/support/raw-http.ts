import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A TCP connection to the service that sends nothing: what a client's pre-opened or spare socket looks like. */
export async function openIdleConnection(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

/**
 * One keep-alive HTTP/1.1 request on its own connection, which the client then leaves open and quiet
 * (as a pooled client does): only the server can close it.
 */
export async function keepAliveRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ socket: Socket; response: Promise<RawResponse> }> {
  const socket = await openIdleConnection(port);
  const head = [
    `${method} ${path} HTTP/1.1`,
    'host: 127.0.0.1',
    'connection: keep-alive',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ...(body === undefined ? [] : ['content-type: application/json', `content-length: ${Buffer.byteLength(body)}`]),
  ].join('\r\n');
  socket.write(`${head}\r\n\r\n${body ?? ''}`);
  const response = new Promise<RawResponse>((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = buffer.slice(0, end).split('\r\n');
      const parsed = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      const length = Number(parsed['content-length'] ?? 0);
      if (buffer.length - end - 4 < length) return;
      socket.off('data', onData);
      resolve({
        status: Number(statusLine.split(' ')[1]),
        headers: parsed,
        body: buffer.slice(end + 4, end + 4 + length),
      });
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`connection closed before a response: ${JSON.stringify(buffer)}`)));
  });
  response.catch(() => undefined);
  return { socket, response };
}

/** Resolves true when something accepts a TCP connection on the port, false when it is refused. */
export async function accepts(port: number): Promise<boolean> {
  try {
    (await openIdleConnection(port)).destroy();
    return true;
  } catch {
    return false;
  }
}
