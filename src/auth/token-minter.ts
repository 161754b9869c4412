import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';

export interface MintOptions {
  secret: string;
  tenantId: string;
  issuer?: string;
  audience?: string;
  /** Delegated token: a user with these scopes. */
  user?: {
    id: string;
    displayName?: string;
    scopes: string[];
    /** The client application (`azp`). */ applicationId?: string;
  };
  /** Application token: an app with these roles. */
  application?: { id: string; displayName?: string; roles: string[] };
  expiresInSeconds?: number;
}

/** HS256 tokens shaped like Microsoft Entra ID v2 access tokens, for local stacks and tests. */
export async function mintToken(options: MintOptions): Promise<string> {
  const claims: Record<string, unknown> = { tid: options.tenantId, ver: '2.0' };
  if (options.user) {
    Object.assign(claims, {
      oid: options.user.id,
      azp: options.user.applicationId,
      name: options.user.displayName,
      scp: options.user.scopes.join(' '),
      idtyp: 'user',
    });
  } else if (options.application) {
    Object.assign(claims, {
      oid: options.application.id,
      azp: options.application.id,
      app_displayname: options.application.displayName,
      roles: options.application.roles,
      idtyp: 'app',
    });
  } else {
    throw new Error('mintToken needs a user or an application');
  }
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.user?.id ?? options.application!.id)
    .setIssuedAt()
    .setNotBefore('0s')
    .setJti(randomUUID())
    .setExpirationTime(`${options.expiresInSeconds ?? 3600}s`);
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}
