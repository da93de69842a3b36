// The signal-store contract against a real Redis (127.0.0.1:6379; FAILS when it does not answer),
// plus what only Redis shows: one round trip per event (counted on the socket), a TTL on every key,
// a budget that holds while the server is paused (CLIENT PAUSE on a private redis-server), fast
// failure while disconnected and recovery after a restart.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { rbaFields } from '../../../features/rba.ts';
import { createStore, parseRedisTarget, StoreUnavailableError, type SignalStore } from '../../../features/store/index.ts';
import { deletePrefix, dumpPrefix, redisUrl, requireRedis, startRedisServer, uniquePrefix, type RedisServer } from '../../helpers/redis.ts';
import { storeContract, T0 } from './contract.ts';

let admin: Redis;
beforeAll(async () => {
  await requireRedis();
  admin = new Redis(redisUrl());
});
afterAll(() => admin?.disconnect());

storeContract('redis', async (opts) => {
  const prefix = uniquePrefix('store');
  const store = await createStore({
    redisUrl: redisUrl(),
    hashSecret: 'redis-test-secret',
    prefix,
    ...(opts?.limits ? { limits: opts.limits } : {}),
  });
  return {
    store,
    prefix,
    sadd: async (key, ...members) => void (await admin.sadd(key, ...members)),
    dump: async () => dumpPrefix(admin, prefix),
    close: async () => {
      await store.close();
      await deletePrefix(admin, prefix);
    },
  };
});

function fullEvent(store: SignalStore, userId: string, time = T0) {
  const a = { ip: '81.2.69.142', asn: 20712, country: 'GB', ua: 'Mozilla/5.0', browser: 'Chrome', os: 'Windows', deviceType: 'desktop' };
  return store.context({
    type: 'recovery',
    userId,
    ip: a.ip,
    deviceId: 'dev-1',
    time,
    country: a.country,
    asn: a.asn,
    lat: 51.5,
    lon: -0.12,
    browser: a.browser,
    os: a.os,
    rbaFields: rbaFields(a),
  });
}
const ALL = { history: true, velocity: true, rba: true };

