import { afterAll, afterEach, beforeAll } from 'vitest';
import { Client } from './api.js';
import { type AdversarialContext, context } from './context.js';
import { Figures } from './figures.js';
import { isAlive, residentSet, scrape } from './service-metrics.js';

export interface ClassUnderTest {
  ctx: AdversarialContext;
  figures: Figures;
  client: Client;
}

/**
 * One class of inputs: its figures, a client that counts every answer, and the service's event-loop
 * delay read after each test (the scrape before the first resets prom-client's histogram, so each
 * reading covers exactly one test).
 */
export function classOfInputs(name: string, title: string): ClassUnderTest {
  const ctx = context();
  const figures = new Figures(name, title, ctx.seed);
  const client = new Client(ctx.port, figures);
  beforeAll(async () => {
    if (!isAlive(ctx.pid)) throw new Error(`the service (pid ${ctx.pid}) is not running; see ${ctx.logFile}`);
    console.log(`[adversarial] ${title}: seed ${ctx.seed}`);
    await scrape(ctx.port);
    figures.rss('start', residentSet(ctx.pid));
  });
  afterEach(async ({ task }) => {
    if (!isAlive(ctx.pid))
      throw new Error(`the service (pid ${ctx.pid}) exited during "${task.name}"; see ${ctx.logFile}`);
    figures.eventLoop((await scrape(ctx.port)).eventLoopMaxMs, task.name);
  });
  afterAll(() => {
    if (isAlive(ctx.pid)) figures.rss('end', residentSet(ctx.pid));
    figures.write();
  });
  return { ctx, figures, client };
}
