import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createFixture, type Fixture, RESULT_BODY, routeNamed } from './support/api.js';
import {
  MAX_ERROR_BYTES,
  REQUEST_BODY_LIMIT,
  requestsPath,
  RESULT_BODY_LIMIT_CEILING,
  STALL_BOUND_MS,
  VERSIONS,
} from './support/constants.js';
import { describeAnswer, expectAnswer, problemsOf } from './support/envelope.js';
import {
  deepArray,
  deepObject,
  largeString,
  longArray,
  SAMPLE_REQUESTS,
  withLargeStrings,
  withManyKeys,
  withRawField,
  worstBodies,
} from './support/inputs.js';
import { holds } from './support/properties.js';
import { scrape, startHealthProbe } from './support/service-metrics.js';
import { classOfInputs } from './support/suite.js';
import { newTenant, type Tenant } from './support/tokens.js';

/** Refusing a body, however built, is a 4xx within this long (generous: a 2-core machine, 8 MB bodies). */
const REFUSAL_BOUND_MS = 2000;

/**
 * Issue point 2: bounded cost of refusal. With a valid token, a hostile body is refused in a bounded
 * time with a small envelope that names the first few problems; each route reads only the body it
 * needs; and while the worst are refused, other clients see no stall.
 */
describe('(b) body shapes with a valid token: bounded cost of refusal', () => {
  const { ctx, figures, client } = classOfInputs('bodies', '(b) body shapes');
  let tenant: Tenant;
  let ids: Fixture;

  beforeAll(async () => {
    tenant = await newTenant();
    ids = await createFixture(client, tenant);
  });

  const BODY_ROUTES = ['create request', 'add result', 'add result ($ref)'];
  type Kind = keyof typeof SAMPLE_REQUESTS;
  // Required fields only: null in an optional one is "absent", and 'xxxx…' is valid base64 contentData.
  const STRING_FIELDS: Record<Kind | 'result', string[]> = {
    mail: ['recipientEmail', 'messageUri', 'category'],
    emailFile: ['recipientEmail', 'expectedAssessment'],
    file: ['fileName', 'category'],
    url: ['url', '@odata.type'],
    result: ['message', 'resultType'],
  };

  type Shape =
    | { shape: 'keys'; count: number }
    | { shape: 'deep object' | 'deep array in a field'; depth: number }
    | { shape: 'deep array'; depth: number }
    | { shape: 'long array'; length: number }
    | { shape: 'large strings'; count: number; bytes: number }
    | { shape: 'long field'; bytes: number }
    | { shape: 'wrong type'; value: string }
    | { shape: 'content type'; type: string }
    | { shape: 'syntax'; text: string };
  const shapes: fc.Arbitrary<Shape> = fc.oneof(
    fc.integer({ min: 1000, max: 300_000 }).map((count): Shape => ({ shape: 'keys', count })),
    fc
      .record({
        shape: fc.constantFrom('deep object', 'deep array in a field' as const),
        depth: fc.integer({ min: 100, max: 10_000 }),
      })
      .map((s): Shape => s),
    fc.integer({ min: 100, max: 10_000 }).map((depth): Shape => ({ shape: 'deep array', depth })),
    fc.integer({ min: 1000, max: 1_000_000 }).map((length): Shape => ({ shape: 'long array', length })),
    fc
      .record({ count: fc.integer({ min: 1, max: 8 }), bytes: fc.integer({ min: 64 * 1024, max: 1_000_000 }) })
      .map((s): Shape => ({ shape: 'large strings', ...s })),
    fc.integer({ min: 4001, max: 1_000_000 }).map((bytes): Shape => ({ shape: 'long field', bytes })),
    fc
      .constantFrom(
        '0',
        '-0',
        '1e308',
        '1e999999',
        'true',
        'null',
        '{}',
        '[]',
        '[[]]',
        '{"a":{}}',
        '""',
        '[""]',
        '{"$ref":"x"}',
      )
      .map((value): Shape => ({ shape: 'wrong type', value })),
    fc
      .constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/octet-stream',
        'application/xml',
        'application/jsonx',
        'application/json-patch+json',
        'text/json',
      )
      .map((type): Shape => ({ shape: 'content type', type })),
    fc
      .constantFrom(
        '{',
        '{"a":1,}',
        '{"a":1}{"b":2}',
        "{'a':1}",
        '{"a":NaN}',
        '{"a":1 /* comment */}',
        '\ufeff{}',
        '{"a":"\\x"}',
        '{"a":"unterminated',
        '{"__proto__":{"polluted":1}}',
        '{"constructor":{"prototype":{"polluted":1}}}',
        '\u0000',
        '',
        '   ',
      )
      .map((text): Shape => ({ shape: 'syntax', text })),
  );

  function bodyOf(shape: Shape, base: Record<string, unknown>, field: string): { body: Buffer; type: string } {
    const json = (text: string) => ({ body: Buffer.from(text), type: 'application/json' });
    switch (shape.shape) {
      case 'keys':
        return json(withManyKeys(base, shape.count));
      case 'deep object':
        return json(withRawField(base, field, deepObject(shape.depth)));
      case 'deep array in a field':
        return json(withRawField(base, field, deepArray(shape.depth)));
      case 'deep array':
        return json(deepArray(shape.depth));
      case 'long array':
        return json(withRawField(base, field, longArray(shape.length)));
      case 'large strings':
        return json(withLargeStrings(base, shape.count, shape.bytes));
      case 'long field':
        return json(withRawField(base, field, largeString(shape.bytes)));
      case 'wrong type':
        return json(withRawField(base, field, shape.value));
      case 'content type':
        return { body: Buffer.from(JSON.stringify(base)), type: shape.type };
      case 'syntax':
        return json(shape.text);
    }
  }

  it('a hostile body is refused 400, 413 or 415 in the envelope, under 8 KB and within 2 s, on every route that takes one', async () => {
    await holds(
      figures,
      'hostile body shapes',
      fc.record({
        route: fc.constantFrom(...BODY_ROUTES),
        version: fc.constantFrom(...VERSIONS),
        kind: fc.constantFrom(...(Object.keys(SAMPLE_REQUESTS) as Kind[])),
        pick: fc.nat(),
        shape: shapes,
      }),
      async ({ route: name, version, kind, pick, shape }) => {
        const target = routeNamed(name);
        const isResult = target.body === 'result';
        const base = isResult ? RESULT_BODY : SAMPLE_REQUESTS[kind];
        const fields = STRING_FIELDS[isResult ? 'result' : kind];
        const field = fields[pick % fields.length];
        const { body, type } = bodyOf(shape, base, field);
        const what = `POST ${name} (${version}), ${isResult ? 'a result' : kind} with ${JSON.stringify(shape)} in ${field}: ${body.length} B as ${type}`;
        const answer = await client.send(
          {
            method: 'POST',
            target: target.path(version, ids),
            headers: [
              ['authorization', `Bearer ${tenant.token}`],
              ['content-type', type],
            ],
            body,
            timeoutMs: 20_000,
            pauseBeforeBodyMs: 20,
          },
          what,
        );
        // A route reads no more than it needs: a result above the ceiling is refused by its size, unread.
        const limit = isResult ? RESULT_BODY_LIMIT_CEILING : REQUEST_BODY_LIMIT;
        const statuses = body.length > limit ? [413] : shape.shape === 'content type' ? [415] : [400, 413, 415];
        expectAnswer(answer, what, { statuses, maxMs: REFUSAL_BOUND_MS, maxBytes: MAX_ERROR_BYTES });
      },
      { numRuns: 300, maxMs: 60_000 },
    );
  });

  /** `text` followed by spaces (JSON allows them) to exactly `size` bytes. */
  const padded = (text: string, size: number) =>
    Buffer.concat([Buffer.from(text), Buffer.alloc(Math.max(0, size - Buffer.byteLength(text)), ' ')]);
  const sendSized = async (method: string, target: string, body: Buffer, statuses: number[]) => {
    const what = `${method} ${target.replace(/^\/v1\.0\/informationProtection/, '...')} with a ${body.length}-byte body`;
    const answer = await client.sendJsonBody(method, target, tenant.token, body, what);
    expectAnswer(answer, what, {
      statuses,
      maxMs: REFUSAL_BOUND_MS,
      maxBytes: answer.status < 300 ? 4096 : MAX_ERROR_BYTES,
    });
  };

  it('create request near its 8 MiB limit: a body up to the limit is read (201), a byte over is 413', async () => {
    await holds(
      figures,
      'create request near its limit',
      fc.integer({ min: -4096, max: 4096 }).map((delta) => REQUEST_BODY_LIMIT + delta),
      async (size) => {
        // A file request whose base64 content fills the body to `size`; whitespace makes up the rest.
        const empty = JSON.stringify({ ...SAMPLE_REQUESTS.file, contentData: '' });
        const content = 'A'.repeat(Math.max(4, Math.floor((size - empty.length) / 4) * 4));
        const body = padded(JSON.stringify({ ...SAMPLE_REQUESTS.file, contentData: content }), size);
        await sendSized('POST', requestsPath(), body, body.length <= REQUEST_BODY_LIMIT ? [201] : [413]);
      },
      { numRuns: 32, maxMs: 40_000 },
    );
  });

  it('add result takes the body a result needs: above 64 KiB it is 413, unread', async () => {
    await holds(
      figures,
      'add result near its limit',
      fc.integer({ min: 512, max: 256 * 1024 }),
      async (size) => {
        const body = padded(JSON.stringify(RESULT_BODY), size);
        const target = `${requestsPath()}/${ids.requestId}/results`;
        await sendSized('POST', target, body, body.length <= RESULT_BODY_LIMIT_CEILING ? [201, 413] : [413]);
      },
      { numRuns: 48, maxMs: 30_000 },
    );
  });

  it('DELETE takes no body: one above 64 KiB is refused, not read and answered 404', async () => {
    await holds(
      figures,
      'DELETE with a body',
      fc.integer({ min: RESULT_BODY_LIMIT_CEILING + 1, max: 256 * 1024 }),
      // A request that does not exist: a DELETE that read its body would answer 404 after reading it.
      (size) => sendSized('DELETE', `${requestsPath()}/${randomUUID()}`, padded('{}', size), [400, 413, 415]),
      { numRuns: 24, maxMs: 20_000 },
    );
  });

  it('while the worst bodies are refused, every /health/live probe answers within 250 ms and the event loop never stalls 250 ms', async () => {
    const worst = worstBodies(ids.requestId);
    await scrape(ctx.port);
    const probe = startHealthProbe(ctx.port, { intervalMs: 20, maxMs: 110_000 });
    const problems: string[] = [];
    const observed: Record<string, unknown>[] = [];
    for (const { what, target, body } of worst) {
      const answer = await client.sendJsonBody('POST', target, tenant.token, body, `worst: ${what}`);
      const lag = await scrape(ctx.port);
      observed.push({
        what,
        bytes: body.length,
        status: answer.status,
        ms: Math.round(answer.ms),
        answerBytes: answer.body.length,
        eventLoopMs: Math.round(lag.eventLoopMaxMs),
      });
      figures.eventLoop(lag.eventLoopMaxMs, `worst: ${what}`);
      const limit = target.endsWith('/results') ? RESULT_BODY_LIMIT_CEILING : REQUEST_BODY_LIMIT;
      for (const problem of problemsOf(answer, {
        statuses: body.length > limit ? [413] : [400, 413],
        maxMs: REFUSAL_BOUND_MS,
        maxBytes: MAX_ERROR_BYTES,
      })) {
        problems.push(`${what} (${body.length} B): ${problem}`);
      }
      if (lag.eventLoopMaxMs >= STALL_BOUND_MS) {
        problems.push(`${what}: the service's event loop stalled ${Math.round(lag.eventLoopMaxMs)} ms`);
      }
    }
    const probes = await probe.stop();
    figures.probe(probes.maxMs, 'health probe while the worst bodies were refused');
    figures.data.extra.worstBodies = {
      observed,
      probes: probes.latenciesMs.length,
      probeFailures: probes.failures.length,
      probeMaxMs: Math.round(probes.maxMs),
    };
    const slow = probes.latenciesMs.filter((ms) => ms >= STALL_BOUND_MS);
    if (slow.length > 0)
      problems.push(
        `${slow.length} of ${probes.latenciesMs.length} health probes took ≥ 250 ms (worst ${Math.round(probes.maxMs)} ms)`,
      );
    if (probes.failures.length > 0)
      problems.push(`health probes failed: ${JSON.stringify(probes.failures.slice(0, 3))}`);
    expect(probes.latenciesMs.length, 'the probe ran').toBeGreaterThan(0);
    expect(problems, JSON.stringify(observed, null, 1)).toEqual([]);
  });

  it('a valid body still creates after all of the above', async () => {
    const answer = await client.call(
      'POST',
      requestsPath(),
      { token: tenant.token, json: SAMPLE_REQUESTS.url },
      'create after the hostile bodies',
    );
    expect(answer.status, describeAnswer(answer)).toBe(201);
  });
});
