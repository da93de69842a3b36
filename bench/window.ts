// Benchmark of the outcome window's Redis memory (`npm run bench:window`): what one decision costs
// the store after the decision log took over its history — the compact window record
// (engine/window.ts) — as MEMORY USAGE of sampled records and as used_memory growth after
// BENCH_DECISIONS (default 1,000,000) decisions that never get an outcome (a credential-stuffing run),
// on a throwaway redis-server (so used_memory counts nothing else), with the window's expiry set.
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { createStore } from '../features/store/index.ts';
import { rbaFields } from '../features/rba.ts';
import { createIdFactory } from '../engine/ids.ts';
import { encodeWindow } from '../engine/window.ts';
import { freePort } from './lib/servers.ts';

const N = Number(process.env.BENCH_DECISIONS ?? 1_000_000);
const WINDOW_S = 3600;
const port = await freePort();
const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const url = `redis://127.0.0.1:${port}`;
const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
probe.on('error', () => undefined);
for (let i = 0; ; i++) {
  try {
    await probe.connect();
    break;
  } catch {
    if (i > 50) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}
const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await probe.info('memory'))![1]);

try {
  const store = await createStore({ redisUrl: url, hashSecret: 'bench-window' });
  const ids = createIdFactory();
  const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
  const before = await usedMemory();
  const t0 = performance.now();
  const sample: string[] = [];
  const CHUNK = 5000;
  for (let i = 0; i < N; i += CHUNK) {
    const writes: Promise<void>[] = [];
    for (let j = i; j < Math.min(N, i + CHUNK); j++) {
      // A stuffing run: every attempt a different user, addresses from a botnet, one user agent.
      const ip = `198.51.${(j >> 8) & 255}.${j & 255}`;
      const time = Date.now();
      const ctx = store.context({
        type: 'login',
        userId: `victim-${j}@example.com`,
        ip,
        time,
        deviceId: `bot-${j % 977}`,
        country: 'US',
        asn: 64_500 + (j % 50),
        lat: 37.751,
        lon: -97.822,
        browser: 'Chrome',
        os: 'Windows',
        rbaFields: rbaFields({ ip, asn: 64_500 + (j % 50), country: 'US', ua: UA, browser: 'Chrome', os: 'Windows', deviceType: 'desktop' }),
      });
      const id = ids(time);
      if (j % Math.max(1, Math.floor(N / 1000)) === 0) sample.push(id);
      writes.push(store.putDecision(id, encodeWindow(ctx), WINDOW_S));
    }
    await Promise.all(writes);
  }
  const secs = (performance.now() - t0) / 1000;
  const after = await usedMemory();
  const usage: number[] = [];
  for (const id of sample) usage.push(Number(await probe.call('MEMORY', 'USAGE', `vigil:dec:{${id}}`)));
  usage.sort((a, b) => a - b);
  const median = usage[usage.length >> 1] ?? NaN;
  const ttl = await probe.pttl(`vigil:dec:{${sample[0]}}`);
  console.log(`outcome window: ${N.toLocaleString('en')} decisions without an outcome written in ${secs.toFixed(1)} s`);
  console.log(`  MEMORY USAGE per record: median ${median} B (min ${usage[0]}, max ${usage[usage.length - 1]}; ${usage.length} sampled)`);
  console.log(`  used_memory: +${((after - before) / 1024 / 1024).toFixed(1)} MiB, ${((after - before) / N).toFixed(0)} B per decision`);
  console.log(`  expiry of a record: ${(ttl / 1000).toFixed(0)} s (VIGIL_OUTCOME_WINDOW)`);
  await store.close();
} finally {
  probe.disconnect();
  server.kill('SIGKILL');
}
