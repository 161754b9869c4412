/**
 * Graceful shutdown, in one place: the gate that answers requests arriving while the server drains and
 * closes (installed by configureApp, so the tests' app has it too), the signals that start it, and the
 * connection tracking that lets the server close without waiting on idle keep-alive sockets.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendGraphError } from '../common/errors/graph-error-body.js';

const SHUTDOWN_TIMEOUT_MS = 10_000;
/** The readiness probe: while draining, the one route refused, so that load balancers stop sending requests. */
const READINESS_ROUTE = '/health/ready';

export interface ShutdownGate {
  /** From now on readiness answers 503; every other request is served as before. */
  drain(): void;
  /** Fastify's preClose hook: from now on every request answers 503. */
  preClose(done: () => void): void;
  /** True when the request was answered here. */
  refuse(request: FastifyRequest, reply: FastifyReply): boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Installed by configureApp; the signal handler drains through it. */
    shutdownGate: ShutdownGate;
  }
}

/**
 * While draining, readiness probes are answered 503; once the server starts closing, every request still
 * arriving on an open connection is. Both answer `serviceNotAvailable` with Retry-After and
 * `Connection: close`, in Graph's envelope (Fastify's own return503OnClosing answers outside it).
 * Requests already in flight complete normally.
 */
export function createShutdownGate(): ShutdownGate {
  let state: 'serving' | 'draining' | 'closing' = 'serving';
  return {
    drain() {
      if (state === 'serving') state = 'draining';
    },
    preClose(done) {
      state = 'closing';
      done();
    },
    refuse(request, reply) {
      const refused = state === 'closing' || (state === 'draining' && request.routeOptions.url === READINESS_ROUTE);
      if (!refused) return false;
      sendGraphError(request, reply, {
        status: 503,
        code: 'serviceNotAvailable',
        message: 'The service is shutting down. Retry after the time given in Retry-After.',
        headers: { 'retry-after': '1', connection: 'close' },
      });
      return true;
    },
  };
}

/**
 * SIGTERM/SIGINT: for `drainMs`, fail readiness and serve on, so that a load balancer takes the instance
 * out before its connections close under requests it is sending (it can resend only some of them);
 * then stop accepting (503 to new requests), finish those in flight, and stop the database. A second
 * signal meanwhile is ignored: dying of it would skip stopping the database; the drain is fixed and the
 * timer bounds the rest anyway.
 */
export function installShutdown(
  app: NestFastifyApplication,
  connections: TrackedConnections,
  stopDatabase: () => Promise<void>,
  logger: LoggerService,
  drainMs: number,
): void {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) {
      logger.warn(`${signal} while shutting down: ignored`);
      return;
    }
    closing = true;
    if (drainMs > 0) {
      logger.log(`${signal}: not ready, serving ${drainMs} ms more before closing`);
      app.getHttpAdapter().getInstance().shutdownGate.drain();
      await sleep(drainMs);
    }
    logger.log(`${signal}: shutting down`);
    const timer = setTimeout(() => {
      logger.error('Shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    try {
      const closed = app.close();
      connections.closeWhenIdle();
      await closed;
      await stopDatabase();
      logger.log('Stopped');
      process.exit(0);
    } catch (error) {
      logger.error(`Shutdown failed: ${String(error)}`);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

export interface TrackedConnections {
  /** From now on, close every connection as soon as no request is in flight on it. */
  closeWhenIdle(): void;
}

/**
 * Node's `server.close()` closes only the connections idle at that instant. A keep-alive connection
 * whose request is still in flight stays open after its response (until keepAliveTimeout, 72 s), and one
 * that has sent no request yet (a client's pre-opened or spare socket) is never "idle" to Node: `app.close()`
 * waits on both until the shutdown timer exits 1. Once closing, in-flight responses go out with
 * `Connection: close`, idle connections are closed, and so are those that sent no request for a second.
 */
export function trackConnections(server: Server, event: 'connection' | 'secureConnection'): TrackedConnections {
  const QUIET_MS = 1000;
  const connections = new Map<Socket, { responses: Set<ServerResponse>; served: number; openedAt: number }>();
  let closing = false;
  const closeIfIdle = (socket: Socket) => {
    const state = connections.get(socket);
    if (!state || state.responses.size > 0) return;
    // A connection that has not sent its first request yet may be about to: give it a moment.
    if (state.served > 0 || performance.now() - state.openedAt >= QUIET_MS) socket.destroySoon();
  };
  server.on(event, (socket: Socket) => {
    connections.set(socket, { responses: new Set(), served: 0, openedAt: performance.now() });
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const state = connections.get(request.socket);
    if (!state) return;
    state.responses.add(response);
    if (closing) response.shouldKeepAlive = false;
    response.once('close', () => {
      state.responses.delete(response);
      state.served++;
      if (closing) closeIfIdle(request.socket);
    });
  });
  return {
    closeWhenIdle() {
      closing = true;
      for (const [socket, state] of connections) {
        // Not answered yet: answer with Connection: close, so that the socket ends after the response.
        for (const response of state.responses) if (!response.headersSent) response.shouldKeepAlive = false;
        closeIfIdle(socket);
      }
      const sweep = setInterval(() => connections.forEach((_, socket) => closeIfIdle(socket)), 250);
      sweep.unref();
    },
  };
}
