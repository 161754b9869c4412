import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RawAnswer } from './raw-client.js';

export const ARTIFACTS = resolve('test-artifacts/adversarial');
const CLASSES = join(ARTIFACTS, 'classes');
/** The spec files (`<name>.adversarial-spec.ts`) in the order they run: memory last, after everything else. */
export const SUITE_ORDER = ['tokens', 'bodies', 'characters', 'encodings', 'headers', 'responses', 'memory'];

export interface Extreme {
  value: number;
  what: string;
}

/** What one class of inputs measured, for the README's security section. */
export interface ClassFigures {
  name: string;
  title: string;
  seed: number;
  inputs: number;
  statuses: Record<string, number>;
  slowestMs: Extreme;
  largestBodyBytes: Extreme;
  /** nodejs_eventloop_lag_max_seconds of the service, scraped after each test (ms). */
  worstEventLoopDelayMs: Extreme;
  /** The slowest concurrent /health/live probe, where a test ran one. */
  worstProbeMs?: Extreme;
  /** The service's VmRSS when the class began and ended, and its VmHWM (peak since start) at the end, in MB. */
  rssMb: { start: number; end: number; peak: number };
  properties: { name: string; runs: number; interrupted: boolean }[];
  extra: Record<string, unknown>;
}

/** Tallies every answer of a class and writes it under test-artifacts/adversarial/classes for the report. */
export class Figures {
  readonly data: ClassFigures;

  constructor(name: string, title: string, seed: number) {
    const none = { value: 0, what: '' };
    this.data = {
      name,
      title,
      seed,
      inputs: 0,
      statuses: {},
      slowestMs: { ...none },
      largestBodyBytes: { ...none },
      worstEventLoopDelayMs: { ...none },
      rssMb: { start: 0, end: 0, peak: 0 },
      properties: [],
      extra: {},
    };
  }

  record(answer: RawAnswer, description: string): RawAnswer {
    const d = this.data;
    const what = printable(description);
    d.inputs++;
    const key =
      answer.status > 0 ? String(answer.status) : answer.timedOut ? 'timeout' : (answer.networkError ?? 'no answer');
    d.statuses[key] = (d.statuses[key] ?? 0) + 1;
    if (answer.ms > d.slowestMs.value) d.slowestMs = { value: Math.round(answer.ms), what };
    if (answer.body.length > d.largestBodyBytes.value) d.largestBodyBytes = { value: answer.body.length, what };
    return answer;
  }

  eventLoop(ms: number, what: string): void {
    if (ms > this.data.worstEventLoopDelayMs.value) {
      this.data.worstEventLoopDelayMs = { value: Math.round(ms), what: printable(what) };
    }
  }

  probe(ms: number, what: string): void {
    if (ms > (this.data.worstProbeMs?.value ?? 0))
      this.data.worstProbeMs = { value: Math.round(ms), what: printable(what) };
  }

  rss(at: 'start' | 'end', { rssBytes, peakBytes }: { rssBytes: number; peakBytes: number }): void {
    this.data.rssMb[at] = Math.round(rssBytes / 1024 / 1024);
    this.data.rssMb.peak = Math.round(peakBytes / 1024 / 1024);
  }

  property(name: string, runs: number, interrupted: boolean): void {
    this.data.properties.push({ name, runs, interrupted });
  }

  write(): void {
    mkdirSync(CLASSES, { recursive: true });
    writeFileSync(join(CLASSES, `${this.data.name}.json`), `${JSON.stringify(this.data, null, 2)}\n`);
    console.log(`[figures] ${this.data.name}: ${JSON.stringify({ ...this.data, properties: undefined })}`);
  }
}

/** Inputs are hostile by design: in a figure (and a README table) every code unit outside printable ASCII is escaped. */
const printable = (text: string) =>
  text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).replaceAll('|', '\\|');

export function clearClassFigures(): void {
  rmSync(CLASSES, { recursive: true, force: true });
  mkdirSync(CLASSES, { recursive: true });
}

/** The classes written so far in this run, in the suite's order. */
export function readClassFigures(): ClassFigures[] {
  mkdirSync(CLASSES, { recursive: true });
  return readdirSync(CLASSES)
    .filter((file) => file.endsWith('.json'))
    .map((file) => JSON.parse(readFileSync(join(CLASSES, file), 'utf8')) as ClassFigures)
    .sort((a, b) => SUITE_ORDER.indexOf(a.name) - SUITE_ORDER.indexOf(b.name));
}

const formatStatuses = (statuses: Record<string, number>) =>
  Object.entries(statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${status}×${n}`)
    .join(' ');

/** The README's table: one row per class. */
export function figuresTable(classes: readonly ClassFigures[]): string {
  const short = (what: string) => (what.length > 90 ? `${what.slice(0, 90)}…` : what);
  const rows = classes.map((c) => [
    c.title,
    String(c.inputs),
    formatStatuses(c.statuses),
    `${c.slowestMs.value} (${short(c.slowestMs.what)})`,
    `${c.largestBodyBytes.value} (${short(c.largestBodyBytes.what)})`,
    `${c.worstEventLoopDelayMs.value}${c.worstProbeMs ? ` (health probe ${c.worstProbeMs.value})` : ''}`,
    `${c.rssMb.start} → ${c.rssMb.end} (peak ${c.rssMb.peak})`,
  ]);
  const header = [
    'Class',
    'Inputs',
    'Statuses seen',
    'Slowest answer ms',
    'Largest answer body B',
    'Worst event-loop delay ms',
    'Service RSS MB',
  ];
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
