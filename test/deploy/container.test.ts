// The Dockerfile, .dockerignore and compose.yaml, tested without building an image (these machines
// have no Docker daemon and no registry for base images): what they run exists (package.json's
// bin, scripts and production dependencies, the CLI's commands, the example's files), every
// variable they set is one the server or the example reads and documents, the configuration
// compose gives Vigil passes the server's own validation, the health checks hit real routes (the
// image's check is run, as written, against a live app), ports agree, the image runs as a non-root
// user and installs only production dependencies in its last stage.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../api/config.ts';
import { createHttpServer } from '../../api/app.ts';
import { testApp } from '../api/helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  bin: { vigil: string };
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

// ---------------------------------------------------------------------------------------------
// A Dockerfile reader: instructions with their continuation lines joined, grouped by stage.
// ---------------------------------------------------------------------------------------------

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly name: string | undefined;
  readonly from: string;
  readonly body: Instruction[];
}

export function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const logical: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (cur === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) cur += line.slice(0, -1) + ' ';
    else {
      logical.push((cur + line).trim());
      cur = '';
    }
  }
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^([A-Za-z]+)\s+([\s\S]*)$/.exec(l);
    if (!m) throw new Error(`not an instruction: ${l}`);
    const ins = { op: m[1]!.toUpperCase(), args: m[2]!.trim() };
    if (ins.op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!f) throw new Error(`FROM: ${ins.args}`);
      stages.push({ from: f[1]!, name: f[2], body: [] });
    } else if (stages.length === 0) args.push(ins);
    else stages.at(-1)!.body.push(ins);
  }
  return { args, stages };
}

/** An exec-form (JSON array) argument list, or the words of a shell form. */
function words(args: string): string[] {
  if (args.startsWith('[')) return JSON.parse(args) as string[];
  return args.split(/\s+/);
}

/** `KEY=value` pairs of an ENV instruction (values here have no spaces). */
function envPairs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of args.split(/\s+/)) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`ENV without KEY=value: ${args}`);
    out[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return out;
}

/** Whether a .dockerignore pattern list keeps `path` out of the build context (top-level patterns and `*`). */
function ignored(patterns: readonly string[], path: string): boolean {
  let out = false;
  for (const p of patterns) {
    const neg = p.startsWith('!');
    const pat = neg ? p.slice(1) : p;
    const re = new RegExp(`^${pat.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}(/.*)?$`);
    if (re.test(path)) out = !neg;
  }
  return out;
}

const docker = parseDockerfile(read('Dockerfile'));
const final = docker.stages.at(-1)!;
const ops = (s: Stage, op: string): Instruction[] => s.body.filter((i) => i.op === op);
const dockerignore = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

/** Variables the server reads, and the ones docs/operations.md's configuration table documents. */
const documented = new Set([...read('docs/operations.md').matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!));

