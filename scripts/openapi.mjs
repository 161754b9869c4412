#!/usr/bin/env node
// Writes openapi.json, the OpenAPI document the service serves at /docs-json, from the built code:
// `npm run openapi` (builds first). test/e2e/openapi-committed.e2e-spec.ts fails when the two disagree.
//
// The app is created, never initialised nor listening: the document comes from the controllers'
// decorators, and no database is needed (the address below is never reached; the app starts without one).
import { writeFileSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import 'reflect-metadata';
import { createApp, createOpenApiDocument } from '../dist/app.setup.js';
import { toOpenApiJson } from '../dist/common/openapi/openapi-json.js';
import { loadConfig } from '../dist/config/app-config.js';

const target = fileURLToPath(new URL('../openapi.json', import.meta.url));
const unreachable = 'postgres://openapi@127.0.0.1:9/openapi';

// Test mode with a throw-away HS256 key: local mode would write a signing key to .data/.
const config = loadConfig({
  NODE_ENV: 'test',
  AUTH_HS256_SECRET: 'openapi-document-only-never-verifies-a-token',
  SKIPTOKEN_SECRET: 'openapi-document-only-never-signs-a-cursor',
  DATABASE_URL: unreachable,
  LOG_LEVEL: 'silent',
});
const app = await createApp(config, unreachable);
try {
  const json = toOpenApiJson(createOpenApiDocument(app));
  writeFileSync(target, json);
  const document = JSON.parse(json);
  const operations = Object.values(document.paths).reduce((n, item) => n + Object.keys(item).length, 0);
  console.log(
    `openapi.json: ${Object.keys(document.paths).length} paths, ${operations} operations, ${json.length} bytes`,
  );
} finally {
  await app.close();
}
