// Reads a V8 .cpuprofile (node --cpu-prof): time by area and by function, time under a few marked frames
// (inclusive), and a flame graph (SVG). Only samples inside `windows` (ms since the profile started)
// count, so that start-up and the gaps between runs do not dilute the load.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './setup.mjs';

/**
 * What `node --cpu-prof` writes (V8's Profiler.Profile), as far as it is read here.
 * @typedef {{ functionName: string, url: string, lineNumber: number }} CallFrame
 * @typedef {{ id: number, callFrame: CallFrame, children?: number[] }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }} CpuProfile
 * Where the profiles go, and which of their samples count: the measured runs (ms since each process
 * started) and the responses served in them, by target.
 * @typedef {{ dir: string, windows?: Record<string, number[][]>, served?: Record<string, number> }} Profiling
 */

/**
 * The profile's nodes by id; every id a profile names is one of its nodes.
 * @param {CpuProfile} profile
 */
function nodesById(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  return (/** @type {number} */ id) => /** @type {ProfileNode} */ (byId.get(id));
}

/** Areas by script URL, first match wins; the order matters (the app's own pipes are validation). */
/** @type {[string, RegExp][]} */
const AREAS = [
  [
    'validation',
    /class-validator|class-transformer|\/validator\/|validation\.pipe|parse-guid\.pipe|polymorphic-body|@nestjs\/common\/pipes/,
  ],
  [
    'serialization',
    /fast-json-stringify|\.mapper\.js|odata\/select\.js|public-url\.js|fastify\/lib\/(reply|schemas|error-serializer)/,
  ],
  ['ORM (TypeORM)', /node_modules\/typeorm\//],
  ['pg driver', /node_modules\/(pg|pg-protocol|pg-pool|pg-types|postgres-[a-z]+|pg-connection-string)\//],
  ['logging', /@nestjs\/common\/services|console-logger|request-logging|node_modules\/pino|abstract-logging/],
  ['metrics (prom-client)', /prom-client|observability\/metrics/],
  ['security headers (helmet)', /helmet/],
  ['auth (jose, guard)', /node_modules\/jose\/|\/auth\/|@noble/],
  ['OData (query options, filter, skiptoken)', /\/odata\//],
  [
    'Nest core (router, DI, interceptors, rxjs)',
    /@nestjs\/(core|platform-fastify)|node_modules\/rxjs|reflect-metadata/,
  ],
  [
    'Fastify (router, hooks, body parser)',
    /node_modules\/(fastify|find-my-way|avvio|@fastify|fast-querystring|secure-json-parse|light-my-request|toad-cache|fastq|content-type|fast-content-type-parse)/,
  ],
  ['app code', /\/dist\/|bench\/reference-server/],
];
const LIBRARY_AREAS = new Set([...AREAS.map(([area]) => area), 'other node_modules']);

/** @param {ProfileNode} frame */
function areaOf(frame) {
  const { url, functionName } = frame.callFrame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'V8/native (program)';
  if (!url) return 'V8 builtins (JSON, RegExp, syscalls…)';
  for (const [area, pattern] of AREAS) if (pattern.test(url)) return area;
  if (/node_modules/.test(url)) return 'other node_modules';
  if (url.startsWith('node:')) return 'node core (http, net, streams, crypto)';
  return 'other';
}

/** Frames whose inclusive time is reported: "how long is spent under X". */
/** @type {[string, (frame: { url: string, functionName: string }) => boolean][]} */
const MARKERS = [
  [
    'GraphValidationPipe.transform (body + params validation)',
    (f) => /validation\.pipe/.test(f.url) && f.functionName === 'transform',
  ],
  ['class-validator validate', (f) => /class-validator/.test(f.url) && /^validate/.test(f.functionName)],
  [
    'class-transformer plainToInstance',
    (f) => /class-transformer/.test(f.url) && /plainToInstance|plainToClass/.test(f.functionName),
  ],
  [
    'jose jwtVerify (with WebCrypto importKey + HMAC)',
    (f) => /node_modules\/jose\//.test(f.url) && f.functionName === 'jwtVerify',
  ],
  [
    'WebCrypto importKey (a key per request)',
    (f) => f.url === 'node:internal/crypto/webcrypto' && f.functionName === 'importKey',
  ],
  ['TypeORM query builder (build SQL, getMany, getCount)', (f) => /typeorm\/query-builder/.test(f.url)],
  ['TypeORM PostgresQueryRunner.query', (f) => /PostgresQueryRunner/.test(f.url) && f.functionName === 'query'],
  [
    'TypeORM entity hydration (RawSqlResultsToEntityTransformer)',
    (f) => /RawSqlResultsToEntityTransformer/.test(f.url),
  ],
  ['pg Client.query and protocol', (f) => /node_modules\/(pg|pg-protocol)\//.test(f.url)],
  ['request log line (onResponse hook)', (f) => /request-logging/.test(f.url)],
  ['helmet headers', (f) => /helmet/.test(f.url)],
  ['metrics', (f) => /prom-client|observability\/metrics/.test(f.url)],
  [
    'Fastify reply.send / serialize (incl. the socket write)',
    (f) => /fastify\/lib\/reply/.test(f.url) && /send|serialize/i.test(f.functionName),
  ],
  ['Nest router execution context (guards, pipes, interceptors, handler)', (f) => /@nestjs\/core\/router/.test(f.url)],
  [
    'socket writes (writev/write syscalls)',
    (f) => !f.url && /^(writev|writeUtf8String|writeBuffer|writeLatin1String)$/.test(f.functionName),
  ],
];

/**
 * Self time by area, the same with node internals and builtins charged to the library that called them
 * ("attributed": jose's WebCrypto HMAC is auth, pg's socket write is the pg driver), the top functions,
 * and inclusive time under the marked frames. `requests`: responses served in the windows, for µs per request.
 * @param {CpuProfile} profile
 * @param {{ windows?: number[][], requests?: number }} [options]
 */
export function analyzeProfile(profile, { windows, requests } = {}) {
  const nodeOf = nodesById(profile);
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  // Sample i lasts timeDeltas[i + 1] µs (the gap to the next sample); the last one an average.
  const { samples, timeDeltas } = profile;
  /** @type {Map<number, number>} */
  const self = new Map();
  /** @type {Map<string, number>} */
  const attributed = new Map();
  /** @type {Map<string, number>} */
  const markerTime = new Map();
  let t = 0;
  let total = 0;
  let idle = 0;
  const meanDelta = (profile.endTime - profile.startTime) / Math.max(1, samples.length);
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i] ?? 0;
    const ms = t / 1000;
    if (windows && !windows.some(([from, to]) => ms >= from && ms <= to)) continue;
    const dt = timeDeltas[i + 1] ?? meanDelta;
    const id = samples[i];
    const node = nodeOf(id);
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    total += dt;
    self.set(id, (self.get(id) ?? 0) + dt);
    let charged;
    const seenMarkers = new Set();
    for (let /** @type {number | undefined} */ cur = id; cur !== undefined; cur = parent.get(cur)) {
      const frameNode = nodeOf(cur);
      if (!charged && LIBRARY_AREAS.has(areaOf(frameNode))) charged = areaOf(frameNode);
      for (const [name, test] of MARKERS) {
        if (!seenMarkers.has(name) && test(frameNode.callFrame)) {
          seenMarkers.add(name);
          markerTime.set(name, (markerTime.get(name) ?? 0) + dt);
        }
      }
    }
    charged ??= areaOf(node);
    attributed.set(charged, (attributed.get(charged) ?? 0) + dt);
  }

  /** @type {Map<string, number>} */
  const areas = new Map();
  /** @type {Map<string, { function: string, area: string, us: number }>} */
  const functions = new Map();
  for (const [id, us] of self) {
    const node = nodeOf(id);
    const area = areaOf(node);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`;
    const entry = functions.get(key) ?? { function: key, area, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  /** @param {number} us */
  const pct = (us) => Math.round((1000 * us) / Math.max(1, total)) / 10;
  /** @param {number} us */
  const perRequest = (us) => (requests ? Math.round((10 * us) / requests) / 10 : undefined);
  /** @param {Map<string, number>} map */
  const rows = (map) =>
    [...map]
      .map(([area, us]) => ({ area, ms: Math.round(us / 1000), pct: pct(us), usPerRequest: perRequest(us) }))
      .sort((a, b) => b.ms - a.ms);
  return {
    busyMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    requests,
    usPerRequest: perRequest(total),
    byArea: rows(areas),
    attributed: rows(attributed),
    topSelf: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, 30)
      .map((f) => ({
        function: f.function,
        area: f.area,
        ms: Math.round(f.us / 1000),
        pct: pct(f.us),
        usPerRequest: perRequest(f.us),
      })),
    inclusive: MARKERS.map(([name]) => {
      const us = markerTime.get(name) ?? 0;
      return { frame: name, ms: Math.round(us / 1000), pct: pct(us), usPerRequest: perRequest(us) };
    }),
  };
}

/** @param {string} url */
function shortUrl(url) {
  if (!url) return '';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** @type {Record<string, string>} */
const COLORS = {
  validation: '#e4572e',
  serialization: '#f3a712',
  'ORM (TypeORM)': '#7b2cbf',
  'pg driver': '#4361ee',
  logging: '#a8c686',
  'metrics (prom-client)': '#6a994e',
  'security headers (helmet)': '#bc6c25',
  'auth (jose, guard)': '#29bf12',
  'OData (query options, filter, skiptoken)': '#00a6a6',
  'Nest core (router, DI, interceptors, rxjs)': '#ef476f',
  'Fastify (router, hooks, body parser)': '#118ab2',
  GC: '#888888',
};

/**
 * A flame graph (root at the bottom) of the samples inside `windows`; frames under 0.2 % are left out.
 * @param {CpuProfile} profile
 * @param {{ windows?: number[][], title?: string }} [options]
 */
export function flameGraphSvg(profile, { windows, title = 'CPU profile' } = {}) {
  const nodeOf = nodesById(profile);
  /** @type {Map<number, number>} */
  const weight = new Map();
  let t = 0;
  const meanDelta = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (windows && !windows.some(([from, to]) => t / 1000 >= from && t / 1000 <= to)) continue;
    const node = nodeOf(profile.samples[i]);
    if (node.callFrame.functionName === '(idle)') continue;
    weight.set(node.id, (weight.get(node.id) ?? 0) + (profile.timeDeltas[i + 1] ?? meanDelta));
  }
  /** @type {Map<number, number>} */
  const total = new Map();
  /** @param {number} id @returns {number} */
  const sum = (id) => {
    const known = total.get(id);
    if (known !== undefined) return known;
    const node = nodeOf(id);
    let value = weight.get(id) ?? 0;
    for (const child of node.children ?? []) value += sum(child);
    total.set(id, value);
    return value;
  };
  const root = profile.nodes[0];
  const rootTotal = sum(root.id) || 1;
  const width = 1600;
  const rowHeight = 16;
  /** @type {{ node: ProfileNode, x: number, w: number, depth: number }[]} */
  const rects = [];
  let depthMax = 0;
  /**
   * @param {number} id
   * @param {number} x
   * @param {number} depth
   */
  const walk = (id, x, depth) => {
    const node = nodeOf(id);
    const w = (sum(id) / rootTotal) * width;
    if (w < width * 0.002) return;
    depthMax = Math.max(depthMax, depth);
    rects.push({ node, x, w, depth });
    let cx = x;
    for (const child of node.children ?? []) {
      walk(child, cx, depth + 1);
      cx += (sum(child) / rootTotal) * width;
    }
  };
  walk(root.id, 0, 0);
  const height = (depthMax + 2) * rowHeight + 30;
  /** @param {string} s */
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const body = rects
    .map(({ node, x, w, depth }) => {
      const { functionName, url, lineNumber } = node.callFrame;
      const name = functionName || '(anonymous)';
      const label = `${name} ${shortUrl(url)}:${lineNumber + 1}`;
      const y = height - (depth + 1) * rowHeight - 4;
      const pct = ((100 * sum(node.id)) / rootTotal).toFixed(1);
      const color = COLORS[areaOf(node)] ?? (url.startsWith('node:') ? '#bbbbbb' : '#d9a05b');
      const chars = Math.floor((w - 4) / 6.5);
      const text =
        chars > 3
          ? `<text x="${(x + 2).toFixed(1)}" y="${y + 12}">${esc(name.length > chars ? `${name.slice(0, chars - 1)}…` : name)}</text>`
          : '';
      return `<g><title>${esc(label)} (${pct} %)</title><rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(w - 0.5, 0.5).toFixed(1)}" height="${rowHeight - 1}" fill="${color}"/>${text}</g>`;
    })
    .join('\n');
  const legend = Object.entries(COLORS)
    .map(
      ([area, color], i) =>
        `<rect x="${10 + i * 150}" y="6" width="10" height="10" fill="${color}"/><text x="${24 + i * 150}" y="15">${esc(area.split(' (')[0])}</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 20}" font-family="monospace" font-size="11">
<text x="10" y="${height + 14}" font-size="12">${esc(title)} — width: CPU time (idle excluded); hover a frame for its file and share</text>
${legend}
${body}
</svg>
`;
}

/**
 * The CPU profiles of the service and the reference, restricted to their measured runs: time by area
 * (node internals charged to the library that called them), per request, side by side; flame graphs.
 * @param {Profiling} profiling
 * @param {string} outDir
 * @param {import('./setup.mjs').Settings} settings
 * @param {import('./setup.mjs').Log} log
 */
export function readProfiles(profiling, outDir, settings, log) {
  /** @type {Partial<Record<'service' | 'reference', { file: string } & ReturnType<typeof analyzeProfile>>>} */
  const result = {};
  for (const name of /** @type {const} */ (['service', 'reference'])) {
    const dir = join(profiling.dir, name);
    const file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) : undefined;
    if (!file) continue;
    const profile = /** @type {CpuProfile} */ (JSON.parse(readFileSync(join(dir, file), 'utf8')));
    const windows = profiling.windows?.[name]?.length ? profiling.windows[name] : undefined;
    // A reference that served no measured run (service-only scenarios) has nothing to compare.
    if (name === 'reference' && !windows) continue;
    result[name] = {
      file: relative(ROOT, join(dir, file)),
      ...analyzeProfile(profile, { windows, requests: profiling.served?.[name] || undefined }),
    };
    const scope = settings.scenarios?.join(', ') ?? 'all scenarios';
    writeFileSync(
      join(outDir, `flame-${name}.svg`),
      flameGraphSvg(profile, { windows, title: `${name} under ${scope}` }),
    );
  }
  const { service, reference } = result;
  if (!service) {
    log('No CPU profile was written (did the service exit cleanly?).');
    return result;
  }
  /** @param {{ usPerRequest?: number, pct: number } | undefined} row */
  const cell = (row) =>
    row ? `${String(row.usPerRequest ?? '—').padStart(8)} µs ${row.pct.toFixed(1).padStart(5)} %` : ''.padStart(19);
  log(
    `\nCPU per request (µs, node internals charged to their caller): service ${service.usPerRequest} µs` +
      `${reference ? `, reference ${reference.usPerRequest} µs` : ''}`,
  );
  log(`  ${'area'.padEnd(45)} ${'service'.padStart(19)} ${reference ? 'reference'.padStart(19) : ''}`);
  for (const row of service.attributed) {
    log(
      `  ${row.area.padEnd(45)} ${cell(row)} ${reference ? cell(reference.attributed.find((r) => r.area === row.area)) : ''}`,
    );
  }
  log('Time under (inclusive):');
  for (const row of service.inclusive) {
    if (!row.ms && !reference?.inclusive.find((r) => r.frame === row.frame)?.ms) continue;
    log(
      `  ${row.frame.padEnd(72)} ${cell(row)} ${reference ? cell(reference.inclusive.find((r) => r.frame === row.frame)) : ''}`,
    );
  }
  return result;
}
