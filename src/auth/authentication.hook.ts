import type { FastifyRequest } from 'fastify';
import { bearerToken } from './bearer-token.js';
import type { TokenVerifier } from './token-verifier.js';

/**
 * Fastify `onRequest` hook: the caller's token is verified before the body is read or parsed, so a
 * request without a valid token costs its headers and no more, whatever it carries. Routes marked
 * {@link Public} and requests that match no route pass; the {@link AuthGuard} then checks permissions.
 */
export function authenticationHook(verifier: TokenVerifier) {
  return async (request: FastifyRequest): Promise<void> => {
    if (request.is404 || isPublicRoute(request)) return;
    request.caller = await verifier.verify(bearerToken(request.headers.authorization));
  };
}

/** Set by {@link Public} (as Fastify route config) and by `configureApp` on the documentation's routes. */
export function isPublicRoute(request: FastifyRequest): boolean {
  return (request.routeOptions.config as { public?: boolean } | undefined)?.public === true;
}
