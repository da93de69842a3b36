// The Redis pack repository and two pack managers on one Redis: atomic, append-only history
// operations (a rollback is a new entry), files garbage collection, entries written before the
// history was append-only, and an activation or rollback on one instance followed by the other
// through pub/sub within a second. Needs Redis on 127.0.0.1:6379 and FAILS without it.
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
  return { id, name: 'p', version, hash, activated_at: new Date(0).toISOString(), by: 't', source: 'api', action: 'activate', previous_hash: null };
}

function rollbackTo(id: string, hash: string, previous: string): PackMeta {
  return { ...meta(id, hash), by: 'carol', source: 'rollback', action: 'rollback', previous_hash: previous, reason: 'INC-7 ✓' };
}

describe('Redis pack repository', () => {
  it('push appends unless the head has the same hash; list is newest first', async () => {
    const r = repo(prefix());
    expect(await r.list(10)).toEqual([]);
    expect((await r.push(meta('a', 'h1'), { 'm.rules': '1' }, 'upload')).pushed).toBe(true);
    const again = await r.push(meta('b', 'h1'), { 'm.rules': '1' }, 'upload');
    expect(again).toEqual({ pushed: false, head: meta('a', 'h1') });
    const c = await r.push({ ...meta('c', 'h2'), reason: 'why "quoted" ✓', forced: true }, { 'm.rules': '2' }, 'upload');
    // previous_hash is the head's, set by the script; a caller's own value is not kept
    expect(c).toEqual({ pushed: true, head: { ...meta('c', 'h2'), reason: 'why "quoted" ✓', forced: true, previous_hash: 'h1' } });
    expect((await r.list(10)).map((m) => [m.id, m.previous_hash])).toEqual([
      ['c', 'h1'],
      ['a', null],
    ]);
    expect((await r.list(1))[0]).toEqual(c.head);
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

  it('rollback appends an entry atomically; the version rolled away from stays; stale heads and gone files are refused', async () => {
    const p = prefix();
    const r = repo(p);
    expect(await r.rollback('a', rollbackTo('z', 'h1', 'h2'))).toEqual({ result: 'none' });
    await r.push(meta('a', 'h1'), { f: '1' }, 'x');
    await r.push(meta('b', 'h2'), { f: '2' }, 'x');
    expect(await r.rollback('a', rollbackTo('z', 'h1', 'h2'))).toEqual({ result: 'conflict' });
    expect(await r.rollback('b', rollbackTo('z', 'h9', 'h2'))).toEqual({ result: 'conflict' });
    const ok = await r.rollback('b', rollbackTo('a2', 'h1', 'h2'));
    expect(ok).toEqual({ result: 'ok', head: rollbackTo('a2', 'h1', 'h2') });
    const listed = await r.list(10);
    expect(listed.map((m) => [m.id, m.action, m.previous_hash])).toEqual([
      ['a2', 'rollback', 'h2'],
      ['b', 'activate', 'h1'],
      ['a', 'activate', null],
    ]);
    expect(listed[0]).toEqual(rollbackTo('a2', 'h1', 'h2'));
    expect(await r.files('h2')).toEqual({ files: { f: '2' }, root: 'x' });
    // back to where it was: another entry, nothing removed
    await r.rollback('a2', rollbackTo('b2', 'h2', 'h1'));
    expect((await r.list(10)).map((m) => m.id)).toEqual(['b2', 'a2', 'b', 'a']);
  });

  it('rollback entries count towards the cap; files stay while any entry names their hash', async () => {
    const p = prefix();
    const r = repo(p, 3);
    await r.push(meta('a', 'h1'), { f: '1' }, 'x');
    await r.push(meta('b', 'h2'), { f: '2' }, 'x');
    await r.push(meta('c', 'h3'), { f: '3' }, 'x');
    // rolling back to the oldest entry pushes that entry out, but its hash is the new head's
    await r.rollback('c', rollbackTo('d', 'h1', 'h3'));
    expect((await r.list(10)).map((m) => m.id)).toEqual(['d', 'c', 'b']);
    expect(await r.files('h1')).toEqual({ files: { f: '1' }, root: 'x' });
    await r.rollback('d', rollbackTo('e', 'h3', 'h1'));
    expect((await r.list(10)).map((m) => m.id)).toEqual(['e', 'd', 'c']);
    expect(await r.files('h2')).toBeNull();
    expect(await admin.hlen(`{${p}:packs}:files`)).toBe(2);
  });

  it('reads entries written before the history was append-only', async () => {
    const p = prefix();
    const r = repo(p);
    const old = (id: string, hash: string, source: string): string =>
      JSON.stringify({ id, name: 'p', version: 1, hash, activated_at: new Date(0).toISOString(), by: 't', source });
    await admin.rpush(`{${p}:packs}:history`, old('y', 'h2', 'rollback'), old('x', 'h1', 'api'));
    expect((await r.list(10)).map((m) => [m.id, m.action, m.previous_hash])).toEqual([
      ['y', 'rollback', null],
      ['x', 'activate', null],
    ]);
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

    const rb = await b.rollback({ by: 'carol', reason: 'INC-7' });
    expect(rb.status).toBe('rolled_back');
    await until(() => a.current()!.meta.version === 1, 1000);
    expect(a.current()!.meta).toMatchObject({ by: 'carol', source: 'rollback', action: 'rollback', reason: 'INC-7' });
    // both instances list the same append-only history: the rollback, v2, v1
    for (const m of [a, b]) {
      const l = await m.list();
      expect([l.active, ...l.history].map((e) => [e!.version, e!.action])).toEqual([
        [1, 'rollback'],
        [2, 'activate'],
        [1, 'activate'],
      ]);
    }

    // a rollback to a named hash (v2) on a is followed by b
    const v2hash = r.status === 'activated' ? r.active.meta.hash : '';
    const named = await a.rollback({ by: 'dave', to: v2hash });
    expect(named.status).toBe('rolled_back');
    await until(() => b.current()!.meta.version === 2, 1000);
    expect(b.current()!.meta).toMatchObject({ by: 'dave', action: 'rollback', hash: v2hash, previous_hash: a.current()!.meta.previous_hash });
    expect((await b.list()).history).toHaveLength(3);
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
