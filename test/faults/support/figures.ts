import { appendFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

const FILE = resolve('test-artifacts/faults/figures.jsonl');

/** What a test measured, printed and kept in test-artifacts/faults/figures.jsonl, for the run's report. */
export function recordFigures(test: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ test, at: new Date().toISOString(), ...figures });
  mkdirSync(resolve(FILE, '..'), { recursive: true });
  appendFileSync(FILE, `${line}\n`);
  console.log(`[figures] ${line}`);
}
