import { AuthenticationRequiredError } from './auth.errors.js';

// The scheme is case-insensitive (RFC 7235 section 2.1); some clients send `bearer`.
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;
/** A JWT larger than this is not a token we issued or accept; reject before parsing it. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** The token of an `Authorization: Bearer {token}` header, or the 401 that its absence or shape earns. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw new AuthenticationRequiredError('Access token is empty.');
  const match = header.length <= MAX_TOKEN_LENGTH ? BEARER.exec(header) : null;
  if (!match) throw new AuthenticationRequiredError('The Authorization header must be "Bearer {token}".');
  return match[1];
}
