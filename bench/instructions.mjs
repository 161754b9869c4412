// Instructions per request, counted by callgrind: a figure that repeats from run to run whatever else the
// machine is doing, where req/s and CPU time move by ±15 % on a shared host. Each target runs under
// valgrind with V8 in its predictable mode (one thread: compilation and GC on the main thread, where they
// are counted, in an order that does not depend on timing). First every scenario's warm-up, sequential
// requests with instrumentation off (several times faster); then instrumentation on, once (callgrind's
// counts go wrong when it is switched off and on again), and per scenario and round a window of exactly
// N requests on one connection between a zeroing of the counters and a dump, read back. The database's
// work is not counted (pgbench measures it).
import { control, lastDump } from './callgrind.mjs';
import { median } from './processes.mjs';
import { SCENARIOS, runLoad, seedPicks } from './scenarios.mjs';

/**
 * Per request, in one window: every instruction, those less compilation, and the mutator's (less GC too).
 * @typedef {{ all: number, withoutJit: number, mutator: number }} WindowCost
 * @typedef {{ [K in keyof WindowCost]: number }} CostRatio
 * @typedef {{ name: string, title: string, windows: Record<string, WindowCost[]>, ratio?: CostRatio }} InstructionScenario
 * @typedef {{ requests: number, warmup: number, scenarios: InstructionScenario[] }} InstructionsReport
 */

/** @type {(keyof WindowCost)[]} */
const COSTS = ['all', 'withoutJit', 'mutator'];

/** Every window sends the same requests (the same parents, links and bodies, in the same order). */
const SEED = 20_261_207;

/** Warm-up requests per measured request: enough for V8 to have optimized the request path. */
export const WARMUP_FACTOR = 10;

/**
 * @param {import('./setup.mjs').Context} ctx
 * @param {import('./processes.mjs').Target} target
 * @param {import('./scenarios.mjs').LoadRequest[]} requests
 * @param {number} amount
 */
async function sequential(ctx, target, requests, amount) {
  seedPicks(SEED);
  const run = await runLoad({
    port: target.port,
    token: ctx.token,
    connections: 1,
    duration: 1,
    amount,
    requests,
    keepLatencies: false,
  });
  const ok = Object.entries(run.status).reduce((n, [code, count]) => n + (Number(code) < 300 ? count : 0), 0);
  if (ok !== amount || run.errors)
    throw new Error(
      `${target.name}: ${ok} of ${amount} requests succeeded (${JSON.stringify(run.status)}, ${run.errors} errors)`,
    );
}

/**
 * Every selected scenario: the warm-ups, then `settings.rounds` windows per scenario and target, the
 * order swapped every round; per target and cost the median of its windows.
 * @param {import('./setup.mjs').Context} ctx
 * @param {string} dir the targets' callgrind folder
 * @param {import('./setup.mjs').Log} log
 * @returns {Promise<InstructionsReport>}
 */
export async function measureInstructions(ctx, dir, log) {
  const { settings, service, reference } = ctx;
  const requests = /** @type {number} */ (settings.instructions);
  const warmup = WARMUP_FACTOR * requests;
  const targets = [service, ...(reference ? [reference] : [])];
  log(
    `Instructions (callgrind): ${warmup} requests of warm-up per scenario and target, then ${settings.rounds} windows of ${requests}, one connection…`,
  );
  const selected = SCENARIOS.filter((s) => !settings.scenarios || settings.scenarios.includes(s.name));
  for (const scenario of selected) {
    for (const target of targets) await sequential(ctx, target, scenario.requests(ctx), warmup);
  }
  for (const target of targets) control(target, '--instr=on');
  /** @type {InstructionScenario[]} */
  const scenarios = [];
  for (const scenario of selected) {
    /** @type {Record<string, WindowCost[]>} */
    const windows = Object.fromEntries(targets.map((t) => [t.name, []]));
    for (let round = 1; round <= settings.rounds; round++) {
      for (const target of round % 2 === 1 ? targets : [...targets].reverse()) {
        control(target, '--zero');
        await sequential(ctx, target, scenario.requests(ctx), requests);
        control(target, '--dump');
        const { total, jit, gc } = lastDump(dir, target.name);
        windows[target.name].push({
          all: total / requests,
          withoutJit: (total - jit) / requests,
          mutator: (total - jit - gc) / requests,
        });
      }
    }
    // A window with a major collection (or the recompilation after one) costs more: the median of each
    // target's windows leaves those out, and the ratio is of the medians.
    /** @param {string} name @param {keyof WindowCost} cost */
    const middle = (name, cost) => median(windows[name].map((w) => w[cost]));
    const ratio = reference
      ? /** @type {CostRatio} */ (
          Object.fromEntries(COSTS.map((cost) => [cost, middle('service', cost) / middle('reference', cost)]))
        )
      : undefined;
    scenarios.push({ name: scenario.name, title: scenario.title, windows, ratio });
    for (const target of targets) {
      log(
        `  ${scenario.name.padEnd(15)} ${target.name.padEnd(9)} ` +
          COSTS.map((cost) => `${cost} ${windows[target.name].map((w) => formatIr(w[cost])).join(' ')}`).join('   '),
      );
    }
    if (ratio) log(`  ${''.padEnd(25)} ratio ${COSTS.map((cost) => `${cost} ${ratio[cost].toFixed(3)}`).join('   ')}`);
  }
  return { requests, warmup, scenarios };
}

/** @param {number} ir */
function formatIr(ir) {
  return `${(ir / 1e6).toFixed(3)}M`;
}
