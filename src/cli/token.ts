import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PERMISSIONS } from '../auth/caller.js';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, LOCAL_TENANT_ID, LOCAL_USER, loadOrCreateLocalKey } from '../auth/local-auth.js';
import { type MintOptions, mintToken } from '../auth/token-minter.js';
import { type AppConfig, ConfigError, loadConfig } from '../config/app-config.js';

const HELP = `Mints an access token for this service (local mode, or HS256 with AUTH_HS256_SECRET).

usage: npm run token -- [options]
  --tenant T        tenant id (tid), a GUID           default: the local tenant ${LOCAL_TENANT_ID}
  --scopes S        delegated scopes, comma or space separated (a user token)
                                                      default: ${PERMISSIONS.readWrite}
  --roles R         application roles, comma or space separated (an app-only token instead)
  --user ID         user object id (oid)              default: ${LOCAL_USER.id}
  --name NAME       user or application display name
  --app ID          application id (azp) for --roles  default: a new GUID
  --expires SEC     lifetime in seconds               default: 3600
  --help

With AUTH_JWKS_URI set, tokens come from your identity provider (e.g. Microsoft Entra ID), not from here.`;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the command line asks for; decided without side effects so that tests can check every case. */
export type TokenCommand =
  { action: 'help'; text: string } | { action: 'refuse'; message: string } | { action: 'mint'; options: MintOptions };

/** Reads the arguments against the configured authentication; throws {@link ConfigError} on bad ones. */
export function tokenOptionsFrom(
  argv: string[],
  config: Pick<AppConfig, 'auth'>,
  localKey: () => string = loadOrCreateLocalKey,
): TokenCommand {
  const { values } = parseArgs({
    args: argv,
    options: {
      tenant: { type: 'string' },
      scopes: { type: 'string' },
      roles: { type: 'string' },
      user: { type: 'string' },
      name: { type: 'string' },
      app: { type: 'string' },
      expires: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return { action: 'help', text: HELP };
  const { auth } = config;
  if (auth.mode === 'jwks') {
    return { action: 'refuse', message: 'AUTH_JWKS_URI is set: get tokens from your identity provider.' };
  }
  const list = (text: string) => text.split(/[\s,]+/).filter(Boolean);
  // Digits only: Number() would also take '1e3' and '0x10'.
  const lifetime = values.expires ?? '3600';
  const expires = /^\d+$/.test(lifetime) ? Number(lifetime) : Number.NaN;
  if (!Number.isSafeInteger(expires) || expires <= 0)
    throw new ConfigError('--expires must be a positive number of seconds');
  // The service answers 401 to a token whose tid is not a GUID: refuse to mint one.
  const tenantId = (values.tenant ?? LOCAL_TENANT_ID).toLowerCase();
  if (!GUID.test(tenantId)) throw new ConfigError('--tenant must be a GUID');
  const roles = values.roles;
  const app = roles !== undefined;
  if (app && (values.scopes !== undefined || values.user !== undefined)) {
    throw new ConfigError('--roles makes an application token: it takes no --scopes or --user');
  }
  if (!app && values.app !== undefined) throw new ConfigError('--app needs --roles (an application token)');
  return {
    action: 'mint',
    options: {
      secret: auth.mode === 'hs256' ? auth.secret : localKey(),
      // An Entra-style issuer template is filled in as the service checks it.
      issuer: auth.mode === 'hs256' ? auth.issuer?.replace('{tenantid}', tenantId) : LOCAL_ISSUER,
      audience: auth.mode === 'hs256' ? auth.audience?.[0] : LOCAL_AUDIENCE,
      tenantId,
      expiresInSeconds: expires,
      ...(app
        ? {
            application: {
              id: values.app ?? randomUUID(),
              displayName: values.name ?? 'Local Assessment Engine',
              roles: list(roles),
            },
          }
        : {
            user: {
              id: values.user ?? LOCAL_USER.id,
              displayName: values.name ?? LOCAL_USER.displayName,
              applicationId: LOCAL_USER.applicationId,
              scopes: list(values.scopes ?? PERMISSIONS.readWrite),
            },
          }),
    },
  };
}

async function main(): Promise<number> {
  const command = tokenOptionsFrom(process.argv.slice(2), loadConfig());
  switch (command.action) {
    case 'help':
      process.stdout.write(`${command.text}\n`);
      return 0;
    case 'refuse':
      process.stderr.write(`${command.message}\n`);
      return 2;
    case 'mint':
      process.stdout.write(`${await mintToken(command.options)}\n`);
      return 0;
  }
}

/** Run only as `node dist/cli/token.js`, not when a test imports {@link tokenOptionsFrom}. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  const self = fileURLToPath(import.meta.url);
  return [entry, `${entry}.js`].some((candidate) => {
    try {
      return realpathSync(candidate) === self;
    } catch {
      return false;
    }
  });
}

if (isEntryPoint()) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
