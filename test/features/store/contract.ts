// The signal-store contract suite: ONE set of behaviours every store must show (in-process, Redis,
// Redis Cluster), run by memory.test.ts, redis.test.ts and cluster.test.ts with their own fixture
// factory. Every window is driven by event time, so the edges are exact and nothing waits on the
// clock except the decision TTL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { historyFeatures } from '../../../features/history.ts';
import { rbaFields, type RbaAttempt } from '../../../features/rba.ts';
import { DAY, HOUR, MINUTE, W_DEVICE_USERS, W_IP_USERS, W_USER_IPS } from '../../../features/store/keys.ts';
import { ListKeyTypeError, parseEventContext, type ContextInput, type EventContext, type ReadNeeds, type SignalStore, type StoreLimits } from '../../../features/store/index.ts';
import { velocityFeatures } from '../../../features/velocity.ts';

export interface StoreFixture {
  readonly store: SignalStore;
  readonly prefix: string;
  /** SADD on the backing store (probe lists). */
  sadd(key: string, ...members: string[]): Promise<void>;
  /** Every key under the prefix with a rendering of its value. */
  dump(): Promise<{ key: string; value: string }[]>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  readonly limits?: Partial<StoreLimits>;
}

export type FixtureFactory = (opts?: FixtureOptions) => Promise<StoreFixture>;

export const T0 = Date.UTC(2026, 10, 24, 18, 0, 0);
const ALL: ReadNeeds = { history: true, velocity: true, rba: true };
const READ: ReadNeeds = { ...ALL, record: false };
const BUDGET = 2000;

let n = 0;
const uid = (what: string): string => `${what}-${process.pid}-${++n}-${Math.random().toString(36).slice(2, 8)}`;

function attempt(over: Partial<ContextInput> & { userId: string }): ContextInput {
  const base = {
    type: 'login' as const,
    ip: '81.2.69.142',
    deviceId: 'dev-aaa',
    time: T0,
    country: 'GB',
    asn: 20712,
    lat: 51.5,
    lon: -0.12,
    browser: 'Chrome',
    os: 'Windows',
    ...over,
  };
  const a: RbaAttempt = {
    ip: base.ip,
    asn: base.asn,
    country: base.country,
    ua: 'Mozilla/5.0 test',
    browser: base.browser,
    os: base.os,
    deviceType: 'desktop',
  };
  return { rbaFields: rbaFields(a), ...base };
}

