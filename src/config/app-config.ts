import { isIP } from 'node:net';
import { isHostHeader } from '../common/http/host-header.js';
import { type Limit, parseLimits } from './rate-limits.js';

/** Typed, validated environment. Every variable is listed in `.env.example` and the README. */
export interface AppConfig {
  nodeEnv: string;
  production: boolean;
  port: number;
  host: string;
  /** Unset: the embedded PostgreSQL is started and used. */
  databaseUrl?: string;
  embeddedPostgres: { port: number; dir: string };
  dbPoolSize: number;
  /** Upper bounds in ms for waiting on a pooled connection and for one statement. */
  dbConnectTimeoutMs: number;
  dbStatementTimeoutMs: number;
  migrationsRun: boolean;
  /**
   * What stands between the pool and PostgreSQL. `transaction`: a transaction-mode pooler (pgbouncer
   * `pool_mode=transaction`), so statements go unnamed, no session parameters are sent at connect, and
   * the statement timeout is set per transaction. `none`: PostgreSQL itself (or a pooler that keeps sessions).
   */
  databasePooler: DatabasePooler;
  /** A direct connection (no transaction pooler) for migrations, at start-up and in the CLI; unset: the pool's. */
  migrationsDatabaseUrl?: string;
  publicBaseUrl?: string;
  /**
   * The `Host` values API requests may carry (`host` or `host:port`, lower case); empty: any. Links are
   * written from the request's Host only when `publicBaseUrl` is unset.
   */
  allowedHosts: string[];
  /** Fastify `trustProxy`: false, true, a hop count, or a list of addresses/CIDRs. */
  trustProxy: boolean | number | string[];
  auth: AuthConfig;
  skiptokenSecret?: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  docsEnabled: boolean;
  /** The largest body of a route that takes file content (create a request); every other route takes far less. */
  bodyLimitBytes: number;
  /**
   * POST limits: a preset (`graph`: Microsoft Graph's documented numbers) and the limits set one by
   * one, which replace the preset's; undefined: the preset's.
   */
  throttle: ThrottleConfig;
  /** How long an `Idempotency-Key` is remembered. */
  idempotencyTtlSeconds: number;
  /** Browser origins allowed by CORS; empty: none. */
  corsOrigins: string[];
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /**
   * How long, on SIGTERM, readiness answers 503 while every other request is still served, before the
   * server closes: a load balancer's health checks take the instance out before its connections go.
   */
  shutdownDrainMs: number;
  /**
   * OpenTelemetry tracing, on when the standard OTEL_* variables ask for an OTLP export; undefined: off,
   * no SDK started, and the API's no-ops cost nothing. The exporter reads its own OTEL_EXPORTER_OTLP_*
   * settings (endpoint, headers, timeout, compression, certificates), the resource detectors
   * OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
   */
  tracing?: TracingConfig;
  notifications: NotificationsConfig;
}

/** Change notifications (subscriptions and webhooks); the variables are NOTIFICATIONS_*. */
export interface NotificationsConfig {
  maxPerTenant: number;
  maxPerApp: number;
  maxExpirationMinutes: number;
  /** A requested expiration sooner than this is raised to it (Graph: 45 minutes). */
  minExpirationMinutes: number;
  batchSize: number;
  /** Subscription creates and updates per tenant per minute. */
  writesPerMinute: number;
  retryBaseSeconds: number;
  retryMaxDelaySeconds: number;
  /** No attempt starts later than this after a notification's first. */
  retryWindowSeconds: number;
  /** How long a delivering instance's claim on a subscription lasts without renewal. */
  leaseSeconds: number;
  /** False: this instance records notifications but sends none. */
  deliveryEnabled: boolean;
  /** How often a delivering instance looks for due notifications. */
  pollIntervalMs: number;
  /** `http:` notification URLs besides `https:`; refused with NODE_ENV=production. */
  allowHttp: boolean;
  /** Exempt from the address policy: host names (exact, case-insensitive) and CIDR ranges. */
  allowedHosts: string[];
  allowedCidrs: string[];
}

export const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

export interface TracingConfig {
  /** OTEL_TRACES_SAMPLER; the ratio (OTEL_TRACES_SAMPLER_ARG) applies to the `traceidratio` ones. */
  sampler: TraceSampler;
  samplerRatio: number;
}

export const DATABASE_POOLERS = ['none', 'transaction'] as const;
export type DatabasePooler = (typeof DATABASE_POOLERS)[number];

