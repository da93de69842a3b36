// Server processes: two instances on one Redis follow each other's pack changes within a second
// (API and SIGHUP), SIGTERM drains in-flight requests, a bad configuration exits 1, no REDIS_URL
// warns once, VIGIL_WORKERS forks workers sharing the port with aggregated metrics. Needs Redis on
// 127.0.0.1:6379 and FAILS without it.
import { dropSchema, postgresUrl, requirePostgres, uniqueSchema } from '../helpers/postgres.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { GOOD_PACK } from './helpers.ts';

const FIXTURE = new URL('./fixtures/serve.ts', import.meta.url).pathname;
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN = 'admin-token-0123456789abcdef';
const PREFIX = `vigilsrv-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

interface Proc {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  stderr: string;
  readonly exit: Promise<number | null>;
  port: number;
}

const procs: Proc[] = [];
const dirs: string[] = [];
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  await redis.connect(); // throws (the suite fails) when Redis is absent
});

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await p.exit;
  }
});

afterAll(async () => {
  const keys = await redis.keys(`{${PREFIX}:packs}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function packDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-srv-'));
  cpSync(GOOD_PACK, d, { recursive: true });
  dirs.push(d);
  return d;
}

function start(env: Record<string, string>, waitFor: 'listening' | 'exit' = 'listening', listeners = 1): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', VIGIL_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p: Proc = {
    child,
    lines: [],
    stderr: '',
    port: 0,
    exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  procs.push(p);
  let buf = '';
  let listening = 0;
  return new Promise((resolve, reject) => {
    // A cold start (tsx transpiling, PGlite's WebAssembly) takes about 8 s alone; two at once beside
    // the rest of the suite on two cores took over 20 s.
    const timer = setTimeout(() => reject(new Error(`server did not start: ${p.stderr}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const j = JSON.parse(line) as Record<string, unknown>;
          p.lines.push(j);
          if (j.msg === 'vigil listening' && waitFor === 'listening' && ++listening === listeners) {
            p.port = j.port as number;
            clearTimeout(timer);
            resolve(p);
          }
        } catch {
          /* not a log line */
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (p.stderr += d.toString()));
    void p.exit.then(() => {
      clearTimeout(timer);
      if (waitFor === 'exit') resolve(p);
      else reject(new Error(`server exited: ${p.stderr}`));
    });
  });
}

async function get(p: Proc, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; text: string }> {
  const res = await fetch(`http://127.0.0.1:${p.port}${path}`, { headers });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, body, text };
}

async function activeVersion(p: Proc): Promise<number> {
  const r = await get(p, '/v1/packs', { Authorization: `Bearer ${ADMIN}` });
  return (r.body as { active: { version: number } }).active.version;
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

const redisEnv = { REDIS_URL, TEST_PREFIX: PREFIX, VIGIL_ADMIN_TOKEN: ADMIN };

// Each test starts real server processes: cold starts beside the rest of the suite are slow.
describe('server processes', { timeout: 120_000 }, () => {
  it('two instances on one Redis: a PUT or a SIGHUP on one is followed by the other within a second', async () => {
    const dirA = packDir();
    const [a, b] = await Promise.all([start({ ...redisEnv, VIGIL_RULES: dirA }), start({ ...redisEnv, VIGIL_RULES: packDir() })]);
    const main = readFileSync(join(dirA, 'main.rules'), 'utf8');

    const t0 = Date.now();
    const put = await fetch(`http://127.0.0.1:${a.port}/v1/packs/active`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json', 'X-Vigil-Actor': 'alice' },
      body: JSON.stringify({ files: { 'main.rules': main.replace('version 1', 'version 2'), 'lists/blocked.txt': '203.0.113.0/24\n' } }),
    });
    expect(put.status).toBe(200);
    await until(async () => (await activeVersion(b)) === 2, 1000);
    expect(Date.now() - t0).toBeLessThan(1000);

    writeFileSync(join(dirA, 'main.rules'), main.replace('version 1', 'version 3'));
    a.child.kill('SIGHUP');
    await until(async () => (await activeVersion(a)) === 3, 3000);
    await until(async () => (await activeVersion(b)) === 3, 1000);
    expect(a.lines.some((l) => l.audit === true && l.source === 'sighup' && l.result === 'ok')).toBe(true);
    expect(b.lines.some((l) => l.msg === 'pack changed by another instance; swapped')).toBe(true);
  });

  it('SIGTERM drains in-flight requests, then exits 0', async () => {
    const p = await start({ ...redisEnv, VIGIL_RULES: packDir() });
    const slow = fetch(`http://127.0.0.1:${p.port}/v1/evaluate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'login', user: { id: 'slow', mfa: false }, ip: '192.0.2.1' }),
    });
    await new Promise((r) => setTimeout(r, 150));
    p.child.kill('SIGTERM');
    const res = await slow;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { decision: string }).decision).toBe('step_up');
    expect(await p.exit).toBe(0);
    expect(p.lines.some((l) => l.msg === 'vigil stopped')).toBe(true);
  });

  it('a bad configuration exits 1 naming each bad variable', async () => {
    const p = await start({ PORT: 'abc', VIGIL_MAX_SKEW: 'soon' }, 'exit');
    expect(await p.exit).toBe(1);
    expect(p.stderr).toMatch(/PORT: /);
    expect(p.stderr).toMatch(/VIGIL_MAX_SKEW: /);
    expect(p.stderr).not.toMatch(/\n\s+at /);
  });

  it('`node bin/vigil.js serve` with a bad configuration exits 1 naming it', async () => {
    const child = spawn(process.execPath, [new URL('../../bin/vigil.js', import.meta.url).pathname, 'serve'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '99999', VIGIL_WORKERS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(stderr).toMatch(/PORT: /);
    expect(stderr).toMatch(/VIGIL_WORKERS: /);
  });

  it('a broken VIGIL_RULES pack with nothing stored exits 1 with its diagnostics', async () => {
    const d = packDir();
    writeFileSync(join(d, 'main.rules'), 'pack x version 1\nrule r {\n  when geo.contry == "BR"\n  then block\n}\n');
    const p = await start({ VIGIL_RULES: d }, 'exit');
    expect(await p.exit).toBe(1);
    expect(p.stderr).toContain('E_UNKNOWN_NAME');
  });

  it('on a bare machine (no REDIS_URL, no VIGIL_HASH_SECRET): one warning naming both, as the README says, and it serves', async () => {
    const p = await start({ VIGIL_RULES: packDir() });
    const warnings = p.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!.msg)).toMatch(/^REDIS_URL is unset: .*; VIGIL_HASH_SECRET is unset: .*; set REDIS_URL and VIGIL_HASH_SECRET for any real use$/);
    expect(p.lines.some((l) => l.msg === 'vigil listening')).toBe(true);
    expect((await get(p, '/readyz')).status).toBe(200);
  });

  it('the audit log is durable: with VIGIL_DATA_DIR an erasure is still on record after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-audit-'));
    onTestFinished(() => rmSync(dataDir, { recursive: true, force: true }));
    const env = { VIGIL_RULES: packDir(), VIGIL_ADMIN_TOKEN: ADMIN, VIGIL_DATA_DIR: dataDir };
    const first = await start(env);
    const erase = await fetch(`http://127.0.0.1:${first.port}/v1/users/someone%40example.com/history`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${ADMIN}`, 'X-Vigil-Actor': 'dpo@example.com' },
    });
    expect(erase.status).toBe(200);
    const audit = async (p: Proc) => (await get(p, '/v1/audit?action=user_erase', { Authorization: `Bearer ${ADMIN}` })).body as { entries: { by: string; action: string }[] };
    expect((await audit(first)).entries).toMatchObject([{ by: 'dpo@example.com', action: 'user_erase' }]);
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    const second = await start(env);
    expect((await audit(second)).entries).toMatchObject([{ by: 'dpo@example.com', action: 'user_erase' }]);
    expect(JSON.stringify((await audit(second)).entries)).not.toContain('someone');
  });

  it('VIGIL_WORKERS=2 forks two workers on one port; /metrics sums them; SIGTERM stops all', async () => {
    // Several workers share one decision log: PostgreSQL (each would keep its own PGlite).
    await requirePostgres();
    const schema = uniqueSchema('workers');
    const p = await start(
      { ...redisEnv, VIGIL_RULES: packDir(), VIGIL_WORKERS: '2', VIGIL_DECISION_LOG: postgresUrl(), VIGIL_DECISION_LOG_SCHEMA: schema },
      'listening',
      2,
    );
    onTestFinished(() => dropSchema(postgresUrl(), schema));
    const pids = new Set(p.lines.filter((l) => l.msg === 'vigil listening').map((l) => l.pid));
    expect(pids.size).toBe(2);
    for (let i = 0; i < 20; i++) expect((await get(p, '/healthz')).status).toBe(200);
    const m = await get(p, '/metrics');
    const count = /vigil_http_requests_total\{route="\/healthz",method="GET",status="200"\} (\d+)/.exec(m.text);
    expect(Number(count?.[1])).toBe(20);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
  });
});
