import type { Socket } from 'node:net';

/** How long a refused connection goes on reading what its client still sends before it closes. */
export const LINGER_MS = 1000;

const lingering = new WeakSet<Socket>();

/**
 * A lingering close (RFC 9112 §9.6): closing a socket with request bytes unread makes the kernel send a
 * reset, which can discard the response before the client has read it (a client busy writing its body
 * sees EPIPE, not the 401 it was sent). So the server ends its side after `data`, goes on reading and
 * discarding, and closes when the client does or after {@link LINGER_MS}, whichever comes first.
 */
export function closeLingering(socket: Socket, data?: string): void {
  if (socket.destroyed || lingering.has(socket)) return;
  lingering.add(socket);
  const close = () => socket.destroy();
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  socket.once('end', close);
  socket.once('close', () => clearTimeout(timer));
  socket.resume();
  socket.end(data ?? '');
}

/**
 * For a `Connection: close` response to a request whose body is still arriving: Node's HTTP server
 * closes the socket through `destroySoon()` once the response is written; it lingers instead.
 */
export function lingerAfterResponse(socket: Socket): void {
  socket.destroySoon = () => closeLingering(socket);
}

/** Whether `socket` is in its lingering close: what it still receives is discarded, not answered. */
export function isLingering(socket: Socket): boolean {
  return lingering.has(socket);
}
