import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { PUBLIC_KEY } from '../auth/permissions.decorator.js';
import { DatabaseLifecycle } from './database-lifecycle.service.js';

/**
 * Global: answers 503 before a handler touches a database not reached since start. Public routes
 * (health probes) decide for themselves.
 */
@Injectable()
export class DatabaseReadyInterceptor implements NestInterceptor {
  constructor(
    private readonly database: DatabaseLifecycle,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [context.getHandler(), context.getClass()]);
    if (!isPublic) this.database.assertReady();
    return next.handle();
  }
}
