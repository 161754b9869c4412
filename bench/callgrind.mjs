// Running node under valgrind's callgrind, and reading what it counted: starting a target with
// instrumentation off, sending it commands, and splitting a dump's instructions into V8's compilers,
// its garbage collector and the rest.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where a run's dumps go, under its results folder.
 * @param {string} outDir
 */
export function dumpDir(outDir) {
  return join(outDir, 'callgrind');
}

export function hasValgrind() {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * How a target runs under callgrind: valgrind before node, and node's own flags.
 * @param {string} outDir the run's results folder (dumps in dumpDir(outDir))
 * @param {string} name
 */
export function callgrind(outDir, name) {
  const dir = dumpDir(outDir);
  mkdirSync(dir, { recursive: true });
  return {
    wrapper: ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(dir, `${name}.out`)}`],
    // Compiled code is kept: a major collection would otherwise send idle functions back to the
    // interpreter in one window and not in another.
    nodeArgs: ['--predictable', '--no-flush-bytecode'],
  };
}

/**
 * Sends a command to the target's callgrind. vgdb, which carries it, names its pipes after $USER and $HOST
 * as the target saw them at start, so it runs with the target's environment.
 * @param {{ pid: number, env: NodeJS.ProcessEnv }} target
 * @param {string} command
 */
export function control(target, command) {
  execFileSync('callgrind_control', [command, String(target.pid)], {
    env: target.env,
    stdio: 'ignore',
    timeout: 60_000,
  });
}

/**
 * Where V8's compilers and its garbage collector are entered from running code (in predictable mode,
 * on the main thread): compilation is a warm-up cost that production runs on background threads, and GC
 * comes in whole collections, one more or fewer in a window being worth several per cent; the
 * instructions left, the mutator's, are what the code asks of the machine per request.
 */
const CATEGORIES = {
  jit: /^v8::internal::Runtime_(?:Compile|Optimize|InstallBaselineCode|InstallSFICode|NotifyDeoptimized|HealOptimizedCodeSlot)/,
  gc: /^v8::internal::(?:Heap::(?:CollectGarbage|CollectAllGarbage|CollectAllAvailableGarbage|StartIncrementalMarking|FinalizeIncrementalMarking)|MinorGCJob::|ScavengeJob::|IncrementalMarking(?:Job)?::|Sweeper::|MemoryReducer::|ArrayBufferSweeper::|MarkCompactCollector::|ScavengerCollector::|MinorMarkSweepCollector::|ConcurrentMarking::)/,
};

/**
 * A callgrind dump's instructions, and how many of them ran inside each category: the cost of the calls
 * into a category's entry points from functions that do not themselves run only inside it (a function
 * all of whose callers are inside, such as a collector's own helpers, is inside too), so that nested
 * entries are not counted twice.
 * @param {string} text a dump (callgrind's format, names compressed or not)
 * @returns {{ total: number, jit: number, gc: number }}
 */
export function costBreakdown(text) {
  /** @type {Map<string, string>} */
  const names = new Map();
  /** @param {string} spec */
  const nameOf = (spec) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!match) return spec;
    if (match[2] !== undefined) names.set(match[1], match[2]);
    return names.get(match[1]) ?? spec;
  };
  /** @type {{ caller: string, callee: string, cost: number }[]} */
  const calls = [];
  let fn = '';
  let callee = '';
  let inCall = false;
  let total = 0;
  for (const line of text.split('\n')) {
    if (inCall) {
      inCall = false;
      calls.push({ caller: fn, callee, cost: Number(line.split(' ')[1] ?? 0) });
    } else if (line.startsWith('fn=')) fn = nameOf(line.slice(3));
    else if (line.startsWith('cfn=')) callee = nameOf(line.slice(4));
    else if (line.startsWith('calls=')) inCall = true;
    else if (/^[0-9+*-]/.test(line)) total += Number(line.split(' ')[1] ?? 0);
  }
  /** @type {Map<string, Set<string>>} */
  const callers = new Map();
  for (const call of calls) {
    if (call.cost > 0) callers.set(call.callee, (callers.get(call.callee) ?? new Set()).add(call.caller));
  }
  /** @param {RegExp} entry */
  const inside = (entry) => {
    const set = new Set([...callers.keys()].filter((name) => entry.test(name)));
    for (let grew = true; grew;) {
      grew = false;
      for (const [name, from] of callers) {
        if (!set.has(name) && [...from].every((caller) => set.has(caller))) {
          set.add(name);
          grew = true;
        }
      }
    }
    return set;
  };
  /** @param {RegExp} entry */
  const under = (entry) => {
    const set = inside(entry);
    return calls.reduce((sum, c) => sum + (entry.test(c.callee) && !set.has(c.caller) ? c.cost : 0), 0);
  };
  return { total, jit: under(CATEGORIES.jit), gc: under(CATEGORIES.gc) };
}

/**
 * The last dump of `name`'s process (its files are `<name>.out.<n>`, n counting up).
 * @param {string} dir
 * @param {string} name
 */
export function lastDump(dir, name) {
  const parts = readdirSync(dir)
    .map((file) => new RegExp(`^${name}\\.out\\.(\\d+)$`).exec(file))
    .filter((match) => match !== null)
    .map((match) => Number(match[1]));
  if (!parts.length) throw new Error(`callgrind wrote no dump for ${name} in ${dir}`);
  return costBreakdown(readFileSync(join(dir, `${name}.out.${Math.max(...parts)}`), 'utf8'));
}