describe('Redis store', () => {
  let store: SignalStore;
  let prefix: string;
  beforeAll(async () => {
    prefix = uniquePrefix('store-redis');
    store = await createStore({ redisUrl: redisUrl(), hashSecret: 'redis-test-secret', prefix });
  });
  afterAll(async () => {
    await store.close();
    await deletePrefix(admin, prefix);
  });

  it('reads and records a whole event in ONE round trip (one socket write)', async () => {
    const client = store.redis as Redis;
    const ctx = fullEvent(store, 'rt-user');
    await store.recordOutcome(ctx, 'succeeded');
    const write = vi.spyOn(client.stream, 'write');
    const before = store.stats.roundTrips;
    const s = await store.readEvent(ctx, { ...ALL, probes: [{ key: `${prefix}list`, value: 'x' }] }, 1000);
    expect(write).toHaveBeenCalledTimes(1);
    write.mockRestore();
    expect(store.stats.roundTrips - before).toBe(1);
    expect(s?.history?.logins).toBe(1);
    expect(s?.velocity?.userRecovery24h).toBe(1);
    expect(s?.probes).toEqual([false]);
  });

  it('carries a decision write in the call of the next read: one round trip for both', async () => {
    const ctx = fullEvent(store, 'carry-user');
    const before = store.stats.roundTrips;
    const put = store.putDecision('carried-1', '{"v":"carried"}', 60);
    const s = await store.readEvent(ctx, ALL, 1000);
    await put;
    expect(store.stats.roundTrips - before).toBe(1);
    expect(s?.history?.logins).toBe(0);
    expect(await admin.get(`${prefix}dec:{carried-1}`)).toBe('{"v":"carried"}');
    expect(await admin.pttl(`${prefix}dec:{carried-1}`)).toBeGreaterThan(59_000);
  });

  it('sends a decision alone when no read comes within the linger', async () => {
    const before = store.stats.roundTrips;
    const started = performance.now();
    await store.putDecision('alone-1', '{"v":"alone"}', 60);
    expect(performance.now() - started).toBeLessThan(500);
    expect(store.stats.roundTrips - before).toBe(1);
    expect(await admin.get(`${prefix}dec:{alone-1}`)).toBe('{"v":"alone"}');
  });

  it('sends waiting decisions when it closes', async () => {
    const own = await createStore({ redisUrl: redisUrl(), hashSecret: 'redis-test-secret', prefix });
    const put = own.putDecision('at-close-1', '{"v":"closing"}', 60);
    await own.close();
    await put;
    expect(await admin.get(`${prefix}dec:{at-close-1}`)).toBe('{"v":"closing"}');
  });

  it('records an outcome in one round trip', async () => {
    const write = vi.spyOn((store.redis as Redis).stream, 'write');
    await store.recordOutcome(fullEvent(store, 'rt-user-2'), 'succeeded');
    expect(write).toHaveBeenCalledTimes(1);
    write.mockRestore();
  });

  it('sends the reads of requests in one event-loop turn in one socket write (corked until setImmediate)', async () => {
    const stream = (store.redis as Redis).stream as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    const single = vi.spyOn(stream, '_write');
    const vectored = vi.spyOn(stream, '_writev');
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => store.readEvent(fullEvent(store, `cork-${i}`), ALL, 1000)));
    expect(single).not.toHaveBeenCalled();
    expect(vectored).toHaveBeenCalledTimes(1);
    expect((vectored.mock.calls[0]?.[0] as unknown[]).length).toBe(5);
    single.mockRestore();
    vectored.mockRestore();
    expect(results.map((r) => r?.history?.logins)).toEqual([0, 0, 0, 0, 0]);
  });

  it('still answers after Redis forgot the batch script (SCRIPT FLUSH: EVALSHA falls back to EVAL)', async () => {
    await admin.script('FLUSH');
    const ctx = fullEvent(store, 'flushed');
    await store.recordOutcome(ctx, 'succeeded');
    await admin.script('FLUSH');
    const s = await store.readEvent(ctx, ALL, 1000);
    expect(s?.history?.logins).toBe(1);
    expect(s?.history?.knownDevice).toBe(true);
  });

  it('gives every key it writes a TTL', async () => {
    const ctx = fullEvent(store, 'ttl-user');
    await store.readEvent(ctx, ALL, 1000);
    await store.recordOutcome(ctx, 'failed');
    await store.recordOutcome(ctx, 'succeeded');
    await store.putDecision('ttl-decision', '{}', 60);
    const keys = await dumpPrefix(admin, prefix);
    expect(keys.length).toBeGreaterThan(10);
    expect(keys.filter((k) => !(k.pttl > 0)).map((k) => k.key)).toEqual([]);
    const history = keys.find((k) => k.key.endsWith(':h'));
    expect(history?.pttl).toBeGreaterThan(179 * 86_400_000);
    const failed = keys.find((k) => k.key.includes('{u:') && k.key.endsWith(':f'));
    expect(failed?.pttl).toBeLessThanOrEqual(70 * 60_000);
  });

  it('answers null (never throws) on a Redis error, e.g. a probe key of the wrong type', async () => {
    await admin.set(`${prefix}not-a-set`, 'x');
    const failures = store.stats.failures;
    const s = await store.readEvent(fullEvent(store, 'wrongtype'), { ...ALL, record: false, probes: [{ key: `${prefix}not-a-set`, value: 'x' }] }, 1000);
    expect(s).toBeNull();
    expect(store.stats.failures).toBe(failures + 1);
  });

  it('stores a decision carried by a read that fails (a probe key of the wrong type)', async () => {
    await admin.set(`${prefix}not-a-set-2`, 'x');
    const put = store.putDecision('carried-through-error', '{"v":"kept"}', 60);
    const s = await store.readEvent(fullEvent(store, 'wrongtype-2'), { ...ALL, probes: [{ key: `${prefix}not-a-set-2`, value: 'x' }] }, 1000);
    expect(s).toBeNull();
    await expect(put).resolves.toBeUndefined();
    expect(await admin.get(`${prefix}dec:{carried-through-error}`)).toBe('{"v":"kept"}');
  });

  it('hands out its client for other components', () => {
    expect(store.kind).toBe('redis');
    expect(store.redis).toBeInstanceOf(Redis);
  });

  it('works on a fail-fast duplicate of a caller client, which it leaves open', async () => {
    const callers = new Redis(redisUrl());
    const p = uniquePrefix('dup');
    const s = await createStore({ redis: callers, hashSecret: 's', prefix: p });
    expect(s.redis).not.toBe(callers);
    expect(await s.ping()).toBe(true);
    await s.close();
    expect(await callers.ping()).toBe('PONG');
    const shared = await createStore({ redis: callers, shareClient: true, hashSecret: 's', prefix: p });
    expect(shared.redis).toBe(callers);
    await shared.close();
    expect(await callers.ping()).toBe('PONG');
    callers.disconnect();
  });
});

