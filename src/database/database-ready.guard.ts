import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PUBLIC_KEY } from '../auth/permissions.decorator.js';
import { DatabaseLifecycle } from './database-lifecycle.service.js';

/**
 * Global: answers 503 before a handler touches a database not reached (and migrated) since start.
 * Public routes (health probes) decide for themselves. A guard, not an interceptor: it needs no
 * observable pipeline around every request.
 */
@Injectable()
export class DatabaseReadyGuard implements CanActivate {
  constructor(
    private readonly database: DatabaseLifecycle,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [context.getHandler(), context.getClass()]);
    if (!isPublic) this.database.assertReady();
    return true;
  }
}