export function storeContract(name: string, make: FixtureFactory): void {
  describe(`signal store contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: SignalStore;
    const extra: StoreFixture[] = [];
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.close();
      for (const e of extra.splice(0)) await e.close();
    });

    const read = async (ctx: EventContext, needs: ReadNeeds = READ) => {
      const s = await store.readEvent(ctx, needs, BUDGET);
      if (s === null) throw new Error('store did not answer');
      return s;
    };
    const at = (ctx: EventContext, time: number): EventContext => ({ ...ctx, time });

    describe('context', () => {
      it('holds keyed hashes, never the raw identifiers, and is deterministic', () => {
        const input = attempt({ userId: 'alice@example.com', ip: '2001:db8:1:2::7', deviceId: 'device-42' });
        const a = store.context(input);
        const b = store.context(input);
        expect(a).toEqual(b);
        const text = JSON.stringify(a);
        for (const raw of ['alice@example.com', '2001:db8:1:2::7', 'device-42', '2001:db8:1::/48']) expect(text).not.toContain(raw);
        expect(a.user).toMatch(/^[A-Za-z0-9_-]{22}$/);
        expect(a.subnet).toBeDefined();
        expect(a.rba).toHaveLength(7);
        expect(JSON.parse(text)).toEqual(a);
      });

      it('treats an IPv4-mapped IPv6 address as the IPv4 address', () => {
        const a = store.context(attempt({ userId: 'u', ip: '::ffff:81.2.69.142' }));
        const b = store.context(attempt({ userId: 'u', ip: '81.2.69.142' }));
        expect(a.ip).toBe(b.ip);
        expect(a.subnet).toBe(b.subnet);
      });

      it('marks rba placeholders null so counts stay aligned', () => {
        const ctx = store.context({ type: 'login', userId: 'u', ip: '81.2.69.142', time: T0, rbaFields: rbaFields({ ip: '81.2.69.142' }) });
        expect(ctx.rba?.map((f) => f === null)).toEqual([false, true, true, true, true, true, true]);
        expect(ctx.device).toBeUndefined();
        expect(ctx.ua).toBeUndefined();
      });

      it('rejects bad input with a TypeError', () => {
        expect(() => store.context(attempt({ userId: '' }))).toThrow(TypeError);
        expect(() => store.context(attempt({ userId: 'u', time: Number.NaN }))).toThrow(TypeError);
        expect(() => store.context(attempt({ userId: 'u', ip: '' }))).toThrow(TypeError);
        expect(() => store.context({ ...attempt({ userId: 'u' }), type: 'logout' as 'login' })).toThrow(TypeError);
      });
    });

    describe('readEvent', () => {
      it('answers a new user: no logins, nothing known, attempt counters include this attempt', async () => {
        const ctx = store.context(attempt({ userId: uid('u') }));
        const s = await read(ctx, ALL);
        expect(s.history).toEqual({ logins: 0, knownIp: false, knownDevice: false, knownCountry: false, knownAsn: false, knownUa: false, knownSubnet: false });
        expect(s.velocity).toEqual({
          userFailed1h: 0,
          userIps24h: 1,
          userRecovery24h: 0,
          ipFailed10m: 0,
          ipFailed1h: 0,
          ipUsers1h: 1,
          userChanges24h: 0,
          subnetFailed1h: 0,
          deviceUsers24h: 1,
        });
        expect(s.rba).toEqual({ userTotal: 0, globalTotal: 0, users: 0, user: [0, 0, 0, 0, 0, 0, 0], global: [0, 0, 0, 0, 0, 0, 0] });
        expect(s.probes).toEqual([]);
      });

      it('returns only the groups asked for', async () => {
        const ctx = store.context(attempt({ userId: uid('u') }));
        const h = await read(ctx, { history: true, velocity: false, rba: false });
        expect(Object.keys(h).sort()).toEqual(['history', 'probes']);
        const v = await read(ctx, { history: false, velocity: true, rba: false });
        expect(Object.keys(v).sort()).toEqual(['probes', 'velocity']);
        const r = await read(ctx, { history: false, velocity: false, rba: true });
        expect(Object.keys(r).sort()).toEqual(['probes', 'rba']);
      });

      it('with nothing needed and record off, sends nothing at all', async () => {
        const ctx = store.context(attempt({ userId: uid('u') }));
        const before = store.stats.roundTrips;
        expect(await store.readEvent(ctx, { history: false, velocity: false, rba: false, record: false }, BUDGET)).toEqual({ probes: [] });
        expect(store.stats.roundTrips).toBe(before);
        expect(await fx.dump()).toEqual([]);
      });

      it('record:false writes nothing; the default records the attempt', async () => {
        const ctx = store.context(attempt({ userId: uid('u') }));
        await read(ctx, READ);
        expect(await fx.dump()).toEqual([]);
        await read(ctx, { history: false, velocity: false, rba: false });
        expect((await fx.dump()).length).toBeGreaterThan(0);
      });

      it('leaves device features out without a device id', async () => {
        const ctx = store.context({ type: 'login', userId: uid('u'), ip: '81.2.69.142', time: T0 });
        const s = await read(ctx, ALL);
        expect(s.history?.knownDevice).toBeUndefined();
        expect(s.history?.knownCountry).toBeUndefined();
        expect(s.velocity?.deviceUsers24h).toBeUndefined();
        expect(s.rba).toBeUndefined();
        expect(velocityFeatures(s.velocity)['device.users_24h']).toBeUndefined();
      });
    });

    describe('outcome learning', () => {
      it('a success teaches device, country, ASN, address and browser/OS, and the last sign-in', async () => {
        const user = uid('u');
        const first = store.context(attempt({ userId: user }));
        await read(first, ALL);
        await store.recordOutcome(first, 'succeeded');
        const same = store.context(attempt({ userId: user, time: T0 + HOUR }));
        const s = await read(same);
        expect(s.history).toEqual({
          logins: 1,
          lastTime: T0,
          lastCountry: 'GB',
          lastLat: 51.5,
          lastLon: -0.12,
          knownIp: true,
          knownDevice: true,
          knownCountry: true,
          knownAsn: true,
          knownUa: true,
          knownSubnet: true,
        });
        const f = historyFeatures(s.history, { time: same.time, lat: 51.5, lon: -0.12 });
        expect(f['history.since_last_login']).toBe(3600);
        expect(f['history.travel_kmh']).toBe(0);

        const elsewhere = store.context(
          attempt({ userId: user, time: T0 + 2 * HOUR, ip: '203.0.113.9', deviceId: 'dev-zzz', country: 'BR', asn: 28573, browser: 'Firefox', lat: -23.5, lon: -46.6 }),
        );
        const e = await read(elsewhere);
        expect(e.history).toMatchObject({ logins: 1, knownIp: false, knownDevice: false, knownCountry: false, knownAsn: false, knownUa: false });
        const ef = historyFeatures(e.history, { time: elsewhere.time, lat: -23.5, lon: -46.6 });
        expect(ef['history.travel_kmh']).toBeGreaterThan(4000);
        expect(ef['history.last_country']).toBe('GB');
      });

      it('challenge_passed teaches like succeeded; the count grows per success', async () => {
        const user = uid('u');
        const ctx = store.context(attempt({ userId: user }));
        await store.recordOutcome(ctx, 'challenge_passed');
        await store.recordOutcome(at(ctx, T0 + MINUTE), 'succeeded');
        const s = await read(at(ctx, T0 + 2 * MINUTE));
        expect(s.history?.logins).toBe(2);
        expect(s.history?.lastTime).toBe(T0 + MINUTE);
        expect(s.velocity?.userFailed1h).toBe(0);
      });

      it('a late outcome for an older attempt does not move the last sign-in back', async () => {
        const user = uid('u');
        const newer = store.context(attempt({ userId: user, time: T0 + HOUR, country: 'FR' }));
        const older = store.context(attempt({ userId: user, time: T0, country: 'DE' }));
        await store.recordOutcome(newer, 'succeeded');
        await store.recordOutcome(older, 'succeeded');
        const s = await read(at(newer, T0 + 2 * HOUR));
        expect(s.history).toMatchObject({ logins: 2, lastTime: T0 + HOUR, lastCountry: 'FR' });
        expect(s.history?.knownCountry).toBe(true);
      });

      it('failed and challenge_failed count failures for the user, address and subnet; successes do not', async () => {
        const user = uid('u');
        const ctx = store.context(attempt({ userId: user, ip: '198.51.100.7' }));
        await store.recordOutcome(ctx, 'failed');
        await store.recordOutcome(at(ctx, T0 + 1), 'challenge_failed');
        await store.recordOutcome(at(ctx, T0 + 2), 'succeeded');
        const neighbour = store.context(attempt({ userId: uid('v'), ip: '198.51.100.200', time: T0 + 3 }));
        const s = await read(at(ctx, T0 + 3));
        expect(s.velocity).toMatchObject({ userFailed1h: 2, ipFailed10m: 2, ipFailed1h: 2, subnetFailed1h: 2 });
        const nb = await read(neighbour);
        expect(nb.velocity).toMatchObject({ userFailed1h: 0, ipFailed10m: 0, ipFailed1h: 0, subnetFailed1h: 2 });
        expect(s.history?.logins).toBe(1);
      });

      it('groups IPv6 failures by /48', async () => {
        const a = store.context(attempt({ userId: uid('u'), ip: '2001:db8:1:2::1' }));
        const b = store.context(attempt({ userId: uid('u'), ip: '2001:db8:1:ffff::9' }));
        const c = store.context(attempt({ userId: uid('u'), ip: '2001:db8:2::1' }));
        expect(a.subnet).toBe(b.subnet);
        expect(a.subnet).not.toBe(c.subnet);
        await store.recordOutcome(a, 'failed');
        await store.recordOutcome(b, 'failed');
        expect((await read(at(a, T0 + 1))).velocity).toMatchObject({ ipFailed1h: 1, subnetFailed1h: 2 });
        expect((await read(at(c, T0 + 1))).velocity).toMatchObject({ ipFailed1h: 0, subnetFailed1h: 0 });
      });

      it('rejects a non-finite outcome time and a context that is not one', async () => {
        const ctx = store.context(attempt({ userId: uid('u') }));
        await expect(store.recordOutcome(ctx, 'failed', Number.NaN)).rejects.toThrow(TypeError);
        const forged = { ...ctx, user: 'raw user id' } as EventContext;
        await expect(store.recordOutcome(forged, 'succeeded')).rejects.toThrow(TypeError);
        expect(await fx.dump()).toEqual([]);
      });

      it('learns from a context that went through JSON (the stored decision)', async () => {
        const ctx = store.context(attempt({ userId: uid('u') }));
        const back = parseEventContext(JSON.parse(JSON.stringify(ctx)));
        expect(back).toEqual(ctx);
        await store.recordOutcome(back as EventContext, 'succeeded');
        expect((await read(at(ctx, T0 + 1))).history?.logins).toBe(1);
        for (const bad of [null, 'x', { ...ctx, v: 2 }, { ...ctx, time: 'now' }, { ...ctx, lat: 1, lon: undefined }, { ...ctx, rba: ['ip:1.2.3.4'] }, { ...ctx, asn: -1 }]) {
          expect(parseEventContext(JSON.parse(JSON.stringify(bad)))).toBeNull();
        }
      });
    });

    describe('sliding windows (event time, inclusive [t − W, t])', () => {
      it('user_failed_1h / ip_failed_1h / subnet_failed_1h: counted at exactly +1h, gone 1 ms later', async () => {
        const ctx = store.context(attempt({ userId: uid('u'), ip: '192.0.2.77' }));
        await store.recordOutcome(ctx, 'failed');
        const edge = await read(at(ctx, T0 + HOUR));
        expect(edge.velocity).toMatchObject({ userFailed1h: 1, ipFailed1h: 1, subnetFailed1h: 1, ipFailed10m: 0 });
        const past = await read(at(ctx, T0 + HOUR + 1));
        expect(past.velocity).toMatchObject({ userFailed1h: 0, ipFailed1h: 0, subnetFailed1h: 0 });
      });

      it('ip_failed_10m: counted at exactly +10 min, gone 1 ms later', async () => {
        const ctx = store.context(attempt({ userId: uid('u'), ip: '192.0.2.78' }));
        await store.recordOutcome(ctx, 'failed');
        expect((await read(at(ctx, T0 + 10 * MINUTE))).velocity?.ipFailed10m).toBe(1);
        expect((await read(at(ctx, T0 + 10 * MINUTE + 1))).velocity?.ipFailed10m).toBe(0);
      });

      it('failures after the event time are not counted (replay in order)', async () => {
        const ctx = store.context(attempt({ userId: uid('u') }));
        await store.recordOutcome(at(ctx, T0 + 1), 'failed');
        expect((await read(ctx)).velocity?.userFailed1h).toBe(0);
      });

      it('user_recovery_24h counts recovery attempts, exact at the 24 h edge', async () => {
        const user = uid('u');
        const rec = store.context(attempt({ userId: user, type: 'recovery' }));
        await read(rec, ALL);
        expect((await read(at(rec, T0 + MINUTE), ALL)).velocity?.userRecovery24h).toBe(2);
        const login = store.context(attempt({ userId: user, time: T0 + 2 * MINUTE }));
        expect((await read(login, ALL)).velocity?.userRecovery24h).toBe(2);
        expect((await read(at(login, T0 + DAY))).velocity?.userRecovery24h).toBe(2);
        expect((await read(at(login, T0 + DAY + 1))).velocity?.userRecovery24h).toBe(1);
        expect((await read(at(login, T0 + MINUTE + DAY + 1))).velocity?.userRecovery24h).toBe(0);
      });

      it('counters saturate at maxEvents', async () => {
        const small = await make({ limits: { maxEvents: 5 } });
        extra.push(small);
        const ctx = small.store.context(attempt({ userId: uid('u') }));
        for (let i = 0; i < 8; i++) await small.store.recordOutcome(at(ctx, T0 + i), 'failed');
        const s = await small.store.readEvent(at(ctx, T0 + 10), READ, BUDGET);
        expect(s?.velocity).toMatchObject({ userFailed1h: 5, ipFailed1h: 5 });
      });
    });

    describe('distinct counts (last-seen sets, exact sliding windows)', () => {
      it('ip_users_1h, user_ips_24h and device.users_24h count distinct identities', async () => {
        const ip = '100.64.3.3';
        const users = [uid('a'), uid('b'), uid('c')];
        for (const [i, u] of [...users, users[0] as string].entries()) {
          await read(store.context(attempt({ userId: u, ip, deviceId: 'shared-device', time: T0 + i })), { history: false, velocity: false, rba: false });
        }
        const one = users[0] as string;
        for (const [i, addr] of ['10.1.1.1', '10.2.2.2', '2001:db8::1'].entries()) {
          await read(store.context(attempt({ userId: one, ip: addr, deviceId: 'other', time: T0 + 10 + i })), { history: false, velocity: false, rba: false });
        }
        const s = await read(store.context(attempt({ userId: one, ip, deviceId: 'shared-device', time: T0 + 20 })));
        expect(s.velocity).toMatchObject({ ipUsers1h: 3, userIps24h: 4, deviceUsers24h: 3 });
      });

      const RECORD_ONLY: ReadNeeds = { history: false, velocity: false, rba: false };

      it('ip_users_1h: a user seen at T0 counts at exactly T0 + 1 h, not 1 ms later', async () => {
        const ip = '100.64.9.9';
        await read(store.context(attempt({ userId: uid('a'), ip, deviceId: uid('d') })), RECORD_ONLY);
        const probe = store.context(attempt({ userId: uid('b'), ip, deviceId: uid('d') }));
        expect(W_IP_USERS).toBe(HOUR);
        expect((await read(at(probe, T0 + HOUR))).velocity?.ipUsers1h).toBe(1);
        expect((await read(at(probe, T0 + HOUR + 1))).velocity?.ipUsers1h).toBe(0);
      });

      it('user_ips_24h: an address seen at T0 counts at exactly T0 + 24 h, not 1 ms later', async () => {
        const user = uid('u');
        await read(store.context(attempt({ userId: user, ip: '100.64.9.10', deviceId: uid('d') })), RECORD_ONLY);
        const probe = store.context(attempt({ userId: user, ip: '100.64.9.11', deviceId: uid('d') }));
        expect(W_USER_IPS).toBe(DAY);
        expect((await read(at(probe, T0 + DAY))).velocity?.userIps24h).toBe(1);
        expect((await read(at(probe, T0 + DAY + 1))).velocity?.userIps24h).toBe(0);
      });

      it('device.users_24h: a user seen at T0 counts at exactly T0 + 24 h, not 1 ms later', async () => {
        const device = uid('d');
        await read(store.context(attempt({ userId: uid('a'), ip: '100.64.9.12', deviceId: device })), RECORD_ONLY);
        const probe = store.context(attempt({ userId: uid('b'), ip: '100.64.9.13', deviceId: device }));
        expect(W_DEVICE_USERS).toBe(DAY);
        expect((await read(at(probe, T0 + DAY))).velocity?.deviceUsers24h).toBe(1);
        expect((await read(at(probe, T0 + DAY + 1))).velocity?.deviceUsers24h).toBe(0);
      });

      it('seeing a member again moves its last-seen time forward', async () => {
        const ip = '100.64.9.14';
        const seen = store.context(attempt({ userId: uid('a'), ip, deviceId: uid('d') }));
        await read(seen, RECORD_ONLY);
        await read(at(seen, T0 + 30 * MINUTE), RECORD_ONLY);
        const probe = store.context(attempt({ userId: uid('b'), ip, deviceId: uid('d') }));
        expect((await read(at(probe, T0 + HOUR + 1))).velocity?.ipUsers1h).toBe(1);
        expect((await read(at(probe, T0 + 30 * MINUTE + HOUR))).velocity?.ipUsers1h).toBe(1);
        expect((await read(at(probe, T0 + 30 * MINUTE + HOUR + 1))).velocity?.ipUsers1h).toBe(0);
      });

      it('an out-of-order event counts a member last seen after it and does not move it back', async () => {
        const ip = '100.64.9.15';
        const a = store.context(attempt({ userId: uid('a'), ip, deviceId: uid('d'), time: T0 + 30 * MINUTE }));
        await read(a, RECORD_ONLY);
        // An older event of the same user (and another's, read): both count the user last seen later.
        await read(at(a, T0), RECORD_ONLY);
        const late = store.context(attempt({ userId: uid('b'), ip, deviceId: uid('d'), time: T0 + 10 * MINUTE }));
        expect((await read(late, { history: false, velocity: true, rba: false })).velocity?.ipUsers1h).toBe(2);
        // a's last-seen time is still T0 + 30 min, not T0: counted up to T0 + 30 min + 1 h (b, last
        // seen at T0 + 10 min, is gone by then).
        const probe = store.context(attempt({ userId: uid('c'), ip, deviceId: uid('d') }));
        expect((await read(at(probe, T0 + 30 * MINUTE + HOUR))).velocity?.ipUsers1h).toBe(1);
        expect((await read(at(probe, T0 + 30 * MINUTE + HOUR + 1))).velocity?.ipUsers1h).toBe(0);
      });

      it('saturates at maxDistinct, keeping the most recently seen', async () => {
        const small = await make({ limits: { maxDistinct: 5 } });
        extra.push(small);
        const ip = '100.64.9.16';
        const device = uid('d');
        const user = uid('u');
        for (let i = 0; i < 8; i++) {
          await small.store.readEvent(small.store.context(attempt({ userId: uid('x'), ip, deviceId: device, time: T0 + i })), RECORD_ONLY, BUDGET);
          await small.store.readEvent(small.store.context(attempt({ userId: user, ip: `100.65.0.${i}`, deviceId: uid('d'), time: T0 + i })), RECORD_ONLY, BUDGET);
        }
        const probe = (u: string, addr: string, time: number) =>
          small.store.readEvent(small.store.context(attempt({ userId: u, ip: addr, deviceId: device, time })), READ, BUDGET);
        expect((await probe(uid('y'), ip, T0 + 10))?.velocity).toMatchObject({ ipUsers1h: 5, deviceUsers24h: 5 });
        expect((await probe(user, '100.65.0.7', T0 + 10))?.velocity?.userIps24h).toBe(5);
        // The three oldest were dropped: from T0 + 3 + 1 h on, the kept ones age out one by one.
        expect((await probe(uid('y'), ip, T0 + 4 + HOUR))?.velocity?.ipUsers1h).toBe(4);
      });
    });

    describe('retention', () => {
      it('a value last seen longer ago than the retention is no longer known', async () => {
        const ctx = store.context(attempt({ userId: uid('u') }));
        await store.recordOutcome(ctx, 'succeeded');
        expect((await read(at(ctx, T0 + 180 * DAY))).history?.knownIp).toBe(true);
        expect((await read(at(ctx, T0 + 180 * DAY + 1))).history?.knownIp).toBe(false);
      });
    });

    describe('rba counts', () => {
      it('keeps per-user and global counts per field, the totals and distinct users, aligned', async () => {
        const alice = uid('alice');
        const bob = uid('bob');
        const a1 = store.context(attempt({ userId: alice }));
        await store.recordOutcome(a1, 'succeeded');
        await store.recordOutcome(at(a1, T0 + 1), 'succeeded');
        await store.recordOutcome(store.context(attempt({ userId: alice, ip: '81.2.69.143', time: T0 + 2 })), 'succeeded');
        await store.recordOutcome(store.context(attempt({ userId: bob, browser: 'Safari', time: T0 + 3 })), 'succeeded');
        const s = await read(at(a1, T0 + 10));
        // Fields: ip, asn, cc, ua, br, os, dt.
        expect(s.rba).toEqual({
          userTotal: 3,
          globalTotal: 4,
          users: 2,
          user: [2, 3, 3, 3, 3, 3, 3],
          global: [3, 4, 4, 4, 3, 4, 4],
        });
        const partial = store.context({ type: 'login', userId: alice, ip: '81.2.69.142', time: T0 + 11, rbaFields: rbaFields({ ip: '81.2.69.142' }) });
        expect((await read(partial)).rba).toEqual({ userTotal: 3, globalTotal: 4, users: 2, user: [2, 0, 0, 0, 0, 0, 0], global: [3, 0, 0, 0, 0, 0, 0] });
      });

      it('reads the user total even when history is not needed', async () => {
        const ctx = store.context(attempt({ userId: uid('u') }));
        await store.recordOutcome(ctx, 'succeeded');
        const s = await read(ctx, { history: false, velocity: false, rba: true, record: false });
        expect(s.rba?.userTotal).toBe(1);
        expect(s.history).toBeUndefined();
      });
    });

    describe('redis list probes', () => {
      it('answers SISMEMBER for each probe, aligned, in the same call', async () => {
        const key = `${fx.prefix}list:blocked`;
        await fx.sadd(key, 'mallory', '203.0.113.9');
        const ctx = store.context(attempt({ userId: uid('u') }));
        const s = await read(ctx, {
          history: false,
          velocity: false,
          rba: false,
          record: false,
          probes: [
            { key, value: 'alice' },
            { key, value: 'mallory' },
            { key: `${fx.prefix}list:absent`, value: 'mallory' },
            { key, value: '203.0.113.9' },
          ],
        });
        expect(s.probes).toEqual([false, true, false, true]);
      });

      it('probes values with quotes, backslashes, non-ASCII and NUL characters exactly', async () => {
        const key = `${fx.prefix}list:odd`;
        const odd = 'o"k\\ é 日本 \u0000x';
        await fx.sadd(key, odd);
        const ctx = store.context(attempt({ userId: uid('u') }));
        const s = await read(ctx, { history: false, velocity: false, rba: false, record: false, probes: [{ key, value: odd }, { key, value: 'o"k' }] });
        expect(s.probes).toEqual([true, false]);
      });
    });

    describe('live lists', () => {
      // Names carry a hash tag so their expiry sets (`NAME:expires`) stay under the fixture's prefix.
      const listName = (what: string): string => `${fx.prefix}{lists}:${what}`;
      const probe = async (probes: ReadNeeds['probes']): Promise<readonly boolean[]> =>
        (await read(store.context(attempt({ userId: uid('u') })), { history: false, velocity: false, rba: false, record: false, probes })).probes;

      it('an ip probe matches the address and every range holding it, in one command of one round trip', async () => {
        const key = listName('ips');
        expect(await store.addToList(key, ['203.0.113.0/24', '2001:db8:1::/48', '198.51.100.7', '10.0.0.0/8'])).toEqual({ ok: true, added: 4, size: 4 });
        const addrs = ['203.0.113.77', '203.0.114.1', '2001:db8:1:2::9', '2001:db8:2::1', '198.51.100.7', '198.51.100.8', '10.255.0.1', '::ffff:203.0.113.1'];
        const before = store.stats.roundTrips;
        const hits = await probe(addrs.map((value) => ({ key, value, cidr: true })));
        expect(hits).toEqual([true, false, true, false, true, false, true, true]);
        if (store.kind !== 'cluster') expect(store.stats.roundTrips - before).toBe(1);
        // Without `cidr` the probe is the exact test it always was.
        expect(await probe([{ key, value: '203.0.113.77' }, { key, value: '198.51.100.7' }])).toEqual([false, true]);
      });

      it('an ip probe matches entries an operator SADDed by hand (addresses, canonical ranges)', async () => {
        const key = listName('by-hand');
        await fx.sadd(key, '192.0.2.5', '100.64.0.0/10', '2001:db8:aa::/48', '198.51.100.9/32');
        const hits = await probe(['192.0.2.5', '192.0.2.6', '100.100.1.1', '2001:db8:aa:1::1', '198.51.100.9'].map((value) => ({ key, value, cidr: true })));
        expect(hits).toEqual([true, false, true, true, true]);
        expect((await store.readList(key)).members.slice().sort()).toEqual(['100.64.0.0/10', '192.0.2.5', '198.51.100.9/32', '2001:db8:aa::/48']);
      });

      it('adds with and without expiry (the last add decides), reads, removes; the expiry set goes with its last member', async () => {
        const key = listName('rw');
        const exp = Date.now() + 60_000;
        expect(await store.addToList(key, ['a', 'b', 'a'], { expiresAt: exp })).toEqual({ ok: true, added: 2, size: 2 });
        expect(await store.addToList(key, ['b', 'c'])).toEqual({ ok: true, added: 1, size: 3 });
        const r = await store.readList(key);
        expect(r.members.slice().sort()).toEqual(['a', 'b', 'c']);
        expect([...r.expiries]).toEqual([['a', exp]]);
        expect(await store.removeFromList(key, ['a', 'zz'])).toBe(1);
        expect((await fx.dump()).filter((k) => k.key.startsWith(key))).toHaveLength(1);
        expect(await store.removeFromList(key, ['b', 'c'])).toBe(2);
        expect(await store.readList(key)).toEqual({ members: [], expiries: new Map() });
        expect((await fx.dump()).filter((k) => k.key.startsWith(key))).toEqual([]);
      });

      it('refuses an add past the bound whole; re-adding entries it holds is still allowed', async () => {
        const key = listName('bounded');
        expect(await store.addToList(key, ['1', '2'], { maxEntries: 3 })).toEqual({ ok: true, added: 2, size: 2 });
        expect(await store.addToList(key, ['2', '3', '4'], { maxEntries: 3 })).toEqual({ ok: false, size: 2 });
        expect((await store.readList(key)).members.slice().sort()).toEqual(['1', '2']);
        expect(await store.addToList(key, ['1', '2'], { maxEntries: 2, expiresAt: Date.now() + 60_000 })).toEqual({ ok: true, added: 0, size: 2 });
      });

      it('sweeps due entries only; an entry re-added without expiry is never swept', async () => {
        const key = listName('sweep');
        const t = Date.now() + 60_000;
        await store.addToList(key, ['a', 'b'], { expiresAt: t });
        await store.addToList(key, ['c']);
        expect(await store.sweepList(key, t - 1)).toBe(0);
        await store.addToList(key, ['b']);
        expect(await store.sweepList(key, t)).toBe(1);
        const r = await store.readList(key);
        expect(r.members.slice().sort()).toEqual(['b', 'c']);
        expect(r.expiries.size).toBe(0);
        expect(await probe(['a', 'b'].map((value) => ({ key, value })))).toEqual([false, true]);
      });

      it('sweeps more than one batch of due entries', async () => {
        const key = listName('many');
        const t = Date.now() + 60_000;
        const all = Array.from({ length: 1500 }, (_, i) => `m${i}`);
        await store.addToList(key, all.slice(0, 1000), { expiresAt: t });
        await store.addToList(key, all.slice(1000), { expiresAt: t });
        expect(await store.sweepList(key, t)).toBe(1500);
        expect((await store.readList(key)).members).toEqual([]);
      });

      it('an untagged name works too (its expiry set is `{NAME}:expires`)', async () => {
        const key = `${fx.prefix}untagged`;
        await store.addToList(key, ['x'], { expiresAt: Date.now() + 60_000 });
        expect([...(await store.readList(key)).expiries.keys()]).toEqual(['x']);
        expect(await store.sweepList(key, Date.now() + 60_000)).toBe(1);
        expect(await store.readList(key)).toEqual({ members: [], expiries: new Map() });
      });

      it('a name with `}` outside a hash tag takes entries, but none with an expiry', async () => {
        const key = `${fx.prefix}odd}name`;
        await expect(store.addToList(key, ['x'], { expiresAt: Date.now() + 60_000 })).rejects.toThrow(TypeError);
        expect(await store.addToList(key, ['x'])).toEqual({ ok: true, added: 1, size: 1 });
        expect(await store.sweepList(key, Date.now())).toBe(0);
        expect(await store.removeFromList(key, ['x'])).toBe(1);
      });

      it('a key of another type is ListKeyTypeError, not the store failing', async () => {
        const id = uid('01JT');
        await store.putDecision(id, '{}', 60);
        const key = `${fx.prefix}dec:{${id}}`;
        await expect(store.readList(key)).rejects.toBeInstanceOf(ListKeyTypeError);
        await expect(store.addToList(key, ['x'])).rejects.toBeInstanceOf(ListKeyTypeError);
        expect(await store.ping()).toBe(true);
      });

      it('rejects bad arguments with a TypeError', async () => {
        const key = listName('bad');
        await expect(store.addToList(key, [])).rejects.toThrow(TypeError);
        await expect(store.addToList(key, [''])).rejects.toThrow(TypeError);
        await expect(store.addToList('', ['x'])).rejects.toThrow(TypeError);
        await expect(store.addToList(key, Array.from({ length: 1001 }, (_, i) => `v${i}`))).rejects.toThrow(TypeError);
        await expect(store.sweepList(key, Number.NaN)).rejects.toThrow(TypeError);
      });
    });

    describe('clearCounters', () => {
      it("deletes the address's and the user's velocity and failure counters, and nothing else", async () => {
        const user = uid('fp');
        const other = uid('other');
        const ip = '81.2.69.142';
        for (const [u, addr] of [[user, ip], [other, '81.2.69.143']] as const) {
          const ctx = store.context(attempt({ userId: u, ip: addr, type: 'recovery' }));
          await read(ctx, ALL);
          await store.recordOutcome(ctx, 'failed');
          await store.recordOutcome(ctx, 'succeeded');
        }
        const later = (u: string, addr: string) => read(store.context(attempt({ userId: u, ip: addr, time: T0 + 1 })));
        expect((await later(user, ip)).velocity).toMatchObject({ ipFailed10m: 1, ipUsers1h: 1, subnetFailed1h: 2, userFailed1h: 1 });

        // Another spelling of the same address: the same keys.
        expect(await store.clearCounters({ ip: '::ffff:81.2.69.142' })).toBe(2);
        expect((await later(user, ip)).velocity).toMatchObject({ ipFailed10m: 0, ipFailed1h: 0, ipUsers1h: 0, subnetFailed1h: 2, userFailed1h: 1 });
        expect(await store.clearCounters({ user })).toBe(3);
        const after = await later(user, ip);
        expect(after.velocity).toMatchObject({ userFailed1h: 0, userIps24h: 0, userRecovery24h: 0, subnetFailed1h: 2 });
        expect(after.history?.logins).toBe(1);
        expect(await store.clearCounters({ ip, subnet: true })).toBe(1);
        expect((await later(user, ip)).velocity?.subnetFailed1h).toBe(0);
        expect((await later(other, '81.2.69.143')).velocity).toMatchObject({ ipFailed10m: 1, userFailed1h: 1, userRecovery24h: 1 });
        expect(await store.clearCounters({ ip, user })).toBe(0);
      });

      it('rejects a target with neither ip nor user, or an address that is not one', async () => {
        await expect(store.clearCounters({})).rejects.toThrow(TypeError);
        await expect(store.clearCounters({ ip: '203.0.113.0/24' })).rejects.toThrow(TypeError);
        await expect(store.clearCounters({ user: '' })).rejects.toThrow(TypeError);
      });
    });

    describe('decisions', () => {
      it('stores, returns and expires a decision', async () => {
        const id = uid('01JD');
        await store.putDecision(id, '{"decision":"allow"}', 0.3);
        expect(await store.getDecision(id)).toBe('{"decision":"allow"}');
        expect(await store.getDecision(uid('nope'))).toBeNull();
        await new Promise((r) => setTimeout(r, 450));
        expect(await store.getDecision(id)).toBeNull();
      });

      it('stores every decision written in one event-loop turn (one batch), each with its own ttl', async () => {
        const ids = [1, 2, 3, 4, 5].map((i) => uid(`01JB${i}`));
        await Promise.all(ids.map((id, i) => store.putDecision(id, JSON.stringify({ n: i, quote: '"\\\u00e9' }), i === 0 ? 0.3 : 60)));
        expect(await Promise.all(ids.map((id) => store.getDecision(id)))).toEqual(ids.map((_, i) => JSON.stringify({ n: i, quote: '"\\\u00e9' })));
        await new Promise((r) => setTimeout(r, 450));
        expect(await store.getDecision(ids[0] as string)).toBeNull();
        expect(await store.getDecision(ids[1] as string)).not.toBeNull();
      });

      it('answers a lookup of a decision whose batch is not sent yet (read-your-writes)', async () => {
        const id = uid('01JR');
        const put = store.putDecision(id, '{"v":1}', 60);
        expect(await store.getDecision(id)).toBe('{"v":1}');
        await put;
        expect(await store.getDecision(id)).toBe('{"v":1}');
      });

      it('rejects a non-positive ttl', async () => {
        await expect(store.putDecision('x', '{}', 0)).rejects.toThrow(TypeError);
        await expect(store.putDecision('x', '{}', Number.POSITIVE_INFINITY)).rejects.toThrow(TypeError);
      });
    });

    describe('erase', () => {
      it('removes every key of the user and nothing of anyone else', async () => {
        const user = uid('erase-me');
        const other = uid('keep-me');
        for (const u of [user, other]) {
          const ctx = store.context(attempt({ userId: u, type: 'recovery' }));
          await read(ctx, ALL);
          await store.recordOutcome(ctx, 'failed');
          await store.recordOutcome(ctx, 'succeeded');
        }
        const tag = `{u:${store.context(attempt({ userId: user })).user}}`;
        const otherTag = `{u:${store.context(attempt({ userId: other })).user}}`;
        const before = await fx.dump();
        const mine = before.filter((k) => k.key.includes(tag)).length;
        expect(mine).toBeGreaterThanOrEqual(6);
        const hash = store.userHash(user);
        // The user's hash is also a member of the distinct-user set of the address that tried them.
        // ({rg}:u, the count of users with a sign-in, is a HyperLogLog on Redis: registers, no member;
        // the in-process store models it as a set, so it is left out of this count.)
        const linkable = (k: { key: string }): boolean => !k.key.endsWith('{rg}:u');
        const memberships = before.filter((k) => !k.key.includes(tag) && linkable(k) && k.value.includes(hash)).length;
        expect(memberships).toBeGreaterThanOrEqual(1);
        // The device is named by the caller (the engine takes it from the decision log).
        const device = store.context(attempt({ userId: user })).device;
        expect(await store.eraseUser(user, { devices: device === undefined ? [] : [device] })).toBe(mine + memberships);
        const after = await fx.dump();
        expect(after.filter((k) => k.key.includes(tag))).toEqual([]);
        // Nothing anywhere names the user's hash any more; the other user's membership stays.
        expect(after.filter((k) => linkable(k) && (k.key.includes(hash) || k.value.includes(hash))).map((k) => k.key)).toEqual([]);
        expect(after.some((k) => k.value.includes(store.userHash(other)))).toBe(true);
        expect(after.filter((k) => k.key.includes(otherTag)).length).toBe(before.filter((k) => k.key.includes(otherTag)).length);
        const s = await read(store.context(attempt({ userId: user, time: T0 + 1 })));
        expect(s.history?.logins).toBe(0);
        expect(s.velocity).toMatchObject({ userFailed1h: 0, userRecovery24h: 0, userIps24h: 0 });
        expect(await store.eraseUser(user)).toBe(0);
      });
    });

    describe('privacy', () => {
      it('never writes a raw user id, device id, address or subnet', async () => {
        const raws = {
          userId: 'carol.secret@example.com',
          deviceId: 'device-fp-8c1e55',
          ip: '2001:db8:abcd:12::34',
        };
        const v4 = { userId: 'dave.secret@example.com', deviceId: 'device-fp-77aa', ip: '198.51.100.123' };
        for (const r of [raws, v4]) {
          const ctx = store.context(attempt({ ...r, type: 'recovery' }));
          await read(ctx, ALL);
          await store.recordOutcome(ctx, 'failed');
          await store.recordOutcome(ctx, 'succeeded');
          await read(at(ctx, T0 + 5), ALL);
        }
        const text = (await fx.dump()).map((k) => `${k.key}\n${k.value}`).join('\n');
        expect(text.length).toBeGreaterThan(0);
        for (const raw of [raws.userId, raws.deviceId, raws.ip, '2001:db8:abcd::/48', v4.userId, v4.deviceId, v4.ip, '198.51.100.0/24']) {
          expect(text).not.toContain(raw);
        }
      });
    });

    describe('health', () => {
      it('pings', async () => {
        expect(await store.ping()).toBe(true);
      });
    });
  });
}
