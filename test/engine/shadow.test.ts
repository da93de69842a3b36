// The engine with rule overrides and a shadow pack, over real Redis: the answer names the overrides
// that changed it; the shadow pack never changes the answer, its features and list probes ride in
// the one store round trip, and its comparison lands in the shadow report (in process and in Redis,
// shared by two report stores as by two instances). Needs Redis on 127.0.0.1:6379; FAILS without it.
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePack, packFromFiles, ruleModes, type CompiledPack, type RuleOverrideMode } from '../../dsl/index.ts';
import {
  createEngine,
  createMemoryShadowReport,
  createRedisShadowReport,
  planFeatures,
  type ActivePackRef,
  type EvaluateResult,
  type ShadowReportStore,
  type VigilEvent,
} from '../../engine/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../../features/geoip.ts';
import { createStore, type SignalStore } from '../../features/store/index.ts';
import { logRow, storedDecision } from '../../engine/decisions.ts';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.ts';

const GEO = fileURLToPath(new URL('../../../shared/data/geoip/', import.meta.url));
const T0 = Date.parse('2026-11-24T18:00:00Z');
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

function pack(src: string): CompiledPack {
  const r = compilePack(packFromFiles({ 'main.rules': src }), { scheme: VIGIL_SCHEME });
  if (!r.pack) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`).join('\n'));
  return r.pack;
}

// The live pack reads GeoIP only; the shadow pack reads velocity and a Redis list the live pack
// does not: the plan must compute both.
const LIVE = `
pack live version 1
rule from_gb {
  when geo.country == "GB"
  score 10
}
rule from_se {
  when geo.country == "SE"
  then step_up
}
policy {
  step_up when score >= 50
}
`;
const shadowSrc = (listKey: string): string => `
pack candidate version 2
list blocked: string = redis "${listKey}"
rule listed {
  when user.id in blocked
  then block
}
rule busy_address {
  when velocity.ip_users_1h >= 3
  then step_up
}
rule from_gb {
  when geo.country == "GB"
  score 10
}
`;

let geoip: GeoIp;
let admin: Redis;
const prefix = uniquePrefix('engine-shadow');
const stores: SignalStore[] = [];

beforeAll(async () => {
  await requireRedis();
  admin = new Redis(redisUrl());
  geoip = await createGeoIp({
    cityPath: GEO + 'GeoIP2-City-Test.mmdb',
    asnPath: GEO + 'GeoLite2-ASN-Test.mmdb',
    watch: false,
  });
});
afterAll(async () => {
  for (const s of stores) await s.close().catch(() => undefined);
  geoip.close();
  await deletePrefix(admin, prefix);
  await deletePrefix(admin, `{${prefix}`);
  admin.disconnect();
});

async function store(name: string): Promise<SignalStore> {
  const s = await createStore({ redisUrl: redisUrl(), hashSecret: 'shadow-test-secret', prefix: `${prefix}${name}:` });
  stores.push(s);
  return s;
}

function ev(over: Partial<VigilEvent> = {}): VigilEvent {
  return { type: 'login', userId: 'alice', ip: '81.2.69.142', deviceId: 'd-1', time: T0, userAgent: UA, ...over };
}

const without = ({ decision_id: _id, ...rest }: EvaluateResult): Omit<EvaluateResult, 'decision_id'> => rest;

describe('overrides in the answer', () => {
  it('names the overridden rules whose condition matched; off and shadow change the decision', async () => {
    const live = pack(LIVE);
    let active: ActivePackRef = { pack: live };
    const engine = createEngine({ store: await store('ovr'), geoip, packs: () => active, signalTimeoutMs: 500 });
    try {
      const plain = await engine.evaluate(ev({ ip: '89.160.20.112' })); // Sweden
      expect([plain.decision, plain.rules.map((r) => r.name), plain.overrides]).toEqual(['step_up', ['from_se'], undefined]);
      expect(JSON.stringify(plain)).not.toContain('overrides');

      const modes = (o: Record<string, RuleOverrideMode>) => ruleModes(live, new Map(Object.entries(o)));
      active = { pack: live, modes: modes({ from_se: 'off', from_gb: 'shadow' }) };
      const off = await engine.evaluate(ev({ ip: '89.160.20.112', time: T0 + 1000 }));
      expect([off.decision, off.rules, off.shadow, off.overrides]).toEqual(['allow', [], [], ['from_se']]);
      // from_gb is overridden too, but did not match this event: not named.
      const gb = await engine.evaluate(ev({ time: T0 + 2000 }));
      expect([gb.decision, gb.score, gb.rules, gb.shadow.map((r) => r.name), gb.overrides]).toEqual(['allow', 0, [], ['from_gb'], ['from_gb']]);
    } finally {
      await engine.close();
    }
  });

  it('the kept decision names them too', () => {
    const result: EvaluateResult = {
      decision_id: '01JD0000000000000000000000',
      decision: 'allow',
      score: 0,
      rules: [],
      shadow: [],
      model: null,
      pack: { name: 'live', version: 1, hash: 'sha256:x' },
      degraded: false,
      notices: [],
      overrides: ['from_se'],
    };
    const ctx = { v: 1, type: 'login', time: T0, user: 'u', ip: 'i' } as const;
    const row = logRow(result, ctx, null, {}, {});
    expect(row.overrides).toEqual(['from_se']);
    expect(storedDecision(row).result.overrides).toEqual(['from_se']);
    expect(storedDecision(logRow({ ...result, overrides: undefined }, ctx, null, {}, {})).result).not.toHaveProperty('overrides');
  });
});

describe('the shadow pack', () => {
  it('never changes the answer: the same traffic gives the same answers with and without it', async () => {
    const live = pack(LIVE);
    const shadow = pack(shadowSrc(`${prefix}blocked-a`));
    await admin.sadd(`${prefix}blocked-a`, 'user-3');
    const plain = createEngine({ store: await store('plain'), geoip, packs: () => ({ pack: live }), signalTimeoutMs: 500 });
    const report = createMemoryShadowReport({ flushMs: 0 });
    const shadowed = createEngine({ store: await store('shadowed'), geoip, packs: () => ({ pack: live, shadow: { pack: shadow } }), signalTimeoutMs: 500, shadowReport: report });
    try {
      const ips = ['81.2.69.142', '89.160.20.112', '2.125.160.216'];
      for (let i = 0; i < 12; i++) {
        const e = ev({ userId: `user-${i % 5}`, ip: ips[i % ips.length]!, deviceId: `d-${i}`, time: T0 + i * 1000 });
        for (const explain of [false, true]) {
          const a = await plain.evaluate(e, { explain });
          const b = await shadowed.evaluate(e, { explain });
          if (!explain) expect(without(b)).toEqual(without(a));
          else expect([b.decision, b.score, b.rules, b.shadow]).toEqual([a.decision, a.score, a.rules, a.shadow]);
        }
      }
      const r = await shadowed.shadowReport!({ active: live.hash, shadow: shadow.hash, since: 0 });
      expect(r.events).toBe(24);
      // user-3 is on the shadow pack's list: its events are live allow / shadow block.
      expect(r.matrix.allow.block).toBeGreaterThan(0);
      expect(r.rules.shadow.listed).toBe(r.matrix.allow.block + r.matrix.step_up.block);
    } finally {
      await plain.close();
      await shadowed.close();
    }
  });

  it('its features and list probes ride in the one store round trip', async () => {
    const live = pack(LIVE);
    const shadow = pack(shadowSrc(`${prefix}blocked-b`));
    await admin.sadd(`${prefix}blocked-b`, 'mallory');
    const plan = planFeatures(live, [], shadow);
    expect(plan.store).toEqual({ history: false, velocity: true, rba: false, session: false });
    expect(planFeatures(live).store).toEqual({ history: false, velocity: false, rba: false, session: false });
    expect(plan.steps).toContain('store pipeline: velocity, 1 list probe(s)');

    const s = await store('trip');
    const report = createMemoryShadowReport({ flushMs: 0 });
    const engine = createEngine({ store: s, geoip, packs: () => ({ pack: live, shadow: { pack: shadow } }), signalTimeoutMs: 500, shadowReport: report });
    try {
      await engine.evaluate(ev({ userId: 'warmup' }));
      await new Promise((res) => setTimeout(res, 20));
      const before = { ...s.stats };
      const r = await engine.evaluate(ev({ userId: 'mallory', time: T0 + 5000 }), { explain: true });
      await new Promise((res) => setTimeout(res, 20));
      expect(s.stats.readCalls - before.readCalls).toBe(1);
      // one pipeline reads every signal of both packs and records the attempt; one write stores the decision
      expect(s.stats.roundTrips - before.roundTrips).toBe(2);
      expect(r.decision).toBe('allow');
      // the shadow pack's velocity feature was computed (explain lists it)
      expect(r.features?.['velocity.ip_users_1h']).toBe(2);
      const rep = await engine.shadowReport!({ active: live.hash, shadow: shadow.hash, since: 0 });
      expect(rep.matrix.allow.block).toBe(1);
      expect(rep.samples['allow>block']).toEqual([r.decision_id]);
    } finally {
      await engine.close();
    }
  });

  it('with the store down, its probes stay missing and it still runs on what is known', async () => {
    const live = pack(LIVE);
    const shadow = pack(shadowSrc(`${prefix}blocked-c`));
    const s = await store('down');
    const report = createMemoryShadowReport({ flushMs: 0 });
    const engine = createEngine({ store: s, geoip, packs: () => ({ pack: live, shadow: { pack: shadow } }), signalTimeoutMs: 500, shadowReport: report });
    await s.close();
    const r = await engine.evaluate(ev());
    expect(r.degraded).toBe(true);
    const rep = await report.read(live.hash, shadow.hash, 0);
    expect(rep.events).toBe(1);
    expect(rep.rules).toEqual({ live: { from_gb: 1 }, shadow: { from_gb: 1 } });
    await engine.close().catch(() => undefined);
  });
});

describe('the shadow report', () => {
  const A = 'sha256:' + 'a'.repeat(64);
  const S = 'sha256:' + 'b'.repeat(64);
  const hit = (name: string) => ({ name, action: null, score: 0, reason: null, tags: [] });

  function exercise(name: string, make: (now: () => number) => ShadowReportStore[]) {
    it(`${name}: matrix, rule hits, newest samples capped at 100, since to the minute, retention`, async () => {
      let clock = T0;
      const made = make(() => clock);
      const [one, two] = made;
      const writer = one!;
      const reader = two ?? one!;
      for (let i = 0; i < 130; i++) writer.add(A, S, 'allow', 'block', [], [hit('listed')], `id-${i}`);
      writer.add(A, S, 'allow', 'allow', [hit('from_gb')], [hit('from_gb')], 'same');
      clock += 5 * 60_000;
      writer.add(A, S, 'step_up', 'allow', [hit('from_se')], [], 'later');
      writer.add(A, 'sha256:other', 'block', 'allow', [], [], 'elsewhere');
      await writer.flush();

      const all = await reader.read(A, S, 0);
      expect(all).toMatchObject({ active: A, shadow: S, since: new Date(0).toISOString(), events: 132 });
      expect(all.matrix).toEqual({
        allow: { allow: 1, step_up: 0, block: 130 },
        step_up: { allow: 1, step_up: 0, block: 0 },
        block: { allow: 0, step_up: 0, block: 0 },
      });
      expect(all.rules).toEqual({ live: { from_gb: 1, from_se: 1 }, shadow: { from_gb: 1, listed: 130 } });
      expect(Object.keys(all.samples).sort()).toEqual(['allow>block', 'allow>step_up', 'block>allow', 'block>step_up', 'step_up>allow', 'step_up>block']);
      expect(all.samples['allow>block']).toHaveLength(100);
      expect(all.samples['allow>block'][0]).toBe('id-129');
      expect(all.samples['allow>block'][99]).toBe('id-30');
      expect(all.samples['step_up>allow']).toEqual(['later']);
      expect(all.samples['block>allow']).toEqual([]);

      // since: the minute it falls in and after
      const recent = await reader.read(A, S, clock - 30_000);
      expect([recent.events, recent.since]).toEqual([1, new Date(Math.floor((clock - 30_000) / 60_000) * 60_000).toISOString()]);
      // past the retention, nothing is left
      clock += 8 * 86_400_000;
      expect((await reader.read(A, S, 0)).events).toBe(0);
      for (const r of made) await r.close();
    });
  }

  exercise('in process', (now) => [createMemoryShadowReport({ flushMs: 0, now })]);
  exercise('in Redis, written by one instance and read by another', (now) => {
    const client = new Redis(redisUrl());
    const other = new Redis(redisUrl());
    const wrap = (s: ShadowReportStore, c: Redis): ShadowReportStore => ({ ...s, close: async () => { await s.close(); c.disconnect(); } });
    const p = `${prefix}report${Math.random().toString(36).slice(2, 6)}`;
    return [
      wrap(createRedisShadowReport({ client, prefix: p, flushMs: 0, now }), client),
      wrap(createRedisShadowReport({ client: other, prefix: p, flushMs: 0, now }), other),
    ];
  });

  it('in Redis, every key of the report expires', async () => {
    const client = new Redis(redisUrl());
    const p = `${prefix}ttl`;
    const r = createRedisShadowReport({ client, prefix: p, flushMs: 0 });
    r.add(A, S, 'allow', 'block', [hit('x')], [], 'id');
    await r.close();
    const keys = await admin.keys(`{${p}:shadow}*`);
    expect(keys.length).toBe(3);
    for (const k of keys) expect(await admin.pttl(k)).toBeGreaterThan(7 * 86_400_000);
    await admin.del(...keys);
    client.disconnect();
  });

  it('writes by itself on its timer, off the answer\'s path', async () => {
    const client = new Redis(redisUrl());
    const p = `${prefix}timer`;
    const report = createRedisShadowReport({ client, prefix: p, flushMs: 50 });
    report.add(A, S, 'allow', 'allow', [], [], 'id');
    expect(await admin.keys(`{${p}:shadow}*`)).toEqual([]);
    await new Promise((res) => setTimeout(res, 200));
    const keys = await admin.keys(`{${p}:shadow}*`);
    expect(keys.length).toBe(2);
    await report.close();
    await admin.del(...keys);
    client.disconnect();
  });
});
