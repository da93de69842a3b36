// The engine end to end below HTTP: real MaxMind test databases, real Redis (and the in-process
// store for parity), a compiled pack. Covers the planner, the one-round-trip rule, learning from
// outcomes, the decision log (PostgreSQL with Redis, PGlite in process): kept decisions, late
// outcomes, search and erasure; redis-list probes, degraded answers when Redis stalls, pack swaps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { compilePack, packFromFiles, type CompiledPack } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../../features/geoip.ts';
import { createMemoryStore, createStore, type SignalStore } from '../../features/store/index.ts';
import type { ModelSession } from '../../features/model/index.ts';
import { createEngine, planFeatures, type Engine, type VigilEvent } from '../../engine/index.ts';
import { deletePrefix, dumpPrefix, redisUrl, requireRedis, startRedisServer, uniquePrefix } from '../helpers/redis.ts';
import { dropSchema, postgresUrl, requirePostgres, uniqueSchema } from '../helpers/postgres.ts';
import { createDecisionLog, type DecisionLog } from '../../decisionlog/index.ts';

const GEO = fileURLToPath(new URL('../../../shared/data/geoip/', import.meta.url));
const LONDON = '81.2.69.142';
const CHANGCHUN = '175.16.199.0';
const T0 = Date.parse('2026-11-24T18:00:00Z');

