// `vigil replay PACK [--baseline PACK2] [--json] EVENTS.ndjson`: backtest a pack on recorded events.
// Each line is `{"event": TYPE, "features": {...}}` (a feature record, as `vigil eval` takes) or a
// `POST /v1/evaluate` body. API bodies become features through ONE function, `deriveFeatures`: today
// it derives only what the request itself says (event.*, ip.address, user.*, device.id); the engine
// (GeoIP, history, velocity, model) replaces it later without touching anything else here.
// A bad line is counted and reported, never fatal: replay exits 1 only when a pack fails to compile
// or the events file cannot be read.
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { evaluateRecord, type CompiledPack, type Decision, type Scheme } from '../dsl/index.ts';
import { evaluateBodySchema } from '../api/schemas.ts';
import type { CliIO } from './io.ts';
import { openPack } from './packs.ts';
import { createEngineDeriver } from './replay-engine.ts';

type Action = Decision['decision'];

export interface ReplayEvent {
  readonly eventType: string;
  readonly features: Readonly<Record<string, unknown>>;
}

export type Derived = { readonly ok: true; readonly event: ReplayEvent } | { readonly ok: false; readonly error: string };

/** Turns one API request body into features; async so an engine-backed version can drop in. */
export type FeatureDeriver = (body: Readonly<Record<string, unknown>>) => Promise<Derived>;

const SECONDS = 1000;

/**
 * THE one place an API request body becomes features for replay. Event-only features: event.type,
 * event.hour (UTC, from `time`), ip.address, user.id, user.age (from `user.created_at`, at the event's
 * time, never negative), user.mfa, device.id. Like the API, `time` defaults to now.
 */
