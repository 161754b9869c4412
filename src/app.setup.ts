import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { Server } from 'node:http';
import type { FastifyHttpOptions, FastifyServerOptions } from 'fastify';
import pino from 'pino';
import { authenticationHook, isPublicRoute } from './auth/authentication.hook.js';
import { TokenVerifier } from './auth/token-verifier.js';
import { bodyLimitHook, SMALL_BODY_LIMIT_BYTES } from './common/http/body-limits.js';
import { rewriteVersion, setCorrelation } from './common/http/request-context.js';
import { clientErrorHandler, connectRefused, expectationFailed } from './common/http/client-error.js';
import { frameworkErrors } from './common/http/framework-errors.js';
import { hostProblem } from './common/http/host-header.js';
import { installJsonBodyParser } from './common/http/json-body.js';
import { RouteTable } from './common/http/route-table.js';
import { createShutdownGate } from './shutdown/graceful-shutdown.js';
import { setSecurityHeaders } from './common/http/security-headers.js';
import { unstorableQuery } from './common/http/storable-text.js';
import { describeSelectProjections } from './common/openapi/select-projections.js';
import { sendGraphError } from './common/errors/graph-error-body.js';
import type { AppConfig } from './config/app-config.js';
import { AppModule } from './app.module.js';
import { type Logger, requestLogger } from './observability/logger.js';
import { MetricsService } from './observability/metrics.service.js';
import type { NestPinoLogger } from './observability/nest-logger.js';
import { installRequestLogging } from './observability/request-logging.js';
import { installServerSpans } from './observability/server-spans.js';

/**
 * Builds the app exactly as production runs it; `main.ts` and every e2e test call this. Without a
 * logger (most tests) nothing is logged.
 */
export async function createApp(
  config: AppConfig,
  databaseUrl: string,
  logger?: NestPinoLogger,
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot({ config, databaseUrl }),
    new FastifyAdapter(fastifyOptions(config)),
    // Nest's own body parsers are off: configureApp installs the JSON-only one.
    { logger: logger ?? false, bodyParser: false, abortOnError: false },
  );
  configureApp(app, config, logger?.pino ?? pino({ level: 'silent' }));
  return app;
}

/** Fastify's own options; `main.ts` and the tests build the adapter from the same function. */
export function fastifyOptions(config: AppConfig): FastifyHttpOptions<Server> {
  return {
    // Fastify takes a hop count too; its typings omit it.
    trustProxy: config.trustProxy as FastifyServerOptions['trustProxy'],
    // Each route's own limit is set as it is registered (bodyLimitHook); this covers any other.
    bodyLimit: SMALL_BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // `__proto__` and `constructor.prototype` keys are refused while parsing (400), never merged.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Answered by configureApp's hook instead, in Graph's envelope with Retry-After.
    return503OnClosing: false,
    clientErrorHandler,
    frameworkErrors,
    // Node answers a missing Host itself, outside the envelope: configureApp's hook answers instead.
    http: { requireHostHeader: false },
    rewriteUrl: (raw) => {
      const { url, version } = rewriteVersion(raw.url ?? '/');
      (raw as typeof raw & { apiVersion?: string }).apiVersion = version;
      return url;
    },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ...(config.tls
      ? {
          https: {
            cert: readFileSync(config.tls.certFile),
            key: readFileSync(config.tls.keyFile),
            requireHostHeader: false,
          },
        }
      : {}),
  };
}

/** Swagger UI and the OpenAPI document, served without a token. */
const DOCS_ROUTE = /^\/docs(?:[/-]|$)/;

/** Polled every few seconds by orchestrators and Prometheus: their lines are debug, and they are not traced. */
const PROBE_ROUTES: ReadonlySet<string> = new Set(['/health/live', '/health/ready', '/metrics']);

/**
 * Everything that makes the app answer like production, applied by `main.ts` and by the tests alike:
 * server spans and request lines, correlation headers, the checks made before a body is read (Host,
 * route, query, token), JSON-only bodies with per-route limits, and the OpenAPI document with Swagger UI.
 */
