// Child-process servers for the HTTP benchmarks: a free port, waiting until a server answers, and
// what a run cost: the CPU the server process used (Linux /proc) and the CPU Redis used (INFO cpu),
// so a benchmark can print both per request next to its latencies.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once `url` answers anything below 500; rejects if the child exits or 30 s pass. */
export async function waitHttp(url: string, child: ChildProcess, init?: RequestInit): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const r = await fetch(url, init);
      if (r.status < 500) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// utime + stime are counted in clock ticks of 1/100 s on every Linux this runs on (USER_HZ).
const TICK_US = 10_000;

/**
 * CPU time (user + system, µs) the process `pid` has used so far, all its threads together; undefined
 * where there is no /proc. Resolution 10 ms: over a 10 s run of 10,000 requests, 1 µs per request.
 */
export function cpuMicros(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces, hence the last ')'): utime and stime
    // are the 14th and 15th fields of the whole line.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_US;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (user + system, µs) the Redis server has used so far, as it reports it (INFO cpu): its
 * commands, scripts and networking. (INFO commandstats would count a script's commands twice, once
 * in the script's own time and once on their own lines.)
 */
export async function redisCpuMicros(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return Math.round((field('used_cpu_user') + field('used_cpu_sys')) * 1e6);
}

export interface RunCost<T> {
  readonly result: T;
  /** Server process CPU per request (µs), where /proc exists. */
  readonly serverUs?: number;
  /** Redis CPU per request (µs), when a client was given. */
  readonly redisUs?: number;
}

/** Runs `fn` and reports what it cost per `count(result)` requests: server CPU and Redis CPU. */
export async function measure<T>(
  fn: () => Promise<T>,
  count: (r: T) => number,
  on: { readonly pid?: number | undefined; readonly redis?: Redis },
): Promise<RunCost<T>> {
  const cpu0 = cpuMicros(on.pid);
  const redis0 = on.redis ? await redisCpuMicros(on.redis) : undefined;
  const result = await fn();
  const cpu1 = cpuMicros(on.pid);
  const redis1 = on.redis ? await redisCpuMicros(on.redis) : undefined;
  const n = count(result);
  if (n <= 0) return { result };
  return {
    result,
    ...(cpu0 !== undefined && cpu1 !== undefined ? { serverUs: (cpu1 - cpu0) / n } : {}),
    ...(redis0 !== undefined && redis1 !== undefined ? { redisUs: (redis1 - redis0) / n } : {}),
  };
}

/** "  server CPU 740 µs/req  Redis CPU 208 µs/req", the parts that were measured. */
export function costText(c: RunCost<unknown>): string {
  return (
    (c.serverUs === undefined ? '' : `  server CPU ${c.serverUs.toFixed(0)} µs/req`) +
    (c.redisUs === undefined ? '' : `  Redis CPU ${c.redisUs.toFixed(0)} µs/req`)
  );
}
