// `npm run test:chaos`: Vigil under steady load while everything around it misbehaves. It starts its
// own redis-server (append-only, fsync always, on a free port; never the shared one) and the real
// server (`node bin/vigil.js serve`, VIGIL_WORKERS=2, decision log off), offers a steady open loop of
// /v1/evaluate with outcomes for part of the decisions, and meanwhile: kills Redis and restarts it,
// slows it (DEBUG SLEEP), pauses it (SIGSTOP/SIGCONT), hot-swaps the pack every second through
// PUT /v1/packs/active, replaces the model file by an atomic rename, and SIGKILLs a worker. Then it
// reads every acknowledged outcome back from Redis itself (the window record `vigil:dec:{id}`, not
// through the API). It prints what was sent and answered, errors by route and kind, p99, the degraded
// share, and fails (exit 1) on a 500, any 5xx from /v1/evaluate, a 5xx outside a fault's window, a
// transport error outside a killed worker's window, a server crash, a worker not replaced, workers
// disagreeing on the pack at the end, or a lost acknowledged outcome.
// CHAOS_SECONDS (default 75), CHAOS_RATE (evaluations/s, default 150), CHAOS_WORKERS (default 2).
// test/chaos/chaos.test.ts runs a short form of the same scenario in `npm test`.
import { copyFileSync, cpSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { decodeWindow } from '../../engine/window.ts';
import { envNumber, fmtMap, quantile, startLoad, type Failure, type LoadStats } from '../helpers/load.ts';
import {
  packFilesOf,
  packVersion,
  REPO_ROOT,
  sleep,
  startDurableRedis,
  startServe,
  waitFor,
  type DurableRedis,
  type ServeProcess,
} from '../helpers/serve.ts';

const API_TOKEN = 'chaos-api-token-0123456789abcdef';
const ADMIN_TOKEN = 'chaos-admin-token-0123456789abcdef';
/** After a fault ends, answers it caused may still arrive (queued requests, reconnects). */
const GRACE_MS = 3000;

export interface ChaosOptions {
  readonly seconds: number;
  readonly rate: number;
  readonly workers: number;
  /** Which faults to apply (default: all of FAULTS); none gives the same load's baseline. */
  readonly faults?: ReadonlySet<Fault>;
  /** Progress lines (default: stderr). */
  readonly progress?: (line: string) => void;
}

export const FAULTS = ['redis-kill', 'redis-sleep', 'redis-stop', 'swap', 'model', 'worker'] as const;
export type Fault = (typeof FAULTS)[number];

export interface FaultWindow {
  readonly name: string;
  readonly from: number;
  to: number;
}

export interface ChaosReport {
  readonly seconds: number;
  readonly rate: number;
  readonly stats: LoadStats;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly faults: readonly FaultWindow[];
  readonly swaps: Map<number | string, number>;
  readonly lost: number;
  readonly checked: number;
  readonly workerPidsBefore: readonly number[];
  readonly workerPidsAfter: readonly number[];
  readonly unhandledRedisErrors: number;
  readonly serverErrorLines: number;
  /** Every reason the run failed; empty: it passed. */
  readonly problems: string[];
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const say = o.progress ?? ((l: string) => process.stderr.write(`chaos: ${l}\n`));
  const D = o.seconds * 1000;
  const tmp = mkdtempSync(join(tmpdir(), 'vigil-chaos-'));
  const rules = join(tmp, 'rules');
  cpSync(join(REPO_ROOT, 'rules/login_core'), rules, { recursive: true });
  const model = join(tmp, 'model.onnx');
  copyFileSync(join(REPO_ROOT, 'models/iforest-default.onnx'), model);
  const baseFiles = packFilesOf(rules);
  const problems: string[] = [];
  const on = (f: Fault): boolean => o.faults === undefined || o.faults.has(f);
  let redis: DurableRedis | undefined;
  let server: ServeProcess | undefined;
  try {
    redis = await startDurableRedis();
    say(`redis-server on port ${redis.port} (appendfsync always)`);
    server = await startServe({
      REDIS_URL: redis.url,
      VIGIL_WORKERS: String(o.workers),
      VIGIL_DECISION_LOG: 'off',
      VIGIL_API_TOKEN: API_TOKEN,
      VIGIL_ADMIN_TOKEN: ADMIN_TOKEN,
      VIGIL_HASH_SECRET: 'chaos-hash-secret-0123456789abcdef',
      VIGIL_RULES: rules,
      VIGIL_MODEL: model,
      VIGIL_LOG_LEVEL: 'warn',
    });
    const srv = server;
    const red = redis;
    const workerPidsBefore = srv.workerPids();
    say(`vigil on port ${srv.port}, workers ${workerPidsBefore.join(', ') || '(single process)'}`);
    // Count from the start: a later count() only sees the kept tail.
    srv.count(/Unhandled error event/);
    srv.count(/"level":(50|60)/);

    const load = startLoad({ url: srv.url, apiToken: API_TOKEN, rate: o.rate, outcomeShare: 0.5 });
    const faults: FaultWindow[] = [];
    const swaps = new Map<number | string, number>();
    const swapFailures: { at: number; end: number; kind: string }[] = [];
    let lastSwapHash: string | null = null;
    let running = true;

    // The pack hot-swap: a new version of the same rules every second, one request at a time.
    const swapLoop = (async () => {
      let version = 100;
      await sleep(Math.max(2000, 0.07 * D));
      while (on('swap') && running && load.elapsed() < D - 2000) {
        const started = Date.now();
        const at = load.elapsed();
        let kind: number | string;
        try {
          const res = await fetch(`${srv.url}/v1/packs/active`, {
            method: 'PUT',
            headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', 'x-vigil-actor': 'chaos' },
            body: JSON.stringify({ files: packVersion(baseFiles, version++) }),
            signal: AbortSignal.timeout(15_000),
          });
          kind = res.status;
          const body = (await res.json().catch(() => null)) as { active?: { hash?: unknown } } | null;
          const hash = body?.active?.hash;
          if (res.status === 200 && typeof hash === 'string') lastSwapHash = hash;
        } catch (err) {
          kind = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
        }
        swaps.set(kind, (swaps.get(kind) ?? 0) + 1);
        if (kind !== 200) swapFailures.push({ at, end: load.elapsed(), kind: String(kind) });
        await sleep(Math.max(0, 1000 - (Date.now() - started)));
      }
    })();

    const at = (frac: number): number => frac * D;
    const untilElapsed = async (ms: number): Promise<void> => {
      while (load.elapsed() < ms) await sleep(Math.min(200, Math.max(1, ms - load.elapsed())));
    };
    const windowOf = (name: string): FaultWindow => {
      const w = { name, from: load.elapsed(), to: Number.POSITIVE_INFINITY };
      faults.push(w);
      say(`${(w.from / 1000).toFixed(1)} s: ${name}`);
      return w;
    };

    // Redis killed (a crash) and restarted on the same port.
    await untilElapsed(at(0.12));
    let w: FaultWindow;
    if (on('redis-kill')) {
      w = windowOf('redis SIGKILL');
      await red.kill();
      await sleep(Math.max(1500, 0.05 * D));
      await red.restart();
      w.to = load.elapsed();
      say(`${(w.to / 1000).toFixed(1)} s: redis restarted`);
    }

    // Redis slowed: one command holds it for a while.
    await untilElapsed(at(0.3));
    if (on('redis-sleep')) {
      w = windowOf('redis DEBUG SLEEP');
      const dbg = new Redis(red.port, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true });
      dbg.on('error', () => undefined);
      await dbg.connect();
      await dbg.call('DEBUG', 'SLEEP', String(Math.min(2, Math.max(0.5, 0.025 * o.seconds))));
      dbg.disconnect();
      w.to = load.elapsed();
    }

    // Redis paused: connections stay open, nothing answers.
    await untilElapsed(at(0.42));
    if (on('redis-stop')) {
      w = windowOf('redis SIGSTOP');
      red.child().kill('SIGSTOP');
      await sleep(Math.max(1500, 0.04 * D));
      red.child().kill('SIGCONT');
      w.to = load.elapsed();
      say(`${(w.to / 1000).toFixed(1)} s: redis SIGCONT`);
    }

    // The model file replaced the way a deploy does: a new file renamed over the old one.
    await untilElapsed(at(0.52));
    if (on('model')) {
      w = windowOf('model file replaced (rename)');
      copyFileSync(join(REPO_ROOT, 'models/iforest-default.onnx'), `${model}.next`);
      renameSync(`${model}.next`, model);
      w.to = load.elapsed();
    }

    // A worker killed outright; the primary must replace it.
    await untilElapsed(at(0.62));
    const victim = on('worker') ? srv.workerPids()[0] : undefined;
    if (victim !== undefined) {
      w = windowOf(`worker ${victim} SIGKILL`);
      process.kill(victim, 'SIGKILL');
      w.to = load.elapsed();
    } else if (on('worker')) {
      say('no worker to kill (VIGIL_WORKERS=1)');
    }

    await untilElapsed(D);
    running = false;
    await load.stop();
    await swapLoop;
    const s = load.stats;
    say(`load stopped after ${(load.elapsed() / 1000).toFixed(1)} s; settling`);

    // --- afterwards: the server is whole again -----------------------------------------------------
    if (!srv.alive()) problems.push(`the server exited during the run:\n${srv.output().slice(-4000)}`);
    const ready = await waitFor(async () => {
      try {
        const r = await fetch(`${srv.url}/readyz`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        return r.status === 200;
      } catch {
        return false;
      }
    }, 20_000);
    if (!ready) problems.push('/readyz did not answer 200 within 20 s after the run');
    if (o.workers > 1) {
      const whole = await waitFor(() => srv.workerPids().length === o.workers, 20_000);
      if (!whole) problems.push(`${srv.workerPids().length} workers after the run, ${o.workers} configured`);
      if (victim !== undefined && srv.workerPids().includes(victim)) problems.push(`worker ${victim} survived SIGKILL`);
    }
    // Every worker follows the last activation (pub/sub within a second, a full re-read every 15 s).
    if (lastSwapHash !== null) {
      const want = lastSwapHash;
      const agree = await waitFor(async () => {
        const hashes = new Set<string>();
        for (let i = 0; i < 4 * o.workers; i++) {
          try {
            const r = await fetch(`${srv.url}/readyz`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(2000) });
            const b = (await r.json()) as { pack?: { hash?: string } };
            hashes.add(b.pack?.hash ?? 'none');
          } catch {
            hashes.add('error');
          }
        }
        return hashes.size === 1 && hashes.has(want);
      }, 20_000);
      if (!agree) problems.push(`workers do not all serve the last activated pack ${want} 20 s after the run`);
    }

    // --- every acknowledged outcome is in Redis -----------------------------------------------------
    const check = new Redis(red.port, '127.0.0.1', { maxRetriesPerRequest: 3 });
    check.on('error', () => undefined);
    let lost = 0;
    const lostSamples: string[] = [];
    try {
      for (let i = 0; i < s.acked.length; i += 500) {
        const part = s.acked.slice(i, i + 500);
        const vals = await check.mget(...part.map((a) => `vigil:dec:{${a.id}}`));
        part.forEach((a, j) => {
          const raw = vals[j];
          const rec = typeof raw === 'string' ? decodeWindow(raw) : null;
          if (rec?.outcome !== a.outcome) {
            lost++;
            if (lostSamples.length < 5) lostSamples.push(`${a.id} (${a.outcome}, acknowledged at ${(a.at / 1000).toFixed(1)} s; stored: ${raw === null ? 'no record' : rec === null ? 'unreadable' : String(rec.outcome)})`);
          }
        });
      }
    } finally {
      check.disconnect();
    }
    if (lost > 0) problems.push(`${lost} of ${s.acked.length} acknowledged outcomes are not in Redis, e.g. ${lostSamples.join('; ')}`);

    // --- what the answers say --------------------------------------------------------------------
    // A request is in a fault's window when its life [at, end] overlaps the fault (plus the grace).
    const inWindow = (f: { at: number; end?: number }, names?: RegExp): boolean =>
      faults.some((x) => (names === undefined || names.test(x.name)) && (f.end ?? f.at) >= x.from && f.at <= x.to + GRACE_MS);
    const unexpected = (f: Failure): boolean => {
      const status = Number(f.kind);
      if (f.kind === '500') return true;
      if (Number.isInteger(status)) {
        if (f.route === 'evaluate') return status >= 500;
        // A 503 outcome while Redis is away is documented (the window record cannot be read).
        if (status === 503) return !inWindow({ at: f.start, end: f.at }, /redis/);
        return status >= 500;
      }
      // Transport errors: only the killed worker's connections may drop.
      return !inWindow({ at: f.start, end: f.at }, /worker/);
    };
    const bad = s.failures.filter(unexpected);
    if (bad.length > 0) {
      const byKind = new Map<string, number>();
      for (const f of bad) byKind.set(`${f.route} ${f.kind}${f.code ? ` ${f.code}` : ''}`, (byKind.get(`${f.route} ${f.kind}${f.code ? ` ${f.code}` : ''}`) ?? 0) + 1);
      problems.push(
        `${bad.length} unexpected errors (${fmtMap(byKind)}), first at ${bad
          .slice(0, 5)
          .map((f) => `${(f.at / 1000).toFixed(1)} s`)
          .join(', ')}`,
      );
    }
    const badSwaps = swapFailures.filter((f) => {
      const status = Number(f.kind);
      if (status === 500 || status === 422) return true;
      if (status >= 500 || !Number.isInteger(status)) return !inWindow({ at: f.at, end: f.end });
      return status >= 400;
    });
    if (badSwaps.length > 0) {
      problems.push(`${badSwaps.length} pack swaps failed outside a fault: ${badSwaps.slice(0, 5).map((f) => `${f.kind} at ${(f.at / 1000).toFixed(1)} s`).join(', ')}`);
    }
    const lat = s.latencies;
    return {
      seconds: o.seconds,
      rate: o.rate,
      stats: s,
      p50: quantile(lat, 0.5),
      p99: quantile(lat, 0.99),
      max: quantile(lat, 1),
      faults,
      swaps,
      lost,
      checked: s.acked.length,
      workerPidsBefore,
      workerPidsAfter: srv.workerPids(),
      unhandledRedisErrors: srv.count(/Unhandled error event/),
      serverErrorLines: srv.count(/"level":(50|60)/),
      problems,
    };
  } finally {
    const code = await server?.stop();
    if (code !== undefined && code !== 0 && code !== null) problems.push(`the server exited with ${code} on SIGTERM`);
    await redis?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function formatReport(r: ChaosReport): string {
  const s = r.stats;
  const byKind = (route: string): string => {
    const m = new Map<string, number>();
    for (const f of s.failures) if (f.route === route) m.set(f.kind + (f.code ? ` ${f.code}` : ''), (m.get(f.kind + (f.code ? ` ${f.code}` : '')) ?? 0) + 1);
    return fmtMap(m);
  };
  const pct = (n: number, d: number): string => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)} %`);
  const ok200 = s.evaluateByStatus.get(200) ?? 0;
  return [
    `chaos: ${r.seconds} s at ${r.rate} evaluations/s`,
    `faults: ${r.faults.map((f) => `${f.name} ${(f.from / 1000).toFixed(1)}–${(f.to / 1000).toFixed(1)} s`).join('; ')}`,
    `evaluate: sent ${s.sent}, answered ${s.answered} (${fmtMap(s.evaluateByStatus)}); errors: ${byKind('evaluate')}`,
    `latency (from due time): p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(0)} ms`,
    `degraded: ${s.degraded} of ${ok200} answers (${pct(s.degraded, ok200)})`,
    `outcome: sent ${s.outcomesSent} (${fmtMap(s.outcomeByStatus)}); errors: ${byKind('outcome')}; 404 for a non-degraded decision: ${s.foundOnRetry} found on a retry 1 s later, ${s.notFoundAfterCleanDecision} still not`,
    `acknowledged outcomes: ${r.checked}, found in Redis ${r.checked - r.lost}, lost ${r.lost}`,
    `pack swaps: ${fmtMap(r.swaps)}`,
    `workers: ${r.workerPidsBefore.join(',') || '-'} → ${r.workerPidsAfter.join(',') || '-'}`,
    `server log: ${r.serverErrorLines} error/fatal lines, ${r.unhandledRedisErrors} "Unhandled error event" lines`,
    r.problems.length === 0 ? 'PASS' : `FAIL:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`,
  ].join('\n');
}

/** CHAOS_FAULTS: a comma list of FAULTS, `none` (the baseline), or unset (all). */
function faultsFromEnv(): ReadonlySet<Fault> | undefined {
  const raw = process.env.CHAOS_FAULTS;
  if (raw === undefined || raw === '' || raw === 'all') return undefined;
  if (raw === 'none') return new Set();
  const names = raw.split(',').map((x) => x.trim());
  const unknown = names.filter((n) => !(FAULTS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`CHAOS_FAULTS: unknown fault ${unknown.join(', ')} (known: ${FAULTS.join(', ')}, none, all)\n`);
    process.exit(2);
  }
  return new Set(names as Fault[]);
}


if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = await runChaos({
    seconds: envNumber('CHAOS_SECONDS', 75, 10),
    faults: faultsFromEnv(),
    rate: envNumber('CHAOS_RATE', 150, 1),
    workers: envNumber('CHAOS_WORKERS', 2, 1),
  });
  process.stdout.write(`${formatReport(report)}\n`);
  process.exit(report.problems.length === 0 ? 0 : 1);
}