export interface ThrottleConfig {
  preset: 'off' | 'graph';
  /** Creating requests, per tenant. */
  tenant?: Limit[];
  /** Creating requests for the same resource, per tenant. */
  resource?: Limit[];
  /** Adding results, per tenant. */
  results?: Limit[];
}

export type AuthConfig =
  | { mode: 'jwks'; jwksUri: string; issuer?: string; audience?: string[] }
  | { mode: 'hs256'; secret: string; issuer?: string; audience?: string[] }
  | { mode: 'local' };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const nodeEnv = env.NODE_ENV?.trim() || 'development';
  // Case-insensitive: NODE_ENV=Production must not fall back to local mode and its printed token.
  const production = nodeEnv.toLowerCase() === 'production';
  const logLevel = (env.LOG_LEVEL?.trim() || 'info') as AppConfig['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const config: AppConfig = {
    nodeEnv,
    production,
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: env.HOST?.trim() || '0.0.0.0',
    databaseUrl: optionalUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    embeddedPostgres: {
      port: integer(env, 'EMBEDDED_PG_PORT', 54329, 1, 65535),
      dir: env.EMBEDDED_PG_DIR?.trim() || '.data/postgres',
    },
    dbPoolSize: integer(env, 'DB_POOL_SIZE', 10, 1, 200),
    dbConnectTimeoutMs: integer(env, 'DB_CONNECT_TIMEOUT_MS', 5000, 100, 60_000),
    dbStatementTimeoutMs: integer(env, 'DB_STATEMENT_TIMEOUT_MS', 10_000, 100, 600_000),
    migrationsRun: boolean(env, 'MIGRATIONS_RUN', true),
    databasePooler: databasePooler(env.DATABASE_POOLER),
    migrationsDatabaseUrl: optionalUrl(env, 'MIGRATIONS_DATABASE_URL', ['postgres:', 'postgresql:']),
    publicBaseUrl: publicBaseUrl(env),
    allowedHosts: allowedHosts(env.ALLOWED_HOSTS),
    trustProxy: trustProxy(env.TRUST_PROXY),
    auth: authConfig(env, production),
    skiptokenSecret: optionalSecret(env, 'SKIPTOKEN_SECRET'),
    logLevel,
    docsEnabled: boolean(env, 'DOCS_ENABLED', true),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 8 * 1024 * 1024, 1024, 100 * 1024 * 1024),
    throttle: throttleConfig(env),
    idempotencyTtlSeconds: integer(env, 'IDEMPOTENCY_TTL_SECONDS', 24 * 3600, 60, 30 * 24 * 3600),
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    tls: tlsFiles(env),
    shutdownDrainMs: integer(env, 'SHUTDOWN_DRAIN_MS', 0, 0, 60_000),
    tracing: tracingConfig(env),
    notifications: notificationsConfig(env, production),
  };
  // The migration lock is a session lock: through a transaction pooler two instances could both hold it.
  if (config.databasePooler === 'transaction' && config.migrationsRun && !config.migrationsDatabaseUrl) {
    throw new ConfigError(
      'DATABASE_POOLER=transaction needs MIGRATIONS_DATABASE_URL (a direct connection to PostgreSQL, for the ' +
        "migrations and their session lock) or MIGRATIONS_RUN=false (migrations run elsewhere, e.g. 'npm run migration:run')",
    );
  }
  if (production && !config.skiptokenSecret) {
    throw new ConfigError(
      'SKIPTOKEN_SECRET is required with NODE_ENV=production (at least 32 characters, the same on every instance)',
    );
  }
  if (production && !config.publicBaseUrl && config.allowedHosts.length === 0) {
    throw new ConfigError(
      'With NODE_ENV=production set PUBLIC_BASE_URL (the origin clients call, written into links) or ALLOWED_HOSTS ' +
        '(the Host values to accept): links must never come from an unvalidated Host header',
    );
  }
  return config;
}

