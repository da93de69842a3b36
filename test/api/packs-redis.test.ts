// The Redis pack repository and two pack managers on one Redis: atomic history operations, files
// garbage collection, and an activation or rollback on one instance followed by the other through
// pub/sub within a second. Needs Redis on 127.0.0.1:6379 and FAILS without it.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisPackRepository, type PackManager, type PackMeta, type PackRepository } from '../../engine/packs/index.ts';
import { GOOD_PACK, readFiles, testPackManager } from './helpers.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let admin: Redis;
const prefixes: string[] = [];
const opened: { close(): Promise<void> }[] = [];
const clients: Redis[] = [];

beforeAll(async () => {
  admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  await admin.connect(); // throws (the suite fails) when Redis is absent
  expect(await admin.ping()).toBe('PONG');
});

afterEach(async () => {
  for (const o of opened.splice(0)) await o.close().catch(() => undefined);
  for (const c of clients.splice(0)) c.disconnect();
});

afterAll(async () => {
  for (const p of prefixes) {
    const keys = await admin.keys(`{${p}:packs}:*`);
    if (keys.length) await admin.del(...keys);
  }
  admin.disconnect();
});

function prefix(): string {
  const p = `vigiltest-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  prefixes.push(p);
  return p;
}

function repo(p: string, maxHistory?: number): PackRepository {
  const client = new Redis(REDIS_URL);
  const subscriber = new Redis(REDIS_URL);
  clients.push(client);
  const r = createRedisPackRepository({ client, subscriber, prefix: p, ...(maxHistory ? { maxHistory } : {}) });
  opened.push(r);
  return r;
}

function meta(id: string, hash: string, version = 1): PackMeta {
  return { id, name: 'p', version, hash, activated_at: new Date(0).toISOString(), by: 't', source: 'api' };
}

describe('Redis pack repository', () => {
  it('push appends unless the head has the same hash; list is newest first', async () => {
    const r = repo(prefix());
    expect(await r.list(10)).toEqual([]);
    expect((await r.push(meta('a', 'h1'), { 'm.rules': '1' }, 'upload')).pushed).toBe(true);
    const again = await r.push(meta('b', 'h1'), { 'm.rules': '1' }, 'upload');
    expect(again).toEqual({ pushed: false, head: meta('a', 'h1') });
    await r.push(meta('c', 'h2'), { 'm.rules': '2' }, 'upload');
    expect((await r.list(10)).map((m) => m.id)).toEqual(['c', 'a']);
    expect(await r.files('h2')).toEqual({ files: { 'm.rules': '2' }, root: 'upload' });
    expect(await r.seen('h1')).toBe(true);
    expect(await r.seen('h9')).toBe(false);
  });

  it('caps the history and drops files no entry refers to', async () => {
    const p = prefix();
    const r = repo(p, 2);
    await r.push(meta('a', 'h1'), { f: '1' }, 'x');
    await r.push(meta('b', 'h2'), { f: '2' }, 'x');
    await r.push(meta('c', 'h3'), { f: '3' }, 'x');
    expect((await r.list(10)).map((m) => m.id)).toEqual(['c', 'b']);
    expect(await r.files('h1')).toBeNull();
    expect(await admin.hlen(`{${p}:packs}:files`)).toBe(2);
    expect(await r.seen('h1')).toBe(true);
  });

  it('rollback pops the head atomically and refuses stale ids', async () => {
    const p = prefix();
    const r = repo(p);
    await r.push(meta('a', 'h1'), { f: '1' }, 'x');
    await r.push(meta('b', 'h2'), { f: '2' }, 'x');
    expect(await r.rollback('a', 'b', meta('z', 'h1'))).toEqual({ result: 'conflict' });
    const ok = await r.rollback('b', 'a', { ...meta('a2', 'h1'), by: 'carol', source: 'rollback' });
    expect(ok).toMatchObject({ result: 'ok', head: { id: 'a2', by: 'carol' } });
    expect((await r.list(10)).map((m) => m.id)).toEqual(['a2']);
    expect(await r.files('h2')).toBeNull();
    expect(await r.rollback('a2', 'x', meta('q', 'h1'))).toEqual({ result: 'none' });
  });

  it('concurrent pushes of different packs all land, in some order, without loss', async () => {
    const p = prefix();
    const r1 = repo(p);
    const r2 = repo(p);
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? r1 : r2).push(meta(`id${i}`, `h${i}`), { f: String(i) }, 'x')));
    const ids = (await r1.list(20)).map((m) => m.id).sort();
    expect(ids).toEqual(Array.from({ length: 10 }, (_, i) => `id${i}`).sort());
  });
});

describe('two instances on one Redis', () => {
  async function until(cond: () => boolean, ms: number): Promise<number> {
    const start = Date.now();
    while (!cond()) {
      if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return Date.now() - start;
  }

  function instance(p: string): PackManager {
    const m = testPackManager({ repo: repo(p), rulesPath: GOOD_PACK });
    opened.push(m);
    return m;
  }

  it('an activation and a rollback on one are followed by the other within a second', async () => {
    const p = prefix();
    const a = instance(p);
    const b = instance(p);
    await a.start();
    await b.start();
    expect(b.current()!.meta.id).toBe(a.current()!.meta.id);

    const files = readFiles(GOOD_PACK);
    const v2 = { ...files, 'main.rules': files['main.rules']!.replace('version 1', 'version 2') };
    const held = b.current();
    const r = await a.activate(v2, { by: 'alice' });
    expect(r.status).toBe('activated');
    const ms = await until(() => b.current()!.meta.version === 2, 1000);
    expect(ms).toBeLessThan(1000);
    expect(b.current()!.meta).toEqual(a.current()!.meta);
    expect(held!.meta.version).toBe(1);

    const rb = await b.rollback({ by: 'carol' });
    expect(rb.status).toBe('rolled_back');
    await until(() => a.current()!.meta.version === 1, 1000);
    expect(a.current()!.meta).toMatchObject({ by: 'carol', source: 'rollback' });
  });

  it('a third instance starting later adopts the stored head', async () => {
    const p = prefix();
    const a = instance(p);
    await a.start();
    const files = readFiles(GOOD_PACK);
    await a.activate({ ...files, 'main.rules': files['main.rules']!.replace('version 1', 'version 5') }, { by: 'alice' });
    const c = instance(p);
    await c.start();
    expect(c.current()!.meta).toMatchObject({ version: 5, by: 'alice' });
  });
});
