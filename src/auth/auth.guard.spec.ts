import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/app-config.js';
import { AuthenticationRequiredError, PermissionDeniedError } from './auth.errors.js';
import { AuthGuard } from './auth.guard.js';
import { PERMISSIONS } from './caller.js';
import { Public, RequirePermissions } from './permissions.decorator.js';
import { mintToken } from './token-minter.js';
import { TokenVerifier } from './token-verifier.js';

const SECRET = 'guard-unit-hs256-secret-0123456789-abcdefghij';
const TENANT = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const USER = '9b2e4f1a-0000-4000-8000-000000000001';

class Routes {
  @RequirePermissions({ delegated: [PERMISSIONS.readWrite], application: [PERMISSIONS.read, PERMISSIONS.readWrite] })
  read(this: void) {}

  @RequirePermissions({ delegated: [PERMISSIONS.readWrite], application: [] })
  create(this: void) {}

  /** A route someone forgot to annotate. */
  unannotated(this: void) {}

  @Public()
  health(this: void) {}
}

function context(handler: () => void, request: Partial<FastifyRequest>, cls: object = Routes): ExecutionContext {
  return {
    getHandler: () => handler,
    getClass: () => cls,
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
}

function setup() {
  const verifier = new TokenVerifier(loadConfig({ AUTH_HS256_SECRET: SECRET }));
  const verify = vi.spyOn(verifier, 'verify');
  return { guard: new AuthGuard(new Reflector(), verifier), verify };
}

const user = (scopes: string[], displayName?: string) =>
  mintToken({ secret: SECRET, tenantId: TENANT, user: { id: USER, displayName, scopes } });
const app = (roles: string[]) => mintToken({ secret: SECRET, tenantId: TENANT, application: { id: 'engine', roles } });

async function denial(guard: AuthGuard, ctx: ExecutionContext): Promise<Error> {
  try {
    await guard.canActivate(ctx);
  } catch (error) {
    return error as Error;
  }
  throw new Error('the guard let the request through');
}

describe('AuthGuard', () => {
  it('lets a permitted caller through and hands the handler its verified caller', async () => {
    const { guard } = setup();
    const request: Partial<FastifyRequest> = {
      headers: { authorization: `Bearer ${await user([PERMISSIONS.readWrite], 'Ada')}` },
    };
    expect(await guard.canActivate(context(Routes.prototype.read, request))).toBe(true);
    expect(request.caller).toEqual({
      tenantId: TENANT,
      kind: 'user',
      id: USER,
      displayName: 'Ada',
      objectId: USER,
      permissions: new Set([PERMISSIONS.readWrite]),
    });
  });

  it('lets anyone through a public route without looking at a token', async () => {
    const { guard, verify } = setup();
    const request: Partial<FastifyRequest> = { headers: { authorization: 'Bearer not.a.token' } };
    expect(await guard.canActivate(context(Routes.prototype.health, request))).toBe(true);
    expect(verify).not.toHaveBeenCalled();
    expect(request.caller).toBeUndefined();
  });

  it('checks the permissions of the caller the authentication hook verified, without verifying again', async () => {
    const { guard, verify } = setup();
    const caller = { tenantId: TENANT, kind: 'user' as const, id: USER, permissions: new Set([PERMISSIONS.read]) };
    const error = await denial(guard, context(Routes.prototype.read, { headers: {}, caller }));
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(verify).not.toHaveBeenCalled();
    const permitted = { ...caller, permissions: new Set([PERMISSIONS.readWrite]) };
    expect(await guard.canActivate(context(Routes.prototype.read, { headers: {}, caller: permitted }))).toBe(true);
  });

  it('refuses every caller on a route without permissions (fails closed)', async () => {
    const { guard } = setup();
    const everything = [PERMISSIONS.read, PERMISSIONS.readWrite];
    for (const [token, message] of [
      [await user(everything), 'This operation does not support delegated access.'],
      [await app(everything), 'This operation does not support application-only access.'],
    ] as const) {
      const request: Partial<FastifyRequest> = { headers: { authorization: `Bearer ${token}` } };
      const error = await denial(guard, context(Routes.prototype.unannotated, request));
      expect(error).toBeInstanceOf(PermissionDeniedError);
      expect(error.message).toBe(message);
      expect(request.caller).toBeUndefined();
    }
  });

  it('refuses an application where the operation takes none, and names the missing permission otherwise', async () => {
    const { guard } = setup();
    const create = await denial(
      guard,
      context(Routes.prototype.create, { headers: { authorization: `Bearer ${await app([PERMISSIONS.readWrite])}` } }),
    );
    expect(create).toBeInstanceOf(PermissionDeniedError);
    expect(create.message).toBe('This operation does not support application-only access.');
    const read = await denial(
      guard,
      context(Routes.prototype.read, { headers: { authorization: `Bearer ${await user([PERMISSIONS.read])}` } }),
    );
    expect(read.message).toBe(
      'Missing permission: this operation needs one of ThreatAssessment.ReadWrite.All as a delegated scope.',
    );
  });

  it('refuses a header longer than 16 KiB before verifying it', async () => {
    const { guard, verify } = setup();
    const token = await user([PERMISSIONS.readWrite], 'x'.repeat(16 * 1024));
    const error = await denial(
      guard,
      context(Routes.prototype.read, { headers: { authorization: `Bearer ${token}` } }),
    );
    expect(error).toBeInstanceOf(AuthenticationRequiredError);
    expect(error.message).toBe('The Authorization header must be "Bearer {token}".');
    expect(verify).not.toHaveBeenCalled();
  });

  it('takes the scheme in any case, and nothing but one space before the token', async () => {
    const { guard } = setup();
    const token = await user([PERMISSIONS.readWrite]);
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      expect(
        await guard.canActivate(context(Routes.prototype.read, { headers: { authorization: `${scheme} ${token}` } })),
      ).toBe(true);
    }
    for (const header of [
      `Bearer  ${token}`,
      `Bearer\t${token}`,
      ` Bearer ${token}`,
      `Bearer ${token}\n`,
      `Token ${token}`,
    ]) {
      const error = await denial(guard, context(Routes.prototype.read, { headers: { authorization: header } }));
      expect(error).toBeInstanceOf(AuthenticationRequiredError);
    }
  });
});
