import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createFixture, type Fixture } from './support/api.js';
import { MAX_RESPONSE_BYTES } from './support/constants.js';
import { describeAnswer } from './support/envelope.js';
import { readClassFigures } from './support/figures.js';
import { worstBodies } from './support/inputs.js';
import { heapUsedAfterCollection } from './support/inspector.js';
import { residentSet } from './support/service-metrics.js';
import { classOfInputs } from './support/suite.js';
import { newTenant, type Tenant } from './support/tokens.js';

/** RSS the whole suite may add to the warmed-up service. */
const MAX_GROWTH_BYTES = 150 * 1024 * 1024;
/**
 * After the first round, the heap that survives a full collection levels off: its trend over the later
 * rounds, a least-squares slope, stays under this. A round sends about 30 MB of strings; keeping even
 * one body of it would add a megabyte or more a round.
 */
const MAX_HEAP_GROWTH_PER_ROUND_MB = 1;
const ROUNDS = 6;
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

/** The least-squares slope of a series, per step. */
function trend(values: number[]): number {
  const n = values.length;
  const meanX = (n - 1) / 2;
  const meanY = values.reduce((a, b) => a + b, 0) / n;
  const num = values.reduce((sum, y, x) => sum + (x - meanX) * (y - meanY), 0);
  const den = values.reduce((sum, _, x) => sum + (x - meanX) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

/**
 * Issue point 9: bounded memory growth of the process. Runs last: after every other class, the worst
 * bodies go again, round after round, and the service's resident set must stay within 150 MB of its
 * warmed-up size, and the heap that survives a full collection must stop growing; it must still be up,
 * ready, and have kept every answer under 1 MB.
 */
describe('memory and liveness after the whole suite', () => {
  const { ctx, figures, client } = classOfInputs('memory', 'memory (rounds of the worst bodies)');
  let tenant: Tenant;
  let ids: Fixture;

  beforeAll(async () => {
    tenant = await newTenant();
    ids = await createFixture(client, tenant);
  });

  it(`repeating the worst bodies ${ROUNDS} times grows the service's RSS less than 150 MB over warm-up, and its heap levels off`, async () => {
    const worst = worstBodies(ids.requestId);
    const rounds: { heapMb: number; rssMb: number; peakMb: number; statuses: number[] }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const statuses: number[] = [];
      for (const { what, target, body } of worst) {
        const answer = await client.sendJsonBody('POST', target, tenant.token, body, `round ${round + 1}: ${what}`);
        statuses.push(answer.status);
      }
      const heapBytes = await heapUsedAfterCollection(ctx.inspectPort);
      const { rssBytes, peakBytes } = residentSet(ctx.pid);
      rounds.push({
        heapMb: Math.round((heapBytes / 1024 / 1024) * 10) / 10,
        rssMb: mb(rssBytes),
        peakMb: mb(peakBytes),
        statuses,
      });
    }
    const warmMb = mb(ctx.warmRssBytes);
    const slope = trend(rounds.slice(1).map((r) => r.heapMb));
    figures.data.extra.memory = {
      warmRssMb: warmMb,
      rounds,
      heapMbPerRoundAfterTheFirst: Math.round(slope * 100) / 100,
    };
    const last = rounds[ROUNDS - 1];
    expect(last.rssMb - warmMb, `RSS ${warmMb} MB after warm-up → ${JSON.stringify(rounds)}`).toBeLessThan(
      mb(MAX_GROWTH_BYTES),
    );
    expect(slope, `heap still growing, MB a round: ${JSON.stringify(rounds)}`).toBeLessThan(
      MAX_HEAP_GROWTH_PER_ROUND_MB,
    );
  });

  it('the service is still up and ready, and logged no unexpected error', async () => {
    const ready = await client.call('GET', '/health/ready', {}, 'GET /health/ready after the suite');
    expect(ready.status, describeAnswer(ready)).toBe(200);
    // Each 500 is logged with its stack as "Unexpected error": what any 5xx seen above came from.
    const unexpected = readFileSync(ctx.logFile, 'utf8')
      .split('\n')
      .filter((line) => /Unexpected error/.test(line));
    figures.data.extra.unexpectedErrorsLogged = unexpected.length;
    expect(unexpected.map((line) => line.slice(0, 400))).toEqual([]);
  });

  it('no answer anywhere in the suite was larger than 1 MB', () => {
    const largest = readClassFigures()
      .map((c) => ({ class: c.title, ...c.largestBodyBytes }))
      .sort((a, b) => b.value - a.value);
    expect(largest[0]?.value ?? 0, JSON.stringify(largest.slice(0, 3))).toBeLessThan(MAX_RESPONSE_BYTES);
  });
});
