// Restarts after Redis lost its data (issue 15): whichever store keeps the pack history, an instance
// started against an emptied Redis must not roll the fleet back to its VIGIL_RULES directory pack.
// With PostgreSQL the history is there and Redis is re-filled; with Redis alone a running instance
// re-publishes what it serves, a starting one asks the running ones first, and when it cannot tell
// it serves nothing and says so on /readyz. Servers run in this process (the test engine), each run
// under its own Redis prefix, whose pack keys (and only those) the tests delete.
// Needs Redis and PostgreSQL, and FAILS without them.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runServer, type RunOptions, type ServerHandle } from '../../api/server.ts';
import { dropSchema, postgresUrl, requirePostgres, uniqueSchema } from '../helpers/postgres.ts';
import { deletePrefix, redisUrl, requireRedis } from '../helpers/redis.ts';
import { GOOD_PACK, readFiles, testEngine } from './helpers.ts';

const TOKEN = 'admin-token-0123456789abcdef';
const ADMIN = { Authorization: `Bearer ${TOKEN}`, 'X-Vigil-Actor': 'alice' };

interface Instance {
  readonly handle: ServerHandle;
  readonly url: string;
  readonly lines: Record<string, unknown>[];
}

let admin: Redis;
const running: Instance[] = [];
const prefixes: string[] = [];
const schemas: string[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  await requireRedis();
  await requirePostgres();
  admin = new Redis(redisUrl());
});

afterEach(async () => {
  for (const i of running.splice(0).reverse()) await i.handle.close().catch(() => undefined);
});

afterAll(async () => {
  for (const p of prefixes) await deletePrefix(admin, `{${p}:`);
  for (const s of schemas) await dropSchema(postgresUrl(), s);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  admin.disconnect();
});

function prefix(): string {
  const p = `vigiltest-restart-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  prefixes.push(p);
  return p;
}

function packDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-restart-'));
  cpSync(GOOD_PACK, d, { recursive: true });
  dirs.push(d);
  return d;
}

function env(extra: Record<string, string>): Record<string, string> {
  return {
    PORT: '0',
    REDIS_URL: redisUrl(),
    VIGIL_RULES: packDir(),
    VIGIL_ADMIN_TOKEN: TOKEN,
    VIGIL_HASH_SECRET: 'restart-hash-secret-0123456789',
    VIGIL_LOG_LEVEL: 'info',
    ...extra,
  };
}

async function instance(e: Record<string, string>, p: string, o: Partial<RunOptions> = {}): Promise<Instance> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const handle = await runServer(e, {
    signals: false,
    logDestination: sink,
    redisPrefix: p,
    createEngine: async ({ packs }) => testEngine(packs),
    ...o,
  });
  const i = { handle, url: `http://127.0.0.1:${handle.port}`, lines };
  running.push(i);
  return i;
}

