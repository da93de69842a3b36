// `vigil replay PACK [--baseline PACK2] [--json] [--workers N] EVENTS.ndjson`: backtest a pack on
// recorded events. Each line is `{"event": TYPE, "features": {...}}` (a feature record, as `vigil
// eval` takes) or a `POST /v1/evaluate` body. API bodies become features through ONE deriver: the
// real engine (cli/replay-engine.ts: GeoIP, history, velocity, rba, learning as the file is
// replayed), or with --events-only `deriveFeatures` (only what the request itself says).
//
// The per-line work (parse, slots, evaluate, count) is cli/replay-core.ts; with --workers N a file of
// feature records is shared out to worker threads (cli/replay-threads.ts). API bodies need the
// engine in file order, so a file holding any is replayed on one thread. The engine, GeoIP and the
// request schema are loaded only when the first API body is met.
//
// A bad line is counted and reported, never fatal: replay exits 1 only when a pack fails to compile
// or the events file cannot be read.
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { CompiledPack, Scheme } from '../dsl/index.ts';
import { errorMessage } from '../common/errors.ts';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import type { CliIO } from './io.ts';
import { openPack } from './packs.ts';
import { count, startProgress, type Progress } from './progress.ts';
import {
  ACTIONS,
  ChunkReader,
  DEFAULT_CHUNK_BYTES,
  inFileOrder,
  LineCounter,
  lineAlignedChunks,
  mergeTallies,
  type Action,
  type Change,
  type Chunk,
  type LineError,
  type ReplayPacks,
  type Tally,
} from './replay-core.ts';
import type { EngineDeriver } from './replay-engine.ts';
import type { WorkerPool } from './replay-threads.ts';

export { MAX_LISTED_ERRORS, type Change, type LineError } from './replay-core.ts';

export interface ReplayEvent {
  readonly eventType: string;
  readonly features: Readonly<Record<string, unknown>>;
}

export type Derived = { readonly ok: true; readonly event: ReplayEvent } | { readonly ok: false; readonly error: string };

/** Turns one API request body into features; async so an engine-backed version can drop in. */
export type FeatureDeriver = (body: Readonly<Record<string, unknown>>) => Promise<Derived>;

const SECONDS = 1000;

/**
 * Event-only features of an API request body (`--events-only`): event.type, event.hour (UTC, from
 * `time`), ip.address, user.id, user.age (from `user.created_at`, at the event's time, never
 * negative), user.mfa, device.id. Like the API, `time` defaults to now.
 */
export async function deriveFeatures(body: Readonly<Record<string, unknown>>, now: () => number = Date.now): Promise<Derived> {
  const { evaluateBodySchema } = await import('../api/schemas.ts');
  const parsed = evaluateBodySchema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
    return { ok: false, error: `invalid request body: ${issues.join('; ')}` };
  }
  const b = parsed.data;
  const t = b.time ? Date.parse(b.time) : now();
  const features: Record<string, unknown> = {
    'event.type': b.type,
    'event.hour': new Date(t).getUTCHours(),
    'ip.address': b.ip,
    'user.id': b.user.id,
  };
  if (b.user.created_at) features['user.age'] = Math.max(0, Math.floor((t - Date.parse(b.user.created_at)) / SECONDS));
  if (b.user.mfa !== undefined && b.user.mfa !== null) features['user.mfa'] = b.user.mfa;
  if (b.device?.id) features['device.id'] = b.device.id;
  return { ok: true, event: { eventType: b.type, features } };
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

export interface RuleCount {
  readonly name: string;
  readonly count: number;
}
export interface DecisionCounts {
  allow: number;
  step_up: number;
  block: number;
}
export interface ReplayReport {
  readonly events: number;
  readonly invalid: number;
  readonly decisions: DecisionCounts;
  readonly rules: { readonly enforce: readonly RuleCount[]; readonly shadow: readonly RuleCount[] };
  readonly seconds: number;
  readonly events_per_second: number;
  /** The first MAX_LISTED_ERRORS bad lines (the count is `invalid`). */
  readonly errors: readonly LineError[];
  readonly baseline?: {
    readonly decisions: DecisionCounts;
    readonly changed: number;
    readonly changes: readonly Change[];
  };
}

