// The outbox's cost on add-result: the same service measured with no outbox at all (its statement less
// the notification CTEs), and with the benched tenant holding no subscription, one on the requests
// collection, and one on the results of every parent posted to; and, with no subscription, the
// reference running the statement with and without its notification CTEs.
import { join } from 'node:path';
import { URL, fileURLToPath } from 'node:url';
import { withClient } from './database.mjs';
import { measuredRun, pairedRatios, runFigures, warmUp } from './measure.mjs';
import { summarizeRuns } from './report.mjs';
import { scenarioNamed } from './scenarios.mjs';
import { startReference, startService } from './setup.mjs';

/**
 * @typedef {import('./report.mjs').RunSummary & { name: string, title: string, recorded: number,
 *   ratio?: { rps: number, p50: number, p99: number, cpu: number } }} OutboxState
 * @typedef {{ states: OutboxState[], withoutOutbox?: { withOutbox: OutboxState, without: OutboxState },
 *   checks: import('./report.mjs').Check[] }} OutboxReport
 */

/** `node --import` for the baseline: the service with add-result's notification CTEs patched out as it loads. */
const WITHOUT_OUTBOX = ['--import', fileURLToPath(new URL('./without-outbox.mjs', import.meta.url))];

const STATES = [
  { name: 'without-outbox', title: "no outbox: the same service, add-result's statement less its notification CTEs" },
  { name: 'none', title: 'no subscription in the tenant' },
  {
    name: 'collection',
    title:
      "one subscription to the requests collection ('created,updated': an `updated` only on a request's first result)",
  },
  { name: 'results', title: 'a results subscription on every parent posted to (one notification per add-result)' },
];

/**
 * With no subscription, the reference (a minimal server around the service's statement) with and without
 * the notification CTEs: the outbox's whole cost where little else costs anything, so an upper bound
 * of its share of the service's.
 */
const REFERENCE_STATES = [
  { name: 'reference', title: 'the reference, the statement as the service sends it' },
  { name: 'reference-without-outbox', title: 'the reference, the statement less its notification CTEs' },
];

/**
 * @param {import('pg').Client} client
 * @param {string} tenantId
 * @param {string} state
 * @param {string[]} parents
 */
async function subscribe(client, tenantId, state, parents) {
  await client.query('DELETE FROM subscriptions WHERE tenant_id = $1', [tenantId]);
  const insert = `INSERT INTO subscriptions (tenant_id, id, resource, canonical_resource, request_id, change_type,
      change_types, notification_url, expiration_date_time, application_id, creator_id, latest_supported_tls_version)
    SELECT $1, gen_random_uuid(), r.resource, r.resource, r.request_id, r.change_type, r.change_types::varchar[],
      'https://receiver.invalid/hook', now() + interval '1 day', 'bench', 'bench', 'v1_2'
    FROM unnest($2::text[], $3::uuid[], $4::text[], $5::text[]) AS r(resource, request_id, change_type, change_types)`;
  if (state === 'collection') {
    const resource = 'informationProtection/threatAssessmentRequests';
    await client.query(insert, [tenantId, [resource], [null], ['created,updated'], ['{created,updated}']]);
  } else if (state === 'results') {
    const resources = parents.map((id) => `informationProtection/threatAssessmentRequests/${id}/results`);
    await client.query(insert, [
      tenantId,
      resources,
      parents,
      parents.map(() => 'created'),
      parents.map(() => '{created}'),
    ]);
  }
}

/**
 * Every run starts from the same state of the churned tables: the rows earlier runs inserted and deleted
 * vacuumed away (as autovacuum keeps up with delivery's steady deletes, not with the bench's batch), and
 * a fresh checkpoint, so that no state pays alone for the full-page writes of one that a checkpoint
 * happens to fall in. A role that may not CHECKPOINT (pg_checkpoint) skips it.
 * @param {import('pg').Client} client
 */
async function settle(client) {
  await client.query('VACUUM (ANALYZE) notifications, subscriptions');
  try {
    await client.query('CHECKPOINT');
  } catch (error) {
    if (/** @type {{ code?: string }} */ (error).code !== '42501') throw error;
  }
}

/**
 * Rounds rotate the order of the states; ratios to "without-outbox" are paired within a round. Both
 * services run with delivery off, so that only the recording is measured; the rows a run records are
 * counted and deleted after it, as delivery would.
 * @param {import('./setup.mjs').Context} ctx
 * @param {NodeJS.ProcessEnv} env
 * @param {string} outDir
 * @param {(...args: unknown[]) => void} log
 * @returns {Promise<OutboxReport>}
 */
