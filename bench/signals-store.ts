// Benchmark of the signal store's hot path against a real Redis: readEvent for a realistic event
// (history, velocity, rba with all seven fields, one list probe, recording writes) on one
// connection, sequentially and at concurrency 64. Prints events/s, µs per event and round trips per
// event (must be 1 on a single node). A second figure: an account_change whose session record (the
// linked sign-in, session.*) is read in the same round trip. Usage: `npx tsx bench/signals-store.ts [REDIS_URL] [events]`.
import { Redis } from 'ioredis';
import { rbaFields } from '../features/rba.ts';
import { planRead } from '../features/store/commands.ts';
import { DEFAULT_LIMITS, Keys } from '../features/store/keys.ts';
import { createStore, type ContextInput, type EventContext, type ReadNeeds, type SignalStore } from '../features/store/index.ts';
import { deleteKeysUnder } from './lib/keys.ts';

const url = process.argv[2] ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const EVENTS = Number(process.argv[3] ?? 20_000);
const USERS = 2_000;
const prefix = `bench:${process.pid}:`;
const T0 = Date.UTC(2026, 10, 24, 18, 0, 0);

const COUNTRIES = ['GB', 'DE', 'FR', 'US', 'BR', 'JP'];
const BROWSERS = ['Chrome', 'Firefox', 'Safari', 'Edge'];

function event(i: number): ContextInput {
  const u = i % USERS;
  const ip = `${10 + (u % 200)}.${(i >> 8) & 255}.${i & 255}.${u % 250}`;
  const country = COUNTRIES[u % COUNTRIES.length] as string;
  const browser = BROWSERS[i % BROWSERS.length] as string;
  const a = { ip, asn: 3000 + (u % 50), country, ua: `Mozilla/5.0 (${browser}) bench/${u % 7}`, browser, os: 'Windows', deviceType: 'desktop' };
  return {
    type: i % 20 === 0 ? 'recovery' : 'login',
    userId: `user-${u}@example.com`,
    ip,
    deviceId: `device-${u}-${i % 3}`,
    time: T0 + i * 50,
    country,
    asn: a.asn,
    lat: 48 + (u % 10),
    lon: 2 + (u % 10),
    browser,
    os: a.os,
    rbaFields: rbaFields(a),
  };
}

const NEEDS: ReadNeeds = {
  history: true,
  velocity: true,
  rba: true,
  probes: [{ key: `${prefix}list:blocked_users`, value: 'someone' }],
};

async function seed(store: SignalStore): Promise<void> {
  // Every user has a few successful sign-ins and some failures, so every key read exists.
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < USERS * 3; i++) {
    const ctx = store.context(event(i));
    jobs.push(store.recordOutcome(ctx, i % 4 === 0 ? 'failed' : 'succeeded'));
    if (jobs.length >= 256) await Promise.all(jobs.splice(0));
  }
  await Promise.all(jobs);
}

/** An account change of the user of event `i`, naming the seeded sign-in `sessionId(i)`. */
function changeEvent(i: number): ContextInput {
  return { ...event(i), type: 'account_change' };
}
const sessionId = (i: number): string => `01BENCHSESSION${String(i % USERS).padStart(12, '0')}`;

async function run(store: SignalStore, contexts: EventContext[], concurrency: number, needs: (i: number) => ReadNeeds = () => NEEDS): Promise<{ perSec: number; usPerEvent: number; rtPerEvent: number; nulls: number }> {
  const rt0 = store.stats.roundTrips;
  let next = 0;
  let nulls = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= contexts.length) return;
        const s = await store.readEvent(contexts[i] as EventContext, needs(i), 1000);
        if (s === null) nulls++;
      }
    }),
  );
  const ms = performance.now() - started;
  return {
    perSec: Math.round((contexts.length / ms) * 1000),
    usPerEvent: Math.round(((ms * 1000) / contexts.length) * 10) / 10,
    rtPerEvent: (store.stats.roundTrips - rt0) / contexts.length,
    nulls,
  };
}

async function main(): Promise<void> {
  const store = await createStore({ redisUrl: url, hashSecret: 'bench-secret', prefix });
  const admin = new Redis(url);
  try {
    await admin.sadd(`${prefix}list:blocked_users`, 'mallory', 'trudy');
    await seed(store);
    const contexts = Array.from({ length: EVENTS }, (_, i) => store.context(event(USERS * 3 + i)));
    const ctxStart = performance.now();
    for (let i = 0; i < 10_000; i++) store.context(event(i));
    const ctxUs = ((performance.now() - ctxStart) * 1000) / 10_000;
    // Warm up the connection and the JIT.
    await run(store, contexts.slice(0, 2000), 8);
    // Best of three: the figure least disturbed by other load on the machine.
    const best = async (c: EventContext[], concurrency: number) => {
      const runs = [await run(store, c, concurrency), await run(store, c, concurrency), await run(store, c, concurrency)];
      return runs.reduce((a, b) => (b.perSec > a.perSec ? b : a));
    };
    const seq = await best(contexts.slice(0, Math.min(EVENTS, 5000)), 1);
    const par = await best(contexts, 64);
    const cmds = planRead({ keys: new Keys(prefix), limits: DEFAULT_LIMITS, nextMember: String, crossSlot: true }, contexts[0] as EventContext, NEEDS).cmds.length;
    console.log(`signal store bench: ${url}, realistic event = history + velocity + rba(7 fields) + 1 probe + recording (${cmds} commands)`);
    console.log(`context() (hashing identifiers): ${ctxUs.toFixed(1)} µs/event`);
    console.log(`sequential, 1 connection:  ${seq.perSec} events/s, ${seq.usPerEvent} µs/event, ${seq.rtPerEvent} round trips/event, ${seq.nulls} degraded`);
    console.log(`concurrency 64, 1 connection: ${par.perSec} events/s, ${par.usPerEvent} µs/event (wall / events), ${par.rtPerEvent} round trips/event, ${par.nulls} degraded`);
    // account_change: the same event plus the linked sign-in's session record (one GET more).
    const writes: Promise<void>[] = [];
    for (let u = 0; u < USERS; u++) writes.push(store.putSession(sessionId(u), JSON.stringify([1, T0, contexts[0]!.user, contexts[0]!.ip, null, 'GB', 'allow', 0, 0, 0]), 3600));
    await Promise.all(writes);
    const changes = Array.from({ length: EVENTS }, (_, i) => store.context(changeEvent(USERS * 3 + i)));
    const changeNeeds = (i: number): ReadNeeds => ({ ...NEEDS, session: sessionId(USERS * 3 + i) });
    const bestChange = async (c: EventContext[], concurrency: number) => {
      const runs = [await run(store, c, concurrency, changeNeeds), await run(store, c, concurrency, changeNeeds), await run(store, c, concurrency, changeNeeds)];
      return runs.reduce((a, b) => (b.perSec > a.perSec ? b : a));
    };
    const cseq = await bestChange(changes.slice(0, Math.min(EVENTS, 5000)), 1);
    const cpar = await bestChange(changes, 64);
    console.log(`account_change + session record, sequential:     ${cseq.perSec} events/s, ${cseq.usPerEvent} µs/event, ${cseq.rtPerEvent} round trips/event, ${cseq.nulls} degraded`);
    console.log(`account_change + session record, concurrency 64: ${cpar.perSec} events/s, ${cpar.usPerEvent} µs/event (wall / events), ${cpar.rtPerEvent} round trips/event, ${cpar.nulls} degraded`);
  } finally {
    await store.close();
    await deleteKeysUnder(admin, prefix);
    admin.disconnect();
  }
}

await main();
