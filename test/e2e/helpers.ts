// End-to-end test helpers: spawn REAL `node bin/vigil.js serve` processes (each on a free port,
// against a Redis the test chooses, with the MaxMind test databases from ../shared/data/geoip),
// wait for /readyz, talk to them over HTTP, and kill every child at the end. Also: private copies
// of the shipped pack (so a concurrent edit of rules/login_core or a watched-directory reload never
// changes a running test), pack upload bodies, and event times relative to one base instant so
// tests simulate minutes passing without sleeping.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { freePort, startRedisServer, type RedisServer } from '../helpers/redis.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** In CI, as here, `shared/` sits beside the clone. */
export const GEOIP_DIR = resolve(REPO_ROOT, '../shared/data/geoip');
export const SHIPPED_PACK = resolve(REPO_ROOT, 'rules/login_core');

export const API_TOKEN = 'e2e-api-token-0123456789abcdef';
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';
/**
 * The per-event signal budget the servers run with (VIGIL_SIGNAL_TIMEOUT_MS). Above the 25 ms
 * default: on a loaded CI machine a healthy Redis round trip can exceed 25 ms, and a degraded
 * answer there would change decisions the scenarios assert.
 */
export const SIGNAL_BUDGET_MS = 250;

/** Addresses in the MaxMind test databases (shared/data/geoip/README.md). */
export const IP = {
  /** GB, London; the Anonymous-IP test database flags it with every flag (Tor exit included). */
  london: '81.2.69.142',
  /** CN, Changchun: ~8000 km from London. */
  changchun: '175.16.199.0',
  /** SE, Linköping, AS29518 Bredband2: a plain residential place with an ASN. */
  linkoping: '89.160.20.112',
  /** US, Milton, AS209. */
  milton: '216.160.83.56',
  /** GB, Boxford. */
  boxford: '2.125.160.216',
} as const;

/**
 * The n-th address of a block the test databases map to one place, so scenarios sharing a server
 * never share an address's velocity counters: Linköping 89.160.20.112/28 (n < 16), Boxford
 * 2.125.160.216/29 and Milton 216.160.83.56/29 (n < 8), Changchun 175.16.199.0/24.
 */
export const place = {
  linkoping: (n: number): string => `89.160.20.${112 + within(n, 16)}`,
  boxford: (n: number): string => `2.125.160.${216 + within(n, 8)}`,
  milton: (n: number): string => `216.160.83.${56 + within(n, 8)}`,
  changchun: (n: number): string => `175.16.199.${within(n, 256)}`,
};

function within(n: number, size: number): number {
  if (!Number.isInteger(n) || n < 0 || n >= size) throw new Error(`address index ${n} outside 0..${size - 1}`);
  return n;
}

export const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
export const CHROME_WIN =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

// ------------------------------------------------------------------------------------------------
// Event times
// ------------------------------------------------------------------------------------------------

/**
 * Event times as minutes after one base instant two hours in the past: every scenario replays a
 * story through `time`, well inside the VIGIL_MAX_SKEW the servers run with, and never sleeps.
 */
export function clock(): (minutes: number) => string {
  const base = Math.floor((Date.now() - 2 * 3600_000) / 60_000) * 60_000;
  return (minutes) => new Date(base + minutes * 60_000).toISOString();
}