export async function deriveFeatures(body: Readonly<Record<string, unknown>>, now: () => number = Date.now): Promise<Derived> {
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One NDJSON line → an event, whichever of the two forms it has. */
export async function parseEventLine(text: string, derive: FeatureDeriver): Promise<Derived> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `invalid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (!isObject(v)) return { ok: false, error: 'expected a JSON object' };
  if ('event' in v || 'features' in v) {
    if (typeof v.event !== 'string') return { ok: false, error: '`event` must be an event type string' };
    if (!isObject(v.features)) return { ok: false, error: '`features` must be an object of feature name → value' };
    return { ok: true, event: { eventType: v.event, features: v.features } };
  }
  if ('type' in v || 'request' in v) return derive(v);
  return { ok: false, error: 'neither {"event","features"} nor an API request body (`type`, `user`, `ip`)' };
}

// ---------------------------------------------------------------------------------------------
// The backtest itself
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
export interface LineError {
  readonly line: number;
  readonly error: string;
}
export interface Change {
  readonly line: number;
  readonly from: Action;
  readonly to: Action;
  /** Enforcing rules the new pack matched. */
  readonly rules: readonly string[];
  /** Enforcing rules the baseline matched. */
  readonly baseline_rules: readonly string[];
}
export interface ReplayReport {
  readonly events: number;
  readonly invalid: number;
  readonly decisions: DecisionCounts;
  readonly rules: { readonly enforce: readonly RuleCount[]; readonly shadow: readonly RuleCount[] };
  readonly seconds: number;
  readonly events_per_second: number;
  /** The first MAX_LISTED bad lines (the count is `invalid`). */
  readonly errors: readonly LineError[];
  readonly baseline?: {
    readonly decisions: DecisionCounts;
    readonly changed: number;
    readonly changes: readonly Change[];
  };
}

export const MAX_LISTED_ERRORS = 100;

export interface ReplayInput {
  readonly pack: CompiledPack;
  readonly baseline?: CompiledPack;
  readonly scheme: Scheme;
  readonly derive?: FeatureDeriver;
}

function sortedCounts(m: ReadonlyMap<string, number>): RuleCount[] {
  return [...m]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function bump(m: Map<string, number>, name: string): void {
  m.set(name, (m.get(name) ?? 0) + 1);
}

/** Evaluate every line (1-based numbers; blank lines skipped) with the pack and the baseline. */
export async function replayLines(lines: AsyncIterable<string> | Iterable<string>, input: ReplayInput): Promise<ReplayReport> {
  const derive = input.derive ?? ((b) => deriveFeatures(b));
  const decisions: DecisionCounts = { allow: 0, step_up: 0, block: 0 };
  const baseDecisions: DecisionCounts = { allow: 0, step_up: 0, block: 0 };
  const enforce = new Map<string, number>();
  const shadow = new Map<string, number>();
  const errors: LineError[] = [];
  const changes: Change[] = [];
  let events = 0;
  let invalid = 0;
  let lineNo = 0;
  const bad = (line: number, error: string): void => {
    invalid++;
    if (errors.length < MAX_LISTED_ERRORS) errors.push({ line, error });
  };
  const started = performance.now();
  for await (const raw of lines) {
    lineNo++;
    const text = raw.trim();
    if (text === '') continue;
    const ev = await parseEventLine(text, derive);
    if (!ev.ok) {
      bad(lineNo, ev.error);
      continue;
    }
    const r = evaluateRecord(input.pack, ev.event.eventType, ev.event.features, { scheme: input.scheme });
    if (!r.ok) {
      bad(lineNo, r.errors.join('; '));
      continue;
    }
    events++;
    const d = r.decision;
    decisions[d.decision]++;
    for (const h of d.rules) bump(enforce, h.name);
    for (const h of d.shadow) bump(shadow, h.name);
    if (input.baseline) {
      // Both packs share the scheme, so a record the new pack accepts the baseline accepts too.
      const b = evaluateRecord(input.baseline, ev.event.eventType, ev.event.features, { scheme: input.scheme });
      if (!b.ok) continue;
      baseDecisions[b.decision.decision]++;
      if (b.decision.decision !== d.decision) {
        changes.push({
          line: lineNo,
          from: b.decision.decision,
          to: d.decision,
          rules: d.rules.map((h) => h.name),
          baseline_rules: b.decision.rules.map((h) => h.name),
        });
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const report: ReplayReport = {
    events,
    invalid,
    decisions,
    rules: { enforce: sortedCounts(enforce), shadow: sortedCounts(shadow) },
    seconds: Math.round(seconds * 1e6) / 1e6,
    events_per_second: seconds > 0 ? Math.round(events / seconds) : events,
    errors,
  };
  return input.baseline ? { ...report, baseline: { decisions: baseDecisions, changed: changes.length, changes } } : report;
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
// The command
// ---------------------------------------------------------------------------------------------

export interface ReplayOptions {
  readonly baseline?: string;
  readonly json?: boolean;
  readonly derive?: FeatureDeriver;
  /** Derive only the request's own features from API bodies (no GeoIP, no signal store). */
  readonly eventsOnly?: boolean;
}

function openLines(file: string, io: CliIO): { ok: true; lines: AsyncIterable<string> | Promise<string[]> } | { ok: false; message: string } {
  if (file === '-') return { ok: true, lines: io.stdin().then((t) => t.split('\n')) };
  try {
    if (!statSync(file).isFile()) return { ok: false, message: `${file}: not a file` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, message: `${file}: ${code === 'ENOENT' ? 'no such file' : e instanceof Error ? e.message : String(e)}` };
  }
  return { ok: true, lines: createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity }) };
}

export async function runReplay(path: string, eventsFile: string, opts: ReplayOptions, io: CliIO, scheme: Scheme): Promise<number> {
  const fail = (msg: string): number => {
    io.stderr(`vigil replay: ${msg}\n`);
    return 1;
  };
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
  const src = openLines(eventsFile, io);
  if (!src.ok) return fail(src.message);
  let report: ReplayReport;
  // API bodies go through the real engine (GeoIP, history, velocity, rba) unless --events-only.
  const engineDeriver = opts.derive || opts.eventsOnly ? undefined : createEngineDeriver(compiled[0]!);
  const derive = opts.derive ?? engineDeriver?.derive;
  try {
    const lines = src.lines instanceof Promise ? await src.lines : src.lines;
    report = await replayLines(lines, {
      pack: compiled[0]!,
      ...(compiled[1] ? { baseline: compiled[1] } : {}),
      scheme,
      ...(derive ? { derive } : {}),
    });
  } catch (e) {
    return fail(`${eventsFile}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await engineDeriver?.close();
  }
  if (opts.json) {
    io.stdout(`${JSON.stringify(report)}\n`);
  } else {
    for (const e of report.errors) io.stderr(`${eventsFile}:${e.line}: ${e.error}\n`);
    if (report.invalid > report.errors.length) io.stderr(`${eventsFile}: ${report.invalid - report.errors.length} more invalid lines\n`);
    io.stdout(formatReport(report));
  }
  return 0;
}
