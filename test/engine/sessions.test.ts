// Sensitive actions end to end below HTTP (features.md § Sensitive actions and sessions): a sign-in,
// then an account_change naming its decision id, on real Redis (and the in-process store for
// parity). Each session.* feature, history.since_recovery, velocity.user_changes_24h, the missing
// cases (no link, unknown link, another user's sign-in, a sign-in after the change), the notices of
// the answer, and the one store round trip per event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { compilePack, packFromFiles, type CompiledPack } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../../features/geoip.ts';
import { createMemoryStore, createStore, type SignalStore } from '../../features/store/index.ts';
import { createEngine, type Engine, type EvaluateResult, type VigilEvent } from '../../engine/index.ts';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.ts';
import { SESSION_FEATURES, sessionValues as session } from '../helpers/sessions.ts';

const GEO = fileURLToPath(new URL('../../../shared/data/geoip/', import.meta.url));
const LONDON = '81.2.69.142';
const LONDON_2 = '81.2.69.170';
const CHANGCHUN = '175.16.199.0';
const T0 = Date.parse('2026-11-24T18:00:00Z');
const MIN = 60_000;
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

const PACK = `
pack sessions version 1
rule phone {
  on login
  when device.id == "d-phone"
  then step_up
  score 40
}
rule moved {
  on account_change
  when session.ip_changed or session.device_changed or session.country_changed
  then step_up
  notice session_moved
}
rule after_recovery {
  on account_change
  when history.since_recovery < 1h
  then step_up
  notice recent_recovery
}
rule many_changes {
  on account_change
  when velocity.user_changes_24h > 3
  then block
  notice sensitive_change
}
rule from_challenged {
  on account_change
  when session.login_challenged and session.new_device
  score 10
  notice session_moved
}
`;