async function json(i: Instance, path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(i.url + path, { ...init, headers: { ...ADMIN, 'Content-Type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

type Meta = { id: string; version: number; hash: string; source: string; by: string; previous_hash: string | null; reason?: string };

async function packs(i: Instance): Promise<{ active: Meta | null; history: Meta[] }> {
  return (await json(i, '/v1/packs')).body as unknown as { active: Meta | null; history: Meta[] };
}

async function until(what: string, cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function version(n: number): Record<string, string> {
  const files = readFiles(GOOD_PACK);
  return { ...files, 'main.rules': files['main.rules']!.replace('version 1', `version ${n}`) };
}

/** Push a pack through the API; resolves its hash. */
async function push(i: Instance, files: Record<string, string>, reason = 'INC-1'): Promise<string> {
  const r = await json(i, `/v1/packs/active?reason=${encodeURIComponent(reason)}`, { method: 'PUT', body: JSON.stringify({ files }) });
  expect(r.status).toBe(200);
  return (r.body.active as Meta).hash;
}

/**
 * Every pack key of this run's prefix gone at once (one DEL: they share a hash tag), as a Redis
 * restart without persistence or a flush leaves it. A running instance may re-publish at once.
 */
async function loseRedisData(p: string): Promise<void> {
  const keys = await admin.keys(`{${p}:packs}:*`);
  expect(keys.length).toBeGreaterThan(0);
  await admin.del(...keys);
}

const restoreLines = (i: Instance): Record<string, unknown>[] => i.lines.filter((l) => l.restore === true && l.level === 'error');

describe('with PostgreSQL (the decision log) keeping the pack history', () => {
  it('after Redis lost every pack key, a new instance serves the pushed pack, not its directory pack; the history shows the restore', async () => {
    const p = prefix();
    const schema = uniqueSchema('restart');
    schemas.push(schema);
    const e = env({ VIGIL_DECISION_LOG: postgresUrl(), VIGIL_DECISION_LOG_SCHEMA: schema });
    const a = await instance(e, p);
    const b = await instance(e, p);
    const v1 = (await packs(a)).active!.hash;
    const v2 = await push(a, version(2));
    await until('b follows the push', async () => (await packs(b)).active?.hash === v2);

    await loseRedisData(p);
    const c = await instance(e, p);
    const listed = await packs(c);
    expect(listed.active).toMatchObject({ hash: v2, version: 2, source: 'restore', by: 'restore', previous_hash: v2 });
    expect(listed.history.map((m) => [m.version, m.source, m.by])).toEqual([
      [2, 'api', 'alice'],
      [1, 'startup', 'startup'],
    ]);
    expect((await json(c, '/readyz')).body).toMatchObject({ status: 'ready', pack: { hash: v2 } });
    expect(restoreLines(c)).toHaveLength(1);
    expect(restoreLines(c)[0]!.msg).toMatch(/re-filled from PostgreSQL/);
    // the running instances kept serving it and adopt the restore entry (same pack)
    for (const i of [a, b]) await until('running instances follow', async () => (await packs(i)).active?.source === 'restore');
    expect((await packs(a)).active!.hash).toBe(v2);
    // Redis holds the head's copy again, and nothing else of the history
    expect(JSON.parse((await admin.get(`{${p}:packs}:head`))!)).toMatchObject({ hash: v2, source: 'restore' });
    // a rollback goes to the version before the pack in force, not to its restore entry
    const rb = await json(c, '/v1/packs/rollback', { method: 'POST', body: JSON.stringify({}) });
    expect(rb.status).toBe(200);
    expect((await packs(c)).active).toMatchObject({ hash: v1, source: 'rollback' });
  });
});

describe('with Redis alone', () => {
  const e = (): Record<string, string> => env({ VIGIL_DECISION_LOG: 'off' });

  it('a running instance re-publishes the pack it serves (with its overrides) after the keys vanish; a new instance adopts it', async () => {
    const p = prefix();
    const vars = e();
    const a = await instance(vars, p, { packPollMs: 100 });
    const v2 = await push(a, version(2));
    const o = await json(a, '/v1/overrides/no_mfa', { method: 'PUT', body: JSON.stringify({ mode: 'shadow', reason: 'INC-2' }) });
    expect(o.status).toBe(200);

    await loseRedisData(p);
    await until('the instance re-publishes', async () => (await admin.llen(`{${p}:packs}:history`)) > 0);
    const [entry] = (await admin.lrange(`{${p}:packs}:history`, 0, 0)).map((s) => JSON.parse(s) as Meta);
    expect(entry).toMatchObject({ hash: v2, version: 2, source: 'restore', by: 'restore', previous_hash: null });
    expect(entry!.reason).toMatch(/Redis lost the pack history/);
    expect(restoreLines(a)).toHaveLength(1);
    expect(restoreLines(a)[0]).toMatchObject({ hash: v2, overrides: 1 });
    expect(Object.keys(await admin.hgetall(`{${p}:packs}:overrides`))).toEqual(['no_mfa']);
    // the directory pack stays "seen": a later start does not take it for new rules
    const b = await instance(vars, p);
    expect((await packs(b)).active).toMatchObject({ hash: v2, source: 'restore' });
    expect((await json(b, '/v1/overrides')).body).toMatchObject({ overrides: [{ rule: 'no_mfa', mode: 'shadow' }] });
  });

  it('an instance starting before anyone noticed asks the running ones, which re-publish; it adopts their pack', async () => {
    const p = prefix();
    const vars = e();
    // no poll: only the starting instance's request makes it look
    const a = await instance(vars, p, { packPollMs: 0 });
    const v3 = await push(a, version(3));
    await loseRedisData(p);
    const b = await instance(vars, p, { packRestoreGraceMs: 5000 });
    expect((await packs(b)).active).toMatchObject({ hash: v3, source: 'restore' });
    expect(b.lines.some((l) => l.level === 'warn' && /asking them to re-publish/.test(String(l.msg)))).toBe(true);
    expect(restoreLines(a)).toHaveLength(1);
  });

  it('when the instances following Redis do not re-publish, a starting instance serves nothing and /readyz says why', async () => {
    const p = prefix();
    // An instance that follows the channel but holds no pack to give (an older version).
    const follower = new Redis(redisUrl());
    try {
      await follower.subscribe(`${p}:packs:changed`);
      const b = await instance(e(), p, { packRestoreGraceMs: 300 });
      const ready = await json(b, '/readyz');
      expect(ready.status).toBe(503);
      const err = ready.body.error as { code: string; message: string; details: { reason: string; checks: Record<string, boolean> } };
      expect(err.code).toBe('unavailable');
      expect(err.message).toMatch(/cannot tell which pack/);
      expect(err.message).toMatch(/vigil pack push/);
      expect(err.details.reason).toBe(err.message);
      expect(err.details.checks.pack).toBe(false);
      expect(await admin.llen(`{${p}:packs}:history`)).toBe(0);
      const ev = await fetch(`${b.url}/v1/evaluate`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      expect(ev.status).toBeGreaterThanOrEqual(400);
      // the operator decides: a push serves it here and everywhere
      const v4 = await push(b, version(4), 'INC-3: Redis lost its data; v4 is what ran');
      expect((await json(b, '/readyz')).body).toMatchObject({ status: 'ready', pack: { hash: v4 } });
    } finally {
      follower.disconnect();
    }
  });

  it('a first start (nobody follows the channel) activates VIGIL_RULES, saying so', async () => {
    const p = prefix();
    const a = await instance(e(), p);
    expect((await packs(a)).active).toMatchObject({ version: 1, source: 'startup' });
    expect(a.lines.some((l) => l.level === 'warn' && /first start/.test(String(l.msg)))).toBe(true);
  });
});