export function configureApp(app: NestFastifyApplication, config: AppConfig, log: Logger): void {
  const fastify = app.getHttpAdapter().getInstance();
  // First: a request refused by any later hook still has its span.
  if (config.tracing) installServerSpans(fastify, PROBE_ROUTES);
  installRequestLogging(fastify, app.get(MetricsService), requestLogger(log), PROBE_ROUTES);
  if (config.corsOrigins.length > 0) {
    app.enableCors({
      origin: config.corsOrigins,
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'client-request-id', 'idempotency-key'],
      exposedHeaders: ['request-id', 'client-request-id', 'location', 'retry-after'],
      maxAge: 600,
    });
  }
  app.getHttpServer().on('checkExpectation', expectationFailed).on('connect', connectRefused);
  const routes = app.get(RouteTable);
  fastify.addHook('onRoute', routes.onRoute);
  fastify.addHook('onRoute', bodyLimitHook(config.bodyLimitBytes));
  fastify.addHook('onRoute', (route) => {
    if (DOCS_ROUTE.test(route.url)) route.config = { ...route.config, public: true };
  });
  fastify.decorateRequest('clientRequestId', '');
  fastify.decorateRequest('apiVersion', 'v1.0');
  const shutdownGate = createShutdownGate();
  fastify.decorate('shutdownGate', shutdownGate);
  fastify.addHook('preClose', (done) => shutdownGate.preClose(done));
  fastify.addHook('onRequest', (request, reply, done) => {
    request.apiVersion = (request.raw as typeof request.raw & { apiVersion?: 'v1.0' | 'beta' }).apiVersion ?? 'v1.0';
    setSecurityHeaders(reply);
    setCorrelation(request, reply);
    if (shutdownGate.refuse(request, reply)) return;
    const refusal =
      hostProblem(request, isPublicRoute(request) ? [] : config.allowedHosts) ??
      (request.is404 ? routes.miss(request) : unstorableQuery(request));
    if (refusal) sendGraphError(request, reply, refusal);
    else done();
  });
  fastify.addHook('onRequest', authenticationHook(app.get(TokenVerifier)));
  installJsonBodyParser(fastify);

  if (config.docsEnabled) {
    SwaggerModule.setup('docs', app, () => createOpenApiDocument(app), {
      jsonDocumentUrl: 'docs-json',
      yamlDocumentUrl: 'docs-yaml',
      customSiteTitle: 'Threat Assessment Service',
      swaggerOptions: { persistAuthorization: true, displayRequestDuration: true, tryItOutEnabled: false },
    });
  }
}

export function createOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Threat Assessment Service')
    .setDescription(
      [
        'The Microsoft Graph threat assessment API (`/informationProtection/threatAssessmentRequests` and their ' +
          '`results`) on PostgreSQL: Graph clients work against it unchanged once pointed at its base URL.',
        'Routes are under `/v1.0`; `/beta` serves the same operations. Every read and write is scoped to the ' +
          "caller's tenant (the token's `tid`): another tenant's ids answer 404.",
        '**Authorize** with a bearer token (`npm run token`, or the one the service prints at start in local mode), ' +
          'then use **Try it out**.',
        'Every response carries `request-id` (a new GUID) and `client-request-id` (the one sent, else the ' +
          'request-id). Every error is Graph\'s envelope: `{"error": {"code", "message", "innerError": {…}}}`.',
      ].join('\n\n'),
    )
    .setVersion('1.0')
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    // Relative: the origin that serves this document, wherever it is deployed.
    .addServer('/', 'This service')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        'An access token for this API: `tid` the tenant, `scp` delegated scopes or `roles` application roles.',
    })
    .addTag(
      'threatAssessmentRequest',
      'A threat assessment request: a mail, an email file, a file or a URL submitted for assessment.',
    )
    .addTag('threatAssessmentResult', 'The result of a threat assessment: a policy check or a rescan.')
    .addTag(
      'subscription',
      "Change notifications with Graph's subscriptions and webhooks: a receiver gets `created`, `updated` and " +
        '`deleted` of requests, `created` of a request results, after a validation handshake.',
    )
    .addTag('health', 'Liveness and readiness probes; no token needed.')
    .build();
  return describeSelectProjections(
    SwaggerModule.createDocument(app, config, { operationIdFactory: (_controller, method) => method }),
  );
}