function compiled(): CompiledPack {
  const r = compilePack(packFromFiles({ 'main.rules': PACK }), { scheme: VIGIL_SCHEME });
  if (!r.pack) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`).join('\n'));
  return r.pack;
}

let geoip: GeoIp;
beforeAll(async () => {
  geoip = await createGeoIp({
    cityPath: GEO + 'GeoIP2-City-Test.mmdb',
    asnPath: GEO + 'GeoLite2-ASN-Test.mmdb',
    anonPath: GEO + 'GeoIP2-Anonymous-IP-Test.mmdb',
    watch: false,
  });
});
afterAll(() => geoip.close());

function scenarios(name: string, makeStore: (prefix: string) => Promise<SignalStore>, cleanup: (prefix: string) => Promise<void>): void {
  describe(`sessions (${name})`, () => {
    let store: SignalStore;
    let engine: Engine;
    const prefix = uniquePrefix('sessions');
    const pack = compiled();
    beforeAll(async () => {
      store = await makeStore(prefix);
      engine = createEngine({ store, geoip, packs: () => ({ pack }), signalTimeoutMs: 2000 });
    });
    afterAll(async () => {
      await engine.close();
      await cleanup(prefix);
    });

    const login = (user: string, over: Partial<VigilEvent> = {}): Promise<EvaluateResult> =>
      engine.evaluate({ type: 'login', userId: user, ip: LONDON, deviceId: 'd-laptop', userAgent: UA, time: T0, ...over }, { explain: true });
    const change = (user: string, over: Partial<VigilEvent> = {}): Promise<EvaluateResult> =>
      engine.evaluate({ type: 'account_change', change: 'email', userId: user, ip: LONDON, deviceId: 'd-laptop', userAgent: UA, time: T0 + 5 * MIN, ...over }, { explain: true });

    /** A user whose usual device and country are learned: a successful sign-in from the laptop in London. */
    async function known(user: string): Promise<void> {
      const first = await login(user, { time: T0 - 60 * MIN });
      expect(await engine.outcome(first.decision_id, 'succeeded')).toBe('ok');
    }

    it('a usual change minutes after a normal sign-in: every session feature, nothing moved, no notice', async () => {
      await known('u-usual');
      const l = await login('u-usual');
      expect(l.decision).toBe('allow');
      const c = await change('u-usual', { loginDecisionId: l.decision_id });
      expect(session(c)).toEqual({
        'session.age': 300,
        'session.login_decision': 'allow',
        'session.login_score': 0,
        'session.login_challenged': false,
        'session.new_device': false,
        'session.new_country': false,
        'session.new_ip': false,
        'session.ip_changed': false,
        'session.country_changed': false,
        'session.device_changed': false,
      });
      expect(c.features?.['event.change']).toBe('email');
      expect(c.decision).toBe('allow');
      expect(c.notices).toEqual([]);
    });

    it('a stepped-up sign-in from a new device and country, then a change from another address, country and device', async () => {
      await known('u-moved');
      const l = await login('u-moved', { ip: CHANGCHUN, deviceId: 'd-phone' });
      expect(l.decision).toBe('step_up');
      const c = await change('u-moved', { loginDecisionId: l.decision_id, ip: LONDON, deviceId: 'd-other' });
      expect(session(c)).toEqual({
        'session.age': 300,
        'session.login_decision': 'step_up',
        'session.login_score': 40,
        'session.login_challenged': true,
        'session.new_device': true,
        'session.new_country': true,
        'session.new_ip': true,
        'session.ip_changed': true,
        'session.country_changed': true,
        'session.device_changed': true,
      });
      expect(c.decision).toBe('step_up');
      // session_moved once, though two matched rules name it.
      expect(c.notices.map((n) => n.code)).toEqual(['session_moved']);
      expect(c.notices[0]!.message).not.toMatch(/session\.[a-z]|score|[0-9]/);
    });

    it('a sign-in on a new device at the address the user uses: new_device but not new_ip', async () => {
      await known('u-window');
      const l = await login('u-window', { deviceId: 'd-private-window' });
      const c = await change('u-window', { loginDecisionId: l.decision_id, deviceId: 'd-private-window' });
      expect(session(c)).toMatchObject({ 'session.new_device': true, 'session.new_ip': false, 'session.new_country': false });
    });

    it('a sign-in at an address the user never used in a known country: new_ip only', async () => {
      await known('u-newip');
      const l = await login('u-newip', { ip: LONDON_2 });
      const c = await change('u-newip', { loginDecisionId: l.decision_id, ip: LONDON_2 });
      expect(session(c)).toMatchObject({ 'session.new_device': false, 'session.new_ip': true, 'session.new_country': false, 'session.ip_changed': false });
    });

    it('another address in the same country: only ip_changed', async () => {
      await known('u-ip');
      const l = await login('u-ip');
      const c = await change('u-ip', { loginDecisionId: l.decision_id, ip: LONDON_2 });
      expect(session(c)).toMatchObject({ 'session.ip_changed': true, 'session.country_changed': false, 'session.device_changed': false });
    });

    it('no device id on the change: device_changed is missing, the rest is there', async () => {
      await known('u-nodev');
      const l = await login('u-nodev');
      const c = await change('u-nodev', { loginDecisionId: l.decision_id, deviceId: undefined });
      expect(session(c)).toMatchObject({ 'session.device_changed': null, 'session.ip_changed': false, 'session.age': 300 });
    });

    it('missing link, unknown link, another user\'s sign-in, a sign-in after the change: every session feature missing', async () => {
      await known('u-miss');
      const none = Object.fromEntries(SESSION_FEATURES.map((k) => [k, null]));
      expect(session(await change('u-miss'))).toEqual(none);
      expect(session(await change('u-miss', { loginDecisionId: '01JD0000000000000000000000' }))).toEqual(none);
      const other = await login('u-someone-else');
      expect(session(await change('u-miss', { loginDecisionId: other.decision_id }))).toEqual(none);
      const later = await login('u-miss', { time: T0 + 10 * MIN });
      expect(session(await change('u-miss', { loginDecisionId: later.decision_id }))).toEqual(none);
    });

    it('velocity.user_changes_24h counts this user\'s account changes (this one included), not sign-ins', async () => {
      const counts: unknown[] = [];
      await login('u-velo');
      for (let i = 0; i < 4; i++) counts.push((await change('u-velo', { time: T0 + i * MIN })).features?.['velocity.user_changes_24h']);
      expect(counts).toEqual([1, 2, 3, 4]);
      const fifth = await change('u-velo', { time: T0 + 5 * MIN });
      expect(fifth.decision).toBe('block');
      expect(fifth.notices.map((n) => n.code)).toEqual(['sensitive_change']);
      // 24 h later the first ones have left the window.
      expect((await change('u-velo', { time: T0 + 24 * 60 * MIN + 2 * MIN })).features?.['velocity.user_changes_24h']).toBe(4);
      await engine.clearCounters({ user: 'u-velo' });
      expect((await change('u-velo', { time: T0 + 24 * 60 * MIN + 3 * MIN })).features?.['velocity.user_changes_24h']).toBe(1);
    });

    it('history.since_recovery: from a recovery\'s successful outcome; a failed or unanswered one does not count', async () => {
      expect((await change('u-rec')).features?.['history.since_recovery']).toBeNull();
      const failed = await engine.evaluate({ type: 'recovery', userId: 'u-rec', ip: LONDON, time: T0 - 30 * MIN });
      await engine.outcome(failed.decision_id, 'failed');
      await engine.evaluate({ type: 'recovery', userId: 'u-rec', ip: LONDON, time: T0 - 25 * MIN });
      expect((await change('u-rec')).features?.['history.since_recovery']).toBeNull();
      const done = await engine.evaluate({ type: 'recovery', userId: 'u-rec', ip: LONDON, time: T0 - 20 * MIN });
      await engine.outcome(done.decision_id, 'succeeded');
      const c = await change('u-rec');
      expect(c.features?.['history.since_recovery']).toBe(25 * 60);
      expect(c.notices.map((n) => n.code)).toEqual(['recent_recovery']);
      // A later sign-in's success does not move it.
      const l = await login('u-rec', { time: T0 + 6 * MIN });
      await engine.outcome(l.decision_id, 'succeeded');
      expect((await change('u-rec', { time: T0 + 7 * MIN })).features?.['history.since_recovery']).toBe(27 * 60);
    });

    it('history.recovery_challenged: whether the last completed recovery had passed a challenge', async () => {
      const rc = async (t: number): Promise<unknown> => (await change('u-rc', { time: t })).features?.['history.recovery_challenged'];
      expect(await rc(T0)).toBeNull();
      const challenged = await engine.evaluate({ type: 'recovery', userId: 'u-rc', ip: LONDON, time: T0 - 30 * MIN });
      expect(await engine.outcome(challenged.decision_id, 'challenge_passed')).toBe('ok');
      expect(await rc(T0)).toBe(true);
      // The owner's own recovery later on, allowed outright: the flag follows the newest recovery.
      const plain = await engine.evaluate({ type: 'recovery', userId: 'u-rc', ip: LONDON, time: T0 - 10 * MIN });
      expect(await engine.outcome(plain.decision_id, 'succeeded')).toBe('ok');
      expect(await rc(T0)).toBe(false);
      // An older challenged recovery's outcome arriving late moves neither the time nor the flag.
      const late = await engine.evaluate({ type: 'recovery', userId: 'u-rc', ip: LONDON, time: T0 - 20 * MIN });
      expect(await engine.outcome(late.decision_id, 'challenge_passed')).toBe('ok');
      const c = await change('u-rc', { time: T0 });
      expect(c.features?.['history.recovery_challenged']).toBe(false);
      expect(c.features?.['history.since_recovery']).toBe(10 * 60);
      // A failed challenge completes no recovery.
      const failed = await engine.evaluate({ type: 'recovery', userId: 'u-rc', ip: LONDON, time: T0 - 5 * MIN });
      expect(await engine.outcome(failed.decision_id, 'challenge_failed')).toBe('ok');
      expect(await rc(T0)).toBe(false);
    });

    it('an account change\'s outcome teaches no sign-in history', async () => {
      await known('u-teach');
      const before = (await login('u-teach', { time: T0 + MIN })).features?.['history.logins'];
      const c = await change('u-teach', { ip: CHANGCHUN, deviceId: 'd-new' });
      expect(await engine.outcome(c.decision_id, 'succeeded')).toBe('ok');
      const after = await login('u-teach', { time: T0 + 10 * MIN, ip: CHANGCHUN, deviceId: 'd-new' });
      expect(after.features?.['history.logins']).toBe(before);
      expect(after.features?.['device.known']).toBe(false);
    });

    it('the linked sign-in is read in the same single store round trip', async () => {
      await known('u-trip');
      const l = await login('u-trip');
      await login('u-trip-flush');
      const before = store.stats.roundTrips;
      const c = await change('u-trip', { loginDecisionId: l.decision_id });
      expect(c.features?.['session.login_decision']).toBe('allow');
      expect(store.stats.roundTrips - before).toBeLessThanOrEqual(1);
    });
  });
}

scenarios(
  'redis',
  async (prefix) => {
    await requireRedis();
    return createStore({ redisUrl: redisUrl(), hashSecret: 'sessions-test-secret', prefix });
  },
  async (prefix) => {
    const r = new Redis(redisUrl());
    await deletePrefix(r, prefix);
    r.disconnect();
  },
);

scenarios('memory', async (prefix) => createMemoryStore({ hashSecret: 'sessions-test-secret', prefix }), async () => {});
