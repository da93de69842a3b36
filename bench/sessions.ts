// What an account change costs when its sign-in's session record is in Redis (within
// VIGIL_SESSION_WINDOW) against when the engine reads the sign-in from the decision log instead (past
// the window): the same engine, the default pack, real Redis and PostgreSQL. Sign-ins are made with a
// 6 s session window, the changes naming half of them are evaluated at once (records in Redis) and
// the other half after the window (rows read from the log's day partition); the two sets alternate
// in rounds so machine noise falls on both. Prints p50/p99 per case and their ratio.
//
// Usage: `npm run bench:sessions [-- postgres://…]` (default postgres://postgres@127.0.0.1:5432/test;
// REDIS_URL, default redis://127.0.0.1:6379). USERS (2000) sign-ins per case.
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';
import { loadPackDir, compilePack } from '../dsl/index.ts';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import { createGeoIp } from '../features/geoip.ts';
import { createStore } from '../features/store/index.ts';
import { createDecisionLog } from '../decisionlog/index.ts';
import { createEngine, type Engine } from '../engine/index.ts';
import { deleteKeysUnder } from './lib/keys.ts';

const url = process.argv[2] ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const USERS = Number(process.env.USERS ?? 2000);
const ROUNDS = 4;
/** Session window here: long enough for a round's sign-ins and changes, short enough to outwait. */
const WINDOW_S = 6;
const GEO = fileURLToPath(new URL('../../shared/data/geoip/', import.meta.url));
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const tag = `${process.pid}_${Date.now().toString(36)}`;
const schema = `bench_sessions_${tag}`;
const prefix = `bench-sessions-${tag}:`;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function signIns(engine: Engine, n: number, base: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await engine.evaluate({ type: 'login', userId: `u-${base + i}`, ip: '81.2.69.142', deviceId: `d-${base + i}`, userAgent: UA, time: Date.now() });
    await engine.outcome(r.decision_id, 'succeeded');
    ids.push(r.decision_id);
  }
  return ids;
}

async function changes(engine: Engine, ids: readonly string[], base: number): Promise<{ ms: number[]; linked: number }> {
  const ms: number[] = [];
  let linked = 0;
  for (let i = 0; i < ids.length; i++) {
    const t0 = performance.now();
    const r = await engine.evaluate(
      { type: 'account_change', change: 'email', loginDecisionId: ids[i]!, userId: `u-${base + i}`, ip: '81.2.69.142', deviceId: `d-${base + i}`, userAgent: UA, time: Date.now() },
      { explain: true },
    );
    ms.push(performance.now() - t0);
    if (r.features?.['session.login_decision'] !== null && r.features?.['session.login_decision'] !== undefined) linked++;
  }
  return { ms, linked };
}

const opened = compilePack(await loadPackDir(fileURLToPath(new URL('../rules/login_core/', import.meta.url))), { scheme: VIGIL_SCHEME });
if (!opened.pack) throw new Error('the default pack does not compile');
const pack = opened.pack;
const geoip = await createGeoIp({ cityPath: GEO + 'GeoIP2-City-Test.mmdb', asnPath: GEO + 'GeoLite2-ASN-Test.mmdb', watch: false });
const store = await createStore({ redisUrl, hashSecret: 'bench-sessions', prefix });
const log = await createDecisionLog({ url, schema, requireDb: true, flushMs: 5 });
let logReads = 0;
const logGet = log.get.bind(log);
log.get = (id: string) => {
  logReads++;
  return logGet(id);
};
const engine = createEngine({ store, geoip, packs: () => ({ pack }), signalTimeoutMs: 1000, sessionWindowSeconds: WINDOW_S, log });

const within: number[] = [];
const past: number[] = [];
const counts = { within: { linked: 0, logReads: 0 }, past: { linked: 0, logReads: 0 } };
try {
  const per = Math.ceil(USERS / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    const a = round * 2 * per;
    const b = a + per;
    const idsPast = await signIns(engine, per, b);
    await log.flush();
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000 + 500));
    const idsWithin = await signIns(engine, per, a);
    // Within first, past second in even rounds; the other way round in odd ones.
    const order = round % 2 === 0 ? (['within', 'past'] as const) : (['past', 'within'] as const);
    for (const which of order) {
      const reads0 = logReads;
      const r = which === 'within' ? await changes(engine, idsWithin, a) : await changes(engine, idsPast, b);
      (which === 'within' ? within : past).push(...r.ms);
      const c = which === 'within' ? counts.within : counts.past;
      c.linked += r.linked;
      c.logReads += logReads - reads0;
    }
  }
  const row = (name: string, xs: number[], c: { linked: number; logReads: number }): string =>
    `${name.padEnd(34)} n ${String(xs.length).padStart(5)}  linked ${String(c.linked).padStart(5)}  log reads ${String(c.logReads).padStart(5)}  p50 ${quantile(xs, 0.5).toFixed(3)} ms  p99 ${quantile(xs, 0.99).toFixed(3)} ms`;
  console.log(row('session record in Redis', within, counts.within));
  console.log(row('past the window: decision log', past, counts.past));
  console.log(`ratio past/within: p50 ${(quantile(past, 0.5) / quantile(within, 0.5)).toFixed(2)}x, p99 ${(quantile(past, 0.99) / quantile(within, 0.99)).toFixed(2)}x`);
} finally {
  await engine.close();
  await log.close();
  geoip.close();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
  const r = new Redis(redisUrl);
  await deleteKeysUnder(r, prefix);
  r.disconnect();
}
