// Benchmark of the signal path (`npm run bench:signals`): every feature of the default pack computed
// for a realistic event — address parsing, GeoIP, user agent, one Redis pipeline (history, velocity,
// rba, list probes, attempt recording), rules — through engine.evaluate against a real Redis.
// Prints events/s and µs/event sequentially (one in flight) and at concurrency 64, and the Redis
// round trips per event; then, at concurrency 64, alternately without and with a shadow pack (the
// default pack with other thresholds): what running one costs an event. REDIS_URL picks the server
// (default 127.0.0.1:6379).
import { Redis } from 'ioredis';
import { compilePack, loadPackDir, packFromFiles, type CompiledPack } from '../dsl/index.ts';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import { createGeoIp } from '../features/geoip.ts';
import { createStore } from '../features/store/index.ts';
import { createEngine, createMemoryShadowReport, planFeatures, type EvaluateResult, type VigilEvent } from '../engine/index.ts';
import { runShadow } from '../engine/stages/shadow.ts';
import type { Extracted, SignalsRead } from '../engine/stages/types.ts';
import type { Slots, Value } from '../dsl/index.ts';
import { deleteKeysUnder } from './lib/keys.ts';

const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const N = Number(process.env.BENCH_EVENTS ?? 20_000);
const prefix = `bench:signals:${process.pid}:`;

const compiled = compilePack(loadPackDir('rules/login_core'), { scheme: VIGIL_SCHEME });
if (!compiled.pack) throw new Error('the default pack does not compile');
const pack = compiled.pack;
const t0 = performance.now();
const geoip = await createGeoIp({ watch: false });
const geoMs = performance.now() - t0;
const store = await createStore({ redisUrl: REDIS, hashSecret: 'bench', prefix });
let shadow: CompiledPack | undefined;
const engine = createEngine({ store, geoip, packs: () => ({ pack, shadow: shadow ? { pack: shadow } : undefined }), signalTimeoutMs: 1000 });

const IPS = ['81.2.69.142', '89.160.20.112', '216.160.83.56', '2.125.160.216', '8.8.8.8', '1.1.1.1', '2a02:8108::1', '203.0.114.9'];
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
];
const base = Date.now();
function event(i: number): VigilEvent {
  return {
    type: i % 10 === 0 ? 'recovery' : 'login',
    userId: `user-${i % 5000}`,
    ip: IPS[i % IPS.length]!,
    deviceId: `dev-${i % 7000}`,
    userAgent: UAS[i % UAS.length]!,
    time: base + i,
  };
}

// Seed some history so history/rba reads hit real data.
for (let i = 0; i < 2000; i++) {
  const r = await engine.evaluate(event(i));
  await engine.outcome(r.decision_id, i % 7 === 0 ? 'failed' : 'succeeded');
}

async function run(concurrency: number, count: number): Promise<{ perSec: number; usPerEvent: number; trips: number; reads: number }> {
  const before = { ...store.stats };
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        await engine.evaluate(event(10_000 + i));
      }
    }),
  );
  const ms = performance.now() - start;
  await new Promise((r) => setTimeout(r, 100));
  return {
    perSec: (count / ms) * 1000,
    usPerEvent: (ms * 1000) / count,
    trips: (store.stats.roundTrips - before.roundTrips) / count,
    reads: (store.stats.readCalls - before.readCalls) / count,
  };
}

const plan = planFeatures(pack);
console.log(`default pack ${pack.name} v${pack.version}: ${pack.features.length} features read, plan: ${plan.steps.join(' → ')}`);
console.log(`GeoIP (bundled defaults) opened in ${geoMs.toFixed(0)} ms`);
for (const c of [1, 64]) {
  const r = await run(c, c === 1 ? Math.min(N, 5000) : N);
  console.log(
    `concurrency ${String(c).padStart(2)}: ${r.perSec.toFixed(0).padStart(6)} events/s, ${r.usPerEvent.toFixed(1).padStart(6)} µs/event, ` +
      `${r.reads.toFixed(2)} read pipeline(s)/event, ${r.trips.toFixed(2)} Redis calls/event (one read+record each; decision writes batched per event-loop turn)`,
  );
}

// The shadow pack: the default pack's files, other thresholds and one more rule.
const src = loadPackDir('rules/login_core');
const files: Record<string, string> = {};
for (const f of src.rules) files[f.path.replace(/^.*\//, '')] = f.text;
for (const name of ['corp_nets.txt', 'hosting_asns.txt', 'tor_exits.txt']) {
  const l = src.readFile(`lists/${name}`);
  if (l.ok) files[`lists/${name}`] = l.text;
}
files['80_policy.rules'] = (files['80_policy.rules'] ?? '').replace('step_up when score >= 50', 'step_up when score >= 40');
files['50_candidate.rules'] = 'rule candidate_busy_recovery {\n  on recovery\n  when velocity.ip_users_1h >= ip_users_1h_step_up\n  then block\n}\n';
delete files['90_tests.rules'];
const candidate = compilePack(packFromFiles(files), { scheme: VIGIL_SCHEME }).pack;
if (!candidate) throw new Error('the shadow pack does not compile');
const pairs: string[] = [];
for (let round = 0; round < 3; round++) {
  const got: Record<string, number> = {};
  for (const on of round % 2 === 0 ? [false, true] : [true, false]) {
    shadow = on ? candidate : undefined;
    got[on ? 'with' : 'without'] = (await run(64, N)).usPerEvent;
  }
  pairs.push(`${got.without!.toFixed(1)} → ${got.with!.toFixed(1)}`);
}
shadow = undefined;
console.log(`concurrency 64, µs/event without → with a shadow pack, three interleaved pairs: ${pairs.join(', ')}`);

// The shadow stage alone (the shadow pack's rules and policy, and its count in the report), on the
// features of real events: the part of the figures above that is its own, without their noise.
const report = createMemoryShadowReport({ flushMs: 0 });
const samples: { x: Extracted; read: SignalsRead; result: EvaluateResult }[] = [];
for (let i = 0; i < 500; i++) {
  const result = await engine.evaluate(event(50_000 + i), { explain: true });
  const slots: Slots = new Array(Math.max(pack.slotCount, candidate.slotCount));
  for (const [name, v] of Object.entries(result.features ?? {})) {
    const def = VIGIL_SCHEME.feature(name);
    if (def && v !== null) slots[def.slot] = v as Value;
  }
  const ev = event(50_000 + i);
  samples.push({
    x: { event: ev, input: undefined as unknown as Extracted['input'], slots },
    read: { ctx: undefined as unknown as SignalsRead['ctx'], attempt: {}, signals: null, probesSent: [], shadowProbesSent: [], shadowProbeAnswers: [], degraded: false },
    result,
  });
}
const REPS = 200;
for (const s of samples) runShadow(candidate, s.x, s.read, s.result, report); // JIT warm-up
const st = performance.now();
for (let k = 0; k < REPS; k++) for (const s of samples) runShadow(candidate, s.x, s.read, s.result, report);
console.log(`the shadow stage alone: ${(((performance.now() - st) * 1000) / (REPS * samples.length)).toFixed(2)} µs/event`);
await report.close();

await engine.close();
const r = new Redis(REDIS);
await deleteKeysUnder(r, prefix);
r.disconnect();
