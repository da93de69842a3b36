// The signal-store contract against a real 3-master Redis Cluster started on loopback ports
// (test/helpers/cluster.ts), plus Cluster specifics: one pipeline per hash-tag group, all user keys
// in one slot. Skipped only outside CI when redis-server is not installed.
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rbaFields } from '../../../features/rba.ts';
import { createStore, type SignalStore } from '../../../features/store/index.ts';
import { expiryKey } from '../../../features/store/lists.ts';
import { clusterAvailable, startCluster, type TestCluster } from '../../helpers/cluster.ts';
import { deletePrefix, dumpPrefix, uniquePrefix } from '../../helpers/redis.ts';
import { storeContract, T0 } from './contract.ts';

describe.skipIf(!clusterAvailable)('Redis Cluster', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  const dumpAll = async (prefix: string) => (await Promise.all(cluster.nodes().map((n) => dumpPrefix(n, prefix)))).flat();

  storeContract('cluster', async (opts) => {
    const prefix = uniquePrefix('cluster');
    const store = await createStore({
      redisUrl: cluster.url,
      hashSecret: 'cluster-test-secret',
      prefix,
      ...(opts?.limits ? { limits: opts.limits } : {}),
    });
    return {
      store,
      prefix,
      sadd: async (key, ...members) => void (await (store.redis as Cluster).sadd(key, ...members)),
      dump: () => dumpAll(prefix),
      close: async () => {
        await store.close();
        for (const n of cluster.nodes()) await deletePrefix(n, prefix);
      },
    };
  });

  describe('cluster specifics', () => {
    let store: SignalStore;
    let prefix: string;
    beforeAll(async () => {
      prefix = uniquePrefix('cluster-x');
      store = await createStore({ redisUrl: cluster.url, hashSecret: 's', prefix });
    });
    afterAll(async () => {
      await store?.close();
      for (const n of cluster.nodes()) await deletePrefix(n, prefix);
    });

    it('connects as a Cluster from a comma list of nodes', () => {
      expect(store.kind).toBe('cluster');
      expect(store.redis).toBeInstanceOf(Cluster);
    });

    it('works on a fail-fast duplicate of a caller Cluster client', async () => {
      const callers = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
      const s = await createStore({ redis: callers, hashSecret: 's', prefix });
      expect(s.kind).toBe('cluster');
      expect(s.redis).not.toBe(callers);
      const ctx = s.context({ type: 'login', userId: 'dup', ip: '192.0.2.1', time: T0 });
      expect((await s.readEvent(ctx, { history: true, velocity: false, rba: false, record: false }, 2000))?.history?.logins).toBe(0);
      await s.close();
      expect(await callers.ping()).toBe('PONG');
      callers.disconnect();
    });

    it('sends one pipeline per hash-tag group, concurrently', async () => {
      const a = { ip: '81.2.69.142', asn: 20712, country: 'GB', browser: 'Chrome' };
      const ctx = store.context({ type: 'login', userId: 'u1', ip: a.ip, deviceId: 'd1', time: T0, country: 'GB', asn: 20712, rbaFields: rbaFields(a) });
      const before = store.stats.roundTrips;
      const s = await store.readEvent(ctx, { history: true, velocity: true, rba: true, probes: [{ key: `${prefix}list`, value: 'x' }] }, 2000);
      expect(s).not.toBeNull();
      // user, address, subnet, device, 4 known rba fields, global rba, the probe key.
      expect(store.stats.roundTrips - before).toBe(10);
    });

    it("keeps a live list's expiry set in its slot, tagged or not, so one script changes both", async () => {
      const c = store.redis as Cluster;
      for (const name of [`${prefix}plain-list`, `${prefix}{tagged}:list`, `${prefix}half{open`]) {
        await store.addToList(name, ['203.0.113.0/24'], { expiresAt: Date.now() + 60_000 });
        const exp = expiryKey(name) as string;
        expect(await c.exists(exp)).toBe(1);
        expect(await c.call('CLUSTER', 'KEYSLOT', exp)).toBe(await c.call('CLUSTER', 'KEYSLOT', name));
        expect(await store.sweepList(name, Date.now() + 60_000)).toBe(1);
        expect(await c.exists(name, exp)).toBe(0);
      }
    });

    it('keeps every key of one user in one slot', async () => {
      const ctx = store.context({ type: 'recovery', userId: 'slot-user', ip: '192.0.2.1', time: T0, rbaFields: rbaFields({ ip: '192.0.2.1' }) });
      await store.readEvent(ctx, { history: true, velocity: true, rba: true }, 2000);
      await store.recordOutcome(ctx, 'failed');
      await store.recordOutcome(ctx, 'succeeded');
      const mine = (await dumpAll(prefix)).filter((k) => k.key.includes(`{u:${ctx.user}}`));
      expect(mine.length).toBeGreaterThanOrEqual(6);
      const slots = new Set(await Promise.all(mine.map((k) => (store.redis as Cluster).call('CLUSTER', 'KEYSLOT', k.key))));
      expect(slots.size).toBe(1);
    });
  });
});
