import { createServer, type Server, type Socket, connect } from 'node:net';

/**
 * A TCP proxy between the service and PostgreSQL that can drop a connection at the worst moment for a
 * client: right after the server committed a write, before its answer reaches the service. It reads the
 * server's protocol messages (a type byte and a length) and, while armed, holds each ReadyForQuery
 * that says the session is idle again (the transaction ended), asks `committed()`, and on `true` closes
 * both sides instead of passing the message on. The service then cannot know whether its write counted.
 */
export interface CuttingProxy {
  port: number;
  /** Cut the next connection whose transaction ends with `committed()` true; resolves when it is cut. */
  arm(committed: () => Promise<boolean>): Promise<void>;
  close(): Promise<void>;
}

const READY_FOR_QUERY = 0x5a; // 'Z'
const IDLE = 0x49; // 'I'

export async function startCuttingProxy(target: { host: string; port: number }): Promise<CuttingProxy> {
  let armed: { committed: () => Promise<boolean>; cut: () => void } | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.pipe(upstream);
    let pending = Buffer.alloc(0);
    let checking = Promise.resolve();
    upstream.on('data', (chunk: Buffer) => {
      // Messages pass on in order, each after the check of the one before.
      checking = checking.then(async () => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 5) {
          const length = pending.readInt32BE(1) + 1;
          if (pending.length < length) break;
          const message = pending.subarray(0, length);
          pending = pending.subarray(length);
          const idle = message[0] === READY_FOR_QUERY && message[5] === IDLE;
          const watching = armed;
          if (idle && watching && (await watching.committed())) {
            armed = undefined;
            closeBoth();
            watching.cut();
            return;
          }
          if (!client.destroyed) client.write(message);
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    arm(committed) {
      return new Promise<void>((cut) => (armed = { committed, cut }));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
