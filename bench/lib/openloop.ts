// An open-loop load generator for the HTTP benchmark's steady-rate run: requests are sent on a fixed
// schedule (request i is due at start + i / rate) whether or not earlier ones have answered, and each
// latency is measured from the request's due time, so a stalled server is charged for the requests
// it kept waiting (no coordinated omission). autocannon's `overallRate` is not this: each connection
// sends its per-second quota back to back at the start of every second and then idles, which offers
// bursts of 50 concurrent requests and measures their queueing.
import { Agent, request } from 'node:http';

export interface OpenLoopOptions {
  readonly url: string;
  /** Requests per second offered. */
  readonly rate: number;
  readonly seconds: number;
  /** Most sockets kept open (requests beyond wait for one; their wait counts in their latency). */
  readonly maxSockets?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: () => string;
}

export interface OpenLoopResult {
  readonly sent: number;
  readonly ok: number;
  readonly errors: number;
  /** Achieved rate (answers per second of the run). */
  readonly rate: number;
  /** Latency percentiles (ms), from due time to the end of the answer. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const url = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 256 });
  const total = Math.floor(o.rate * o.seconds);
  const latencies = new Float64Array(total);
  let sent = 0;
  let done = 0;
  let ok = 0;
  let errors = 0;
  const intervalNs = 1e9 / o.rate;
  const start = process.hrtime.bigint();

  const finished = new Promise<void>((resolve) => {
    const complete = (i: number, due: bigint, good: boolean): void => {
      latencies[i] = Number(process.hrtime.bigint() - due) / 1e6;
      if (good) ok++;
      else errors++;
      if (++done === total) resolve();
    };
    const fire = (i: number, due: bigint): void => {
      const payload = o.body();
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...o.headers },
        },
        (res) => {
          res.resume();
          res.on('end', () => complete(i, due, res.statusCode !== undefined && res.statusCode < 300));
          res.on('error', () => complete(i, due, false));
        },
      );
      req.on('error', () => complete(i, due, false));
      req.end(payload);
    };
    const tick = (): void => {
      const elapsed = Number(process.hrtime.bigint() - start);
      const dueNow = Math.min(total, Math.floor(elapsed / intervalNs) + 1);
      while (sent < dueNow) {
        const i = sent++;
        fire(i, start + BigInt(Math.round(i * intervalNs)));
      }
      if (sent < total) setTimeout(tick, Math.max(0, Math.floor((sent * intervalNs - elapsed) / 1e6)));
    };
    tick();
  });
  await finished;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  const sorted = latencies.slice().sort();
  const q = (p: number): number => Math.round((sorted[Math.min(total - 1, Math.floor(p * total))] ?? 0) * 100) / 100;
  return { sent, ok, errors, rate: ok / seconds, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: q(1) };
}
