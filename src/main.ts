import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, LOCAL_TENANT_ID, LOCAL_USER, loadOrCreateLocalKey } from './auth/local-auth.js';
import { PERMISSIONS } from './auth/caller.js';
import { mintToken } from './auth/token-minter.js';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config.js';
import { resolveDatabase } from './database/resolve-database.js';
import { createLogger } from './observability/logger.js';
import { NestPinoLogger } from './observability/nest-logger.js';
import { installShutdown, trackConnections } from './shutdown/graceful-shutdown.js';

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
  const logger = new NestPinoLogger(createLogger(config));
  Logger.overrideLogger(logger);

  // The application's modules (Nest, Fastify, TypeORM, Swagger: most of a cold start) load while the
  // embedded PostgreSQL initialises and starts in its own processes; the tracing SDK only when configured.
  const [database, { createApp }, tracing] = await Promise.all([
    resolveDatabase(config, (message) => logger.debug(message, 'EmbeddedPostgres')),
    import('./app.setup.js'),
    tracingIfConfigured(config, logger),
  ]);
  if (database.embedded)
    logger.log(`Embedded PostgreSQL on ${redact(database.url)} (data in ${config.embeddedPostgres.dir})`);

  const app = await createApp(config, database.url, logger);
  const connections = trackConnections(app.getHttpServer(), config.tls ? 'secureConnection' : 'connection');
  await app.listen({ port: config.port, host: config.host });
  installShutdown(
    app,
    connections,
    async () => {
      await database.stop();
      await tracing?.shutdown();
    },
    logger,
    config.shutdownDrainMs,
  );

  const origin = config.publicBaseUrl ?? `${config.tls ? 'https' : 'http'}://localhost:${config.port}`;
  logger.log(`API:     ${origin}/v1.0/informationProtection/threatAssessmentRequests`);
  if (config.docsEnabled) logger.log(`Swagger: ${origin}/docs (OpenAPI: ${origin}/docs-json)`);
  logger.log(`Ready in ${Math.round(performance.now() - started)} ms`);
  // The start-up lines go out now, not with the next 8 KiB of request lines or the next second.
  logger.pino.flush();
  if (config.auth.mode === 'local') await printLocalToken();
}

/** The tracing SDK, loaded and started only when the OTEL_* variables configure it. */
async function tracingIfConfigured(config: AppConfig, logger: NestPinoLogger) {
  if (!config.tracing) return undefined;
  const { startTracing } = await import('./observability/tracing.js');
  return startTracing(config.tracing, logger.pino);
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

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
