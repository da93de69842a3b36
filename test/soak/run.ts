// `npm run soak`: steady load on a real server process for a long while, its memory watched.
// Starts its own redis-server (free port) and `node bin/vigil.js serve` (one process, decision log
// off, so the server's own memory is what is measured), offers a steady open loop of /v1/evaluate
// with outcomes for half the decisions, over a bounded population of users (a steady state exists),
// and reads process_resident_memory_bytes and nodejs_heap_size_used_bytes from /metrics six times a
// window. Prints one row per window (heap floor and peak, RSS, answers, p99) and fails (exit 1) when,
// after the warm-up, the heap floor or RSS grows faster than its limit (test/soak/growth.ts), or
// when any answer was a 5xx or missing.
// SOAK_SECONDS (600), SOAK_SAMPLE_SECONDS (window, 30), SOAK_WARMUP_SECONDS (120, at most a third of
// the run), SOAK_RATE (evaluations/s, 150), SOAK_MAX_HEAP_SLOPE (MiB/min, 1), SOAK_MAX_RSS_SLOPE
// (MiB/min, 4). A one-minute check: SOAK_SECONDS=60 SOAK_SAMPLE_SECONDS=5.
import { mkdtempSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envNumber as num, fmtMap, quantile, startLoad } from '../helpers/load.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { metricValue, REPO_ROOT, sleep, startServe, type ServeProcess } from '../helpers/serve.ts';
import { judge, windows, type Sample } from './growth.ts';


const seconds = num('SOAK_SECONDS', 600, 10);
const windowS = num('SOAK_SAMPLE_SECONDS', 30, 1);
const warmup = Math.min(num('SOAK_WARMUP_SECONDS', 120, 0), seconds / 3);
const rate = num('SOAK_RATE', 150, 1);
const maxHeap = num('SOAK_MAX_HEAP_SLOPE', 1, 0);
const maxRss = num('SOAK_MAX_RSS_SLOPE', 4, 0);
const API_TOKEN = 'soak-api-token-0123456789abcdef';
const MiB = 1024 * 1024;
const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

const tmp = mkdtempSync(join(tmpdir(), 'vigil-soak-'));
let redis: RedisServer | undefined;
let server: ServeProcess | undefined;
let failed = false;
try {
  redis = await startRedisServer();
  cpSync(join(REPO_ROOT, 'rules/login_core'), join(tmp, 'rules'), { recursive: true });
  server = await startServe({
    REDIS_URL: redis.url,
    VIGIL_DECISION_LOG: 'off',
    VIGIL_API_TOKEN: API_TOKEN,
    VIGIL_HASH_SECRET: 'soak-hash-secret-0123456789abcdef',
    VIGIL_RULES: join(tmp, 'rules'),
    VIGIL_LOG_LEVEL: 'warn',
  });
  const srv = server;
  out(`soak: ${seconds} s at ${rate} evaluations/s, a window every ${windowS} s, warm-up ${warmup} s; limits: heap floor ${maxHeap} MiB/min, RSS ${maxRss} MiB/min`);
  out('   t (s) | heap floor MiB | heap peak MiB | RSS MiB | answers | p99 ms');
  const load = startLoad({ url: srv.url, apiToken: API_TOKEN, rate, users: 5000, outcomeShare: 0.5 });
  const samples: Sample[] = [];
  const every = (windowS * 1000) / 6;
  let printed = 0;
  let lastAnswered = 0;
  let lastLat = 0;
  while (load.elapsed() < seconds * 1000) {
    await sleep(Math.max(0, every - (load.elapsed() % every)));
    try {
      const r = await fetch(`${srv.url}/metrics`, { signal: AbortSignal.timeout(5000) });
      const text = await r.text();
      const t = load.elapsed() / 1000;
      samples.push({ t, heap: metricValue(text, 'nodejs_heap_size_used_bytes'), rss: metricValue(text, 'process_resident_memory_bytes') });
    } catch (err) {
      out(`  /metrics did not answer: ${(err as Error).message}`);
    }
    const ws = windows(samples, windowS);
    for (; printed < ws.length; printed++) {
      const w = ws[printed]!;
      const lat = load.stats.latencies.slice(lastLat);
      lastLat = load.stats.latencies.length;
      const answered = load.stats.answered - lastAnswered;
      lastAnswered = load.stats.answered;
      out(
        `${w.t.toFixed(0).padStart(8)} | ${(w.heapFloor / MiB).toFixed(1).padStart(14)} | ${(w.heapMax / MiB).toFixed(1).padStart(13)} | ${(w.rss / MiB)
          .toFixed(1)
          .padStart(7)} | ${String(answered).padStart(7)} | ${quantile(lat, 0.99).toFixed(1).padStart(6)}${w.t <= warmup ? '  (warm-up)' : ''}`,
      );
    }
  }
  await load.stop();
  const s = load.stats;
  const v = judge(windows(samples, windowS), warmup, maxHeap, maxRss);
  out(`after the warm-up (${v.windows} windows): heap floor ${v.heapSlope >= 0 ? '+' : ''}${v.heapSlope.toFixed(2)} MiB/min, RSS ${v.rssSlope >= 0 ? '+' : ''}${v.rssSlope.toFixed(2)} MiB/min`);
  out(`evaluate: sent ${s.sent}, answered ${s.answered} (${fmtMap(s.evaluateByStatus)}), p99 ${quantile(s.latencies, 0.99).toFixed(1)} ms, degraded ${s.degraded}; outcomes ${fmtMap(s.outcomeByStatus)}`);
  const reasons = [...v.reasons];
  const bad = s.failures.filter((f) => !/^4\d\d$/.test(f.kind));
  if (bad.length > 0) reasons.push(`${bad.length} answers were 5xx or missing (${[...new Set(bad.map((f) => `${f.route} ${f.kind}`))].join(', ')})`);
  if (!srv.alive()) reasons.push('the server exited');
  out(reasons.length === 0 ? 'PASS' : `FAIL:\n${reasons.map((r) => `  - ${r}`).join('\n')}`);
  failed = reasons.length > 0;
} finally {
  await server?.stop();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