describe('REDIS_URL parsing', () => {
  it('reads one URL as a single node and a comma list as Cluster nodes', () => {
    expect(parseRedisTarget('redis://127.0.0.1:6379/0')).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379/0' });
    expect(parseRedisTarget('redis://:pw@10.0.0.1:7001, 10.0.0.2:7002,redis://[::1]:7003')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7001 },
        { host: '10.0.0.2', port: 7002 },
        { host: '::1', port: 7003 },
      ],
      password: 'pw',
      tls: false,
    });
    expect(parseRedisTarget('rediss://h:1', true)).toMatchObject({ mode: 'cluster', tls: true, nodes: [{ host: 'h', port: 1 }] });
  });

  it('rejects what is not a Redis address', () => {
    expect(() => parseRedisTarget('')).toThrow(/empty/);
    expect(() => parseRedisTarget('http://x:1')).toThrow(/redis:\/\//);
    expect(() => parseRedisTarget('redis://a:1,::::')).toThrow(/not a redis/);
  });

  it('createStore rejects an unreachable Redis within the connect timeout', async () => {
    const started = Date.now();
    await expect(createStore({ redisUrl: 'redis://127.0.0.1:1', hashSecret: 's', connectTimeoutMs: 500 })).rejects.toThrow(/cannot reach Redis/);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('Redis down or slow', () => {
  let server: RedisServer;
  let store: SignalStore;
  beforeAll(async () => {
    server = await startRedisServer();
    store = await createStore({ redisUrl: server.url, hashSecret: 's', prefix: 'slow:', opTimeoutMs: 200 });
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('answers null within the budget while the server is paused, then works again', async () => {
    const ctx = fullEvent(store, 'paused-user');
    expect(await store.readEvent(ctx, ALL, 500)).not.toBeNull();
    const ctl = new Redis(server.url);
    await ctl.call('CLIENT', 'PAUSE', '1000', 'ALL');
    const timeouts = store.stats.timeouts;
    const started = performance.now();
    expect(await store.readEvent(ctx, ALL, 50)).toBeNull();
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(45);
    expect(took).toBeLessThan(50 + 40);
    expect(store.stats.timeouts).toBe(timeouts + 1);
    await expect(store.getDecision('x')).rejects.toBeInstanceOf(StoreUnavailableError);
    await new Promise((r) => setTimeout(r, 1100));
    const s = await store.readEvent(ctx, ALL, 500);
    expect(s?.velocity?.userRecovery24h).toBeGreaterThanOrEqual(1);
    ctl.disconnect();
  });

  it('re-sends the login script after the server forgot it (SCRIPT FLUSH)', async () => {
    const ctx = fullEvent(store, 'flushed-user');
    await store.recordOutcome(ctx, 'succeeded');
    const ctl = new Redis(server.url);
    await ctl.script('FLUSH');
    ctl.disconnect();
    await store.recordOutcome({ ...ctx, time: T0 + 1 }, 'succeeded');
    const s = await store.readEvent({ ...ctx, time: T0 + 2 }, ALL, 500);
    expect(s?.history).toMatchObject({ logins: 2, lastTime: T0 + 1 });
  });

  it('fails fast while disconnected and recovers after a restart', async () => {
    const ctx = fullEvent(store, 'restart-user');
    await server.kill();
    // Let ioredis notice the closed socket.
    for (let i = 0; i < 50 && store.redis?.status === 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
    // Fails fast: answered without waiting for the 500 ms budget.
    const started = performance.now();
    expect(await store.readEvent(ctx, ALL, 500)).toBeNull();
    expect(performance.now() - started).toBeLessThan(250);
    expect(await store.ping()).toBe(false);
    await expect(store.recordOutcome(ctx, 'failed')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.putDecision('d', '{}', 10)).rejects.toBeInstanceOf(StoreUnavailableError);
    await server.restart();
    let s = null;
    for (let i = 0; i < 100 && s === null; i++) {
      s = await store.readEvent(ctx, ALL, 500);
      if (s === null) await new Promise((r) => setTimeout(r, 50));
    }
    expect(s?.history?.logins).toBe(0);
    expect(await store.ping()).toBe(true);
  });
});
