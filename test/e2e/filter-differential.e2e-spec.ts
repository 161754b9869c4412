import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ComparisonOperator,
  type FilterLiteral,
  type FilterNode,
  type FilterSpec,
} from '../../src/odata/filter/index.js';
import { evaluateFilter } from '../support/filter/filter-evaluator.js';
import { formatFilter } from '../support/filter/filter-formatter.js';
import { CONTENT_TYPE_OF, REQUEST_KINDS, type RequestKind } from '../../src/threat-assessment/request-types.js';
import {
  THREAT_ASSESSMENT_REQUEST_SOURCES,
  THREAT_ASSESSMENT_RESULT_TYPES,
  THREAT_ASSESSMENT_STATUSES,
  THREAT_CATEGORIES,
  THREAT_EXPECTED_ASSESSMENTS,
} from '../../src/threat-assessment/threat-assessment.enums.js';
import { REQUESTS_FILTER, RESULTS_FILTER } from '../../src/threat-assessment/threat-assessment.filters.js';
import { REQUESTS, startTestApp, type TestApp } from '../support/test-app.js';
import { insertRequests, insertResults } from '../support/seed.js';
import { newTenant, type TestIdentity } from '../support/tokens.js';

/**
 * The database and memory must agree on every filter: random filter trees, written out as text, go
 * through the real HTTP API (parser, compiler, PostgreSQL, keyset paging) and the ids answered, in
 * order, are compared with an evaluation of the tree over the seeded rows (by this file's oracle, and
 * by `evaluateFilter`, which must agree with it). Rerun a failure with FILTER_SEED=<the seed printed>
 * (fast-check's message also names the seed and the shrink path); FILTER_RUNS changes the run count.
 */
const SEED = Number(process.env.FILTER_SEED ?? Date.now() % 2_147_483_647);
const REQUEST_RUNS = Number(process.env.FILTER_RUNS ?? 500);
const RESULT_RUNS = Math.max(100, Math.round(REQUEST_RUNS / 2));

/** mulberry32: the seeded rows, ids included, are a function of SEED too, so one number reproduces a whole run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  /** A version-4-shaped uuid: ids decide the order of rows that share a millisecond, so they are seeded too. */
  const uuid = () => {
    const bytes = Array.from({ length: 16 }, () => Math.floor(next() * 256));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
  return { next, pick, uuid };
}

const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** PostgreSQL's order: (created_date_time, id), uuids compared as their lower-case text. */
const sortRows = <R extends { id: string; createdDateTime: Date }>(rows: readonly R[], order: 'asc' | 'desc'): R[] => {
  const sorted = [...rows].sort(
    (a, b) => a.createdDateTime.getTime() - b.createdDateTime.getTime() || compareIds(a.id, b.id),
  );
  return order === 'asc' ? sorted : sorted.reverse();
};

interface RequestRow {
  id: string;
  kind: RequestKind;
  contentType: string;
  expectedAssessment: string;
  category: string;
  status: string;
  requestSource: string;
  createdDateTime: Date;
  '@odata.type': string;
}

interface ResultRow {
  id: string;
  resultType: string;
  createdDateTime: Date;
}

const SHARED = Date.parse('2026-03-10T12:00:00.000Z');

/**
 * Instants that make date-time comparisons interesting: one millisecond many rows share, its
 * neighbours, a few clusters, a far past, and a spread over two years.
 */
function instants(random: ReturnType<typeof prng>, n: number): Date[] {
  const spread = () => Date.parse('2025-01-01T00:00:00Z') + Math.floor(random.next() * 700 * 86_400_000);
  const cluster = [
    SHARED - 1,
    SHARED + 1,
    SHARED + 1000,
    Date.parse('2026-01-01T00:00:00.000Z'),
    Date.parse('1999-12-31T23:59:59.999Z'),
  ];
  return Array.from({ length: n }, (_, i) => {
    if (i % 5 === 0) return new Date(SHARED);
    if (i % 7 === 0) return new Date(random.pick(cluster));
    return new Date(spread());
  });
}

