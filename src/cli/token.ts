import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { PERMISSIONS } from '../auth/caller.js';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, LOCAL_TENANT_ID, LOCAL_USER, loadOrCreateLocalKey } from '../auth/local-auth.js';
import { mintToken } from '../auth/token-minter.js';
import { ConfigError, loadConfig } from '../config/app-config.js';

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

async function main(): Promise<number> {
  const { values } = parseArgs({
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
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const { auth } = loadConfig();
  if (auth.mode === 'jwks') {
    process.stderr.write('AUTH_JWKS_URI is set: get tokens from your identity provider.\n');
    return 2;
  }
  const list = (text: string) => text.split(/[\s,]+/).filter(Boolean);
  const expires = Number(values.expires ?? 3600);
  if (!Number.isInteger(expires) || expires <= 0) throw new ConfigError('--expires must be a positive number of seconds');
  const token = await mintToken({
    secret: auth.mode === 'hs256' ? auth.secret : loadOrCreateLocalKey(),
    issuer: auth.mode === 'hs256' ? auth.issuer : LOCAL_ISSUER,
    audience: auth.mode === 'hs256' ? auth.audience?.[0] : LOCAL_AUDIENCE,
    tenantId: values.tenant ?? LOCAL_TENANT_ID,
    expiresInSeconds: expires,
    ...(values.roles !== undefined
      ? { application: { id: values.app ?? randomUUID(), displayName: values.name ?? 'Local Assessment Engine', roles: list(values.roles) } }
      : {
          user: {
            id: values.user ?? LOCAL_USER.id,
            displayName: values.name ?? LOCAL_USER.displayName,
            scopes: list(values.scopes ?? PERMISSIONS.readWrite),
          },
        }),
  });
  process.stdout.write(`${token}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
