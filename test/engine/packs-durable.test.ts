// The PostgreSQL pack repository's contract, run unchanged on the real PostgreSQL (two repositories on
// separate connection pools, as two instances are) and on PGlite in process (the embedded default):
// the append-only, capped history with its files, atomic push and rollback across repositories,
// the shadow pack and overrides. Then what Redis keeps beside it: the head's copy, re-filled (with
// a `restore` entry) when Redis lost it, and a history an older version kept in Redis copied in
// once. Needs PostgreSQL and Redis, and FAILS without them.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteDb, createPostgresDb, type Db } from '../../decisionlog/db.ts';
import { migrate } from '../../decisionlog/migrate.ts';
import { DbPackStore } from '../../decisionlog/packs.ts';
import {
  createDurablePackRepository,
  createRedisPackRepository,
  type PackMeta,
  type PackRepository,
  type RedisPackRepository,
  type RuleOverride,
} from '../../engine/packs/index.ts';
import { logSink } from '../api/helpers.ts';
import { deletePrefix, redisUrl, requireRedis } from '../helpers/redis.ts';
import { dropSchema, postgresUrl, requirePostgres, uniqueSchema } from '../helpers/postgres.ts';

function meta(id: string, hash: string, version = 1): PackMeta {
  return { id, name: 'p', version, hash, activated_at: new Date(0).toISOString(), by: 't', source: 'api', action: 'activate', previous_hash: null };
}

function rollbackTo(id: string, hash: string, previous: string): PackMeta {
  return { ...meta(id, hash), by: 'carol', source: 'rollback', action: 'rollback', previous_hash: previous, reason: 'INC-7 ✓' };
}

interface Backend {
  readonly name: string;
  /** Two repositories on one fresh store (separate connections where the back end has them). */
  pair(maxHistory?: number): Promise<[PackRepository, PackRepository]>;
  teardown(): Promise<void>;
}

const dbs: Db[] = [];

function postgres(): Backend {
  const schemas: string[] = [];
  return {
    name: 'postgres',
    async pair(maxHistory) {
      await requirePostgres();
      const schema = uniqueSchema('packs');
      schemas.push(schema);
      const a = createPostgresDb({ url: postgresUrl(), poolSize: 4, statementTimeoutMs: 10_000 });
      const b = createPostgresDb({ url: postgresUrl(), poolSize: 4, statementTimeoutMs: 10_000 });
      dbs.push(a, b);
      await Promise.all([migrate(a, schema), migrate(b, schema)]);
      const repo = (db: Db): PackRepository =>
        createDurablePackRepository({ store: new DbPackStore(db, schema, false), redis: null, logger: logSink().logger, ...(maxHistory ? { maxHistory } : {}) });
      return [repo(a), repo(b)];
    },
    async teardown() {
      for (const s of schemas) await dropSchema(postgresUrl(), s);
    },
  };
}

function pglite(): Backend {
  // One embedded database (starting one takes seconds), a schema per store.
  let db: Promise<Db> | null = null;
  return {
    name: 'pglite',
    async pair(maxHistory) {
      db ??= createPgliteDb(undefined);
      const d = await db;
      const schema = uniqueSchema('packs');
      await migrate(d, schema);
      const repo = (): PackRepository =>
        createDurablePackRepository({ store: new DbPackStore(d, schema, false), redis: null, logger: logSink().logger, ...(maxHistory ? { maxHistory } : {}) });
      return [repo(), repo()];
    },
    async teardown() {
      if (db) await (await db).close();
    },
  };
}

afterEach(async () => {
  for (const db of dbs.splice(0)) await db.close().catch(() => undefined);
});

