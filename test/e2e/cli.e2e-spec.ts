import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../../src/auth/caller.js';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, LOCAL_TENANT_ID, LOCAL_USER } from '../../src/auth/local-auth.js';
import { compileCli, ROOT } from '../support/compile-cli.js';
import { expectGraphError, URL_REQUEST } from '../support/graph.js';
import { REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from '../support/tokens.js';

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[], env: Record<string, string>, cwd: string): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [script, ...args],
      { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        resolvePromise({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('npm run token (the CLI, run by node)', () => {
  const HS256 = {
    NODE_ENV: 'test',
    AUTH_HS256_SECRET: TEST_SECRET,
    AUTH_ISSUER: TEST_ISSUER,
    AUTH_AUDIENCE: TEST_AUDIENCE,
  };
  let t: TestApp;
  let build: string;
  let cwd: string;
  let cli: string;

  beforeAll(async () => {
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    build = mkdtempSync(join(ROOT, 'test-artifacts', 'cli-'));
    cli = compileCli('token', build);
    cwd = mkdtempSync(join(tmpdir(), 'threat-assessment-cli-cwd-'));
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
    rmSync(build, { recursive: true, force: true });
    rmSync(cwd, { recursive: true, force: true });
  });

  it('prints its help and exits 0', async () => {
    const out = await run(cli, ['--help'], HS256, cwd);
    expect(out).toEqual({ code: 0, stdout: expect.stringContaining('usage: npm run token -- [options]'), stderr: '' });
  });

  it('mints a user token the service accepts, with the name it is given as createdBy', async () => {
    const tenantId = randomUUID();
    const out = await run(cli, ['--tenant', tenantId, '--name', 'CLI User'], HS256, cwd);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toBe('');
    const token = out.stdout.trimEnd();
    expect(out.stdout).toBe(`${token}\n`);
    expect(token).toMatch(JWT);
    const res = await t.http.post(REQUESTS).set('authorization', `Bearer ${token}`).send(URL_REQUEST);
    expect(res.status, res.text).toBe(201);
    expect(res.body.createdBy).toEqual({ user: { id: LOCAL_USER.id, displayName: 'CLI User' } });
  });

  it('mints an application token with --roles that may read but not create', async () => {
    const tenantId = randomUUID();
    const out = await run(cli, ['--tenant', tenantId, '--roles', PERMISSIONS.read], HS256, cwd);
    expect(out.code, out.stderr).toBe(0);
    const authorization = `Bearer ${out.stdout.trim()}`;
    const count = await t.http.get(`${REQUESTS}/$count`).set('authorization', authorization);
    expect(count.status, count.text).toBe(200);
    expect(count.text).toBe('0');
    expectGraphError(
      await t.http.post(REQUESTS).set('authorization', authorization).send(URL_REQUEST),
      403,
      'accessDenied',
    );
    const { rows } = await t.db.query(
      'SELECT count(*)::int AS n FROM threat_assessment_requests WHERE tenant_id = $1',
      [tenantId],
    );
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('mints a token that expires when --expires says', async () => {
    const out = await run(cli, ['--tenant', randomUUID(), '--expires', '120'], HS256, cwd);
    expect(out.code, out.stderr).toBe(0);
    const { payload } = await jwtVerify(out.stdout.trim(), new TextEncoder().encode(TEST_SECRET), {
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
    });
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  it('in local mode, signs with the local key file, made 0600 in the working directory', async () => {
    const out = await run(cli, [], { NODE_ENV: 'development' }, cwd);
    expect(out.code, out.stderr).toBe(0);
    const keyFile = join(cwd, '.data/local-signing-key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const key = new TextEncoder().encode(readFileSync(keyFile, 'utf8').trim());
    const { payload } = await jwtVerify(out.stdout.trim(), key, {
      issuer: LOCAL_ISSUER,
      audience: LOCAL_AUDIENCE,
      algorithms: ['HS256'],
    });
    expect(payload).toMatchObject({
      tid: LOCAL_TENANT_ID,
      oid: LOCAL_USER.id,
      name: LOCAL_USER.displayName,
      scp: PERMISSIONS.readWrite,
    });
    const again = await run(cli, [], { NODE_ENV: 'development' }, cwd);
    await jwtVerify(again.stdout.trim(), key, { issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE });
  });

  it.each<[string, string[], Record<string, string>, number, RegExp]>([
    ['a tenant that is not a GUID', ['--tenant', 'contoso'], HS256, 1, /^--tenant must be a GUID\n$/],
    ['an unknown option', ['--tenat', randomUUID()], HS256, 1, /Unknown option '--tenat'/],
    ['a bad lifetime', ['--expires', '0'], HS256, 1, /^--expires must be a positive number of seconds\n$/],
    [
      'JWKS mode',
      [],
      {
        NODE_ENV: 'test',
        AUTH_JWKS_URI: 'https://keys.test/jwks',
        AUTH_ISSUER: 'https://issuer.test/',
        AUTH_AUDIENCE: 'api://x',
      },
      2,
      /^AUTH_JWKS_URI is set: get tokens from your identity provider\.\n$/,
    ],
    [
      'production without authentication',
      [],
      { NODE_ENV: 'production', SKIPTOKEN_SECRET: 'x'.repeat(32) },
      1,
      /^No authentication configured/,
    ],
    [
      'a short AUTH_HS256_SECRET',
      [],
      { AUTH_HS256_SECRET: 'short' },
      1,
      /^AUTH_HS256_SECRET must be at least 32 characters\n$/,
    ],
  ])('refuses %s: no token, a message and a non-zero exit', async (_, args, env, code, message) => {
    const out = await run(cli, args, env, cwd);
    expect(out.code).toBe(code);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(message);
  });
});
