// What the image's process gets, read from the Dockerfile itself: its CMD (exec form) and the runtime
// stage's ENV. The image smoke test runs exactly this, and the bench runs the service with it, so
// neither can drift from the image.
import { readFileSync } from 'node:fs';

const DOCKERFILE = new URL('../Dockerfile', import.meta.url);

/**
 * The last CMD, in exec form: `['node', ...flags, 'dist/main.js']`.
 * @returns {string[]}
 */
export function imageCommand(dockerfile = readFileSync(DOCKERFILE, 'utf8')) {
  const line = dockerfile
    .split('\n')
    .filter((l) => /^CMD\s/.test(l))
    .at(-1);
  if (!line) throw new Error('Dockerfile has no CMD');
  const cmd = JSON.parse(line.replace(/^CMD\s+/, ''));
  if (!Array.isArray(cmd)) throw new Error('CMD is not in exec form');
  return cmd;
}

/**
 * The node flags of the CMD: what stands between `node` and the script.
 * @param {string} [dockerfile]
 */
export function imageNodeFlags(dockerfile) {
  return imageCommand(dockerfile).slice(1, -1);
}

/** The runtime stage's ENV (`KEY=value` pairs, continued lines joined), which the image's process gets. */
export function runtimeEnv(dockerfile = readFileSync(DOCKERFILE, 'utf8')) {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n');
  const runtime = lines.slice(lines.findLastIndex((l) => /^FROM\s/i.test(l)));
  const pairs = runtime
    .filter((l) => /^ENV\s/i.test(l))
    .flatMap((l) => [...l.replace(/^ENV\s+/i, '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)]);
  return Object.fromEntries(pairs.map(([, key, value]) => [key, value.replace(/^"(.*)"$/, '$1')]));
}