function notificationsConfig(env: NodeJS.ProcessEnv, production: boolean): NotificationsConfig {
  const allowHttp = boolean(env, 'NOTIFICATIONS_ALLOW_HTTP', false);
  if (allowHttp && production) {
    throw new ConfigError(
      'NOTIFICATIONS_ALLOW_HTTP=true is refused with NODE_ENV=production: webhooks go over https only',
    );
  }
  const list = (name: string) =>
    (env[name] ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
  const minExpirationMinutes = integer(env, 'NOTIFICATIONS_MIN_EXPIRATION_MINUTES', 45, 0, 4230);
  const maxExpirationMinutes = integer(env, 'NOTIFICATIONS_MAX_EXPIRATION_MINUTES', 4230, 1, 525_600);
  if (minExpirationMinutes > maxExpirationMinutes) {
    throw new ConfigError('NOTIFICATIONS_MIN_EXPIRATION_MINUTES must not exceed NOTIFICATIONS_MAX_EXPIRATION_MINUTES');
  }
  const leaseSeconds = integer(env, 'NOTIFICATIONS_LEASE_SECONDS', 30, 15, 3600);
  return {
    maxPerTenant: integer(env, 'NOTIFICATIONS_MAX_PER_TENANT', 1000, 1, 1_000_000),
    maxPerApp: integer(env, 'NOTIFICATIONS_MAX_PER_APP', 100, 1, 1_000_000),
    maxExpirationMinutes,
    minExpirationMinutes,
    batchSize: integer(env, 'NOTIFICATIONS_BATCH_SIZE', 50, 1, 1000),
    writesPerMinute: integer(env, 'NOTIFICATIONS_WRITES_PER_MINUTE', 60, 1, 1_000_000),
    retryBaseSeconds: integer(env, 'NOTIFICATIONS_RETRY_BASE_SECONDS', 10, 1, 3600),
    retryMaxDelaySeconds: integer(env, 'NOTIFICATIONS_RETRY_MAX_DELAY_SECONDS', 600, 1, 86_400),
    retryWindowSeconds: integer(env, 'NOTIFICATIONS_RETRY_WINDOW_SECONDS', 14_400, 1, 7 * 86_400),
    // An attempt lasts at most 10 s: a lease shorter than that could pass on while one is in flight.
    leaseSeconds,
    deliveryEnabled: boolean(env, 'NOTIFICATIONS_DELIVERY_ENABLED', true),
    pollIntervalMs: integer(env, 'NOTIFICATIONS_POLL_INTERVAL_MS', 1000, 50, 5000),
    allowHttp,
    allowedHosts: list('NOTIFICATIONS_ALLOWED_HOSTS'),
    allowedCidrs: list('NOTIFICATIONS_ALLOWED_CIDRS'),
  };
}

/**
 * On when an OTLP endpoint is set (or OTEL_TRACES_EXPORTER=otlp names the default, localhost:4318),
 * unless OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none. Every OTEL_* value read here is checked even
 * when tracing is off, so that a typo fails at start instead of silently exporting nothing.
 */
function tracingConfig(env: NodeJS.ProcessEnv): TracingConfig | undefined {
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() || undefined;
  if (exporter !== undefined && exporter !== 'otlp' && exporter !== 'none') {
    throw new ConfigError(`OTEL_TRACES_EXPORTER must be otlp or none, got '${exporter}'`);
  }
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']) {
    const protocol = env[name]?.trim();
    if (protocol && protocol !== 'http/protobuf') {
      throw new ConfigError(`${name} must be http/protobuf (the only OTLP exporter shipped), got '${protocol}'`);
    }
  }
  const endpoints = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'].map((name) =>
    optionalUrl(env, name, ['http:', 'https:']),
  );
  const sampler = (env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || 'parentbased_always_on') as TraceSampler;
  if (!TRACE_SAMPLERS.includes(sampler)) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER must be one of ${TRACE_SAMPLERS.join(', ')}, got '${sampler}'`);
  }
  const rawRatio = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const samplerRatio = rawRatio ? Number(rawRatio) : 1;
  if (!/^\d*\.?\d+$/.test(rawRatio || '1') || samplerRatio > 1) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got '${rawRatio}'`);
  }
  const disabled = boolean(env, 'OTEL_SDK_DISABLED', false);
  const asked = endpoints.some(Boolean) || exporter === 'otlp';
  if (!asked || exporter === 'none' || disabled) return undefined;
  return { sampler, samplerRatio };
}

function databasePooler(raw: string | undefined): DatabasePooler {
  const value = raw?.trim().toLowerCase() || 'none';
  if (!(DATABASE_POOLERS as readonly string[]).includes(value)) {
    throw new ConfigError(`DATABASE_POOLER must be one of ${DATABASE_POOLERS.join(', ')}, got '${value}'`);
  }
  return value as DatabasePooler;
}