function requestRows(random: ReturnType<typeof prng>, n: number): RequestRow[] {
  return instants(random, n).map((createdDateTime, i) => {
    const kind = REQUEST_KINDS[i % REQUEST_KINDS.length];
    return {
      id: random.uuid(),
      kind,
      contentType: CONTENT_TYPE_OF[kind],
      expectedAssessment: random.pick(THREAT_EXPECTED_ASSESSMENTS),
      category: random.pick(THREAT_CATEGORIES),
      status: random.pick(THREAT_ASSESSMENT_STATUSES),
      requestSource: random.pick(THREAT_ASSESSMENT_REQUEST_SOURCES),
      createdDateTime,
      '@odata.type': `#microsoft.graph.${kind}`,
    };
  });
}

/** Each type's own columns filled as the service would (insertRequests), so that every response matches the document. */
async function insertRequestRows(t: TestApp, tenantId: string, rows: readonly RequestRow[]) {
  // Seeded ids repeat when a seed is rerun against a kept test database: this seed's earlier rows go first.
  await t.db.query('DELETE FROM threat_assessment_requests WHERE id = ANY($1::uuid[])', [rows.map((r) => r.id)]);
  await insertRequests(
    t.db,
    tenantId,
    rows.map((row) => ({ ...row, url: 'http://differential.test' })),
  );
}

async function insertResultRows(t: TestApp, tenantId: string, requestId: string, rows: readonly ResultRow[]) {
  await t.db.query('DELETE FROM threat_assessment_results WHERE id = ANY($1::uuid[])', [rows.map((r) => r.id)]);
  await insertResults(
    t.db,
    tenantId,
    rows.map((row, i) => ({ ...row, requestId, message: `differential ${i}` })),
  );
}

// ---- Filter trees over a spec, and their text ----------------------------------------------------

const at0 = <T extends object>(value: T) => ({ ...value, position: 0 });

/**
 * A date-time literal as a client could write it: near a seeded instant (the same millisecond, one
 * either side) or anywhere, in any offset, with or without seconds, with digits finer than a
 * millisecond (significant or zeros), `T`/`t`, `Z`/`z`/`+00:00`.
 */
