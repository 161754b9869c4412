import { Inject, Injectable, Logger } from '@nestjs/common';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { isStorableText } from '../common/http/storable-text.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/app-config.js';
import { AuthenticationRequiredError, IdentityProviderUnavailableError, PermissionDeniedError } from './auth.errors.js';
import { type Caller, PERSONAL_ACCOUNT_TENANT } from './caller.js';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, loadOrCreateLocalKey } from './local-auth.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CLOCK_TOLERANCE_SECONDS = 60;
const VERIFIED_TTL_MS = 5 * 60_000;
const VERIFIED_MAX = 10_000;

interface Verification {
  /** Checks signature, algorithm, audience and lifetime. */
  verify(token: string): Promise<JWTPayload>;
  /** May hold `{tenantid}`, as Entra ID's multi-tenant issuer does; checked against the token's `tid`. */
  issuer?: string;
}

/** Verifies bearer tokens with `jose` and turns their claims into a {@link Caller}. */
@Injectable()
export class TokenVerifier {
  private readonly verification: Verification;
  private readonly logger = new Logger('TokenVerifier');

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.verification = verificationFor(config.auth);
  }

  /**
   * A client sends the same token for its whole lifetime: re-verifying it on every request costs more
   * CPU than the rest of a request (profiled). Successful verifications are remembered, keyed by the
   * exact token text, until the token expires and at most VERIFIED_TTL_MS; failures never are.
   */
  private readonly verified = new Map<string, { caller: Caller; until: number }>();

  async verify(token: string): Promise<Caller> {
    const now = Date.now();
    const known = this.verified.get(token);
    if (known && known.until > now) return known.caller;
    if (known) this.verified.delete(token);
    const { caller, exp } = await this.verifyUncached(token);
    if (this.verified.size >= VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { caller, until: Math.min(exp * 1000, now + VERIFIED_TTL_MS) });
    return caller;
  }

  private async verifyUncached(token: string): Promise<{ caller: Caller; exp: number }> {
    const { issuer } = this.verification;
    let payload: JWTPayload;
    try {
      payload = await this.verification.verify(token);
    } catch (error) {
      if (isKeySourceFailure(error)) {
        this.logger.warn(`Signing keys unavailable: ${error instanceof Error ? error.message : String(error)}`);
        throw new IdentityProviderUnavailableError();
      }
      throw new AuthenticationRequiredError(describe(error));
    }
    if (typeof payload.exp !== 'number') {
      throw new AuthenticationRequiredError('The access token has no expiry.');
    }
    const tenantId = typeof payload.tid === 'string' ? payload.tid.toLowerCase() : '';
    if (!GUID.test(tenantId)) {
      throw new AuthenticationRequiredError('The access token has no valid tenant (tid).');
    }
    if (issuer && payload.iss !== issuer.replace('{tenantid}', tenantId)) {
      throw new AuthenticationRequiredError('The access token was issued by an untrusted issuer.');
    }
    if (tenantId === PERSONAL_ACCOUNT_TENANT) {
      throw new PermissionDeniedError('Personal Microsoft accounts are not supported by this API.');
    }
    return { caller: toCaller(payload, tenantId), exp: payload.exp };
  }
}

function verificationFor(auth: AppConfig['auth']): Verification {
  switch (auth.mode) {
    case 'jwks': {
      const keys = createRemoteJWKSet(new URL(auth.jwksUri), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      const options = {
        algorithms: ['RS256', 'ES256'],
        audience: auth.audience,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      };
      return { verify: async (token) => (await jwtVerify(token, keys, options)).payload, issuer: auth.issuer };
    }
    case 'hs256':
      return hs256(auth.secret, auth.issuer, auth.audience);
    case 'local':
      return hs256(loadOrCreateLocalKey(), LOCAL_ISSUER, [LOCAL_AUDIENCE]);
  }
}

function hs256(secret: string, issuer?: string, audience?: string[]): Verification {
  const key = new TextEncoder().encode(secret);
  const options = { algorithms: ['HS256'], audience, clockTolerance: CLOCK_TOLERANCE_SECONDS };
  return { verify: async (token) => (await jwtVerify(token, key, options)).payload, issuer };
}

function toCaller(payload: JWTPayload, tenantId: string): Caller {
  const scp = typeof payload.scp === 'string' ? payload.scp.split(' ').filter(Boolean) : undefined;
  if (scp) {
    const id = stringClaim(payload.oid) ?? stringClaim(payload.sub);
    if (!id) throw new AuthenticationRequiredError('The access token names no user (oid).');
    return {
      tenantId,
      kind: 'user',
      id,
      displayName: stringClaim(payload.name),
      applicationId: stringClaim(payload.azp) ?? stringClaim(payload.appid),
      objectId: stringClaim(payload.oid),
      permissions: new Set(scp),
    };
  }
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
  const appId = stringClaim(payload.azp) ?? stringClaim(payload.appid);
  if (!appId) throw new AuthenticationRequiredError('The access token names no application (azp/appid).');
  return {
    tenantId,
    kind: 'application',
    id: appId,
    displayName: stringClaim(payload.app_displayname),
    applicationId: appId,
    objectId: stringClaim(payload.oid),
    permissions: new Set(roles),
  };
}

/** The JWKS endpoint did not answer (timeout, network, 5xx): the token may well be valid, so 503, not 401. */
function isKeySourceFailure(error: unknown): boolean {
  if (error instanceof errors.JWKSTimeout) return true;
  if (error instanceof errors.JOSEError)
    return error.code === 'ERR_JOSE_GENERIC' && /fetch|JSON Web Key Set|response/i.test(error.message);
  return (
    error instanceof TypeError ||
    (error instanceof Error && 'cause' in error && /ECONN|ENOTFOUND|EAI_AGAIN/.test(String(error.cause)))
  );
}

/**
 * A claim the service stores (the caller's id and name go into `createdBy`): one it could not store
 * faithfully (a NUL, a lone surrogate) refuses the token, as the token's issuer would never sign one.
 */
function stringClaim(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) return undefined;
  if (!isStorableText(value)) {
    throw new AuthenticationRequiredError('The access token holds a claim with a NUL or an unpaired surrogate.');
  }
  return value;
}

/** Says what failed without echoing the token. */
function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The access token has expired.';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `The access token's '${error.claim}' claim is not accepted.`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The access token signature is invalid.';
  if (error instanceof errors.JOSEAlgNotAllowed) return "The access token's signing algorithm is not accepted.";
  if (error instanceof errors.JWKSNoMatchingKey) return 'No signing key matches the access token.';
  if (error instanceof errors.JWKSTimeout) return 'The signing keys could not be fetched in time.';
  return 'The access token is malformed or invalid.';
}
