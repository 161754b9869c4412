// Runs the Dockerfile's exact CMD (exec form) as the image would, with its runtime ENV, against
// the PostgreSQL given as DATABASE_URL: readiness must answer 200, one POST must answer 201, and
// SIGTERM must end the process with 0. No Docker engine is needed: the CMD runs from this checkout.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { mintToken } from '../dist/auth/token-minter.js';
import { imageCommand, runtimeEnv } from './dockerfile-runtime.mjs';

const cmd = imageCommand();

const port = await new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});
const secret = randomBytes(32).toString('hex');
const env = {
  ...runtimeEnv(),
  PATH: process.env.PATH,
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  PORT: String(port),
  PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
  DATABASE_URL: process.env.DATABASE_URL,
  AUTH_HS256_SECRET: secret,
  SKIPTOKEN_SECRET: randomBytes(32).toString('hex'),
};
if (!env.DATABASE_URL) throw new Error('DATABASE_URL is required');
const [command, ...args] = cmd;
console.log(
  `smoke: ${cmd.join(' ')} (NODE_ENV=production, NODE_OPTIONS=${env.NODE_OPTIONS ?? ''}, MALLOC_ARENA_MAX=${env.MALLOC_ARENA_MAX ?? ''}, port ${port})`,
);
const started = Date.now();
const child = spawn(command === 'node' ? process.execPath : command, args, {
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
child.stdout.on('data', (chunk) => (output += chunk));
const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
// A failed check throws: the service it started must not outlive it.
process.on('exit', () => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

const base = `http://127.0.0.1:${port}`;
let ready = false;
while (!ready && Date.now() - started < 20_000) {
  ready = await fetch(`${base}/health/ready`).then(
    (r) => r.status === 200,
    () => false,
  );
  if (!ready) await new Promise((r) => setTimeout(r, 200));
}
if (!ready) {
  throw new Error(`not ready within 20 s:\n${output}`);
}
console.log(`smoke: ready in ${Date.now() - started} ms`);
const token = await mintToken({
  secret,
  tenantId: randomUUID(),
  user: { id: randomUUID(), displayName: 'Smoke Test', scopes: ['ThreatAssessment.ReadWrite.All'] },
});
const res = await fetch(`${base}/v1.0/informationProtection/threatAssessmentRequests`, {
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  body: JSON.stringify({
    '@odata.type': '#microsoft.graph.urlAssessmentRequest',
    url: 'http://test.com',
    expectedAssessment: 'block',
    category: 'phishing',
  }),
});
const body = await res.json();
if (res.status !== 201 || body.status !== 'pending')
  throw new Error(`expected 201, got ${res.status}: ${JSON.stringify(body)}`);
console.log(`smoke: POST answered 201 (${body.id}); first 201 ${Date.now() - started} ms after start`);
const jsonLine = (line) => {
  try {
    const entry = JSON.parse(line);
    return typeof entry.level === 'string' && typeof entry.message === 'string';
  } catch {
    return false;
  }
};
if (!output.split('\n').some(jsonLine)) throw new Error('production logs are not JSON lines');
child.kill('SIGTERM');
const { code } = await exited;
if (code !== 0) throw new Error(`exit code ${code} after SIGTERM`);
console.log('smoke: SIGTERM -> exit 0');