for (const backend of [postgres(), pglite()]) {
  describe(`PostgreSQL pack repository on ${backend.name}`, () => {
    afterAll(() => backend.teardown());

    it('push appends unless the head has the same hash; list is newest first; files and seen', async () => {
      const [r] = await backend.pair();
      expect(await r.list(10)).toEqual([]);
      expect((await r.push(meta('a', 'h1'), { 'm.rules': '1' }, 'upload')).pushed).toBe(true);
      expect(await r.push(meta('b', 'h1'), { 'm.rules': '1' }, 'upload')).toEqual({ pushed: false, head: meta('a', 'h1') });
      const c = await r.push({ ...meta('c', 'h2'), reason: 'why "quoted" ✓', forced: true }, { 'm.rules': '2', 'lists/x.txt': 'é\n' }, 'upload');
      expect(c).toEqual({ pushed: true, head: { ...meta('c', 'h2'), reason: 'why "quoted" ✓', forced: true, previous_hash: 'h1' } });
      expect((await r.list(10)).map((m) => [m.id, m.previous_hash])).toEqual([
        ['c', 'h1'],
        ['a', null],
      ]);
      expect((await r.list(1))[0]).toEqual(c.head);
      expect(await r.files('h2')).toEqual({ files: { 'm.rules': '2', 'lists/x.txt': 'é\n' }, root: 'upload' });
      expect(await r.files('h9')).toBeNull();
      expect(await r.seen('h1')).toBe(true);
      expect(await r.seen('h9')).toBe(false);
    });

    it('caps the history, drops files no entry names, and remembers every hash seen', async () => {
      const [r] = await backend.pair(2);
      await r.push(meta('a', 'h1'), { f: '1' }, 'x');
      await r.push(meta('b', 'h2'), { f: '2' }, 'x');
      await r.push(meta('c', 'h3'), { f: '3' }, 'x');
      expect((await r.list(10)).map((m) => m.id)).toEqual(['c', 'b']);
      expect(await r.files('h1')).toBeNull();
      expect(await r.files('h2')).toEqual({ files: { f: '2' }, root: 'x' });
      expect(await r.seen('h1')).toBe(true);
    });

    it('rollback appends atomically; stale heads and gone files are refused; the cap keeps the head’s files', async () => {
      const [r] = await backend.pair(3);
      expect(await r.rollback('a', rollbackTo('z', 'h1', 'h2'))).toEqual({ result: 'none' });
      await r.push(meta('a', 'h1'), { f: '1' }, 'x');
      await r.push(meta('b', 'h2'), { f: '2' }, 'x');
      expect(await r.rollback('a', rollbackTo('z', 'h1', 'h2'))).toEqual({ result: 'conflict' });
      expect(await r.rollback('b', rollbackTo('z', 'h9', 'h2'))).toEqual({ result: 'conflict' });
      expect(await r.rollback('b', rollbackTo('a2', 'h1', 'h2'))).toEqual({ result: 'ok', head: rollbackTo('a2', 'h1', 'h2') });
      expect((await r.list(10)).map((m) => [m.id, m.action, m.previous_hash])).toEqual([
        ['a2', 'rollback', 'h2'],
        ['b', 'activate', 'h1'],
        ['a', 'activate', null],
      ]);
      expect((await r.list(1))[0]).toEqual(rollbackTo('a2', 'h1', 'h2'));
      // the cap pushes the oldest entry out, but its hash is the head's: its files stay
      await r.rollback('a2', rollbackTo('b2', 'h2', 'h1'));
      expect((await r.list(10)).map((m) => m.id)).toEqual(['b2', 'a2', 'b']);
      expect(await r.files('h1')).toEqual({ files: { f: '1' }, root: 'x' });
    });

    it('two repositories on one store: concurrent pushes all land; of two rollbacks from one head exactly one wins', async () => {
      const [r1, r2] = await backend.pair(50);
      await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? r1 : r2).push(meta(`id${i}`, `h${i}`), { f: String(i) }, 'x')));
      const listed = await r1.list(20);
      expect(listed.map((m) => m.id).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `id${i}`).sort());
      // each entry's previous_hash is the entry under it: every push compared the head it replaced
      for (let i = 0; i < listed.length - 1; i++) expect(listed[i]!.previous_hash).toBe(listed[i + 1]!.hash);
      const head = listed[0]!;
      const target = listed[1]!;
      const results = await Promise.all([
        r1.rollback(head.id, rollbackTo('rb1', target.hash, head.hash)),
        r2.rollback(head.id, rollbackTo('rb2', target.hash, head.hash)),
      ]);
      expect(results.map((x) => x.result).sort()).toEqual(['conflict', 'ok']);
      expect((await r2.list(1))[0]!.id).toBe(results[0]!.result === 'ok' ? 'rb1' : 'rb2');
    });

    it('the shadow pack and the overrides', async () => {
      const [r1, r2] = await backend.pair();
      expect(await r1.shadow()).toBeNull();
      expect(await r1.clearShadow()).toBeNull();
      await r1.setShadow(meta('s1', 'hs'), { 'm.rules': 's' }, 'upload');
      expect(await r2.shadow()).toEqual(meta('s1', 'hs'));
      expect(await r2.shadowFiles('s1')).toEqual({ files: { 'm.rules': 's' }, root: 'upload' });
      expect(await r2.shadowFiles('s0')).toBeNull();
      await r2.setShadow(meta('s2', 'hs2'), { 'm.rules': 't' }, 'upload');
      expect(await r1.shadowFiles('s1')).toBeNull();
      expect(await r1.clearShadow()).toEqual(meta('s2', 'hs2'));
      expect(await r2.shadow()).toBeNull();

      const o = (rule: string, expires_at: string | null = null): RuleOverride => ({ rule, mode: 'shadow', reason: 'r ✓', by: 'b', set_at: new Date(0).toISOString(), expires_at });
      await r1.setOverride(o('a'), []);
      await r1.setOverride(o('b', new Date(1000).toISOString()), []);
      await r2.setOverride({ ...o('a'), mode: 'off' }, ['b']);
      expect(await r1.overrides()).toEqual([{ ...o('a'), mode: 'off' }]);
      expect(await r1.clearOverride('a')).toEqual({ ...o('a'), mode: 'off' });
      expect(await r1.clearOverride('a')).toBeNull();
      expect(await r2.overrides()).toEqual([]);
    });
  });
}