/** A name no other test run uses (ids are hashed in Redis; uniqueness keeps scenarios apart). */
export function uid(name: string): string {
  return `${name}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

// ------------------------------------------------------------------------------------------------
// Packs
// ------------------------------------------------------------------------------------------------

const tempDirs: string[] = [];

/** A private copy of a pack directory (default: the shipped login_core). */
export function copyPack(src = SHIPPED_PACK): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-e2e-pack-'));
  cpSync(src, d, { recursive: true });
  tempDirs.push(d);
  return d;
}

// The pack-file helpers are the chaos/soak harness's (test/helpers/serve.ts), under the names these tests use.
export { packFilesOf as packFiles, packVersion as withVersion } from '../helpers/serve.ts';

export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

// ------------------------------------------------------------------------------------------------
// Server processes
// ------------------------------------------------------------------------------------------------

export interface VigilProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** REDIS_URL for the server. */
  readonly redisUrl: string;
  /** VIGIL_RULES (default: a fresh private copy of the shipped pack). */
  readonly rulesDir?: string;
  /** Shared by instances that must read each other's history. */
  readonly hashSecret?: string;
  readonly env?: Readonly<Record<string, string>>;
}

const children = new Set<VigilProcess>();

/** Spawn `node bin/vigil.js serve` and wait until /readyz answers 200 (30 s at most). */
export async function startVigil(opts: StartOptions): Promise<VigilProcess> {
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    PORT: String(port),
    REDIS_URL: opts.redisUrl,
    VIGIL_RULES: opts.rulesDir ?? copyPack(),
    VIGIL_HASH_SECRET: opts.hashSecret ?? 'e2e-hash-secret-0123456789abcdef',
    VIGIL_API_TOKEN: API_TOKEN,
    VIGIL_ADMIN_TOKEN: ADMIN_TOKEN,
    VIGIL_GEOIP_CITY: join(GEOIP_DIR, 'GeoIP2-City-Test.mmdb'),
    VIGIL_GEOIP_ASN: join(GEOIP_DIR, 'GeoLite2-ASN-Test.mmdb'),
    VIGIL_GEOIP_ANON: join(GEOIP_DIR, 'GeoIP2-Anonymous-IP-Test.mmdb'),
    VIGIL_MAX_SKEW: '7d',
    VIGIL_SIGNAL_TIMEOUT_MS: String(SIGNAL_BUDGET_MS),
    VIGIL_LOG_LEVEL: 'warn',
    ...opts.env,
  };
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/vigil.js'), 'serve'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // Keep the tail only: a long run at warn level still stays small, but never unbounded.
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-64 * 1024);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const proc: VigilProcess = {
    url,
    port,
    child,
    output: () => out,
    async stop() {
      children.delete(proc);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  children.add(proc);

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      children.delete(proc);
      throw new Error(`vigil serve exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${out}`);
    }
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) return proc;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`vigil serve on port ${port} was not ready within 30 s:\n${out}`);
    }
    await sleep(100);
  }
}

/** Stop every server this test file started (afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((p) => p.stop()));
}

/**
 * The file's own Redis server, started before its tests (its `beforeAll` is registered first, so the
 * file's own hooks can use it); after them every Vigil the file started, the Redis server and the
 * temporary pack copies go (this `afterAll` runs last: Vitest runs after-hooks in reverse order).
 */
export function ownRedis(): { readonly server: RedisServer; readonly url: string } {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await stopAll();
    await server?.stop();
    removeTempDirs();
  });
  return {
    get server(): RedisServer {
      if (!server) throw new Error('ownRedis: used before its beforeAll ran');
      return server;
    },
    get url(): string {
      return this.server.url;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ------------------------------------------------------------------------------------------------
// HTTP
// ------------------------------------------------------------------------------------------------

export interface RuleHit {
  readonly name: string;
  readonly action: string;
  readonly score: number;
  readonly reason: string;
  readonly tags: readonly string[];
}

export interface EvaluateAnswer {
  readonly decision_id: string;
  readonly decision: 'allow' | 'step_up' | 'block';
  readonly score: number;
  readonly rules: readonly RuleHit[];
  readonly shadow: readonly RuleHit[];
  readonly pack: { readonly name: string; readonly version: number; readonly hash: string };
  readonly degraded: boolean;
  readonly features?: Readonly<Record<string, unknown>>;
}

export interface Answer<T> {
  readonly status: number;
  readonly body: T;
  /** Wall time of the request as the client saw it. */
  readonly ms: number;
}

export interface ErrorAnswer {
  readonly error: { readonly code: string; readonly message: string; readonly details: unknown };
}

export async function call<T>(
  base: string,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string | null; timeoutMs?: number } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? API_TOKEN}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const t0 = performance.now();
  const res = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  const text = await res.text();
  const ms = performance.now() - t0;
  let parsed: unknown = undefined;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, body: parsed as T, ms };
}

export interface Attempt {
  readonly type?: 'login' | 'recovery';
  readonly user: string;
  readonly ip: string;
  readonly device?: string;
  readonly ua?: string;
  readonly time: string;
}

export function eventBody(a: Attempt): Record<string, unknown> {
  return {
    type: a.type ?? 'login',
    user: { id: a.user },
    ip: a.ip,
    ...(a.device !== undefined || a.ua !== undefined
      ? { device: { ...(a.device !== undefined ? { id: a.device } : {}), ...(a.ua !== undefined ? { user_agent: a.ua } : {}) } }
      : {}),
    time: a.time,
  };
}

/** POST /v1/evaluate; fails the test with the server's answer on anything but 200. */
export async function evaluate(v: { readonly url: string }, a: Attempt, explain = false): Promise<EvaluateAnswer> {
  const r = await call<EvaluateAnswer>(v.url, 'POST', `/v1/evaluate${explain ? '?explain=1' : ''}`, { body: eventBody(a) });
  if (r.status !== 200) throw new Error(`evaluate answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

export type Outcome = 'succeeded' | 'failed' | 'challenge_passed' | 'challenge_failed';

/** POST /v1/outcome; fails the test on anything but 204. */
export async function outcome(v: { readonly url: string }, decisionId: string, o: Outcome): Promise<void> {
  const r = await call<unknown>(v.url, 'POST', '/v1/outcome', { body: { decision_id: decisionId, outcome: o } });
  if (r.status !== 204) throw new Error(`outcome answered ${r.status}: ${JSON.stringify(r.body)}`);
}

/** Names of the enforced rules that matched. */
export function ruleNames(a: EvaluateAnswer): string[] {
  return a.rules.map((r) => r.name);
}
