// Live latency while hostile packs are uploaded (`npm run bench:uploads`): a real Vigil server
// (bin/vigil.js serve, compiled, real Redis) takes a steady open-loop stream of POST /v1/evaluate
// (bench/lib/openloop.ts: latency from each request's due time), once with no uploads and once while
// a client uploads hostile packs back to back (test/helpers/hostile-packs.ts: 10,000 rules, or 50
// distinct regex bombs, alternately; each refused). The runs alternate over BENCH_ROUNDS rounds
// (default 2) of BENCH_SECONDS each (default 10) at BENCH_RATE evaluations/s (default 200), and the
// p50/p90/p99/max of both print side by side, with the uploads answered and how (status and error
// code) and the server's CPU. The same run against a build that checks packs on the request
// thread shows what the worker threads (engine/packs/checker.ts) changed.
import { spawn, spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { manyRulesPack, regexBombPack } from '../test/helpers/hostile-packs.ts';
import { openLoop, type OpenLoopResult } from './lib/openloop.ts';
import { costText, freePort, measure, waitHttp, type RunCost } from './lib/servers.ts';

const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

const IPS = ['81.2.69.142', '89.160.20.112', '216.160.83.56', '2.125.160.216'];
let n = 0;
function body(): string {
  const i = n++;
  return JSON.stringify({
    type: i % 10 === 0 ? 'recovery' : 'login',
    user: { id: `u-${i % 20000}` },
    ip: IPS[i % IPS.length],
    device: { id: `d-${i % 30000}`, user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36' },
  });
}

interface Uploads {
  sent: number;
  /** Answers by status and error code, e.g. `422 pack_rejected`. */
  codes: Map<string, number>;
  ms: number[];
}

/** Hostile uploads one after the other until `done` is set. */
async function uploadLoop(base: string, state: { done: boolean }): Promise<Uploads> {
  const u: Uploads = { sent: 0, codes: new Map(), ms: [] };
  while (!state.done) {
    const k = u.sent++;
    const src = k % 2 === 0 ? manyRulesPack(10_000, `_${k}`) : regexBombPack(50, `b${process.pid}x${Date.now().toString(36)}x${k}`);
    const t = performance.now();
    const res = await fetch(`${base}/v1/packs/active`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain', 'x-vigil-actor': 'bench' },
      body: src,
    });
    const answer = (await res.json().catch(() => null)) as { error?: { code?: string } } | null;
    u.ms.push(performance.now() - t);
    const key = `${res.status} ${answer?.error?.code ?? ''}`.trim();
    u.codes.set(key, (u.codes.get(key) ?? 0) + 1);
    if (res.status === 503) await new Promise((r) => setTimeout(r, 100));
  }
  return u;
}

function row(label: string, c: RunCost<OpenLoopResult>): string {
  const r = c.result;
  return `${label.padEnd(34)} ${r.rate.toFixed(0).padStart(5)} req/s  p50 ${String(r.p50).padStart(6)} ms  p90 ${String(r.p90).padStart(6)} ms  p99 ${String(r.p99).padStart(7)} ms  max ${String(r.max).padStart(7)} ms  errors ${r.errors}${costText(c)}`;
}

const build = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const stats = new Redis(REDIS, { lazyConnect: true });
await stats.connect();
const vigil = spawn(process.execPath, ['bin/vigil.js', 'serve'], {
  env: {
    ...process.env,
    PORT: String(port),
    REDIS_URL: REDIS,
    VIGIL_HASH_SECRET: 'bench-secret-0123456789',
    VIGIL_ADMIN_TOKEN: ADMIN_TOKEN,
    VIGIL_LOG_LEVEL: 'warn',
    VIGIL_MAX_SKEW: '1d',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
try {
  await waitHttp(`${base}/healthz`, vigil);
  const url = `${base}/v1/evaluate`;
  // Warm up the evaluation path, and the checker (its first check starts its worker).
  await fetch(`${base}/v1/packs/validate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain' },
    body: 'pack warm version 1\nrule r { when user.mfa == false then step_up }\n',
  });
  await openLoop({ url, rate: RATE, seconds: 2, body });
  console.log(`${SECONDS} s per run, ${ROUNDS} rounds, ${RATE} evaluations/s offered (open loop); hostile uploads back to back during the "uploads" runs`);
  const sent = (r: OpenLoopResult): number => r.sent;
  const p99s: Record<'quiet' | 'uploads', number[]> = { quiet: [], uploads: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? (['quiet', 'uploads'] as const) : (['uploads', 'quiet'] as const);
    for (const which of order) {
      if (which === 'quiet') {
        const c = await measure(() => openLoop({ url, rate: RATE, seconds: SECONDS, body }), sent, { pid: vigil.pid, redis: stats });
        console.log(row(`round ${round}: no uploads`, c));
        p99s.quiet.push(c.result.p99);
      } else {
        const state = { done: false };
        const loop = uploadLoop(base, state);
        const c = await measure(() => openLoop({ url, rate: RATE, seconds: SECONDS, body }), sent, { pid: vigil.pid, redis: stats });
        state.done = true;
        const u = await loop;
        console.log(row(`round ${round}: hostile uploads`, c));
        const ms = [...u.ms].sort((a, b) => a - b);
        console.log(
          `  uploads: ${u.sent} sent (${[...u.codes].map(([k, c]) => `${c}× ${k}`).join(', ')}); answered in p50 ${(ms[ms.length >> 1] ?? 0).toFixed(0)} ms, max ${(ms[ms.length - 1] ?? 0).toFixed(0)} ms`,
        );
        p99s.uploads.push(c.result.p99);
      }
    }
  }
  const med = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2;
  };
  const q = med(p99s.quiet);
  const h = med(p99s.uploads);
  console.log(`median p99: no uploads ${q.toFixed(1)} ms, during hostile uploads ${h.toFixed(1)} ms (${(h / q).toFixed(2)}×)`);
} finally {
  vigil.kill('SIGTERM');
  stats.disconnect();
}
