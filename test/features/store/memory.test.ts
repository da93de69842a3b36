// The signal-store contract against the in-process store, plus what only it has: wall-clock expiry
// through an injected clock, and no Redis client.
import { describe, expect, it } from 'vitest';
import { createHasher } from '../../../features/privacy.ts';
import { createMemoryStore, createStore } from '../../../features/store/index.ts';
import { storeContract, T0 } from './contract.ts';

storeContract('memory', async (opts) => {
  const prefix = 'vigil:';
  const store = createMemoryStore({ hashSecret: 'memory-test-secret', prefix, ...(opts?.limits ? { limits: opts.limits } : {}) });
  return {
    store,
    prefix,
    sadd: async (key, ...members) => store.sadd(key, ...members),
    dump: async () => store.dump(),
    close: () => store.close(),
  };
});

describe('in-process store', () => {
  it('is what createStore gives without a Redis URL or client', async () => {
    const store = await createStore({ hashSecret: 's', redis: null });
    expect(store.kind).toBe('memory');
    expect(store.redis).toBeUndefined();
    await store.close();
    expect(await store.ping()).toBe(false);
    expect(await store.readEvent(store.context({ type: 'login', userId: 'u', ip: '192.0.2.1', time: T0 }), { history: true, velocity: false, rba: false }, 10)).toBeNull();
  });

  it('remembered digests of learned values are the values\' own digests, also past the 4,096 it keeps', () => {
    const store = createMemoryStore({ hashSecret: 'cache-secret' });
    const h = createHasher('cache-secret');
    const ua = (i: number): string | undefined =>
      store.context({ type: 'login', userId: 'u', ip: '192.0.2.1', time: T0, browser: `B${i}`, os: 'Linux', rbaFields: [`br:B${i}`] }).ua;
    const expected = (i: number): string => h.field(`ua\0B${i}\0Linux`);
    expect(ua(1)).toBe(expected(1));
    expect(ua(1)).toBe(expected(1));
    for (let i = 0; i < 4096 * 2 + 11; i++) {
      const v = i % 4099;
      if (i % 991 === 0) expect(ua(v)).toBe(expected(v));
      else ua(v);
    }
    expect(ua(1)).toBe(expected(1));
    const ctx = store.context({ type: 'login', userId: 'u', ip: '192.0.2.1', time: T0, rbaFields: ['br:B7'] });
    expect(ctx.rba).toEqual([h.field('br:B7')]);
  });

  it('expires counter keys by the wall clock', async () => {
    let now = 1_000_000;
    const store = createMemoryStore({ hashSecret: 's', now: () => now });
    const ctx = store.context({ type: 'login', userId: 'u', ip: '192.0.2.1', time: T0 });
    await store.recordOutcome(ctx, 'failed');
    const keysBefore = store.dump().map((k) => k.key);
    expect(keysBefore.length).toBe(3);
    now += 70 * 60_000 + 1; // window (1 h) + margin (10 min)
    expect(store.dump()).toEqual([]);
  });

  it('refuses a missing secret and a prefix that would break hash tags', () => {
    expect(() => createMemoryStore({})).toThrow(/hashSecret/);
    expect(() => createMemoryStore({ hashSecret: 's', prefix: 'a{b}:' })).toThrow(/prefix/);
    expect(() => createMemoryStore({ hashSecret: 's', limits: { maxEvents: 0 } })).toThrow(/maxEvents/);
    expect(() => createMemoryStore({ hashSecret: 's', retentionDays: 1.5 })).toThrow(/retentionDays/);
  });
});