function authConfig(env: NodeJS.ProcessEnv, production: boolean): AuthConfig {
  const jwksUri = optionalUrl(env, 'AUTH_JWKS_URI', ['https:', 'http:']);
  const secret = optionalSecret(env, 'AUTH_HS256_SECRET');
  const issuer = env.AUTH_ISSUER?.trim() || undefined;
  const audience = env.AUTH_AUDIENCE?.split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const aud = audience?.length ? audience : undefined;
  if (jwksUri && secret) {
    throw new ConfigError('Set either AUTH_JWKS_URI or AUTH_HS256_SECRET, not both');
  }
  if (jwksUri) {
    if (!issuer || !aud) {
      throw new ConfigError('AUTH_JWKS_URI needs AUTH_ISSUER and AUTH_AUDIENCE');
    }
    return { mode: 'jwks', jwksUri, issuer, audience: aud };
  }
  if (secret) return { mode: 'hs256', secret, issuer, audience: aud };
  if (production) {
    throw new ConfigError(
      'No authentication configured: with NODE_ENV=production set AUTH_JWKS_URI (+ AUTH_ISSUER, AUTH_AUDIENCE) or AUTH_HS256_SECRET. ' +
        'Local mode (a generated signing key) is only for development.',
    );
  }
  return { mode: 'local' };
}

function throttleConfig(env: NodeJS.ProcessEnv): ThrottleConfig {
  const preset = env.THROTTLE_PRESET?.trim() || 'off';
  if (preset !== 'off' && preset !== 'graph')
    throw new ConfigError(`THROTTLE_PRESET must be off or graph, got '${preset}'`);
  const limits = (name: string) => {
    const raw = env[name];
    if (raw === undefined) return undefined;
    try {
      return parseLimits(raw, name);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
  };
  return {
    preset,
    tenant: limits('THROTTLE_TENANT_LIMITS'),
    resource: limits('THROTTLE_RESOURCE_LIMITS'),
    results: limits('THROTTLE_RESULT_LIMITS'),
  };
}

/** Graph clients read the first path segment as the version: nothing may stand between host and `/v1.0`. */
function publicBaseUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = optionalUrl(env, 'PUBLIC_BASE_URL', ['http:', 'https:']);
  if (raw === undefined) return undefined;
  const url = new URL(raw);
  if (!/^\/*$/.test(url.pathname) || url.search || url.hash || url.username) {
    throw new ConfigError(
      `PUBLIC_BASE_URL must be an origin such as https://api.contoso.com, without a path; got '${raw}'`,
    );
  }
  return url.origin;
}

/** `host` or `host:port` entries, as a browser or proxy sends them in `Host`; an IPv6 address in brackets. */
function allowedHosts(raw: string | undefined): string[] {
  const hosts = (raw ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  for (const host of hosts) {
    if (!isHostHeader(host)) {
      throw new ConfigError(`ALLOWED_HOSTS entries must be host or host:port, like api.contoso.com; '${host}' is not`);
    }
  }
  return hosts;
}

function corsOrigins(raw: string | undefined): string[] {
  const origins = (raw ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (!url || url.origin !== origin)
      throw new ConfigError(`CORS_ORIGINS entries must be origins like https://app.contoso.com; '${origin}' is not`);
  }
  return origins;
}

function tlsFiles(env: NodeJS.ProcessEnv): AppConfig['tls'] {
  const certFile = env.TLS_CERT_FILE?.trim();
  const keyFile = env.TLS_KEY_FILE?.trim();
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError('TLS_CERT_FILE and TLS_KEY_FILE go together');
  return { certFile, keyFile };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  // Digits only: Number() would also take '0x10', '1e3' and '' as integers.
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got '${raw}'`);
}

function optionalUrl(env: NodeJS.ProcessEnv, name: string, protocols: string[]): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}`);
  }
  return raw;
}

function optionalSecret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  if (raw.length < 32) throw new ConfigError(`${name} must be at least 32 characters`);
  return raw;
}

function trustProxy(raw: string | undefined): AppConfig['trustProxy'] {
  const value = raw?.trim();
  if (!value || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const list = value.split(',').map((v) => v.trim());
  for (const entry of list) {
    if (!isAddressOrRange(entry)) {
      throw new ConfigError(`TRUST_PROXY must be true, false, a hop count or a list of addresses; '${entry}' is none`);
    }
  }
  return list;
}

/** An address, or a CIDR range whose prefix fits its family (an IPv4 range may give a netmask): what Fastify compiles. */
function isAddressOrRange(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (!family || rest.length) return false;
  if (prefix === undefined) return true;
  // Fastify refuses an empty range (/0): TRUST_PROXY=true says that.
  if (/^\d{1,3}$/.test(prefix)) return Number(prefix) >= 1 && Number(prefix) <= (family === 4 ? 32 : 128);
  if (family !== 4 || isIP(prefix) !== 4) return false;
  // A netmask is ones then zeros: its complement plus one is a power of two.
  const hostBits = 2 ** 32 - 1 - prefix.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  return hostBits < 2 ** 32 - 1 && ((hostBits + 1) & hostBits) === 0;
}
