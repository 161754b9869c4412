import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { costBreakdown, lastDump } from './callgrind.mjs';

// main runs 100 itself, enters the collector (60 in all, its own helper entering a nested collector
// entry point) and the lazy compiler (30, of which 5 in malloc), and calls malloc itself (5).
const DUMP = `events: Ir
fn=(1) main
1 100
cfn=(2) v8::internal::Heap::CollectGarbage(v8::internal::AllocationSpace)
calls=1 0
2 60
cfn=(5) v8::internal::Runtime_CompileLazy(int, unsigned long*, v8::internal::Isolate*)
calls=1 0
3 30
cfn=(6) malloc
calls=1 0
4 5
fn=(2)
1 10
cfn=(3) v8::internal::Heap::PerformGarbageCollection()
calls=1 0
2 50
fn=(3)
1 20
cfn=(4) v8::internal::ScavengerCollector::CollectGarbage()
calls=1 0
+1 30
fn=(4)
1 30
fn=(5)
1 25
cfn=(6)
calls=1 0
2 5
fn=(6)
1 10
totals: 195
`;

describe('costBreakdown', () => {
  it('sums every cost line, and charges the collector and the compilers once each, nested entries included', () => {
    expect(costBreakdown(DUMP)).toEqual({ total: 195, jit: 30, gc: 60 });
  });

  it('counts every call into the collector from outside it', () => {
    const shared = `${DUMP}fn=(7) v8::internal::Factory::NewJSObject()
1 1
cfn=(2)
calls=1 0
1 7
fn=(1)
5 0
cfn=(7)
calls=1 0
5 8
`;
    expect(costBreakdown(shared)).toEqual({ total: 196, jit: 30, gc: 67 });
  });
});

describe('lastDump', () => {
  /** @type {string | undefined} */
  let dir;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reads the highest-numbered part of the target's dumps", () => {
    dir = mkdtempSync(join(tmpdir(), 'callgrind-spec-'));
    writeFileSync(join(dir, 'service.out.2'), 'events: Ir\nfn=(1) main\n1 5\n');
    writeFileSync(join(dir, 'service.out.10'), DUMP);
    writeFileSync(join(dir, 'reference.out.11'), 'events: Ir\nfn=(1) main\n1 7\n');
    expect(lastDump(dir, 'service').total).toBe(195);
  });

  it('fails when the target wrote no dump', () => {
    dir = mkdtempSync(join(tmpdir(), 'callgrind-spec-'));
    expect(() => lastDump(/** @type {string} */ (dir), 'service')).toThrow(/no dump for service/);
  });
});
