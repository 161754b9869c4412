import { describe, expect, it } from 'vitest';
import { inScratchDirectory } from '../../test/support/scratch-directory.js';
import { PERMISSIONS } from '../auth/caller.js';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, LOCAL_TENANT_ID, LOCAL_USER, loadOrCreateLocalKey } from '../auth/local-auth.js';
import { mintToken, type MintOptions } from '../auth/token-minter.js';
import { TokenVerifier } from '../auth/token-verifier.js';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { tokenOptionsFrom } from './token.js';

const SECRET = 'cli-test-hs256-secret-0123456789-abcdefghij';
const TENANT = '11111111-2222-4333-8444-555555555555';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HS256_ENV = {
  AUTH_HS256_SECRET: SECRET,
  AUTH_ISSUER: 'https://issuer.test/',
  AUTH_AUDIENCE: 'api://first,api://second',
};
const LOCAL_KEY = 'local-key-for-the-cli-spec-0123456789-abcdef';
const local = loadConfig({});
const hs256 = loadConfig(HS256_ENV);

function mintOptions(argv: string[], config = hs256): MintOptions {
  const command = tokenOptionsFrom(argv, config, () => LOCAL_KEY);
  if (command.action !== 'mint') throw new Error(`expected a token, got ${JSON.stringify(command)}`);
  return command.options;
}

function usageError(argv: string[]): string {
  try {
    tokenOptionsFrom(argv, hs256, () => LOCAL_KEY);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`tokenOptionsFrom accepted ${JSON.stringify(argv)}`);
}

