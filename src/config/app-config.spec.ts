import fc from 'fast-check';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './app-config.js';

const SECRET_32 = 'a'.repeat(32);
const SKIPTOKEN = 'skiptoken-secret-0123456789-abcdefgh';
const JWKS = {
  AUTH_JWKS_URI: 'https://login.microsoftonline.com/common/discovery/v2.0/keys',
  AUTH_ISSUER: 'https://login.microsoftonline.com/{tenantid}/v2.0',
  AUTH_AUDIENCE: 'api://threat-assessment',
};

/** Runs `loadConfig` and returns the ConfigError's message; fails when it does not throw one. */
function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('answers the documented defaults, in local auth mode, for an empty environment', () => {
    expect(loadConfig({})).toEqual({
      nodeEnv: 'development',
      production: false,
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      embeddedPostgres: { port: 54329, dir: '.data/postgres' },
      dbPoolSize: 10,
      dbConnectTimeoutMs: 5000,
      dbStatementTimeoutMs: 10_000,
      migrationsRun: true,
      databasePooler: 'none',
      migrationsDatabaseUrl: undefined,
      publicBaseUrl: undefined,
      allowedHosts: [],
      trustProxy: false,
      auth: { mode: 'local' },
      skiptokenSecret: undefined,
      logLevel: 'info',
      docsEnabled: true,
      bodyLimitBytes: 8 * 1024 * 1024,
      throttle: { preset: 'off', tenant: undefined, resource: undefined, results: undefined },
      idempotencyTtlSeconds: 24 * 3600,
      corsOrigins: [],
      tls: undefined,
      shutdownDrainMs: 0,
      notifications: {
        maxPerTenant: 1000,
        maxPerApp: 100,
        maxExpirationMinutes: 4230,
        minExpirationMinutes: 45,
        batchSize: 50,
        writesPerMinute: 60,
        retryBaseSeconds: 10,
        retryMaxDelaySeconds: 600,
        retryWindowSeconds: 14_400,
        leaseSeconds: 30,
        deliveryEnabled: true,
        pollIntervalMs: 1000,
        allowHttp: false,
        allowedHosts: [],
        allowedCidrs: [],
      },
    });
  });

  it('treats empty and blank values as unset', () => {
    const config = loadConfig({
      NODE_ENV: ' ',
      PORT: '',
      HOST: '  ',
      DATABASE_URL: '',
      PUBLIC_BASE_URL: ' ',
      TRUST_PROXY: '',
      AUTH_JWKS_URI: '',
      AUTH_HS256_SECRET: '',
      AUTH_ISSUER: ' ',
      AUTH_AUDIENCE: ' , ',
      SKIPTOKEN_SECRET: '',
      LOG_LEVEL: '',
      DOCS_ENABLED: '',
    });
    expect(config).toEqual(loadConfig({}));
  });

  it('reads every variable', () => {
    expect(
      loadConfig({
        NODE_ENV: 'test',
        PORT: '8080',
        HOST: '127.0.0.1',
        DATABASE_URL: 'postgres://u:p@db:5432/threats',
        EMBEDDED_PG_PORT: '6000',
        EMBEDDED_PG_DIR: '/tmp/pg',
        DB_POOL_SIZE: '20',
        DB_CONNECT_TIMEOUT_MS: '1000',
        DB_STATEMENT_TIMEOUT_MS: '2000',
        MIGRATIONS_RUN: 'off',
        PUBLIC_BASE_URL: 'https://graph.example.com//',
        ALLOWED_HOSTS: 'graph.example.com',
        TRUST_PROXY: '10.0.0.1, 192.168.0.0/16, ::1',
        AUTH_HS256_SECRET: SECRET_32,
        AUTH_ISSUER: 'https://issuer.example/',
        AUTH_AUDIENCE: 'api://one, api://two',
        SKIPTOKEN_SECRET: SKIPTOKEN,
        LOG_LEVEL: 'debug',
        DOCS_ENABLED: 'no',
        BODY_LIMIT_BYTES: '2048',
        SHUTDOWN_DRAIN_MS: '2000',
        NOTIFICATIONS_MAX_PER_TENANT: '7',
        NOTIFICATIONS_MAX_PER_APP: '3',
        NOTIFICATIONS_MAX_EXPIRATION_MINUTES: '600',
        NOTIFICATIONS_MIN_EXPIRATION_MINUTES: '0',
        NOTIFICATIONS_BATCH_SIZE: '5',
        NOTIFICATIONS_WRITES_PER_MINUTE: '9',
        NOTIFICATIONS_RETRY_BASE_SECONDS: '2',
        NOTIFICATIONS_RETRY_MAX_DELAY_SECONDS: '30',
        NOTIFICATIONS_RETRY_WINDOW_SECONDS: '120',
        NOTIFICATIONS_LEASE_SECONDS: '15',
        NOTIFICATIONS_DELIVERY_ENABLED: 'false',
        NOTIFICATIONS_POLL_INTERVAL_MS: '100',
        NOTIFICATIONS_ALLOW_HTTP: 'true',
        NOTIFICATIONS_ALLOWED_HOSTS: ' hooks.internal, Other.Example ,',
        NOTIFICATIONS_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
      }),
    ).toEqual({
      nodeEnv: 'test',
      production: false,
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgres://u:p@db:5432/threats',
      embeddedPostgres: { port: 6000, dir: '/tmp/pg' },
      dbPoolSize: 20,
      dbConnectTimeoutMs: 1000,
      dbStatementTimeoutMs: 2000,
      migrationsRun: false,
      databasePooler: 'none',
      migrationsDatabaseUrl: undefined,
      publicBaseUrl: 'https://graph.example.com',
      allowedHosts: ['graph.example.com'],
      trustProxy: ['10.0.0.1', '192.168.0.0/16', '::1'],
      auth: {
        mode: 'hs256',
        secret: SECRET_32,
        issuer: 'https://issuer.example/',
        audience: ['api://one', 'api://two'],
      },
      skiptokenSecret: SKIPTOKEN,
      logLevel: 'debug',
      docsEnabled: false,
      bodyLimitBytes: 2048,
      throttle: { preset: 'off', tenant: undefined, resource: undefined, results: undefined },
      idempotencyTtlSeconds: 24 * 3600,
      corsOrigins: [],
      tls: undefined,
      shutdownDrainMs: 2000,
      notifications: {
        maxPerTenant: 7,
        maxPerApp: 3,
        maxExpirationMinutes: 600,
        minExpirationMinutes: 0,
        batchSize: 5,
        writesPerMinute: 9,
        retryBaseSeconds: 2,
        retryMaxDelaySeconds: 30,
        retryWindowSeconds: 120,
        leaseSeconds: 15,
        deliveryEnabled: false,
        pollIntervalMs: 100,
        allowHttp: true,
        allowedHosts: ['hooks.internal', 'Other.Example'],
        allowedCidrs: ['127.0.0.0/8', '::1/128'],
      },
    });
  });

  describe('NOTIFICATIONS_*', () => {
    it('refuses http notification URLs in production', () => {
      expect(() =>
        loadConfig({
          NODE_ENV: 'production',
          AUTH_HS256_SECRET: SECRET_32,
          SKIPTOKEN_SECRET: SKIPTOKEN,
          PUBLIC_BASE_URL: 'https://graph.example.com',
          NOTIFICATIONS_ALLOW_HTTP: 'true',
        }),
      ).toThrow(/NOTIFICATIONS_ALLOW_HTTP=true is refused with NODE_ENV=production/);
    });

    it('refuses a lease shorter than the longest attempt, and a minimum past the maximum', () => {
      expect(() => loadConfig({ NOTIFICATIONS_LEASE_SECONDS: '10' })).toThrow(/NOTIFICATIONS_LEASE_SECONDS/);
      expect(() =>
        loadConfig({ NOTIFICATIONS_MIN_EXPIRATION_MINUTES: '100', NOTIFICATIONS_MAX_EXPIRATION_MINUTES: '60' }),
      ).toThrow(/must not exceed/);
    });
  });

  describe('DATABASE_POOLER', () => {
    const POOLER = 'postgres://svc:p@pgbouncer:6432/threats';
    const DIRECT = 'postgres://migrator:p@db:5432/threats';

    it('is none unless set, in any case', () => {
      expect(loadConfig({ DATABASE_POOLER: ' ' }).databasePooler).toBe('none');
      expect(loadConfig({ DATABASE_POOLER: 'None' }).databasePooler).toBe('none');
    });

    it('takes transaction with the direct migrations URL', () => {
      const config = loadConfig({
        DATABASE_URL: POOLER,
        DATABASE_POOLER: 'Transaction',
        MIGRATIONS_DATABASE_URL: DIRECT,
      });
      expect(config).toMatchObject({
        databaseUrl: POOLER,
        databasePooler: 'transaction',
        migrationsDatabaseUrl: DIRECT,
        migrationsRun: true,
      });
    });

    it('takes transaction without a migrations URL when migrations do not run at start-up', () => {
      const config = loadConfig({ DATABASE_URL: POOLER, DATABASE_POOLER: 'transaction', MIGRATIONS_RUN: 'false' });
      expect(config).toMatchObject({ databasePooler: 'transaction', migrationsRun: false });
      expect(config.migrationsDatabaseUrl).toBeUndefined();
    });

    it('refuses transaction with migrations at start-up but no direct URL for them', () => {
      expect(configError({ DATABASE_URL: POOLER, DATABASE_POOLER: 'transaction' })).toBe(
        'DATABASE_POOLER=transaction needs MIGRATIONS_DATABASE_URL (a direct connection to PostgreSQL, for the ' +
          "migrations and their session lock) or MIGRATIONS_RUN=false (migrations run elsewhere, e.g. 'npm run migration:run')",
      );
    });

    it.each(['session', 'pgbouncer', 'true'])('refuses %s', (value) => {
      expect(configError({ DATABASE_POOLER: value })).toBe(
        `DATABASE_POOLER must be one of none, transaction, got '${value}'`,
      );
    });

    it('takes MIGRATIONS_DATABASE_URL without a pooler, and refuses one that is not PostgreSQL', () => {
      expect(loadConfig({ MIGRATIONS_DATABASE_URL: DIRECT }).migrationsDatabaseUrl).toBe(DIRECT);
      expect(configError({ MIGRATIONS_DATABASE_URL: 'mysql://db/threats' })).toBe(
        'MIGRATIONS_DATABASE_URL must use postgres: or postgresql:',
      );
    });
  });

  describe('numbers', () => {
    it.each(['abc', '-1', '65536', '3.5', '1e3x', '0x10'])(
      'refuses PORT=%s, naming the variable and the range',
      (port) => {
        expect(configError({ PORT: port })).toBe(`PORT must be an integer from 0 to 65535, got '${port}'`);
      },
    );

    it.each([
      ['0', 0],
      ['65535', 65535],
      [' 8080 ', 8080],
    ])('accepts PORT=%j', (port, expected) => {
      expect(loadConfig({ PORT: port }).port).toBe(expected);
    });

    it.each([
      ['EMBEDDED_PG_PORT', '0'],
      ['DB_POOL_SIZE', '0'],
      ['DB_POOL_SIZE', '201'],
      ['DB_CONNECT_TIMEOUT_MS', '99'],
      ['DB_STATEMENT_TIMEOUT_MS', '600001'],
      ['BODY_LIMIT_BYTES', '1023'],
      ['BODY_LIMIT_BYTES', String(100 * 1024 * 1024 + 1)],
      ['SHUTDOWN_DRAIN_MS', '60001'],
    ])('refuses %s=%s', (name, value) => {
      expect(configError({ [name]: value })).toMatch(
        new RegExp(`^${name} must be an integer from \\d+ to \\d+, got '${value}'$`),
      );
    });
  });

  describe('other values', () => {
    it.each([
      ['MIGRATIONS_RUN', 'maybe'],
      ['DOCS_ENABLED', '2'],
    ])('refuses %s=%s as a boolean', (name, value) => {
      expect(configError({ [name]: value })).toBe(`${name} must be true or false, got '${value}'`);
    });

    it.each(['TRUE', 'Yes', '1', 'on'])('reads %s as true', (value) => {
      expect(loadConfig({ DOCS_ENABLED: value }).docsEnabled).toBe(true);
    });

    it('refuses an unknown LOG_LEVEL', () => {
      expect(configError({ LOG_LEVEL: 'verbose' })).toBe(
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
      );
    });

    it.each([
      ['DATABASE_URL', 'not a url', 'DATABASE_URL is not a valid URL'],
      ['DATABASE_URL', 'mysql://u:p@db/x', 'DATABASE_URL must use postgres: or postgresql:'],
      ['PUBLIC_BASE_URL', 'ftp://example.com', 'PUBLIC_BASE_URL must use http: or https:'],
      ['AUTH_JWKS_URI', 'file:///etc/keys.json', 'AUTH_JWKS_URI must use https: or http:'],
    ])('refuses %s=%s', (name, value, message) => {
      expect(configError({ ...JWKS, [name]: value })).toBe(message);
    });
  });

  describe('OpenTelemetry (OTEL_*)', () => {
    const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

    it('is off unless an OTLP endpoint or OTEL_TRACES_EXPORTER=otlp asks for an export', () => {
      expect(loadConfig({}).tracing).toBeUndefined();
      expect(loadConfig({ OTEL_SERVICE_NAME: 'threats', OTEL_TRACES_EXPORTER: ' ' }).tracing).toBeUndefined();
      const on = { sampler: 'parentbased_always_on', samplerRatio: 1 };
      expect(loadConfig(ENDPOINT).tracing).toEqual(on);
      expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector/v1/traces' }).tracing).toEqual(on);
      expect(loadConfig({ OTEL_TRACES_EXPORTER: 'OTLP' }).tracing).toEqual(on);
    });

    it('is off with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none, whatever the endpoint', () => {
      expect(loadConfig({ ...ENDPOINT, OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
      expect(loadConfig({ ...ENDPOINT, OTEL_SDK_DISABLED: 'false' }).tracing).toBeDefined();
      expect(loadConfig({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeUndefined();
    });

    it('reads the sampler and its ratio', () => {
      expect(
        loadConfig({ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' })
          .tracing,
      ).toEqual({ sampler: 'parentbased_traceidratio', samplerRatio: 0.25 });
      expect(loadConfig({ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'Always_Off' }).tracing?.sampler).toBe('always_off');
    });

    it.each([
      [{ OTEL_TRACES_EXPORTER: 'jaeger' }, "OTEL_TRACES_EXPORTER must be otlp or none, got 'jaeger'"],
      [
        { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
        "OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf (the only OTLP exporter shipped), got 'grpc'",
      ],
      [
        { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' },
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be http/protobuf (the only OTLP exporter shipped), got 'http/json'",
      ],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT must use http: or https:'],
      [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not a valid URL'],
      [{ OTEL_TRACES_SAMPLER: 'sometimes' }, /^OTEL_TRACES_SAMPLER must be one of always_on, always_off, /],
      [{ OTEL_TRACES_SAMPLER_ARG: '1.5' }, "OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got '1.5'"],
      [{ OTEL_TRACES_SAMPLER_ARG: '-0.1' }, "OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got '-0.1'"],
      [{ OTEL_TRACES_SAMPLER_ARG: '1e-3' }, "OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got '1e-3'"],
      [{ OTEL_SDK_DISABLED: 'sure' }, "OTEL_SDK_DISABLED must be true or false, got 'sure'"],
    ])('refuses %j even with tracing off, so that a typo does not silently export nothing', (env, message) => {
      expect(configError(env)).toMatch(message);
    });
  });

  describe('TRUST_PROXY', () => {
    it.each([
      ['false', false],
      ['true', true],
      ['0', 0],
      ['2', 2],
      ['127.0.0.1', ['127.0.0.1']],
      ['10.0.0.0/8,fd00::/8', ['10.0.0.0/8', 'fd00::/8']],
      ['10.0.0.0/255.0.0.0', ['10.0.0.0/255.0.0.0']],
      [
        '10.0.0.1/32, 10.0.0.0/255.255.255.255, 0.0.0.0/128.0.0.0, ::/1',
        ['10.0.0.1/32', '10.0.0.0/255.255.255.255', '0.0.0.0/128.0.0.0', '::/1'],
      ],
    ])('reads %j', (raw, expected) => {
      expect(loadConfig({ TRUST_PROXY: raw }).trustProxy).toEqual(expected);
    });

    it.each([
      'yes',
      'proxy.internal',
      '10.0.0.1,',
      '10.0.0.1;10.0.0.2',
      '10.0.0.256',
      '10.0.0.0/33',
      '10.0.0.0/abc',
      '10.0.0.0/',
      '::1/129',
      '10.0.0.0/255.0.255.0',
      '10.0.0.0/8/8',
      '0.0.0.0/0',
      '::/0',
      '0.0.0.0/0.0.0.0',
      '-1',
    ])('refuses %j with a message naming the bad entry', (raw) => {
      expect(configError({ TRUST_PROXY: raw })).toMatch(
        /^TRUST_PROXY must be true, false, a hop count or a list of addresses; '.*' is none$/,
      );
    });

    it('accepts exactly the address lists Fastify compiles, so a bad one fails here and not at start', () => {
      const prefix = fc.oneof(fc.integer({ min: 0, max: 140 }).map(String), fc.ipV4(), fc.constantFrom('', 'x', '08'));
      const entry = fc
        .tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.option(prefix))
        .map(([ip, p]) => (p === null ? ip : `${ip}/${p}`));
      fc.assert(
        fc.property(fc.array(entry, { minLength: 1, maxLength: 3 }), (entries) => {
          const raw = entries.join(',');
          let fastifyAccepts = true;
          try {
            void Fastify({ trustProxy: entries });
          } catch {
            fastifyAccepts = false;
          }
          let configAccepts = true;
          try {
            loadConfig({ TRUST_PROXY: raw });
          } catch (error) {
            expect(error).toBeInstanceOf(ConfigError);
            configAccepts = false;
          }
          expect(configAccepts, raw).toBe(fastifyAccepts);
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('authentication', () => {
    it('uses HS256 with AUTH_HS256_SECRET; issuer and audience stay optional', () => {
      expect(loadConfig({ AUTH_HS256_SECRET: SECRET_32 }).auth).toEqual({
        mode: 'hs256',
        secret: SECRET_32,
        issuer: undefined,
        audience: undefined,
      });
    });

    it('uses JWKS with AUTH_JWKS_URI, AUTH_ISSUER and AUTH_AUDIENCE', () => {
      expect(loadConfig(JWKS).auth).toEqual({
        mode: 'jwks',
        jwksUri: JWKS.AUTH_JWKS_URI,
        issuer: JWKS.AUTH_ISSUER,
        audience: [JWKS.AUTH_AUDIENCE],
      });
    });

    it('treats an empty AUTH_HS256_SECRET as unset next to AUTH_JWKS_URI', () => {
      expect(loadConfig({ ...JWKS, AUTH_HS256_SECRET: '' }).auth.mode).toBe('jwks');
    });

    it('refuses an AUTH_HS256_SECRET shorter than 32 characters', () => {
      expect(configError({ AUTH_HS256_SECRET: 'a'.repeat(31) })).toBe(
        'AUTH_HS256_SECRET must be at least 32 characters',
      );
    });

    it('refuses both AUTH_JWKS_URI and AUTH_HS256_SECRET', () => {
      expect(configError({ ...JWKS, AUTH_HS256_SECRET: SECRET_32 })).toBe(
        'Set either AUTH_JWKS_URI or AUTH_HS256_SECRET, not both',
      );
    });

    it.each([
      ['AUTH_ISSUER', ''],
      ['AUTH_AUDIENCE', ''],
      ['AUTH_AUDIENCE', ' , '],
    ])('refuses AUTH_JWKS_URI when %s is %j', (name, value) => {
      expect(configError({ ...JWKS, [name]: value })).toBe('AUTH_JWKS_URI needs AUTH_ISSUER and AUTH_AUDIENCE');
    });

    it('falls back to local mode outside production', () => {
      for (const nodeEnv of ['development', 'test']) {
        expect(loadConfig({ NODE_ENV: nodeEnv, AUTH_ISSUER: 'https://ignored/' }).auth).toEqual({ mode: 'local' });
      }
    });
  });

  describe('NODE_ENV=production', () => {
    it('refuses to start without authentication, saying what to set', () => {
      const message = configError({ NODE_ENV: 'production', SKIPTOKEN_SECRET: SKIPTOKEN });
      expect(message).toMatch(
        /^No authentication configured: with NODE_ENV=production set AUTH_JWKS_URI \(\+ AUTH_ISSUER, AUTH_AUDIENCE\) or AUTH_HS256_SECRET\./,
      );
      expect(message).toMatch(/Local mode .* is only for development/);
    });

    it('refuses to start without SKIPTOKEN_SECRET', () => {
      expect(configError({ NODE_ENV: 'production', AUTH_HS256_SECRET: SECRET_32 })).toBe(
        'SKIPTOKEN_SECRET is required with NODE_ENV=production (at least 32 characters, the same on every instance)',
      );
    });

    it('refuses a SKIPTOKEN_SECRET shorter than 32 characters', () => {
      expect(configError({ NODE_ENV: 'production', AUTH_HS256_SECRET: SECRET_32, SKIPTOKEN_SECRET: 'short' })).toBe(
        'SKIPTOKEN_SECRET must be at least 32 characters',
      );
    });

    it('starts with JWKS or HS256 authentication, a skiptoken secret and a public origin or allowed hosts', () => {
      expect(
        loadConfig({
          NODE_ENV: 'production',
          ...JWKS,
          SKIPTOKEN_SECRET: SKIPTOKEN,
          PUBLIC_BASE_URL: 'https://api.contoso.com',
        }),
      ).toMatchObject({
        production: true,
        auth: { mode: 'jwks' },
        skiptokenSecret: SKIPTOKEN,
        publicBaseUrl: 'https://api.contoso.com',
      });
      expect(
        loadConfig({
          NODE_ENV: ' production ',
          AUTH_HS256_SECRET: SECRET_32,
          SKIPTOKEN_SECRET: SKIPTOKEN,
          ALLOWED_HOSTS: 'API.contoso.com, api.contoso.com:8443,[::1]:3000',
        }),
      ).toMatchObject({
        nodeEnv: 'production',
        production: true,
        auth: { mode: 'hs256' },
        allowedHosts: ['api.contoso.com', 'api.contoso.com:8443', '[::1]:3000'],
      });
    });

    it('refuses to start with neither PUBLIC_BASE_URL nor ALLOWED_HOSTS: links would come from any Host', () => {
      expect(configError({ NODE_ENV: 'production', AUTH_HS256_SECRET: SECRET_32, SKIPTOKEN_SECRET: SKIPTOKEN })).toBe(
        'With NODE_ENV=production set PUBLIC_BASE_URL (the origin clients call, written into links) or ALLOWED_HOSTS ' +
          '(the Host values to accept): links must never come from an unvalidated Host header',
      );
    });

    it.each(['https://api.contoso.com', 'api.contoso.com/v1.0', 'api contoso', '[not-ipv6]', 'a.com:99999', '*'])(
      'refuses the ALLOWED_HOSTS entry %s',
      (entry) => {
        expect(configError({ ALLOWED_HOSTS: `ok.contoso.com,${entry}` })).toMatch(
          /^ALLOWED_HOSTS entries must be host or host:port/,
        );
      },
    );
  });
});

describe('loadConfig: throttle limits', () => {
  it('reads count/seconds pairs, and off or empty as none', () => {
    expect(
      loadConfig({ THROTTLE_TENANT_LIMITS: ' 150/900 , 10000/86400', THROTTLE_RESULT_LIMITS: 'off' }).throttle,
    ).toEqual({
      preset: 'off',
      tenant: [
        { count: 150, windowSeconds: 900 },
        { count: 10_000, windowSeconds: 86_400 },
      ],
      resource: undefined,
      results: [],
    });
  });

  it.each(['150', '0/900', '150/0', '1.5/900', '150/900,', 'x/y'])('refuses THROTTLE_TENANT_LIMITS=%s', (value) => {
    expect(configError({ THROTTLE_TENANT_LIMITS: value })).toMatch(
      /^THROTTLE_TENANT_LIMITS must be a comma-separated list of count\/seconds, e.g. 150\/900; got /,
    );
  });

  it('refuses an unknown THROTTLE_PRESET', () => {
    expect(configError({ THROTTLE_PRESET: 'strict' })).toBe("THROTTLE_PRESET must be off or graph, got 'strict'");
  });
});

describe('loadConfig: values that would mislead', () => {
  it('treats NODE_ENV case-insensitively, so Production is production', () => {
    expect(() => loadConfig({ NODE_ENV: 'Production' })).toThrow(ConfigError);
  });

  it.each(['https://api.contoso.com/graph', 'https://api.contoso.com/?x=1', 'https://user@api.contoso.com'])(
    'refuses PUBLIC_BASE_URL %s: nothing may stand between the host and /v1.0',
    (value) => {
      expect(() => loadConfig({ PUBLIC_BASE_URL: value })).toThrow(/PUBLIC_BASE_URL must be an origin/);
    },
  );

  it('keeps a PUBLIC_BASE_URL origin, without a trailing slash', () => {
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://api.contoso.com/' }).publicBaseUrl).toBe('https://api.contoso.com');
  });
});
