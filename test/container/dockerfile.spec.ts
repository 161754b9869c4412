import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Static checks of the container files: Dockerfile, docker-compose.yml, .env.example. No Docker
 * engine is needed; the compose file is parsed from its text, and additionally validated by
 * `docker-compose config` / `docker compose config` where such a binary is installed.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (name: string): string => readFileSync(join(root, name), 'utf8');

const SECRETS = ['AUTH_HS256_SECRET', 'SKIPTOKEN_SECRET', 'POSTGRES_PASSWORD'] as const;

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions with line continuations joined and comments dropped, as the builder reads them. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '') || line === '') return;
    if (pending === '') start = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      return;
    }
    pending += line;
    const match = /^(\S+)\s*([\s\S]*)$/.exec(pending);
    if (!match) throw new Error(`Dockerfile line ${start}: cannot parse '${pending}'`);
    out.push({ keyword: match[1].toUpperCase(), args: match[2].trim(), line: start });
    pending = '';
  });
  if (pending !== '') throw new Error('Dockerfile ends inside a line continuation');
  return out;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.replace(/--platform=\S+\s+/, '').split(/\s+/);
      const resolved = image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => {
        const value = globalArgs.get((a ?? b)!);
        if (value === undefined) throw new Error(`FROM uses ARG ${a ?? b} with no default`);
        return value;
      });
      stages.push({ image: resolved, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`${instruction.keyword} before the first FROM`);
      const [key, value] = instruction.args.split('=', 2);
      globalArgs.set(key.trim(), unquote(value?.trim() ?? ''));
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** JSON-array ("exec") form of CMD, ENTRYPOINT or HEALTHCHECK ... CMD; undefined for shell form. */
function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) return undefined;
  return parsed;
}

function unquote(value: string): string {
  if (value.length >= 2 && value[0] === value.at(-1) && (value[0] === '"' || value[0] === "'")) {
    return value.slice(1, -1);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// The YAML that docker-compose.yml is written in: block maps, block sequences of scalars, flow
// sequences, plain/single/double-quoted scalars and comments. Anything else throws, so the
// compose file cannot drift into constructs these checks would misread.

type Yaml = string | null | Yaml[] | { [key: string]: Yaml };

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) {
      return line.slice(0, i);
    }
  }
  return line;
}

function splitFlow(inner: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let current = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (quote) {
      current += c;
      if (c === '\\' && quote === '"') current += inner[++i] ?? '';
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
      current += c;
    } else if (c === ',') {
      parts.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  if (current.trim() !== '') parts.push(current.trim());
  return parts;
}

function scalar(text: string, line: number): Yaml {
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw new Error(`compose line ${line}: unterminated flow sequence`);
    return splitFlow(text.slice(1, -1)).map((part) => scalar(part, line));
  }
  if (
    text.startsWith('{') ||
    text.startsWith('&') ||
    text.startsWith('*') ||
    text.startsWith('|') ||
    text.startsWith('>')
  ) {
    throw new Error(`compose line ${line}: unsupported YAML construct '${text}'`);
  }
  if (text.startsWith('"')) return JSON.parse(text) as string;
  if (text.startsWith("'")) return text.slice(1, -1).replaceAll("''", "'");
  return text;
}