function decisionCounts(a: Uint32Array): DecisionCounts {
  const out: DecisionCounts = { allow: 0, step_up: 0, block: 0 };
  ACTIONS.forEach((k: Action, i) => (out[k] = a[i]!));
  return out;
}

/** Rules that matched at least once, by count (most first), then name. */
function sortedCounts(pack: CompiledPack, hits: Uint32Array): RuleCount[] {
  const out: RuleCount[] = [];
  pack.rules.forEach((r, i) => {
    if (hits[i]! > 0) out.push({ name: r.name, count: hits[i]! });
  });
  return out.sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function buildReport(t: Tally, packs: ReplayPacks, seconds: number): ReplayReport {
  const { errors, changes } = inFileOrder(t.chunks);
  const report: ReplayReport = {
    events: t.events,
    invalid: t.invalid,
    decisions: decisionCounts(t.decisions),
    rules: { enforce: sortedCounts(packs.pack, t.enforce), shadow: sortedCounts(packs.pack, t.shadow) },
    seconds: Math.round(seconds * 1e6) / 1e6,
    events_per_second: seconds > 0 ? Math.round(t.events / seconds) : t.events,
    errors,
  };
  return packs.baseline ? { ...report, baseline: { decisions: decisionCounts(t.baseDecisions), changed: changes.length, changes } } : report;
}

/** The human-readable report: `allow N` / `step_up N` / `block N` lines first, then hits and timing. */
export function formatReport(r: ReplayReport): string {
  const out: string[] = [];
  out.push(`events ${r.events}`);
  out.push(`invalid ${r.invalid}`);
  out.push(`allow ${r.decisions.allow}`, `step_up ${r.decisions.step_up}`, `block ${r.decisions.block}`);
  out.push('rule hits (enforcing):');
  if (r.rules.enforce.length === 0) out.push('  (none)');
  for (const c of r.rules.enforce) out.push(`  ${c.name} ${c.count}`);
  out.push('rule hits (shadow):');
  if (r.rules.shadow.length === 0) out.push('  (none)');
  for (const c of r.rules.shadow) out.push(`  ${c.name} ${c.count}`);
  if (r.baseline) {
    const b = r.baseline.decisions;
    out.push(`baseline: allow ${b.allow}, step_up ${b.step_up}, block ${b.block}`);
    for (const c of r.baseline.changes) {
      out.push(
        `  line ${c.line}: ${c.from} → ${c.to} (rules: ${c.rules.join(', ') || 'none'}; baseline: ${c.baseline_rules.join(', ') || 'none'})`,
      );
    }
    out.push(`changed ${r.baseline.changed}`);
  }
  out.push(`${r.events} events in ${r.seconds.toFixed(3)} s (${r.events_per_second} events/s)`);
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------------------------

export interface ReplayOptions {
  readonly baseline?: string;
  readonly json?: boolean;
  readonly derive?: FeatureDeriver;
  /** Derive only the request's own features from API bodies (no GeoIP, no signal store). */
  readonly eventsOnly?: boolean;
  /** Threads sharing a file of feature records (default 1). */
  readonly workers?: number;
  readonly tuning?: ReplayTuning;
}

/** How a file is read and shared out; the defaults suit the command, tests change them. */
export interface ReplayTuning {
  /** Size of the pieces a file is read (and shared out) in (default DEFAULT_CHUNK_BYTES). */
  readonly chunkBytes?: number;
  /** With workers, leave every chunk to them (so a small file is not all done before they start). */
  readonly mainThreadIdle?: boolean;
}

type Source = { readonly kind: 'stdin' } | { readonly kind: 'file'; readonly path: string; readonly size: number; readonly chunks: readonly Chunk[] };

/** The deriver API bodies go through, created on first use (the engine is heavy to load). */
function bodyDeriver(opts: ReplayOptions, pack: CompiledPack): { derive: FeatureDeriver; close(): Promise<void> } {
  if (opts.derive) return { derive: opts.derive, close: () => Promise.resolve() };
  if (opts.eventsOnly) return { derive: (b) => deriveFeatures(b), close: () => Promise.resolve() };
  let engine: EngineDeriver | undefined;
  return {
    async derive(body) {
      engine ??= (await import('./replay-engine.ts')).createEngineDeriver(pack);
      return engine.derive(body);
    },
    close: async () => engine?.close(),
  };
}

/** Every line of `text` (chunk `index`) in order, API bodies through `derive`. */
async function countText(counter: LineCounter, text: string, index: number, derive: FeatureDeriver, tick: () => void): Promise<void> {
  counter.beginChunk(index);
  let lineNo = 0;
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    const body = counter.line(text.slice(start, nl), ++lineNo);
    start = nl + 1;
    if (body !== undefined) {
      const d = await derive(body);
      if (d.ok) counter.record(d.event.eventType, d.event.features, lineNo);
      else counter.bad(lineNo, d.error);
      tick();
    } else if ((lineNo & 1023) === 0) tick();
  }
  counter.endChunk(lineNo);
}

function progressText(events: number, done: number, src: Source): string {
  if (src.kind === 'stdin') return `${count(events)} events`;
  const pct = src.chunks.length > 0 ? Math.floor((100 * done) / src.chunks.length) : 100;
  return `${count(events)} events, ${pct}% of ${(src.size / 1e6).toFixed(1)} MB`;
}

async function replayInOrder(src: Source, packs: ReplayPacks, opts: ReplayOptions, io: CliIO, progress: Progress): Promise<Tally> {
  const counter = new LineCounter(packs);
  const deriver = bodyDeriver(opts, packs.pack);
  let done = 0;
  const tick = (): void => progress.update(() => progressText(counter.evaluated, done, src));
  try {
    if (src.kind === 'stdin') {
      await countText(counter, await io.stdin(), 0, deriver.derive, tick);
    } else {
      const reader = new ChunkReader(src.path);
      try {
        for (let k = 0; k < src.chunks.length; k++) {
          await countText(counter, reader.read(src.chunks[k]!), k, deriver.derive, tick);
          done++;
          tick();
        }
      } finally {
        reader.close();
      }
    }
  } finally {
    await deriver.close();
  }
  return counter.tally();
}

/**
 * The file shared out to `workers` threads (this one included). undefined when the file turns out
 * to hold API bodies, or a worker failed: the caller then replays it in order on this thread.
 */
async function replayShared(
  src: Extract<Source, { kind: 'file' }>,
  pool: WorkerPool,
  shared: Int32Array,
  packs: ReplayPacks,
  opts: ReplayOptions,
  io: CliIO,
  progress: Progress,
): Promise<Tally | undefined> {
  const { progressOf, stopAll, takeChunks } = await import('./replay-threads.ts');
  const counter = new LineCounter(packs);
  const text = (): string => {
    const p = progressOf(shared);
    return progressText(p.events, p.chunks, src);
  };
  const tick = (): void => progress.update(text);
  const idle = opts.tuning?.mainThreadIdle === true;
  if (!idle) {
    const reader = new ChunkReader(src.path);
    let complete: boolean;
    try {
      complete = takeChunks(counter, reader, src.chunks, shared, tick);
    } finally {
      reader.close();
    }
    if (!complete) {
      stopAll(shared);
      return undefined;
    }
  }
  progress.whileWaiting(text);
  const replies = await pool.finish(shared, idle);
  const tallies = [counter.tally()];
  for (const r of replies) {
    if (r.kind === 'body') return undefined;
    if (r.kind === 'failed') {
      io.stderr(`vigil replay: warning: a worker thread failed (${r.message}); replaying on one thread\n`);
      return undefined;
    }
    tallies.push(r.tally);
  }
  return mergeTallies(tallies);
}

export async function runReplay(path: string, eventsFile: string, opts: ReplayOptions, io: CliIO, scheme: Scheme): Promise<number> {
  const fail = (msg: string): number => {
    io.stderr(`vigil replay: error: ${msg}\n`);
    return 1;
  };
  let src: Source;
  if (eventsFile === '-') src = { kind: 'stdin' };
  else {
    let size: number;
    try {
      const st = statSync(eventsFile);
      if (!st.isFile()) return fail(`${eventsFile}: not a file`);
      size = st.size;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return fail(`${eventsFile}: ${code === 'ENOENT' ? 'no such file' : errorMessage(e)}`);
    }
    try {
      src = { kind: 'file', path: eventsFile, size, chunks: lineAlignedChunks(eventsFile, size, opts.tuning?.chunkBytes ?? DEFAULT_CHUNK_BYTES) };
    } catch (e) {
      return fail(`${eventsFile}: cannot read: ${errorMessage(e)}`);
    }
  }

  // Workers compile the packs themselves, so they start before this thread compiles: they are
  // the slow part of starting. Only the standard scheme and the standard deriver can cross threads.
  const threads = src.kind === 'file' && opts.derive === undefined && scheme === VIGIL_SCHEME ? Math.min(opts.workers ?? 1, src.chunks.length) : 1;
  let parallel: { pool: WorkerPool; shared: Int32Array } | undefined;
  if (threads > 1 && src.kind === 'file') {
    const { sharedState, startWorkers } = await import('./replay-threads.ts');
    const state = sharedState(threads - 1);
    const pool = startWorkers(threads - 1, {
      pack: path,
      ...(opts.baseline !== undefined ? { baseline: opts.baseline } : {}),
      events: src.path,
      chunks: src.chunks,
      shared: state.buffer,
    });
    parallel = { pool, shared: state.view };
  }

  const progress = startProgress(io, 'replay', { json: opts.json === true });
  try {
    const compiled: CompiledPack[] = [];
    for (const p of opts.baseline === undefined ? [path] : [path, opts.baseline]) {
      const opened = openPack(p, scheme);
      if (!opened.ok) return fail(opened.message);
      if (!opened.pack.result.pack) {
        if (opened.pack.rendered) io.stdout(`${opened.pack.rendered}\n`);
        return fail(`${p} does not compile (${opened.pack.errors} error${opened.pack.errors === 1 ? '' : 's'})`);
      }
      compiled.push(opened.pack.result.pack);
    }
    const packs: ReplayPacks = { pack: compiled[0]!, ...(compiled[1] ? { baseline: compiled[1] } : {}), scheme };

    const started = performance.now();
    let tally: Tally | undefined;
    try {
      if (parallel && src.kind === 'file') tally = await replayShared(src, parallel.pool, parallel.shared, packs, opts, io, progress);
      if (parallel) await parallel.pool.terminate();
      parallel = undefined;
      tally ??= await replayInOrder(src, packs, opts, io, progress);
    } catch (e) {
      return fail(`${eventsFile}: cannot read: ${errorMessage(e)}`);
    }
    const report = buildReport(tally, packs, (performance.now() - started) / 1000);
    progress.done();
    if (opts.json) {
      io.stdout(`${JSON.stringify(report)}\n`);
    } else {
      for (const e of report.errors) io.stderr(`${eventsFile}:${e.line}: ${e.error}\n`);
      if (report.invalid > report.errors.length) io.stderr(`${eventsFile}: ${report.invalid - report.errors.length} more invalid lines\n`);
      io.stdout(formatReport(report));
    }
    return 0;
  } finally {
    progress.done();
    await parallel?.pool.terminate();
  }
}
