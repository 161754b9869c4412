import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AuthenticationRequiredError, PermissionDeniedError } from './auth.errors.js';
import { PERMISSIONS_KEY, PUBLIC_KEY, type RequiredPermissions } from './permissions.decorator.js';
import { TokenVerifier } from './token-verifier.js';

// The scheme is case-insensitive (RFC 7235 section 2.1); some clients send `bearer`.
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;
/** A JWT larger than this is not a token we issued or accept; reject before parsing it. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** Global guard: authenticates every route not marked {@link Public}, then checks its permissions. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;

    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const header = request.headers.authorization;
    if (!header) throw new AuthenticationRequiredError('Access token is empty.');
    const match = header.length <= MAX_TOKEN_LENGTH ? BEARER.exec(header) : null;
    if (!match) throw new AuthenticationRequiredError('The Authorization header must be "Bearer {token}".');
    const caller = await this.verifier.verify(match[1]);

    const required = this.reflector.getAllAndOverride<RequiredPermissions | undefined>(PERMISSIONS_KEY, targets);
    const accepted = caller.kind === 'user' ? required?.delegated : required?.application;
    if (!accepted?.length) {
      throw new PermissionDeniedError(
        caller.kind === 'user'
          ? 'This operation does not support delegated access.'
          : 'This operation does not support application-only access.',
      );
    }
    if (!accepted.some((permission) => caller.permissions.has(permission))) {
      throw new PermissionDeniedError(
        `Missing permission: this operation needs one of ${accepted.join(', ')} as ${caller.kind === 'user' ? 'a delegated scope' : 'an application role'}.`,
      );
    }
    request.caller = caller;
    return true;
  }
}