describe('Dockerfile', () => {
  it('builds in one stage and runs from another, with only production dependencies', () => {
    expect(docker.stages.length).toBeGreaterThanOrEqual(2);
    const build = docker.stages[0]!;
    expect(build.name).toBeDefined();
    const buildRuns = ops(build, 'RUN').map((r) => r.args);
    // The build stage installs everything and runs the package's own build (grammar + dist/).
    expect(buildRuns).toContain('npm ci --ignore-scripts');
    const buildScript = buildRuns.map((r) => /^npm run (\S+)$/.exec(r)?.[1]).find((s) => s !== undefined);
    expect(buildScript).toBe('build');
    expect(pkg.scripts.build).toMatch(/scripts\/build\.mjs/);
    expect(read('scripts/build.mjs')).toContain('nearleyc');

    const finalRuns = ops(final, 'RUN').map((r) => r.args);
    const install = finalRuns.find((r) => r.startsWith('npm ci'));
    expect(install).toMatch(/^npm ci --omit=dev\b/);
    // `prepare` runs the build, whose tools are dev dependencies: the last stage must skip it.
    expect(pkg.scripts.prepare).toBeDefined();
    expect(install).toContain('--ignore-scripts');
    expect(pkg.devDependencies.typescript).toBeDefined();
    expect(finalRuns.some((r) => /\b(npm run|tsc|nearleyc|npx)\b/.test(r))).toBe(false);
    // dist/ comes from the build stage.
    const fromBuild = ops(final, 'COPY').filter((c) => c.args.startsWith(`--from=${build.name} `));
    expect(fromBuild.map((c) => c.args)).toContain(`--from=${build.name} /app/dist ./dist`);
  });

  it('copies .npmrc (no GPU download for onnxruntime) before each npm ci, and only files the context has', () => {
    expect(read('.npmrc')).toMatch(/^onnxruntime-node-install=skip$/m);
    for (const stage of docker.stages) {
      const first = stage.body.findIndex((i) => i.op === 'RUN' && i.args.startsWith('npm ci'));
      const copied = stage.body.slice(0, first).filter((i) => i.op === 'COPY').flatMap((i) => words(i.args).slice(0, -1));
      expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', '.npmrc']));
      for (const f of copied) {
        expect(existsSync(join(ROOT, f)), f).toBe(true);
        expect(ignored(dockerignore, f), `${f} is in .dockerignore`).toBe(false);
      }
    }
  });

  it('runs as the unprivileged node user, from USER on', () => {
    const users = ops(final, 'USER').map((u) => u.args);
    expect(users).toHaveLength(1);
    expect(users[0]).not.toMatch(/^(root|0)(:|$)/);
    const userAt = final.body.findIndex((i) => i.op === 'USER');
    const cmdAt = final.body.findIndex((i) => i.op === 'CMD');
    expect(userAt).toBeGreaterThanOrEqual(0);
    expect(userAt).toBeLessThan(cmdAt);
    // Nothing runs as root after it, and the data directory is the user's.
    expect(final.body.slice(userAt).some((i) => i.op === 'RUN')).toBe(false);
    expect(ops(final, 'RUN').map((r) => r.args)).toContain('mkdir -p /data && chown node:node /data');
  });

  it('starts the package bin with the serve command, compiled: no build tool and no tsx', () => {
    const cmd = words(ops(final, 'CMD')[0]!.args);
    expect(cmd).toEqual(['node', pkg.bin.vigil, 'serve']);
    // bin/vigil.js runs dist/ and loads tsx only under VIGIL_FROM_SOURCE=1, which nothing sets here.
    expect(read('Dockerfile')).not.toContain('VIGIL_FROM_SOURCE');
    expect(read('compose.yaml')).not.toContain('VIGIL_FROM_SOURCE');
    const help = execFileSync(process.execPath, [join(ROOT, pkg.bin.vigil), '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(help).toMatch(/^\s+serve\b/m);
  });

  it('sets only documented configuration variables, and agrees on the port', () => {
    const env = Object.assign({}, ...ops(final, 'ENV').map((e) => envPairs(e.args))) as Record<string, string>;
    for (const k of Object.keys(env)) {
      expect(CONFIG_VARIABLES, k).toContain(k);
      expect(documented, k).toContain(k);
    }
    expect(() => loadConfig({ ...env, VIGIL_HASH_SECRET: 'x'.repeat(32) })).not.toThrow();
    expect(ops(final, 'EXPOSE').map((e) => e.args)).toEqual([env.PORT]);
  });

  it('HEALTHCHECK asks /readyz, a real route: run as written, it passes on a ready app and fails otherwise', async () => {
    const hc = ops(final, 'HEALTHCHECK')[0]!.args;
    const m = /^(.*?)\bCMD\s+(\[.*\])$/.exec(hc);
    expect(m).not.toBeNull();
    const cmd = JSON.parse(m![2]!) as string[];
    expect(cmd[0]).toBe('node');
    expect(cmd.join(' ')).toContain('/readyz');
    const t = await testApp();
    const server = createHttpServer(t.app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = String((server.address() as AddressInfo).port);
    // Asynchronously: the app answers from this process.
    const run = (): Promise<number | null> =>
      new Promise((resolve) => {
        const child = execFile(process.execPath, cmd.slice(1), { env: { PATH: process.env.PATH ?? '', PORT: port }, timeout: 10_000 });
        child.on('exit', (code) => resolve(code));
      });
    try {
      expect(await run()).toBe(0);
      t.engine.readyState.ok = false;
      expect(await run()).toBe(1);
      t.engine.readyState.ok = true;
      t.shuttingDown = true;
      expect(await run()).toBe(1);
    } finally {
      server.close();
      server.closeAllConnections();
    }
    // Nothing listening: the check fails rather than hangs.
    expect(await run()).toBe(1);
  });
});

describe('.dockerignore', () => {
  it('keeps installed, built and secret files out, and everything the image needs in', () => {
    for (const out of ['node_modules', 'dist', 'dist.tmp-123', '.git', '.env', 'dsl/generated', 'test', 'bench']) {
      expect(ignored(dockerignore, out), out).toBe(true);
    }
    const needed = [
      'package.json',
      'package-lock.json',
      '.npmrc',
      'bin/vigil.js',
      'scripts/build.mjs',
      'tsconfig.json',
      'tsconfig.build.json',
      'dsl/grammar.ne',
      'rules/login_core',
      'models/iforest-default.onnx',
      'console/index.html',
      'decisionlog/migrations',
      'examples/auth-service/main.ts',
      ...JSON.parse(read('tsconfig.build.json').replace(/^\s*\/\/.*$/gm, '')).include,
    ] as string[];
    for (const p of needed) {
      expect(existsSync(join(ROOT, p)), p).toBe(true);
      expect(ignored(dockerignore, p), p).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// compose.yaml
// ---------------------------------------------------------------------------------------------

interface Service {
  build?: unknown;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
const compose = parseYaml(read('compose.yaml')) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;

/** `${VAR:?message}` / `${VAR:-default}` replaced as a user's environment would fill them. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::[?-]([^}]*))?\}/g, (_m, name: string) => {
    const v = given[name];
    if (v === undefined) throw new Error(`compose needs ${name}`);
    return v;
  });
}
const USER_ENV = {
  VIGIL_HASH_SECRET: 'h'.repeat(32),
  VIGIL_API_TOKEN: 'a'.repeat(32),
  VIGIL_ADMIN_TOKEN: 'b'.repeat(32),
  POSTGRES_PASSWORD: 'c'.repeat(16),
};

/** The container port of a `host:port`, `ip:hostrange:port` or bare port mapping. */
const containerPort = (mapping: string): string => mapping.split(':').at(-1)!;

describe('compose.yaml', () => {
  it('has Vigil in 2 replicas, Redis, PostgreSQL and the example auth service', () => {
    expect(Object.keys(services).sort()).toEqual(['auth-service', 'postgres', 'redis', 'vigil']);
    expect(services.vigil!.deploy?.replicas).toBe(2);
    expect(services.vigil!.build).toBe('.');
  });

  it("runs Vigil as the image does, on the server's validated configuration", () => {
    const v = services.vigil!;
    expect(v.command).toEqual(words(ops(final, 'CMD')[0]!.args));
    const env = Object.fromEntries(Object.entries(v.environment ?? {}).map(([k, val]) => [k, interpolate(String(val), USER_ENV)]));
    for (const k of Object.keys(env)) {
      expect(CONFIG_VARIABLES, k).toContain(k);
      expect(documented, k).toContain(k);
    }
    const config = loadConfig(env);
    expect(config.production).toBe(true);
    expect(config.redis.mode).not.toBe('none');
    expect(config.decisionLog).toMatch(/^postgres:\/\//);
    // Secrets are never written in the file: each is the user's, and compose refuses to start without it.
    for (const k of ['VIGIL_HASH_SECRET', 'VIGIL_API_TOKEN', 'VIGIL_ADMIN_TOKEN']) expect(v.environment?.[k]).toMatch(/^\$\{[A-Z_]+:\?[^}]+\}$/);
    expect(() => interpolate(String(v.environment?.VIGIL_HASH_SECRET), {})).toThrow(/VIGIL_HASH_SECRET/);
    // Ports: the container port is PORT, the image's EXPOSE; one host port per replica.
    for (const p of v.ports ?? []) expect(containerPort(p)).toBe(String(config.port));
    expect(ops(final, 'EXPOSE').map((e) => e.args)).toEqual([String(config.port)]);
    const range = /:(\d+)-(\d+):/.exec(v.ports?.[0] ?? '');
    expect(Number(range?.[2]) - Number(range?.[1]) + 1).toBe(v.deploy?.replicas);
  });

  it('points Vigil at the Redis and PostgreSQL services, which persist their data', () => {
    const env = Object.fromEntries(Object.entries(services.vigil!.environment ?? {}).map(([k, val]) => [k, interpolate(String(val), USER_ENV)]));
    expect(new URL(env.REDIS_URL!).hostname).toBe('redis');
    const pg = new URL(env.VIGIL_DECISION_LOG!);
    expect(pg.hostname).toBe('postgres');
    const pgEnv = services.postgres!.environment ?? {};
    expect(pg.username).toBe(pgEnv.POSTGRES_USER);
    expect(pg.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);
    expect(pg.password).toBe(interpolate(String(pgEnv.POSTGRES_PASSWORD), USER_ENV));
    expect(services.vigil!.depends_on).toMatchObject({ redis: { condition: 'service_healthy' }, postgres: { condition: 'service_healthy' } });

    const redisCmd = services.redis!.command ?? [];
    expect(redisCmd[0]).toBe('redis-server');
    expect(redisCmd.join(' ')).toContain('--appendonly yes');
    const named = Object.keys(compose.volumes ?? {});
    const volumeOf = (s: Service, path: string): string | undefined => s.volumes?.find((v) => v.endsWith(`:${path}`))?.split(':')[0];
    expect(named).toContain(volumeOf(services.redis!, '/data'));
    expect(named).toContain(volumeOf(services.postgres!, '/var/lib/postgresql/data'));
  });

  it('runs the example auth service from its files, with its documented variables, aimed at the replicas', async () => {
    const a = services['auth-service']!;
    const cmd = a.command ?? [];
    expect(cmd.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
    // tsx must survive `npm ci --omit=dev`.
    expect(pkg.dependencies.tsx).toBeDefined();
    expect(existsSync(join(ROOT, cmd[3]!))).toBe(true);
    expect(ignored(dockerignore, cmd[3]!)).toBe(false);
    const readme = read('examples/auth-service/README.md');
    const env = a.environment ?? {};
    for (const k of Object.keys(env)) expect(readme, k).toContain(`| \`${k}\` |`);
    const vigilUrl = new URL(String(env.VIGIL_URL));
    expect(vigilUrl.hostname).toBe('vigil');
    expect(vigilUrl.port).toBe(services.vigil!.environment?.PORT);
    expect(env.VIGIL_API_TOKEN).toBe(services.vigil!.environment?.VIGIL_API_TOKEN);
    for (const p of a.ports ?? []) expect(containerPort(p)).toBe(env.PORT);
    expect(a.depends_on).toMatchObject({ vigil: { condition: 'service_healthy' } });

    // Its health check asks a route the service answers.
    const check = (a.healthcheck?.test ?? []).join(' ');
    const path = /127\.0\.0\.1:(\d+)(\/[a-z]+)/.exec(check);
    expect(path?.[1]).toBe(env.PORT);
    const { createAuthService } = await import('../../examples/auth-service/service.ts');
    const { pino } = await import('pino');
    const svc = createAuthService({ vigilUrl: 'http://127.0.0.1:9', users: {}, logger: pino({ level: 'silent' }) });
    const server = svc.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path?.[2]}`);
      expect(res.status).toBe(200);
    } finally {
      server.close();
    }
  });

  it('uses the health checks of the images it runs', () => {
    expect(services.redis!.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(services.postgres!.healthcheck?.test.slice(0, 2)).toEqual(['CMD', 'pg_isready']);
  });
});