function dateTimeLiteral(seeded: readonly Date[]): fc.Arbitrary<FilterLiteral> {
  const instant = fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.constantFrom(...seeded), fc.constantFrom(-1, 0, 0, 0, 1))
        .map(([d, delta]) => d.getTime() + delta),
    },
    {
      weight: 3,
      arbitrary: fc.integer({ min: Date.parse('2024-06-01T00:00:00Z'), max: Date.parse('2027-01-01T00:00:00Z') }),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(Date.parse('0001-01-01T00:00:00Z'), Date.parse('9999-12-31T23:59:59.999Z'), SHARED),
    },
  );
  return fc
    .record({
      ms: instant,
      offset: fc.constantFrom(0, 0, 0, 60, 330, -480, 840, -(23 * 60 + 59), 23 * 60 + 59),
      subMs: fc.constantFrom('', '', '', '0', '0000', '5', '0001', '999999999'),
      zulu: fc.constantFrom('Z', 'z', '+00:00', '-00:00'),
      t: fc.constantFrom('T', 'T', 't'),
      trim: fc.boolean(),
    })
    .map(({ ms, offset, subMs, zulu, t, trim }) => {
      let wall = new Date(ms + offset * 60_000);
      if (wall.getUTCFullYear() < 1 || wall.getUTCFullYear() > 9999) {
        offset = 0;
        wall = new Date(ms);
      }
      const pad = (n: number, width = 2) => String(n).padStart(width, '0');
      const zone =
        offset === 0
          ? zulu
          : `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
      const [seconds, millis] = [wall.getUTCSeconds(), wall.getUTCMilliseconds()];
      let time = `${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}`;
      if (!(trim && seconds === 0 && millis === 0 && subMs === '')) {
        time += `:${pad(seconds)}`;
        if (!(trim && millis === 0 && subMs === '')) time += `.${pad(millis, 3)}${subMs}`;
      }
      const date = `${pad(wall.getUTCFullYear(), 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}`;
      const literal = { type: 'dateTime' as const, value: `${date}${t}${time}${zone}`, position: 0 };
      EXACT.set(literal, { ms, fine: /[1-9]/.test(subMs) });
      return literal;
    });
}

/**
 * What each generated date-time literal denotes, known from how it was made rather than by parsing
 * it: `ms`, plus a fraction of a millisecond when `fine`.
 */
const EXACT = new WeakMap<FilterLiteral, { ms: number; fine: boolean }>();

/**
 * An oracle independent of the service's validator (which `evaluateFilter` shares with the SQL
 * compiler, so a wrong reading of a literal there would fool both alike). A fine literal is ms + ε,
 * 0 < ε < 1, against rows that hold whole milliseconds.
 */
function oracle(node: FilterNode, row: Readonly<Record<string, unknown>>): boolean {
  switch (node.kind) {
    case 'and':
      return oracle(node.left, row) && oracle(node.right, row);
    case 'or':
      return oracle(node.left, row) || oracle(node.right, row);
    case 'not':
      return !oracle(node.operand, row);
    case 'in':
      return node.values.some((value) => value.value === row[node.property]);
    case 'isof':
      return row['@odata.type'] === `#${node.typeName}`;
    case 'compare': {
      if (node.value.type === 'string') return (row[node.property] === node.value.value) === (node.operator === 'eq');
      const { ms, fine } = EXACT.get(node.value)!;
      const x = (row[node.property] as Date).getTime();
      switch (node.operator) {
        case 'eq':
          return !fine && x === ms;
        case 'ne':
          return fine || x !== ms;
        case 'gt':
          return x > ms;
        case 'ge':
          return fine ? x > ms : x >= ms;
        case 'lt':
          return fine ? x <= ms : x < ms;
        case 'le':
          return x <= ms;
      }
    }
  }
}

/** The rows `node` selects, by the oracle; `evaluateFilter` must select the same ones. */
function select<R extends object>(node: FilterNode, spec: FilterSpec, rows: readonly R[]): R[] {
  return rows.filter((row) => {
    const record = row as unknown as Record<string, unknown>;
    const expected = oracle(node, record);
    expect(evaluateFilter(node, spec, record), 'evaluateFilter disagrees with the oracle').toBe(expected);
    return expected;
  });
}

/** Leaves weighted toward date-times: their millisecond edges are where SQL and memory could part. */
function leafOf(spec: FilterSpec, seeded: readonly Date[]): fc.Arbitrary<FilterNode> {
  const enums: fc.Arbitrary<FilterNode>[] = [];
  const lists: fc.Arbitrary<FilterNode>[] = [];
  const dateTimes: fc.Arbitrary<FilterNode>[] = [];
  for (const [property, field] of Object.entries(spec.fields)) {
    if (field.kind === 'enum') {
      const value = fc.constantFrom(...field.values).map((v) => at0({ type: 'string' as const, value: v }));
      enums.push(
        fc
          .record({ operator: fc.constantFrom<ComparisonOperator>('eq', 'ne'), value })
          .map((r) => at0({ kind: 'compare' as const, property, ...r })),
      );
      lists.push(
        fc.array(value, { minLength: 1, maxLength: 4 }).map((values) => at0({ kind: 'in' as const, property, values })),
      );
    } else {
      const operator = fc.constantFrom<ComparisonOperator>('eq', 'ne', 'gt', 'ge', 'lt', 'le');
      dateTimes.push(
        fc
          .record({ operator, value: dateTimeLiteral(seeded) })
          .map((r) => at0({ kind: 'compare' as const, property, ...r })),
      );
    }
  }
  const leaves = [
    { weight: 3, arbitrary: fc.oneof(...enums) },
    { weight: 2, arbitrary: fc.oneof(...lists) },
    { weight: 4, arbitrary: fc.oneof(...dateTimes) },
  ];
  if (spec.isof) {
    const isof = fc
      .constantFrom(...Object.keys(spec.isof.types))
      .map((typeName) => at0({ kind: 'isof' as const, typeName }));
    leaves.push({ weight: 1, arbitrary: isof });
  }
  return fc.oneof(...leaves);
}

/** Four levels keep the text within the depth (two per level at most) and comparison bounds. */
function filterTree(spec: FilterSpec, seeded: readonly Date[]): fc.Arbitrary<FilterNode> {
  const leaf = leafOf(spec, seeded);
  return fc.letrec<{ node: FilterNode }>((tie) => ({
    node: fc.oneof(
      { maxDepth: 4, depthSize: 'small' },
      leaf,
      leaf,
      fc.record({ kind: fc.constant('not' as const), operand: tie('node') }),
      fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), left: tie('node'), right: tie('node') }),
    ),
  })).node;
}