describe('PostgreSQL pack repository with Redis', () => {
  let admin: Redis;
  const prefixes: string[] = [];
  const schemas: string[] = [];
  const opened: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    await requireRedis();
    await requirePostgres();
    admin = new Redis(redisUrl());
  });
  afterEach(async () => {
    for (const o of opened.splice(0)) await o.close().catch(() => undefined);
  });
  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(admin, `{${p}:packs}`);
    for (const s of schemas) await dropSchema(postgresUrl(), s);
    admin.disconnect();
  });

  async function setup(): Promise<{ prefix: string; schema: string; make: () => { repo: PackRepository; redis: RedisPackRepository; lines: Record<string, unknown>[] } }> {
    const prefix = `vigiltest-durable-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    prefixes.push(prefix);
    const schema = uniqueSchema('packsredis');
    schemas.push(schema);
    const db = createPostgresDb({ url: postgresUrl(), poolSize: 2, statementTimeoutMs: 10_000 });
    dbs.push(db);
    await migrate(db, schema);
    return {
      prefix,
      schema,
      make() {
        const client = new Redis(redisUrl());
        const redis = createRedisPackRepository({ client, subscriber: new Redis(redisUrl()), prefix });
        const sink = logSink();
        const repo = createDurablePackRepository({ store: new DbPackStore(db, schema, false), redis, logger: sink.logger });
        opened.push(repo, { close: async () => client.disconnect() });
        return { repo, redis, lines: sink.lines };
      },
    };
  }

  it("keeps Redis's copy of the head; when Redis lost it, one instance re-fills it and records a restore entry", async () => {
    const { prefix, make } = await setup();
    const a = make();
    const b = make();
    await a.repo.push(meta('a', 'h1'), { f: '1' }, 'x');
    const pushed = await a.repo.push(meta('b', 'h2'), { f: '2' }, 'x');
    expect(JSON.parse((await admin.get(`{${prefix}:packs}:head`))!)).toEqual(pushed.head);
    // nothing else of the history is in Redis
    expect((await admin.keys(`{${prefix}:packs}:*`)).sort()).toEqual([`{${prefix}:packs}:head`]);
    expect((await b.repo.list(5)).map((m) => m.id)).toEqual(['b', 'a']);

    await deletePrefix(admin, `{${prefix}:packs}`);
    // both notice at once; one re-fills (the other may read the history just before it did)
    await Promise.all([a.repo.list(5), b.repo.list(5)]);
    const [x, y] = await Promise.all([a.repo.list(5), b.repo.list(5)]);
    // both see the same history: the restore entry (same pack) on top, once
    expect(x).toEqual(y);
    expect(x.map((m) => [m.hash, m.source, m.by, m.previous_hash])).toEqual([
      ['h2', 'restore', 'restore', 'h2'],
      ['h2', 'api', 't', 'h1'],
      ['h1', 'api', 't', null],
    ]);
    expect(JSON.parse((await admin.get(`{${prefix}:packs}:head`))!)).toEqual(x[0]);
    const logged = [...a.lines, ...b.lines].filter((l) => l.restore === true);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 'error', hash: 'h2' });
  });

  it('copies a history an older version kept in Redis into an empty store, once', async () => {
    const { prefix, make } = await setup();
    const client = new Redis(redisUrl());
    opened.push({ close: async () => client.disconnect() });
    const legacy = createRedisPackRepository({ client, subscriber: new Redis(redisUrl()), prefix });
    opened.push(legacy);
    await legacy.push(meta('a', 'h1'), { f: '1' }, 'x');
    await legacy.push(meta('b', 'h2'), { f: '2' }, 'x');
    await legacy.setShadow(meta('s', 'hs'), { f: 's' }, 'upload');
    const o: RuleOverride = { rule: 'r', mode: 'off', reason: 'x', by: 'b', set_at: new Date(0).toISOString(), expires_at: null };
    await legacy.setOverride(o, []);

    const { repo, lines } = make();
    expect((await repo.list(5)).map((m) => [m.id, m.previous_hash])).toEqual([
      ['b', 'h1'],
      ['a', null],
    ]);
    expect(await repo.files('h1')).toEqual({ files: { f: '1' }, root: 'x' });
    expect(await repo.seen('h1')).toBe(true);
    expect(await repo.shadow()).toEqual(meta('s', 'hs'));
    expect(await repo.shadowFiles('s')).toEqual({ files: { f: 's' }, root: 'upload' });
    expect(await repo.overrides()).toEqual([o]);
    // an import is no restore: no entry, no error
    expect(lines.filter((l) => l.restore === true)).toEqual([]);
    // from now on PostgreSQL keeps it: a later Redis change does not reach it
    await legacy.push(meta('c', 'h3'), { f: '3' }, 'x');
    expect((await make().repo.list(5)).map((m) => m.id)).toEqual(['b', 'a']);
  });

  it('answers from PostgreSQL while Redis is unreachable', async () => {
    const { schema } = await setup();
    const db = dbs[dbs.length - 1]!;
    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    dead.on('error', () => undefined);
    const redis = createRedisPackRepository({ client: dead, subscriber: dead, prefix: 'unreachable' });
    const repo = createDurablePackRepository({ store: new DbPackStore(db, schema, false), redis, logger: logSink().logger });
    // the import looks at Redis once: unreachable, it is retried at the next call
    await expect(repo.list(1)).rejects.toThrow();
    const store = new DbPackStore(db, schema, false);
    await store.push({ ...meta('a', 'h1') }, { files: { f: '1' }, root: 'x' }, 20);
    expect((await repo.list(1)).map((m) => m.id)).toEqual(['a']);
    dead.disconnect();
  });
});