function parseYaml(text: string): Yaml {
  const lines = text
    .split(/\r?\n/)
    .map((raw, index) => {
      const stripped = stripComment(raw).replace(/\s+$/, '');
      if (/^\t/.test(stripped)) throw new Error(`compose line ${index + 1}: tab indentation`);
      return { indent: stripped.length - stripped.trimStart().length, text: stripped.trim(), line: index + 1 };
    })
    .filter((l) => l.text !== '');
  let i = 0;

  const block = (minIndent: number): Yaml => {
    if (i >= lines.length || lines[i].indent < minIndent) return null;
    const indent = lines[i].indent;
    if (lines[i].text === '-' || lines[i].text.startsWith('- ')) {
      const items: Yaml[] = [];
      while (
        i < lines.length &&
        lines[i].indent === indent &&
        (lines[i].text === '-' || lines[i].text.startsWith('- '))
      ) {
        const { text: itemText, line } = lines[i];
        const rest = itemText.slice(1).trim();
        i++;
        if (/^[^"'[{][^:]*:(\s|$)/.test(rest))
          throw new Error(`compose line ${line}: maps inside sequences are not supported`);
        items.push(rest === '' ? block(indent + 1) : scalar(rest, line));
      }
      if (i < lines.length && lines[i].indent > indent)
        throw new Error(`compose line ${lines[i].line}: bad indentation`);
      return items;
    }
    const map: { [key: string]: Yaml } = {};
    while (i < lines.length && lines[i].indent === indent) {
      const { text: entry, line } = lines[i];
      const match = /^("[^"]*"|'[^']*'|[^\s:"'][^:]*?)\s*:(?:\s+(.*))?$/.exec(entry);
      if (!match) throw new Error(`compose line ${line}: expected 'key: value', got '${entry}'`);
      i++;
      const key = unquote(match[1]);
      if (key in map) throw new Error(`compose line ${line}: duplicate key '${key}'`);
      map[key] = match[2] === undefined ? block(indent + 1) : scalar(match[2], line);
    }
    if (i < lines.length && lines[i].indent > indent) throw new Error(`compose line ${lines[i].line}: bad indentation`);
    return map;
  };

  const document = block(0);
  if (i < lines.length) throw new Error(`compose line ${lines[i].line}: unexpected indentation`);
  return document;
}

function asMap(value: Yaml | undefined, what: string): { [key: string]: Yaml } {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${what} is not a map`);
  }
  return value;
}

function asList(value: Yaml | undefined, what: string): Yaml[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list`);
  return value;
}

/** Names of every `${NAME...}` interpolation in the text (`$$` escapes excluded). */
function interpolatedNames(text: string): Set<string> {
  return new Set([...text.matchAll(/(?<!\$)\$\{(\w+)/g)].map((m) => m[1]));
}

// ---------------------------------------------------------------------------------------------
// .env.example

function parseEnvExample(text: string): Map<string, { value: string; comment?: string }> {
  const vars = new Map<string, { value: string; comment?: string }>();
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) return;
    const previous = lines[index - 1]?.trim();
    vars.set(match[1], { value: match[2], comment: previous?.startsWith('#') ? previous : undefined });
  });
  return vars;
}

// ---------------------------------------------------------------------------------------------