describe('npm run token (tokenOptionsFrom)', () => {
  it('mints the local admin token by default in local mode', () => {
    expect(mintOptions([], local)).toEqual({
      secret: LOCAL_KEY,
      issuer: LOCAL_ISSUER,
      audience: LOCAL_AUDIENCE,
      tenantId: LOCAL_TENANT_ID,
      expiresInSeconds: 3600,
      user: {
        id: LOCAL_USER.id,
        displayName: LOCAL_USER.displayName,
        scopes: [PERMISSIONS.readWrite],
        applicationId: LOCAL_USER.applicationId,
      },
    });
  });

  it('signs with AUTH_HS256_SECRET, the configured issuer and the first audience in HS256 mode', () => {
    expect(
      mintOptions([
        '--tenant',
        TENANT,
        '--user',
        'u-1',
        '--name',
        'Grace',
        '--scopes',
        'a, b  c,,d',
        '--expires',
        '60',
      ]),
    ).toEqual({
      secret: SECRET,
      issuer: 'https://issuer.test/',
      audience: 'api://first',
      tenantId: TENANT,
      expiresInSeconds: 60,
      user: { id: 'u-1', displayName: 'Grace', scopes: ['a', 'b', 'c', 'd'], applicationId: LOCAL_USER.applicationId },
    });
  });

  it('makes an application token with --roles, with a new app id unless --app names one', () => {
    const options = mintOptions(['--roles', `${PERMISSIONS.read},${PERMISSIONS.readWrite}`]);
    expect(options).toEqual({
      secret: SECRET,
      issuer: 'https://issuer.test/',
      audience: 'api://first',
      tenantId: LOCAL_TENANT_ID,
      expiresInSeconds: 3600,
      application: {
        id: expect.stringMatching(GUID),
        displayName: 'Local Assessment Engine',
        roles: [PERMISSIONS.read, PERMISSIONS.readWrite],
      },
    });
    expect(mintOptions(['--roles', 'x']).application!.id).not.toBe(options.application!.id);
    expect(mintOptions(['--roles', 'x', '--app', 'engine-7', '--name', 'Engine']).application).toEqual({
      id: 'engine-7',
      displayName: 'Engine',
      roles: ['x'],
    });
  });

  it('fills an Entra-style {tenantid} issuer with the token’s tenant, as the service checks it', () => {
    const templated = loadConfig({ ...HS256_ENV, AUTH_ISSUER: 'https://login.test/{tenantid}/v2.0' });
    expect(mintOptions(['--tenant', TENANT.toUpperCase()], templated)).toMatchObject({
      tenantId: TENANT,
      issuer: `https://login.test/${TENANT}/v2.0`,
    });
  });

  it('prints help, and refuses to mint in JWKS mode', () => {
    const help = tokenOptionsFrom(['--help'], hs256);
    expect(help).toEqual({ action: 'help', text: expect.stringContaining('usage: npm run token -- [options]') });
    const jwks = loadConfig({
      AUTH_JWKS_URI: 'https://keys.test/jwks',
      AUTH_ISSUER: 'https://issuer.test/',
      AUTH_AUDIENCE: 'api://x',
    });
    expect(tokenOptionsFrom([], jwks)).toEqual({
      action: 'refuse',
      message: 'AUTH_JWKS_URI is set: get tokens from your identity provider.',
    });
  });

  it.each<[string[], string | RegExp]>([
    [['--expires', '0'], '--expires must be a positive number of seconds'],
    [['--expires', '-5'], /--expires/],
    [['--expires', 'soon'], '--expires must be a positive number of seconds'],
    [['--expires', '1.5'], '--expires must be a positive number of seconds'],
    [['--expires', '1e3'], '--expires must be a positive number of seconds'],
    [['--expires', ''], '--expires must be a positive number of seconds'],
    [['--tenant', 'contoso.onmicrosoft.com'], '--tenant must be a GUID'],
    [['--roles', 'x', '--scopes', 'y'], '--roles makes an application token: it takes no --scopes or --user'],
    [['--roles', 'x', '--user', 'u'], '--roles makes an application token: it takes no --scopes or --user'],
    [['--app', 'engine'], '--app needs --roles (an application token)'],
    [['--tenat', TENANT], /Unknown option '--tenat'/],
    [['extra'], /Unexpected argument 'extra'/],
  ])('refuses %j', (argv, message) => {
    expect(usageError(argv)).toMatch(message);
  });

  it('throws ConfigError for its own checks, so that the CLI prints the message and exits 1', () => {
    expect(() => tokenOptionsFrom(['--tenant', 'x'], hs256)).toThrow(ConfigError);
  });

  describe('tokens the service accepts', () => {
    // The local key lives relative to the working directory, for the service and the CLI alike.
    inScratchDirectory('threat-assessment-cli-');

    it.each([
      ['local mode', {}],
      ['HS256 mode', HS256_ENV],
      ['HS256 mode with an issuer template', { ...HS256_ENV, AUTH_ISSUER: 'https://login.test/{tenantid}/v2.0' }],
    ])('in %s, for a user and for an application', async (_, env) => {
      const config = loadConfig(env);
      const verifier = new TokenVerifier(config);
      const mint = (argv: string[]) => {
        const command = tokenOptionsFrom(argv, config);
        if (command.action !== 'mint') throw new Error(command.action);
        return mintToken(command.options);
      };
      expect(await verifier.verify(await mint(['--tenant', TENANT, '--name', 'Grace']))).toEqual({
        tenantId: TENANT,
        kind: 'user',
        id: LOCAL_USER.id,
        displayName: 'Grace',
        applicationId: LOCAL_USER.applicationId,
        objectId: LOCAL_USER.id,
        permissions: new Set([PERMISSIONS.readWrite]),
      });
      expect(await verifier.verify(await mint(['--roles', PERMISSIONS.read, '--app', 'engine-1']))).toEqual({
        tenantId: LOCAL_TENANT_ID,
        kind: 'application',
        id: 'engine-1',
        displayName: 'Local Assessment Engine',
        applicationId: 'engine-1',
        objectId: 'engine-1',
        permissions: new Set([PERMISSIONS.read]),
      });
      if (!('AUTH_HS256_SECRET' in env)) expect(loadOrCreateLocalKey()).toHaveLength(43);
    });
  });
});