interface Style {
  keywords: 'lower' | 'upper' | 'title';
  space: string;
  tight: boolean;
  isof: 'quoted' | 'hash' | 'bare';
}

const styleArbitrary: fc.Arbitrary<Style> = fc.record({
  keywords: fc.constantFrom('lower', 'upper', 'title'),
  space: fc.constantFrom(' ', ' ', '  ', '\t'),
  tight: fc.boolean(),
  isof: fc.constantFrom('quoted', 'hash', 'bare'),
});

const isBinary = (node: FilterNode) => node.kind === 'and' || node.kind === 'or';

/** Another writer than `formatFilter`: every binary child in parentheses, keywords and spacing varied. */
function render(node: FilterNode, style: Style): string {
  const word = (w: string) =>
    style.keywords === 'lower' ? w : style.keywords === 'upper' ? w.toUpperCase() : w[0].toUpperCase() + w.slice(1);
  const sp = style.space;
  const group = (child: FilterNode) => (isBinary(child) ? `(${render(child, style)})` : render(child, style));
  const literal = (l: FilterLiteral) => (l.type === 'dateTime' ? l.value : `'${l.value.replaceAll("'", "''")}'`);
  switch (node.kind) {
    case 'and':
    case 'or':
      return `${group(node.left)}${sp}${word(node.kind)}${sp}${group(node.right)}`;
    case 'not':
      return `${word('not')}${sp}${group(node.operand)}`;
    case 'compare':
      return `${node.property}${sp}${word(node.operator)}${sp}${literal(node.value)}`;
    case 'in':
      return `${node.property}${sp}${word('in')}${style.tight ? '' : sp}(${node.values.map(literal).join(style.tight ? ',' : `,${sp}`)})`;
    case 'isof': {
      const name = style.isof === 'bare' ? node.typeName : `'${style.isof === 'hash' ? '#' : ''}${node.typeName}'`;
      return `${word('isof')}(${name})`;
    }
  }
}

/** As the Graph SDK (via fetch) sends it, as `encodeURIComponent` does, or form-style with `+`. */
const encoders: Record<string, (text: string) => string> = {
  graph: (text) => encodeURIComponent(text).replaceAll("'", '%27'),
  component: (text) => encodeURIComponent(text),
  form: (text) => encodeURIComponent(text).replaceAll('%20', '+'),
};

interface Case {
  node: FilterNode;
  writer: 'formatFilter' | 'render';
  style: Style;
  encoding: keyof typeof encoders;
  order: 'asc' | 'desc';
  top: number;
  count: boolean;
  select: string | undefined;
}

const caseArbitrary = (tree: fc.Arbitrary<FilterNode>, selects: readonly (string | undefined)[]): fc.Arbitrary<Case> =>
  fc.record({
    node: tree,
    writer: fc.constantFrom('formatFilter' as const, 'render' as const),
    style: styleArbitrary,
    encoding: fc.constantFrom(...Object.keys(encoders)),
    order: fc.constantFrom('asc' as const, 'desc' as const),
    // Mostly one page, as the brief has it; sometimes several, to walk next links under a filter.
    top: fc.constantFrom(999, 999, 999, 999, 999, 100, 41),
    count: fc.boolean(),
    select: fc.constantFrom(...selects),
  });

