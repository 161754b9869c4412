import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenApiDocument } from '../../src/app.setup.js';
import { toOpenApiJson } from '../../src/common/openapi/openapi-json.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const STALE = 'openapi.json does not match the code: run `npm run openapi` and commit openapi.json';

describe('openapi.json (the committed OpenAPI document)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('is the document the code generates, byte for byte', () => {
    const committed = readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8');
    const generated = toOpenApiJson(createOpenApiDocument(t.app));
    // Parsed first: a stale file fails with a readable diff of what changed, not of 5,000 lines.
    expect(JSON.parse(committed), STALE).toEqual(JSON.parse(generated));
    expect(committed === generated, `${STALE} (same content, other formatting)`).toBe(true);
  });

  it('is what the service serves at /docs-json', async () => {
    const res = await t.http.get('/docs-json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8')));
  });
});
