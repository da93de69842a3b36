// Benchmark of the signal path (`npm run bench:signals`): every feature of the default pack computed
// for a realistic event — address parsing, GeoIP, user agent, one Redis pipeline (history, velocity,
// rba, list probes, attempt recording), rules — through engine.evaluate against a real Redis.
// Prints events/s and µs/event sequentially (one in flight) and at concurrency 64, and the Redis
// round trips per event. REDIS_URL picks the server (default 127.0.0.1:6379).
import { Redis } from 'ioredis';
import { compilePack, loadPackDir } from '../dsl/index.ts';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import { createGeoIp } from '../features/geoip.ts';
import { createStore } from '../features/store/index.ts';
import { createEngine, planFeatures, type VigilEvent } from '../engine/index.ts';

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
const engine = createEngine({ store, geoip, packs: () => ({ pack }), signalTimeoutMs: 1000 });

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

await engine.close();
const r = new Redis(REDIS);
let cursor = '0';
do {
  const [nextCursor, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
  cursor = nextCursor;
  if (keys.length) await r.unlink(...keys);
} while (cursor !== '0');
r.disconnect();
