import 'reflect-metadata';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ConsoleLogger, Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, LOCAL_TENANT_ID, LOCAL_USER, loadOrCreateLocalKey } from './auth/local-auth.js';
import { PERMISSIONS } from './auth/caller.js';
import { mintToken } from './auth/token-minter.js';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config.js';
import { resolveDatabase } from './database/resolve-database.js';

const SHUTDOWN_TIMEOUT_MS = 10_000;

async function bootstrap(): Promise<void> {
  const started = performance.now();
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`Configuration error: ${error.message}\n`);
    process.exit(1);
  }
  const logger = new ConsoleLogger('ThreatAssessmentService', {
    json: config.production,
    logLevels: nestLevels(config.logLevel),
  });
  Logger.overrideLogger(logger);

  // The application's modules (Nest, Fastify, TypeORM, Swagger: most of a cold start) load while the
  // embedded PostgreSQL initialises and starts in its own processes.
  const [database, { createApp }] = await Promise.all([
    resolveDatabase(config, (message) => logger.debug(message, 'EmbeddedPostgres')),
    import('./app.setup.js'),
  ]);
  if (database.embedded)
    logger.log(`Embedded PostgreSQL on ${redact(database.url)} (data in ${config.embeddedPostgres.dir})`);

  const app = await createApp(config, database.url, logger);
  const connections = trackConnections(app.getHttpServer(), config.tls ? 'secureConnection' : 'connection');
  await app.listen({ port: config.port, host: config.host });
  installShutdown(app, connections, () => database.stop(), logger);

  const origin = config.publicBaseUrl ?? `${config.tls ? 'https' : 'http'}://localhost:${config.port}`;
  logger.log(`API:     ${origin}/v1.0/informationProtection/threatAssessmentRequests`);
  if (config.docsEnabled) logger.log(`Swagger: ${origin}/docs (OpenAPI: ${origin}/docs-json)`);
  logger.log(`Ready in ${Math.round(performance.now() - started)} ms`);
  if (config.auth.mode === 'local') await printLocalToken();
}

/** Local mode only: a token to paste into Swagger UI's "Authorize" or a curl command. */
async function printLocalToken(): Promise<void> {
  const token = await mintToken({
    secret: loadOrCreateLocalKey(),
    issuer: LOCAL_ISSUER,
    audience: LOCAL_AUDIENCE,
    tenantId: LOCAL_TENANT_ID,
    user: { ...LOCAL_USER, scopes: [PERMISSIONS.readWrite] },
    expiresInSeconds: 24 * 3600,
  });
  process.stdout.write(
    `\nLocal mode (no auth configured): a token for tenant ${LOCAL_TENANT_ID}, user "${LOCAL_USER.displayName}", ` +
      `scope ${PERMISSIONS.readWrite}, valid 24 h. More: npm run token -- --help\n\n${token}\n\n`,
  );
}

/**
 * SIGTERM/SIGINT: stop accepting (503 to new requests), finish those in flight, then stop the database.
 * A second signal while draining is ignored: dying of it would skip stopping the database; the timer
 * bounds the drain anyway.
 */
function installShutdown(
  app: NestFastifyApplication,
  connections: TrackedConnections,
  stopDatabase: () => Promise<void>,
  logger: ConsoleLogger,
): void {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) {
      logger.warn(`${signal} while shutting down: ignored`);
      return;
    }
    closing = true;
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

interface TrackedConnections {
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
function trackConnections(server: Server, event: 'connection' | 'secureConnection'): TrackedConnections {
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

function nestLevels(level: AppConfig['logLevel']) {
  const order = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
  const cut = { silent: 0, fatal: 1, error: 2, warn: 3, info: 4, debug: 5, trace: 6 }[level];
  return order.slice(0, cut);
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
