import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { PermissionDeniedError } from './auth.errors.js';
import { bearerToken } from './bearer-token.js';
import { PERMISSIONS_KEY, PUBLIC_KEY, type RequiredPermissions } from './permissions.decorator.js';
import { TokenVerifier } from './token-verifier.js';

/**
 * Global guard: checks the permissions of every route not marked {@link Public}. The caller was
 * verified by the authentication hook before the body was read; a route the hook did not cover is
 * authenticated here, so none goes without (fail closed).
 */
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
    const caller = request.caller ?? (await this.verifier.verify(bearerToken(request.headers.authorization)));

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