const textOf = (c: Case) => (c.writer === 'formatFilter' ? formatFilter(c.node) : render(c.node, c.style));

interface Walked {
  items: Record<string, unknown>[];
  pages: number;
}

/** Follows next links from `path`, checking each page's size, count and link. */
async function walk(
  t: TestApp,
  who: TestIdentity,
  path: string,
  top: number,
  count: number | undefined,
): Promise<Walked> {
  const items: Record<string, unknown>[] = [];
  let pages = 0;
  for (let next: string | undefined = path; next;) {
    const res = await t.get(next, who);
    expect(res.status, `${decodeURIComponent(next)}\n${res.text}`).toBe(200);
    const body = res.body as { value: Record<string, unknown>[]; '@odata.nextLink'?: string; '@odata.count'?: number };
    pages += 1;
    expect(body.value.length).toBeLessThanOrEqual(top);
    if (count !== undefined) expect(body['@odata.count']).toBe(count);
    items.push(...body.value);
    const link = body['@odata.nextLink'];
    if (link) {
      expect(body.value).toHaveLength(top);
      const url = new URL(link);
      next = `${url.pathname}${url.search}`;
    } else {
      next = undefined;
    }
    expect(pages).toBeLessThan(100);
  }
  return { items, pages };
}

async function countOf(t: TestApp, who: TestIdentity, path: string): Promise<number> {
  const res = await t.get(path, who);
  expect(res.status, res.text).toBe(200);
  expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
  return Number(res.text);
}

/** How many runs matched nothing, everything, or something in between: a property that cannot fail proves little. */
interface Tally {
  runs: number;
  none: number;
  all: number;
  some: number;
  pages: number;
  requests: number;
}

const newTally = (): Tally => ({ runs: 0, none: 0, all: 0, some: 0, pages: 0, requests: 0 });

function tallyRun(tally: Tally, matched: number, total: number, pages: number) {
  tally.runs += 1;
  tally.pages += pages;
  tally.requests += pages + 1;
  if (matched === 0) tally.none += 1;
  else if (matched === total) tally.all += 1;
  else tally.some += 1;
}