function pack(src: string): CompiledPack {
  const r = compilePack(packFromFiles({ 'main.rules': src }), { scheme: VIGIL_SCHEME });
  if (!r.pack) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`).join('\n'));
  return r.pack;
}

function testPack(blockedKey: string): CompiledPack {
  return pack(`
pack engine_test version 3
list blocked: string = redis "${blockedKey}"
rule far_new_device {
  when history.travel_kmh > 900 and not device.known
  then step_up
  score 40
  reason "travel at {history.travel_kmh} km/h to {geo.country}"
  tags ato, geo
}
rule stuffing {
  when velocity.ip_users_1h >= 20
  then block
}
rule blocked_user {
  when user.id in blocked
  then block
}
rule watch_cn {
  when geo.country == "CN"
  then block
  mode shadow
}
`);
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

function ev(over: Partial<VigilEvent> = {}): VigilEvent {
  return { type: 'login', userId: 'alice@example.com', ip: LONDON, deviceId: 'd-laptop', time: T0, userAgent: UA, ...over };
}
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

describe('planner', () => {
  it('plans only the sources a pack reads', () => {
    const geoOnly = planFeatures(pack('pack p version 1\nrule r { when geo.country == "GB" score 1 }'));
    expect(geoOnly.store).toEqual({ history: false, velocity: false, rba: false, session: false });
    expect(geoOnly.geo).toBe(true);
    expect(geoOnly.steps).toEqual(['event', 'geoip', 'rules']);
    const p = planFeatures(testPack('k'));
    expect(p.store).toEqual({ history: true, velocity: true, rba: false, session: false });
    expect(p.steps).toContain('store pipeline: history, velocity, 1 list probe(s)');
    // travel needs the event's location: GeoIP runs before the pipeline
    expect(p.steps.indexOf('geoip')).toBeLessThan(p.steps.findIndex((s) => s.startsWith('store')));
  });

  it('computes a plan once per pack', () => {
    const p = testPack('k');
    expect(planFeatures(p)).toBe(planFeatures(p));
  });
});

function scenarios(
  name: string,
  makeStore: (prefix: string) => Promise<SignalStore>,
  makeLog: () => Promise<DecisionLog>,
  cleanup: (prefix: string) => Promise<void>,
) {
  describe(`engine over the ${name} store`, () => {
    let store: SignalStore;
    let log: DecisionLog;
    let engine: Engine;
    let prefix: string;
    let blockedKey: string;
    let active: { pack: CompiledPack };

    beforeAll(async () => {
      prefix = uniquePrefix(`engine-${name}`);
      blockedKey = `${prefix}blocked`;
      store = await makeStore(prefix);
      log = await makeLog();
      active = { pack: testPack(blockedKey) };
      engine = createEngine({ store, geoip, packs: () => active, signalTimeoutMs: 500, log });
    });
    afterAll(async () => {
      await engine.close();
      await cleanup(prefix);
    });

    it('allows a first sign-in, then challenges London → China minutes later on a new device', async () => {
      const first = await engine.evaluate(ev({ userId: 'traveller' }));
      expect(first.decision).toBe('allow');
      expect(first.degraded).toBe(false);
      expect(await engine.outcome(first.decision_id, 'succeeded')).toBe('ok');

      const second = await engine.evaluate(
        ev({ userId: 'traveller', ip: CHANGCHUN, deviceId: 'd-new', time: T0 + 5 * 60_000 }),
        { explain: true },
      );
      expect(second.decision).toBe('step_up');
      expect(second.rules.map((r) => r.name)).toEqual(['far_new_device']);
      expect(second.rules[0]!.reason).toMatch(/^travel at [0-9.]+ km\/h to CN$/);
      expect(second.shadow.map((r) => r.name)).toEqual(['watch_cn']);
      expect(second.features?.['geo.country']).toBe('CN');
      expect(second.features?.['device.known']).toBe(false);
      expect(second.features?.['history.since_last_login']).toBe(300);
      expect(second.features?.['history.travel_kmh'] as number).toBeGreaterThan(50_000);
      expect(second.pack).toEqual({ name: 'engine_test', version: 3, hash: active.pack.hash });
    });

    it('allows a known device from a known place, and outcomes are idempotent', async () => {
      const a = await engine.evaluate(ev({ userId: 'regular' }));
      await engine.outcome(a.decision_id, 'succeeded');
      expect(await engine.outcome(a.decision_id, 'succeeded')).toBe('ok');
      const b = await engine.evaluate(ev({ userId: 'regular', time: T0 + 3600_000 }), { explain: true });
      expect(b.decision).toBe('allow');
      expect(b.features?.['device.known']).toBe(true);
      expect(b.features?.['history.logins']).toBe(1); // the repeated outcome did not learn twice
      expect(b.features?.['history.travel_kmh']).toBe(0);
    });

    it('blocks one address trying many users (velocity recorded in the same trip)', async () => {
      const ip = '89.160.20.112';
      const decisions: string[] = [];
      for (let i = 0; i < 22; i++) {
        const r = await engine.evaluate(ev({ userId: `victim-${i}`, ip, deviceId: `d-${i}`, time: T0 + i * 1000 }));
        decisions.push(r.decision);
      }
      expect(decisions.slice(0, 19).every((d) => d === 'allow')).toBe(true);
      expect(decisions.slice(19)).toEqual(['block', 'block', 'block']);
    });

    it('reads and records one event in exactly one round trip', async () => {
      if (store.kind === 'memory') return;
      await new Promise((res) => setTimeout(res, 20)); // earlier decision writes settle
      const before = { ...store.stats };
      await engine.evaluate(ev({ userId: 'counted', time: T0 + 10_000 }));
      await new Promise((res) => setTimeout(res, 20));
      expect(store.stats.readCalls - before.readCalls).toBe(1);
      // one pipeline reads every signal and records the attempt; one write stores the window record
      expect(store.stats.roundTrips - before.roundTrips).toBe(2);
    });

    it('answers redis-list membership from the same pipeline', async () => {
      if (store.redis) await (store.redis as Redis).sadd(blockedKey, 'mallory');
      else (store as unknown as { sadd(k: string, ...v: string[]): void }).sadd(blockedKey, 'mallory');
      const r = await engine.evaluate(ev({ userId: 'mallory' }));
      expect(r.decision).toBe('block');
      expect(r.rules.map((x) => x.name)).toEqual(['blocked_user']);
    });

    it('keeps the decision in the log without raw identifiers (not even in rendered reasons)', async () => {
      const r = await engine.evaluate(ev({ userId: 'secret-user-42', deviceId: 'secret-device-7', ip: '2.125.160.216' }));
      await log.flush();
      const stored = await engine.getDecision(r.decision_id);
      expect(stored?.result.decision).toBe(r.decision);
      expect(stored?.result.pack.hash).toBe(active.pack.hash);
      const text = JSON.stringify(stored);
      expect(text).not.toContain('secret-user-42');
      expect(text).not.toContain('secret-device-7');
      expect(text).not.toContain('2.125.160.216');
      expect(await engine.outcome('01JD0000000000000000000000', 'failed')).toBe('not_found');
      expect(await engine.getDecision('01JD0000000000000000000000')).toBeNull();
    });

    it('keeps the request (hashed identifiers, coarse prefix) and every read feature, missing ones as null', async () => {
      const r = await engine.evaluate(ev({ userId: 'doc-user', mfa: true, userCreatedAt: T0 - 86_400_000 }));
      const stored = await engine.getDecision(r.decision_id);
      expect(stored?.request).toMatchObject({ type: 'login', time: new Date(T0).toISOString(), mfa: true, created_at: new Date(T0 - 86_400_000).toISOString(), browser: 'Chrome', os: 'Windows' });
      // The London test address has a country but no ASN in the MaxMind test data.
      expect(Object.keys(stored?.request ?? {}).sort()).toEqual(['browser', 'country', 'created_at', 'device', 'ip', 'ip_prefix', 'mfa', 'os', 'time', 'type', 'user']);
      expect(stored?.request.user).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(stored?.request.ip_prefix).toBe('81.2.69.0/24');
      const names = planFeatures(active.pack).features.map((f) => f.name).filter((f) => f !== 'user.id' && f !== 'device.id' && f !== 'ip.address');
      expect(Object.keys(stored?.features ?? {}).sort()).toEqual([...names].sort());
      expect(Object.values(stored?.features ?? {})).toContain(null);
    });

    it('accepts an outcome past the outcome window from the log, once', async () => {
      const r = await engine.evaluate(ev({ userId: 'late-outcome', time: T0 + 20_000 }));
      await log.flush();
      // The window's record is gone (expired, or never written while Redis was down).
      expect(await store.deleteDecisions([r.decision_id])).toBe(1);
      expect(await engine.outcome(r.decision_id, 'succeeded')).toBe('ok');
      expect((await engine.getDecision(r.decision_id))?.outcome).toBe('succeeded');
      const next = await engine.evaluate(ev({ userId: 'late-outcome', time: T0 + 30_000 }), { explain: true });
      expect(next.features?.['history.logins']).toBe(1);
      // Idempotent from the log too: a retry teaches nothing twice.
      expect(await engine.outcome(r.decision_id, 'succeeded')).toBe('ok');
      const again = await engine.evaluate(ev({ userId: 'late-outcome', time: T0 + 40_000 }), { explain: true });
      expect(again.features?.['history.logins']).toBe(1);
    });

    it('searches the log by user (hashed server-side), rule and decision', async () => {
      await engine.evaluate(ev({ userId: 'searched', time: T0 + 50_000 }));
      await engine.evaluate(ev({ userId: 'searched', ip: CHANGCHUN, time: T0 + 51_000 }));
      await log.flush();
      const page = await engine.searchDecisions({ user: 'searched' });
      expect(page.decisions).toHaveLength(2);
      expect(page.decisions[0]!.result.shadow.map((h) => h.name)).toEqual(['watch_cn']);
      expect((await engine.searchDecisions({ user: 'searched', rule: 'watch_cn' })).decisions).toHaveLength(1);
      expect((await engine.searchDecisions({ user: 'nobody-at-all' })).decisions).toEqual([]);
    });

    it('forgets an erased user: history, counters, window records and log rows', async () => {
      const a = await engine.evaluate(ev({ userId: 'leaver' }));
      await engine.outcome(a.decision_id, 'succeeded');
      const b = await engine.evaluate(ev({ userId: 'leaver' }), { explain: true });
      expect(b.features?.['history.logins']).toBe(1);
      await log.flush();
      const user = store.userHash('leaver');
      const { keys, decisions } = await engine.eraseUser('leaver');
      expect(keys).toBeGreaterThan(2);
      expect(decisions).toBe(2);
      expect(await store.getDecision(a.decision_id)).toBeNull();
      expect(await store.getDecision(b.decision_id)).toBeNull();
      expect(await engine.getDecision(a.decision_id)).toBeNull();
      expect((await log.search({ user })).rows).toEqual([]);
      if (store.redis) {
        // Nothing left in Redis that names the user's hash, in a key or a value.
        const r = store.redis as Redis;
        const dump = (await dumpPrefix(r, prefix)).map((k) => k.key + k.value).join('\n');
        expect(dump).not.toContain(user);
      }
      const after = await engine.evaluate(ev({ userId: 'leaver' }), { explain: true });
      expect(after.features?.['history.logins']).toBe(0);
      expect(after.features?.['device.known']).toBeNull();
    });

    it('finishes an in-flight evaluation on the pack it started with', async () => {
      const old = active.pack;
      const inflight = engine.evaluate(ev({ userId: 'swap' }));
      active = { pack: pack('pack swapped version 9\nrule all { when true then block }') };
      const r = await inflight;
      expect(r.pack.hash).toBe(old.hash);
      expect((await engine.evaluate(ev({ userId: 'swap' }))).decision).toBe('block');
      active = { pack: old };
    });
  });
}

const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await dropSchema(postgresUrl(), s);
});

scenarios(
  'redis',
  async (prefix) => {
    await requireRedis();
    return createStore({ redisUrl: redisUrl(), hashSecret: 'engine-test-secret', prefix });
  },
  async () => {
    await requirePostgres();
    const schema = uniqueSchema('engine');
    schemas.push(schema);
    return createDecisionLog({ url: postgresUrl(), schema, requireDb: true, flushMs: 5 });
  },
  async (prefix) => {
    const r = new Redis(redisUrl());
    await deletePrefix(r, prefix);
    r.disconnect();
  },
);

scenarios(
  'memory',
  async (prefix) => createMemoryStore({ hashSecret: 'engine-test-secret', prefix }),
  async () => createDecisionLog({ flushMs: 5 }),
  async () => {},
);

describe('engine when Redis stalls or dies', () => {
  it('answers within budget with degraded: true, then recovers', async () => {
    const server = await startRedisServer();
    const store = await createStore({ redisUrl: server.url, hashSecret: 's', prefix: uniquePrefix('degraded') });
    const engine = createEngine({ store, geoip, packs: () => ({ pack: testPack('k') }), signalTimeoutMs: 50 });
    try {
      const ok = await engine.evaluate(ev());
      expect(ok.degraded).toBe(false);

      const probe = new Redis(server.url);
      const pid = Number(/process_id:(\d+)/.exec(await probe.info('server'))![1]);
      probe.disconnect();
      process.kill(pid, 'SIGSTOP');
      try {
        const t = performance.now();
        const slow = await engine.evaluate(ev({ time: T0 + 1000 }), { explain: true });
        const took = performance.now() - t;
        expect(slow.degraded).toBe(true);
        expect(slow.decision).toBe('allow'); // missing history never locks a user out
        expect(slow.features?.['velocity.ip_users_1h']).toBeNull();
        expect(took).toBeLessThan(1000);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await new Promise((r) => setTimeout(r, 200));
      let back = await engine.evaluate(ev({ time: T0 + 2000 }));
      for (let i = 0; i < 20 && back.degraded; i++) {
        await new Promise((r) => setTimeout(r, 100));
        back = await engine.evaluate(ev({ time: T0 + 2000 + i }));
      }
      expect(back.degraded).toBe(false);
    } finally {
      await engine.close().catch(() => undefined);
      await server.stop();
    }
  });

  it('refuses to evaluate without an active pack', async () => {
    const store = createMemoryStore({ hashSecret: 's' });
    const engine = createEngine({ store, geoip, packs: () => null, signalTimeoutMs: 50 });
    await expect(engine.evaluate(ev())).rejects.toThrow(/no rule pack/);
    expect((await engine.ready()).ok).toBe(false);
  });
});

describe('engine with the anomaly model', () => {
  it('scores every event with the shipped ONNX model and explains it', async () => {
    const { createModelScorer, DEFAULT_MODEL_PATH } = await import('../../features/model/index.ts');
    const model = await createModelScorer({ path: DEFAULT_MODEL_PATH, watch: false, timeoutMs: 5000 });
    const engine = createEngine({
      store: createMemoryStore({ hashSecret: 's' }),
      geoip,
      packs: () => ({ pack: pack('pack m version 1\nrule odd { when model.anomaly > 0.99 score 30 }') }),
      signalTimeoutMs: 200,
      model,
    });
    try {
      const r = await engine.evaluate(ev(), { explain: true });
      expect(r.degraded).toBe(false);
      expect(r.model?.version).toBe(model.version);
      expect(r.model?.anomaly).toBeGreaterThan(0);
      expect(r.model?.anomaly).toBeLessThan(1);
      expect(r.features?.['model.anomaly']).toBe(r.model?.anomaly);
      // the plan computed the model's inputs although the pack reads none of them
      for (const f of model.features) expect(r.features).toHaveProperty(f);
      expect(r.contributions?.length).toBeGreaterThan(0);
      expect(r.plan).toContain('model');
    } finally {
      await engine.close();
    }
  });

  it('a failing model makes model.* missing and the event degraded, never an error', async () => {
    const { createModelScorer, DEFAULT_MODEL_PATH } = await import('../../features/model/index.ts');
    const ort = await import('onnxruntime-node');
    let calls = 0;
    const model = await createModelScorer({
      path: DEFAULT_MODEL_PATH,
      watch: false,
      createSession: async (bytes, o) => {
        const real = await ort.InferenceSession.create(bytes, o);
        return {
          inputMetadata: real.inputMetadata,
          outputNames: real.outputNames,
          release: () => real.release(),
          // The first run is the scorer's own load-time check; every later one fails.
          run: ((feeds: Parameters<typeof real.run>[0]) =>
            calls++ === 0 ? real.run(feeds) : Promise.reject(new Error('boom'))) as ModelSession['run'],
        };
      },
    });
    const engine = createEngine({
      store: createMemoryStore({ hashSecret: 's' }),
      geoip,
      packs: () => ({ pack: pack('pack m version 1\nrule odd { when model.anomaly > 0.5 then block }') }),
      signalTimeoutMs: 200,
      model,
    });
    try {
      const r = await engine.evaluate(ev(), { explain: true });
      expect(r.degraded).toBe(true);
      expect(r.decision).toBe('allow');
      expect(r.model).toEqual({ anomaly: null, version: model.version });
      expect(r.features?.['model.anomaly']).toBeNull();
    } finally {
      await engine.close();
    }
  });
});
