import { applyDecorators, SetMetadata } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';

export interface RequiredPermissions {
  /** Any one of these delegated scopes; empty: user tokens are not supported. */
  delegated: readonly string[];
  /** Any one of these application roles; empty: app-only tokens are not supported. */
  application: readonly string[];
}

export const PERMISSIONS_KEY = 'threat-assessment:permissions';
export const PUBLIC_KEY = 'threat-assessment:public';

/** The permissions of one operation. A route with none is refused (fail closed). */
export const RequirePermissions = (permissions: RequiredPermissions) => SetMetadata(PERMISSIONS_KEY, permissions);

/**
 * No token needed (health checks, metrics). On each handler, not its class: Nest hands Fastify a
 * handler's own route config only, and the authentication hook reads it there.
 */
export const Public = (): MethodDecorator =>
  applyDecorators(SetMetadata(PUBLIC_KEY, true), RouteConfig({ public: true }));
