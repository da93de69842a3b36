// The machine's tail-latency curve (`npm run bench:tail`): how the p99 at a steady offered rate grows
// with the CPU a request costs, on this machine, with the load generator beside the server.
// A plain node:http server parses the JSON body, runs one Redis command (ioredis) and then burns
// BURN µs of CPU before answering; the open-loop generator of bench:http offers it BENCH_RATE
// (default 1,000) requests/s for BENCH_SECONDS at each BURN of BENCH_BURNS. With
// BENCH_REDIS_LOOP=N the Redis command is a Lua loop of N steps instead of an INCR, which loads
// Redis as a heavier request would (the table prints the Redis CPU per request it gave). Compare
// Vigil's "server CPU" and "Redis" per request from `npm run bench:http` with this table: it shows
// the p99 that any service of that cost gets on this machine.
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { openLoop } from './lib/openloop.ts';
import { costText, freePort, measure, waitHttp } from './lib/servers.ts';

const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const REDIS_LOOP = Math.max(0, Number(process.env.BENCH_REDIS_LOOP ?? 0));
const BURNS = (process.env.BENCH_BURNS ?? '0,200,300,400,500,600')
  .split(',')
  .map(Number)
  .filter((n) => Number.isFinite(n) && n >= 0);

// The burn is a busy loop on the clock, so it costs the same CPU whatever the JIT does with it.
const SERVER = `
import http from 'node:http';
import { Redis } from 'ioredis';
const redis = new Redis(process.env.REDIS_URL);
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const loop = Number(process.env.REDIS_LOOP);
    if (loop > 0) await redis.eval('local x = 0 for i = 1, tonumber(ARGV[1]) do x = x + i end return x', 0, loop);
    else await redis.incr('bench:tail:' + body.user.id);
    const burn = BigInt(Number(new URL(req.url, 'http://x').searchParams.get('burn') ?? 0) * 1000);
    const t0 = process.hrtime.bigint();
    while (process.hrtime.bigint() - t0 < burn);
    res.setHeader('content-type', 'application/json');
    res.end('{"decision":"allow","score":0}');
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

let n = 0;
const body = (): string => JSON.stringify({ type: 'login', user: { id: `u-${n++ % 20000}` }, ip: '81.2.69.142' });

const port = await freePort();
const server = spawn(process.execPath, ['--input-type=module', '-e', SERVER], {
  env: { ...process.env, PORT: String(port), REDIS_URL: REDIS, REDIS_LOOP: String(REDIS_LOOP) },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const stats = new Redis(REDIS, { lazyConnect: true });
try {
  await stats.connect();
  const base = `http://127.0.0.1:${port}/`;
  await waitHttp(base, server, { method: 'POST', body: body() });
  await openLoop({ url: `${base}?burn=0`, rate: RATE, seconds: 2, body });
  console.log(
    `${SECONDS} s per run at a steady ${RATE} req/s (open loop), generator, server and Redis on the same machine` +
      (REDIS_LOOP > 0 ? `; Redis runs a ${REDIS_LOOP}-step Lua loop per request` : ''),
  );
  for (const burn of BURNS) {
    const c = await measure(() => openLoop({ url: `${base}?burn=${burn}`, rate: RATE, seconds: SECONDS, body }), (x) => x.sent, {
      pid: server.pid,
      redis: stats,
    });
    const r = c.result;
    console.log(
      `burn ${String(burn).padStart(4)} µs${costText(c)}  p50 ${r.p50} ms  p90 ${r.p90} ms  p99 ${r.p99} ms  p99.9 ${r.p999} ms  errors ${r.errors}`,
    );
  }
} finally {
  server.kill('SIGTERM');
  stats.disconnect();
}