describe('$filter: PostgreSQL against the in-memory evaluator', () => {
  let t: TestApp;
  let tenant: TestIdentity;
  let requests: RequestRow[];
  let parent: RequestRow;
  let results: ResultRow[];

  beforeAll(async () => {
    console.info(
      `filter-differential: seed ${SEED} (rerun with FILTER_SEED=${SEED}), ${REQUEST_RUNS} + ${RESULT_RUNS} runs`,
    );
    t = await startTestApp();
    // Listening once spares supertest a listen and close per request.
    await new Promise<void>((resolve) => t.app.getHttpServer().listen(0, '127.0.0.1', resolve));
    const random = prng(SEED);
    tenant = await newTenant();
    requests = requestRows(random, 300);
    await insertRequestRows(t, tenant.tenantId, requests);
    // Another tenant with rows at the same instants: an unparenthesized `or` would leak them.
    const noise = await newTenant();
    await insertRequestRows(t, noise.tenantId, requestRows(random, 100));

    parent = requests.find((r) => r.contentType === 'mail')!;
    const sibling = requests.find((r) => r !== parent && r.contentType === 'mail')!;
    results = instants(random, 120).map((createdDateTime) => ({
      id: random.uuid(),
      resultType: random.pick(THREAT_ASSESSMENT_RESULT_TYPES),
      createdDateTime,
    }));
    await insertResultRows(t, tenant.tenantId, parent.id, results);
    // The sibling's results sit at the same instants: the results list must stay within its request.
    await insertResultRows(
      t,
      tenant.tenantId,
      sibling.id,
      results.map((r) => ({ ...r, id: random.uuid() })),
    );
  });
  afterAll(() => t?.close());

  /**
   * Sends `c` to the collection at `path` (every page, and its `$count`), checks the ids answered, in
   * order, against the oracle's selection of `rows`, and tallies the run.
   */
  async function check<R extends { id: string; createdDateTime: Date }>(
    path: string,
    spec: FilterSpec,
    rows: readonly R[],
    c: Case,
    tally: Tally,
  ): Promise<{ items: Record<string, unknown>[]; expected: R[] }> {
    const text = textOf(c);
    const expected = sortRows(select(c.node, spec, rows), c.order);
    const filter = encoders[c.encoding](text);
    const options = `$filter=${filter}&$orderby=createdDateTime%20${c.order}&$top=${c.top}${c.count ? '&$count=true' : ''}${c.select ? `&$select=${c.select}` : ''}`;
    const { items, pages } = await walk(t, tenant, `${path}?${options}`, c.top, c.count ? expected.length : undefined);
    expect(
      items.map((item) => item.id),
      text,
    ).toEqual(expected.map((row) => row.id));
    expect(await countOf(t, tenant, `${path}/$count?$filter=${filter}`), text).toBe(expected.length);
    tallyRun(tally, expected.length, rows.length, pages);
    return { items, expected };
  }

  it(`lists requests in exactly the order and number the in-memory evaluation gives, over ${REQUEST_RUNS} random filters`, async () => {
    const seeded = [...new Set(requests.map((r) => r.createdDateTime.getTime()))].map((ms) => new Date(ms));
    const tally = newTally();
    const selects = [
      undefined,
      'id',
      'createdDateTime,category',
      'status,requestSource,contentType,expectedAssessment',
    ];
    await fc.assert(
      fc.asyncProperty(caseArbitrary(filterTree(REQUESTS_FILTER, seeded), selects), async (c) => {
        const { items, expected } = await check(REQUESTS, REQUESTS_FILTER, requests, c, tally);
        const byId = new Map(expected.map((row) => [row.id, row]));
        for (const item of items) {
          const row = byId.get(item.id as string)!;
          expect(item['@odata.type']).toBe(row['@odata.type']);
          const fields = c.select
            ? c.select.split(',')
            : ['createdDateTime', 'contentType', 'expectedAssessment', 'category', 'status', 'requestSource'];
          for (const field of fields) {
            const value = row[field as keyof RequestRow];
            expect(item[field], field).toBe(value instanceof Date ? value.toISOString() : value);
          }
        }
      }),
      { numRuns: REQUEST_RUNS, seed: SEED },
    );
    console.info(`filter-differential requests: ${JSON.stringify(tally)}`);
    expect(tally.some).toBeGreaterThan(tally.runs / 3);
    expect(tally.none).toBeGreaterThan(0);
  }, 240_000);

  it(`lists one request's results in exactly the order and number the in-memory evaluation gives, over ${RESULT_RUNS} random filters`, async () => {
    const seeded = [...new Set(results.map((r) => r.createdDateTime.getTime()))].map((ms) => new Date(ms));
    const tally = newTally();
    const path = `${REQUESTS}/${parent.id}/results`;
    await fc.assert(
      fc.asyncProperty(
        caseArbitrary(filterTree(RESULTS_FILTER, seeded), [undefined, 'resultType', 'createdDateTime']),
        async (c) => {
          const { items, expected } = await check(path, RESULTS_FILTER, results, c, tally);
          for (const [i, item] of items.entries()) {
            expect(item['@odata.type']).toBe('#microsoft.graph.threatAssessmentResult');
            if (!c.select || c.select === 'resultType') expect(item.resultType).toBe(expected[i].resultType);
            if (!c.select || c.select === 'createdDateTime')
              expect(item.createdDateTime).toBe(expected[i].createdDateTime.toISOString());
          }
        },
      ),
      { numRuns: RESULT_RUNS, seed: SEED },
    );
    console.info(`filter-differential results: ${JSON.stringify(tally)}`);
    expect(tally.some).toBeGreaterThan(tally.runs / 3);
  }, 240_000);
});