export async function measureOutbox(ctx, env, outDir, log) {
  const { settings, token, url, tenantId } = ctx;
  const scenario = scenarioNamed('add-result');
  const parents = ctx.parents.add.map((p) => p.id);
  const target = await startService(env, settings, url, {
    name: 'outbox',
    logFile: join(outDir, 'outbox.log'),
  });
  const baseline = await startService(env, settings, url, {
    name: 'without-outbox',
    nodeArgs: WITHOUT_OUTBOX,
    logFile: join(outDir, 'without-outbox.log'),
  });
  const references = ctx.reference
    ? {
        reference: ctx.reference,
        'reference-without-outbox': await startReference(env, settings, url, {
          name: 'reference-without-outbox',
          logFile: join(outDir, 'reference-without-outbox.log'),
          extraEnv: { REFERENCE_OUTBOX: 'off' },
        }),
      }
    : undefined;
  const referenceStates = references ? REFERENCE_STATES : [];
  /** @type {Record<string, import('./scenarios.mjs').Run>[]} */
  const rounds = [];
  /** @type {Record<string, number>} */
  const recorded = Object.fromEntries([...STATES, ...REFERENCE_STATES].map((state) => [state.name, 0]));
  /** @type {Record<string, import('./processes.mjs').Target>} */
  const runners = { ...references, 'without-outbox': baseline };
  try {
    await target.ready();
    await baseline.ready();
    await references?.['reference-without-outbox'].ready();
    log(
      `Outbox cost on add-result (${[...STATES, ...referenceStates].map((s) => s.name).join(', ')}; delivery off): ${settings.rounds} rounds…`,
    );
    await withClient(url, async (client) => {
      if (settings.warmup > 0) {
        await warmUp(target, token, settings, scenario.requests(ctx));
        await warmUp(baseline, token, settings, scenario.requests(ctx));
        // Both references: the outbox scenario may run alone, before any other warmed the shared one.
        for (const reference of Object.values(references ?? {})) {
          await warmUp(reference, token, settings, scenario.requests(ctx));
        }
      }
      for (let round = 1; round <= settings.rounds; round++) {
        /** @type {Record<string, import('./scenarios.mjs').Run>} */
        const entry = {};
        /** @param {{ name: string }[]} list */
        const rotated = (list) => {
          const shift = (round - 1) % list.length;
          return [...list.slice(shift), ...list.slice(0, shift)];
        };
        for (const state of [...rotated(STATES), ...rotated(referenceStates)]) {
          const runner = runners[state.name] ?? target;
          await subscribe(client, tenantId, runner === target ? state.name : 'none', parents);
          await settle(client);
          const run = await measuredRun(runner, token, settings, scenario.requests(ctx));
          const { rows } = await client.query(
            'WITH d AS (DELETE FROM notifications WHERE tenant_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM d',
            [tenantId],
          );
          recorded[state.name] += /** @type {{ n: number }} */ (rows[0]).n;
          entry[state.name] = run;
          log(`  outbox round ${round} ${state.name.padEnd(24)} ${runFigures(run)}  load ${run.loadAvg1m.toFixed(1)}`);
        }
        rounds.push(entry);
      }
      await client.query('DELETE FROM subscriptions WHERE tenant_id = $1', [tenantId]);
    });
  } finally {
    await target.stop();
    await baseline.stop();
    await references?.['reference-without-outbox'].stop();
  }
  /**
   * @param {{ name: string, title: string }} state
   * @param {string} [baseline]
   * @returns {OutboxState}
   */
  const summarized = (state, baseline) => {
    const summary = /** @type {import('./report.mjs').RunSummary} */ (summarizeRuns(rounds.map((r) => r[state.name])));
    const ratio = baseline ? pairedRatios(rounds, state.name, baseline) : undefined;
    return { ...summary, name: state.name, title: state.title, recorded: recorded[state.name], ratio };
  };
  const states = STATES.map((state) =>
    summarized(state, state.name === 'without-outbox' ? undefined : 'without-outbox'),
  );
  const withoutOutbox = references
    ? {
        withOutbox: summarized(REFERENCE_STATES[0], 'reference-without-outbox'),
        without: summarized(REFERENCE_STATES[1]),
      }
    : undefined;
  const responses = (/** @type {string} */ name) => rounds.reduce((n, r) => n + r[name].responses, 0);
  return {
    states,
    withoutOutbox,
    checks: [
      ...[...states, ...(withoutOutbox ? [withoutOutbox.withOutbox, withoutOutbox.without] : [])].map((s) => ({
        scenario: `outbox:${s.name}`,
        what: 'no errors, no non-2xx',
        pass: s.errors === 0 && s.non2xx === 0,
      })),
      {
        scenario: 'outbox:none',
        what: 'records nothing, nor does the service without outbox',
        pass: recorded.none === 0 && recorded['without-outbox'] === 0,
      },
      {
        scenario: 'outbox:results',
        // Requests still in flight when a run's clock stops are recorded but not counted: at most one per connection.
        what: 'records one notification per result added',
        pass:
          recorded.results >= responses('results') &&
          recorded.results <= responses('results') + settings.connections * settings.rounds,
      },
    ],
  };
}
