import { SetMetadata } from '@nestjs/common';

export interface RequiredPermissions {
  /** Any one of these delegated scopes; empty: user tokens are not supported. */
  delegated: readonly string[];
  /** Any one of these application roles; empty: app-only tokens are not supported. */
  application: readonly string[];
}

export const PERMISSIONS_KEY = 'threat-assessment:permissions';
export const PUBLIC_KEY = 'threat-assessment:public';

/** The permissions of CONTRACT section 5 for one operation. A route with none is refused (fail closed). */
export const RequirePermissions = (permissions: RequiredPermissions) => SetMetadata(PERMISSIONS_KEY, permissions);

/** No token needed (health checks). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