describe('Dockerfile', () => {
  const instructions = parseDockerfile(read('Dockerfile'));
  const stages = stagesOf(instructions);
  const runtime = stages.at(-1)!;
  const inRuntime = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword);

  it('is multi-stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
  });

  it('runs the Node binary that package-lock.json pins, alone on a slim Debian image', () => {
    expect(runtime.image).toMatch(/^debian:[a-z0-9.]+-slim$/);
    const build = stages.find((s) => s.name === 'build')!;
    const setAside = build.instructions.find((i) => i.keyword === 'RUN' && i.args.includes('node_modules/.bin/node'));
    expect(setAside?.args).toMatch(/\bnpm ci\b(?![^&]*--omit=optional)/);
    expect(setAside?.args).toContain('cp "$(readlink -f node_modules/.bin/node)" /usr/local/bin/pinned-node');
    expect(inRuntime('COPY').map((c) => c.args)).toContain(
      '--from=build /usr/local/bin/pinned-node /usr/local/bin/node',
    );
    // Only the build stages have npm; none of it reaches the runtime.
    for (const stage of stages.slice(0, -1))
      expect(stage.image, `stage ${stage.name ?? '?'}`).toMatch(/^node:24(-slim)?$/);
    expect(inRuntime('RUN').some((r) => /\bnpm\b/.test(r.args))).toBe(false);
  });

  it('ships no source maps: the image never enables them', () => {
    const build = stages.find((s) => s.name === 'build')!;
    const compile = build.instructions.find((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args));
    expect(compile?.args).toMatch(/npm run build && find dist -name '\*\.map' -delete$/);
    expect(execForm(inRuntime('CMD')[0].args)).not.toContain('--enable-source-maps');
    expect(
      inRuntime('ENV')
        .map((e) => e.args)
        .join(' '),
    ).not.toContain('source-maps');
  });

  it('installs only production, non-optional dependencies into the runtime image', () => {
    const fromStage = (name: string) => stages.find((s) => s.name?.toLowerCase() === name.toLowerCase());
    const copiedModules = inRuntime('COPY').filter((c) => /node_modules/.test(c.args));
    const installers = [
      ...copiedModules.map((copy) => {
        const from = /--from=(\S+)/.exec(copy.args)?.[1];
        expect(from, 'node_modules copied from another stage').toBeDefined();
        const stage = fromStage(from!);
        expect(stage, `stage ${from}`).toBeDefined();
        return stage!;
      }),
      ...(inRuntime('RUN').some((r) => /\bnpm (ci|install)\b/.test(r.args)) ? [runtime] : []),
    ];
    expect(installers.length).toBeGreaterThan(0);
    for (const stage of installers) {
      const installs = stage.instructions.filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install)\b/.test(i.args));
      expect(installs.length, `npm ci in stage ${stage.name ?? '?'}`).toBeGreaterThan(0);
      for (const install of installs) {
        expect(install.args).toMatch(/\bnpm ci\b/);
        expect(install.args).toContain('--omit=dev');
        expect(install.args).toContain('--omit=optional');
      }
    }
  });

  it('builds with npm ci and npm run build', () => {
    const runs = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN')).map((r) => r.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(runs.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
  });

  it('sets NODE_ENV=production and exposes 3000', () => {
    expect(inRuntime('ENV').some((e) => /(^|\s)NODE_ENV=("?)production\2(\s|$)/.test(e.args))).toBe(true);
    expect(inRuntime('EXPOSE').map((e) => e.args)).toContain('3000');
  });

  it('bounds memory without capping the heap: an 8 MB young generation and two malloc arenas', () => {
    const env = inRuntime('ENV')
      .map((e) => e.args)
      .join(' ');
    expect(env).toMatch(/(^|\s)NODE_OPTIONS=("?)--max-semi-space-size=8\2(\s|$)/);
    expect(env).toMatch(/(^|\s)MALLOC_ARENA_MAX=2(\s|$)/);
    expect(env).not.toMatch(/max-old-space-size/);
  });

  it('runs as a non-root user, set before CMD', () => {
    const users = inRuntime('USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!;
    expect(user.args.split(':')[0]).not.toMatch(/^(root|0)$/);
    const cmd = inRuntime('CMD').at(-1)!;
    expect(user.line).toBeLessThan(cmd.line);
  });

  it('starts node dist/main.js in exec form', () => {
    const cmds = inRuntime('CMD');
    expect(cmds).toHaveLength(1);
    expect(execForm(cmds[0].args)).toEqual(['node', '--heap-growing-percent=100', 'dist/main.js']);
    expect(inRuntime('ENTRYPOINT')).toHaveLength(0);
  });

  it('health-checks /health/ready with node fetch, in exec form', () => {
    const checks = inRuntime('HEALTHCHECK');
    expect(checks).toHaveLength(1);
    const command = /\bCMD\s+(\[[\s\S]*\])$/.exec(checks[0].args)?.[1];
    expect(command, 'HEALTHCHECK ... CMD [...]').toBeDefined();
    const argv = execForm(command!)!;
    expect(argv[0]).toBe('node');
    const script = argv.join(' ');
    expect(script).toContain('fetch(');
    expect(script).toContain('127.0.0.1');
    expect(script).toContain('/health/ready');
    expect(script).toContain('process.env.PORT');
    expect(script).not.toMatch(/\b(curl|wget)\b/);
  });

  it('carries no secret and fetches nothing by URL', () => {
    for (const stage of stages) {
      for (const i of stage.instructions) {
        if (i.keyword === 'ENV' || i.keyword === 'ARG') {
          expect(i.args, `line ${i.line}`).not.toMatch(/(SECRET|PASSWORD|TOKEN)\w*=\S/i);
        }
        if (i.keyword === 'ADD') expect(i.args, `line ${i.line}`).not.toMatch(/https?:\/\//);
      }
    }
  });
});

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('keeps secrets, dependencies, build output and local data out of the context', () => {
    for (const required of ['.git', '.env', '.env.*', 'dist', '.data', 'coverage']) {
      expect(patterns, required).toContain(required);
    }
    expect(patterns.some((p) => p === 'node_modules' || p === '**/node_modules')).toBe(true);
    expect(patterns).not.toContain('!.env');
  });
});

describe('docker-compose.yml', () => {
  const text = read('docker-compose.yml');
  const compose = asMap(parseYaml(text), 'compose file');
  const services = asMap(compose.services, 'services');
  const db = asMap(services.db, 'services.db');
  const app = asMap(services.app, 'services.app');
  const environment = (service: { [key: string]: Yaml }, what: string) =>
    asMap(service.environment, `${what}.environment`) as { [key: string]: string | null };

  it('runs PostgreSQL 17 with a pg_isready health check', () => {
    expect(db.image).toMatch(/^postgres:17(\.\d+)*(-[a-z0-9]+)?$/);
    const healthcheck = asMap(db.healthcheck, 'db.healthcheck');
    const test = healthcheck.test;
    expect(JSON.stringify(test)).toContain('pg_isready');
  });

  it("names initdb's authentication methods: initdb warns when it defaults to trust", () => {
    const args = String(environment(db, 'db').POSTGRES_INITDB_ARGS).split(/\s+/);
    expect(args).toContain('--auth-local=trust');
    expect(args).toContain('--auth-host=scram-sha-256');
  });

  it('keeps the database on a named volume', () => {
    const named = Object.keys(asMap(compose.volumes, 'volumes'));
    expect(named.length).toBeGreaterThan(0);
    const mounts = asList(db.volumes, 'db.volumes').map(String);
    expect(mounts.some((m) => named.includes(m.split(':')[0]) && m.split(':')[1] === '/var/lib/postgresql/data')).toBe(
      true,
    );
  });

  it('builds the app from the Dockerfile and starts it once the database is healthy', () => {
    const build = app.build;
    if (typeof build === 'string') expect(build).toBe('.');
    else {
      expect(asMap(build, 'app.build').context).toBe('.');
      expect(asMap(build, 'app.build').dockerfile ?? 'Dockerfile').toBe('Dockerfile');
    }
    const dependsOn = asMap(app.depends_on, 'app.depends_on');
    expect(asMap(dependsOn.db, 'app.depends_on.db').condition).toBe('service_healthy');
  });

  it('restarts both services', () => {
    for (const [name, service] of [
      ['db', db],
      ['app', app],
    ] as const) {
      expect(['always', 'unless-stopped', 'on-failure'], name).toContain(service.restart);
    }
  });

  it('publishes the app on ${PORT:-3000}', () => {
    const ports = asList(app.ports, 'app.ports').map(String);
    expect(ports.some((p) => p.endsWith('${PORT:-3000}:3000'))).toBe(true);
  });

  it('points the app at the db service', () => {
    const env = environment(app, 'app');
    expect(env.DATABASE_URL).toMatch(/^postgres(ql)?:\/\/.+@db:5432\//);
    expect(env.NODE_ENV).toBe('production');
  });

  it('commits no secret: secrets come from the environment, with no default', () => {
    for (const [name, service] of [
      ['db', db],
      ['app', app],
    ] as const) {
      const env = environment(service, name);
      for (const [key, value] of Object.entries(env)) {
        if (!/SECRET|PASSWORD|TOKEN|_KEY$/.test(key)) continue;
        expect(value, `${name}.${key}`).toMatch(new RegExp(`^\\$\\{${key}(:?\\?[^}]*|:-)?\\}$`));
      }
    }
    // Every interpolation of a secret either requires it or defaults to empty.
    for (const m of text.matchAll(/(?<!\$)\$\{(\w*(?:SECRET|PASSWORD|TOKEN)\w*)(:?[-?])?([^}]*)\}/g)) {
      const [whole, , operator, rest] = m;
      if (operator?.endsWith('-')) expect(rest, whole).toBe('');
    }
    expect(environment(db, 'db').POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(environment(app, 'app').SKIPTOKEN_SECRET).toMatch(/^\$\{SKIPTOKEN_SECRET:\?/);
    expect(environment(app, 'app').DATABASE_URL).toContain('${POSTGRES_PASSWORD:?');
  });

  it('documents every variable it reads in .env.example', () => {
    const documented = parseEnvExample(read('.env.example'));
    const body = text.split(/\r?\n/).map(stripComment).join('\n');
    for (const name of interpolatedNames(body)) expect(documented.has(name), name).toBe(true);
    for (const key of Object.keys(environment(app, 'app'))) expect(documented.has(key), key).toBe(true);
  });

  const composeCommand = findCompose();
  it.runIf(composeCommand)(
    `validates with ${composeCommand?.join(' ') ?? 'docker compose'} config`,
    () => {
      const [bin, ...prefix] = composeCommand!;
      const run = (env: NodeJS.ProcessEnv) =>
        spawnSync(bin, [...prefix, '--env-file', '.env.example', '-f', 'docker-compose.yml', 'config', '-q'], {
          cwd: root,
          env,
          encoding: 'utf8',
          timeout: 60_000,
        });
      const base = { ...process.env };
      for (const name of SECRETS) delete base[name];
      const ok = run({
        ...base,
        POSTGRES_PASSWORD: 'ci',
        SKIPTOKEN_SECRET: 'ci-skiptoken-secret-not-used-anywhere-0000',
      });
      expect(ok.status, ok.stderr).toBe(0);
      const missing = run(base);
      expect(missing.status).not.toBe(0);
      expect(missing.stderr).toMatch(/POSTGRES_PASSWORD|SKIPTOKEN_SECRET/);
    },
    120_000,
  );
});

describe('.env.example', () => {
  const vars = parseEnvExample(read('.env.example'));
  const expected = [
    'NODE_ENV',
    'PORT',
    'HOST',
    'DATABASE_URL',
    'EMBEDDED_PG_PORT',
    'EMBEDDED_PG_DIR',
    'MIGRATIONS_RUN',
    'PUBLIC_BASE_URL',
    'TRUST_PROXY',
    'AUTH_JWKS_URI',
    'AUTH_ISSUER',
    'AUTH_AUDIENCE',
    'AUTH_HS256_SECRET',
    'SKIPTOKEN_SECRET',
    'LOG_LEVEL',
    'DOCS_ENABLED',
    'DB_POOL_SIZE',
    'POSTGRES_USER',
    'POSTGRES_PASSWORD',
    'POSTGRES_DB',
  ];

  it('lists every variable, each under a comment', () => {
    for (const name of expected) {
      expect(vars.has(name), name).toBe(true);
      expect(vars.get(name)!.comment, `comment above ${name}`).toBeDefined();
    }
    for (const [name, { comment }] of vars) expect(comment, `comment above ${name}`).toBeDefined();
  });

  it('leaves every secret empty', () => {
    for (const name of SECRETS) expect(vars.get(name)?.value, name).toBe('');
  });
});

/** `docker compose` (v2 plugin) or `docker-compose` (v1), whichever runs here; undefined if neither. */
function findCompose(): string[] | undefined {
  const onPath = (name: string) =>
    (process.env.PATH ?? '').split(delimiter).some((dir) => {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  if (
    onPath('docker') &&
    spawnSync('docker', ['compose', 'version'], { stdio: 'ignore', timeout: 10_000 }).status === 0
  ) {
    return ['docker', 'compose'];
  }
  if (onPath('docker-compose')) return ['docker-compose'];
  return undefined;
}
