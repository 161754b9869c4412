import { isIP } from 'node:net';

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
  publicBaseUrl?: string;
  /** Fastify `trustProxy`: false, true, a hop count, or a list of addresses/CIDRs. */
  trustProxy: boolean | number | string[];
  auth: AuthConfig;
  skiptokenSecret?: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  docsEnabled: boolean;
  bodyLimitBytes: number;
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
  const production = nodeEnv === 'production';
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
    publicBaseUrl: optionalUrl(env, 'PUBLIC_BASE_URL', ['http:', 'https:'])?.replace(/\/+$/, ''),
    trustProxy: trustProxy(env.TRUST_PROXY),
    auth: authConfig(env, production),
    skiptokenSecret: optionalSecret(env, 'SKIPTOKEN_SECRET'),
    logLevel,
    docsEnabled: boolean(env, 'DOCS_ENABLED', true),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 8 * 1024 * 1024, 1024, 100 * 1024 * 1024),
  };
  if (production && !config.skiptokenSecret) {
    throw new ConfigError(
      'SKIPTOKEN_SECRET is required with NODE_ENV=production (at least 32 characters, the same on every instance)',
    );
  }
  return config;
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

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
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
    if (!isIP(entry.split('/')[0] ?? '')) {
      throw new ConfigError(`TRUST_PROXY must be true, false, a hop count or a list of addresses; '${entry}' is none`);
    }
  }
  return list;
}
