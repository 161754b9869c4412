import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTenant, type TestIdentity } from '../support/tokens.js';
import { REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';

/** Debian's package (`apt-get install -y chromium`); never a browser download. */
const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SHOTS = join(process.cwd(), 'test-artifacts', 'swagger-ui');
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Swagger UI in a real browser against a real listening service: a person's first session, done by a
 * script. Swagger UI's calls go over the network, so every one of them also passes through the test
 * app's OpenAPI conformance check.
 */
describe('Swagger UI at /docs, in Chromium', () => {
  let t: TestApp;
  let base: string;
  let tenant: TestIdentity;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // Links carry the request's own origin, the one the browser used.
    t = await startTestApp({ PUBLIC_BASE_URL: '' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    tenant = await newTenant();
    mkdirSync(SHOTS, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'swagger-ui-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ARGS,
      headless: true,
      viewport: { width: 1280, height: 900 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) pageErrors.push(message.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await t?.close();
  });

  /** The operation block of `method path`, as Swagger UI renders it. */
  const operation = (method: string, path: string) =>
    page.locator(`.opblock.opblock-${method}`, { has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });

  const openAndTryOut = async (block: Locator) => {
    await block.locator('.opblock-summary').click();
    await block.locator('button.try-out__btn').click();
    await block.locator('button.execute').waitFor();
  };

  /** Clicks Execute and reads the live response the page shows: status, body and headers. */
  const execute = async (block: Locator) => {
    await block.locator('button.execute').click();
    const response = block.locator('.live-responses-table .response');
    await response.locator('.response-col_status').waitFor();
    const status = Number((await response.locator('.response-col_status').textContent())!.trim());
    const body = (await response.locator('.response-col_description .highlight-code pre').first().textContent()) ?? '';
    const lines = await response.locator('.response-col_description .headerline').allTextContents();
    const headers = Object.fromEntries(
      lines
        .map((line) => line.trim().split(/:\s*(.*)/s) as [string, string])
        .map(([name, value]) => [name.toLowerCase(), value]),
    );
    return { status, body: body.trim() ? (JSON.parse(body) as Record<string, unknown>) : {}, headers };
  };

  /** Picks the request body example `name` and waits until the editor shows `shown`. */
  const pickExample = async (block: Locator, name: string, shown: string) => {
    await block.locator('.opblock-section-request-body select.examples-select-element').selectOption(name);
    await expect.poll(() => block.locator('textarea.body-param__text').inputValue()).toContain(shown);
  };

  /** A 201 whose body has `expected` and a new GUID id, with `Location` at `collection/{id}`; returns the id. */
  const expectCreated = (
    created: Awaited<ReturnType<typeof execute>>,
    expected: Record<string, unknown>,
    collection: string,
  ) => {
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject(expected);
    const id = created.body.id as string;
    expect(id).toMatch(GUID);
    expect(created.headers.location).toBe(`${base}${collection}/${id}`);
    return id;
  };

  const shoot = (target: Locator | Page, name: string) => target.screenshot({ path: join(SHOTS, name) });
  /** The viewport, with `part` scrolled to its top: what a person sees at that step. */
  const shootAt = async (part: Locator, name: string) => {
    await part.evaluate((element) => element.scrollIntoView({ block: 'start' }));
    await shoot(page, name);
  };

  it('authorizes with a pasted token, then creates a URL request, adds a result to it and reads it back expanded', async () => {
    await page.goto(`${base}/docs`);
    await page.locator('.information-container .title').waitFor();
    await expect.poll(() => page.locator('.opblock').count()).toBeGreaterThanOrEqual(12);
    expect(await page.locator('.information-container .title').textContent()).toContain('Threat Assessment Service');
    await shoot(page, '01-docs.png');

    // Authorize: paste the bearer token into the scheme's dialog.
    await page.locator('.scheme-container button.authorize').click();
    const dialog = page.locator('.modal-ux');
    await dialog.locator('input').fill(tenant.token);
    await shoot(dialog, '02-authorize.png');
    await dialog.locator('.auth-btn-wrapper button.authorize').click();
    await dialog.locator('button.btn-done').click();
    await page.locator('.scheme-container button.authorize.locked').waitFor();

    // Create threatAssessmentRequest, with Graph's URL example picked from the body's examples.
    const create = operation('post', REQUESTS);
    await openAndTryOut(create);
    await pickExample(create, 'urlAssessmentRequest', '#microsoft.graph.urlAssessmentRequest');
    await shootAt(create.locator('.opblock-section-request-body'), '03-create-request-body.png');
    const requestId = expectCreated(
      await execute(create),
      {
        '@odata.type': '#microsoft.graph.urlAssessmentRequest',
        url: 'http://test.com',
        expectedAssessment: 'block',
        category: 'phishing',
        status: 'pending',
        contentType: 'url',
      },
      REQUESTS,
    );
    await shootAt(create.locator('.live-responses-table'), '04-create-response.png');

    // Add results, to that request, with the rescan example (checkPolicy is for mail only).
    const add = operation('post', `${REQUESTS}/{id}/results`);
    await openAndTryOut(add);
    await add.locator('tr[data-param-name="id"] input').fill(requestId);
    await pickExample(add, 'rescan', 'rescan');
    await shootAt(add.locator('.parameters-container'), '05-add-result-request.png');
    const resultId = expectCreated(
      await execute(add),
      { '@odata.type': '#microsoft.graph.threatAssessmentResult', resultType: 'rescan', message: 'Not Spam' },
      `${REQUESTS}/${requestId}/results`,
    );
    await shootAt(add.locator('.live-responses-table'), '06-add-result-response.png');

    // Get threatAssessmentRequest with $expand=results: completed, with the result.
    const get = operation('get', `${REQUESTS}/{id}`);
    await openAndTryOut(get);
    await get.locator('tr[data-param-name="id"] input').fill(requestId);
    await get.locator('tr[data-param-name="$expand"] select').selectOption('results');
    const read = await execute(get);
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(read.body).toMatchObject({
      '@odata.context': `${base}/v1.0/$metadata#informationProtection/threatAssessmentRequests(results())/$entity`,
      id: requestId,
      status: 'completed',
      results: [{ id: resultId, resultType: 'rescan', message: 'Not Spam' }],
    });
    await shootAt(get.locator('.live-responses-table'), '07-get-expanded-response.png');
    // The whole exchange in one picture (docs/swagger-ui.png is a copy of it, for the README).
    await page.setViewportSize({ width: 1280, height: 1700 });
    await shootAt(get.locator('.opblock-summary'), '08-get-expanded.png');

    // What the page showed is what the database holds.
    const { rows } = await t.db.query(
      'SELECT status FROM threat_assessment_requests WHERE id = $1 AND tenant_id = $2',
      [requestId, tenant.tenantId],
    );
    expect(rows).toEqual([{ status: 'completed' }]);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
