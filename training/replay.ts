// Drives labelled simulated traffic (training/simulate.ts lines) through the REAL engine: GeoIP, the
// user-agent parser, the signal store (in process, on the simulated clock), the compiled pack and,
// when given, the anomaly model — and feeds each attempt's outcome back the way an auth service
// would, but only for what the engine let through. This is how `vigil model eval` measures and how
// `vigil simulate --features-out` records the feature rows `vigil train --events` learns from.
import type { ModelScorer } from '../features/model/index.ts';
import { assertNever, type Action } from '../dsl/ast.ts';
import type { CompiledPack } from '../dsl/index.ts';
import { CATALOG, EVENT_TYPES, type EventType } from '../features/catalog.ts';
import type { GeoIp } from '../features/geoip.ts';
import { parseIp } from '../features/ip.ts';
import { createMemoryStore, type SignalStore } from '../features/store/index.ts';
import { createEngine, type Engine, type Outcome, type VigilEvent } from '../engine/index.ts';
import { ACCOUNT_CHANGE, ATTACK_TYPES, CHAIN_TYPES, CHANGE_CONTEXTS, CHANGE_KINDS, LEGIT_SCENARIOS, isChainType, type AttackType, type Label, type SimLine, type SimRequest } from './simulate.ts';

/**
 * What replay needs of an anomaly model: a score in 0..1 (higher is stranger) from the explain
 * features of one attempt. Used only when the engine itself reports no `model.anomaly`.
 */
export interface AnomalyScorer {
  readonly version: string;
  /** The serving scorer behind it, handed to the engine so pack rules read `model.anomaly`. */
  readonly engineModel?: ModelScorer;
  score(features: Readonly<Record<string, FeatureValue>>): number | null | Promise<number | null>;
  close?(): Promise<void>;
}

/**
 * The serving scorer (features/model) as an AnomalyScorer. Its per-score time budget is a serving concern;
 * replay has no deadline, so it gets a generous one (a timeout would score the event "missing").
 */
export async function loadOnnxScorer(path: string): Promise<AnomalyScorer> {
  const { createModelScorer, modelSlots } = await import('../features/model/index.ts');
  const m = await createModelScorer({ path, watch: false, timeoutMs: 60_000 });
  return {
    engineModel: m,
    get version() {
      return m.version;
    },
    async score(features) {
      const r = await m.score(modelSlots(features));
      return r === undefined ? null : r.anomaly;
    },
    close: () => m.close(),
  };
}

export type FeatureValue = boolean | number | string | null;

/** One attempt after the engine has judged it. */
export interface ReplayedEvent {
  /** 0-based position in the input. */
  readonly index: number;
  readonly line: SimLine;
  readonly label: Label;
  readonly decision: Action;
  /** The pack's score. */
  readonly score: number;
  /** Every feature the engine computed (explain output; durations in seconds, missing → null). */
  readonly features: Readonly<Record<string, FeatureValue>>;
  readonly rba: number | null;
  readonly anomaly: number | null;
  /** What was reported to /v1/outcome (null when the engine blocked the attempt). */
  readonly applied: Outcome | null;
  /** Names of the rules that matched (not shadow). */
  readonly rules: readonly string[];
  /** The engine's decision id (account_change lines carry their session's as login_decision_id). */
  readonly decisionId: string;
}

export interface ReplayOptions {
  readonly pack: CompiledPack;
  readonly geoip: GeoIp;
  /** Default: an in-process store whose clock is the simulated time. */
  readonly store?: SignalStore;
  readonly model?: AnomalyScorer;
  /** Called in input order; awaited. */
  readonly onEvent: (e: ReplayedEvent) => void | Promise<void>;
  /** Called for a line that cannot be replayed (1-based line number); replay goes on. */
  readonly onBadLine?: (lineNo: number, error: string) => void;
}

export interface ReplaySummary {
  readonly events: number;
  readonly badLines: number;
  /**
   * account_change lines not replayed because this engine does not accept the event type (what the
   * API answers with a 400 before spec v2), and chain steps that never happen because an earlier
   * step of the chain was stopped.
   */
  readonly unsupportedChanges: number;
  readonly skippedChainSteps: number;
  readonly decisions: Readonly<Record<Action, number>>;
}

/** Every feature in the catalog: replay computes them all so any pack or model can read the rows. */
export const ALL_FEATURES: readonly string[] = CATALOG.map((e) => e.name);

const OUTCOMES: readonly Outcome[] = ['succeeded', 'failed', 'challenge_passed', 'challenge_failed'];
const LABELS: readonly Label[] = ['legit', ...ATTACK_TYPES, ...CHAIN_TYPES];

/** Whether this engine accepts `account_change` events (spec v2); the API's schema uses the same list. */
export function engineAcceptsChanges(): boolean {
  return (EVENT_TYPES as readonly string[]).includes(ACCOUNT_CHANGE);
}

// A fixed key: the in-process store lives only as long as the replay, and a fixed key keeps runs
// identical.
const REPLAY_HASH_SECRET = 'vigil-replay-simulated-traffic-only';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * One NDJSON line of `vigil simulate` → a SimLine, or an error message. Checks what replay relies
 * on; the request body is checked as the API would (type, user.id, a valid address, an ISO time).
 */
export function parseSimLine(text: string): SimLine | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!isObject(v)) return 'not a JSON object';
  const r = v.request;
  if (!isObject(r)) return 'request: missing or not an object';
  if (typeof r.type !== 'string' || !([...EVENT_TYPES, ACCOUNT_CHANGE] as readonly string[]).includes(r.type)) {
    return `request.type: must be one of ${[...new Set([...EVENT_TYPES, ACCOUNT_CHANGE])].join(', ')}`;
  }
  if (r.type === ACCOUNT_CHANGE && !(CHANGE_KINDS as readonly unknown[]).includes(r.change)) return `request.change: must be one of ${CHANGE_KINDS.join(', ')}`;
  const u = r.user;
  if (!isObject(u) || typeof u.id !== 'string' || u.id.length === 0) return 'request.user.id: required string';
  if (u.created_at !== undefined && (typeof u.created_at !== 'string' || Number.isNaN(Date.parse(u.created_at)))) return 'request.user.created_at: not a date';
  if (u.mfa !== undefined && typeof u.mfa !== 'boolean') return 'request.user.mfa: must be a boolean';
  if (typeof r.ip !== 'string' || parseIp(r.ip) === null) return 'request.ip: must be an IPv4 or IPv6 address';
  if (r.device !== undefined && !isObject(r.device)) return 'request.device: must be an object';
  const d = isObject(r.device) ? r.device : undefined;
  if (d && d.id !== undefined && typeof d.id !== 'string') return 'request.device.id: must be a string';
  if (d && d.user_agent !== undefined && typeof d.user_agent !== 'string') return 'request.device.user_agent: must be a string';
  if (typeof r.time !== 'string' || Number.isNaN(Date.parse(r.time))) return 'request.time: required ISO date-time';
  if (typeof v.outcome !== 'string' || !(OUTCOMES as readonly string[]).includes(v.outcome)) return `outcome: must be one of ${OUTCOMES.join(', ')}`;
  if (typeof v.label !== 'string' || !(LABELS as readonly string[]).includes(v.label)) return `label: must be one of ${LABELS.join(', ')}`;
  if (v.attacker_type !== undefined && !(ATTACK_TYPES as readonly unknown[]).includes(v.attacker_type)) return 'attacker_type: unknown';
  for (const k of ['session_id', 'session'] as const) if (v[k] !== undefined && typeof v[k] !== 'string') return `${k}: must be a string`;
  if (r.type === ACCOUNT_CHANGE && typeof v.session !== 'string') return 'session: required on account_change lines';
  if (v.change_context !== undefined && !(CHANGE_CONTEXTS as readonly unknown[]).includes(v.change_context)) return 'change_context: unknown';
  if (v.passes_step_up !== undefined && typeof v.passes_step_up !== 'boolean') return 'passes_step_up: must be a boolean';
  if (v.attack_id !== undefined && typeof v.attack_id !== 'string') return 'attack_id: must be a string';
  if (v.seq !== undefined && !(Number.isInteger(v.seq) && (v.seq as number) >= 0)) return 'seq: must be a non-negative integer';
  if (v.scenario !== undefined && !(LEGIT_SCENARIOS as readonly unknown[]).includes(v.scenario)) return 'scenario: unknown';
  if (!(Number.isInteger(v.day) && (v.day as number) >= 0)) return 'day: must be a non-negative integer';
  // Validated field by field above.
  return v as unknown as SimLine;
}

/** The API's request body → the engine's event (what api/routes/evaluate.ts does after validation). */
export function toVigilEvent(r: SimRequest, loginDecisionId?: string): VigilEvent {
  const ip = parseIp(r.ip);
  // account_change's fields ride along for an engine that knows them (spec v2); replay only sends
  // such an event when engineAcceptsChanges().
  const ev: VigilEvent & { change?: string; loginDecisionId?: string } = {
    type: r.type as EventType,
    ...(r.change !== undefined ? { change: r.change } : {}),
    ...(loginDecisionId !== undefined ? { loginDecisionId } : {}),
    userId: r.user.id,
    ip: ip ? ip.address : r.ip,
    time: Date.parse(r.time),
    ...(r.user.created_at !== undefined ? { userCreatedAt: Date.parse(r.user.created_at) } : {}),
    ...(r.user.mfa !== undefined ? { mfa: r.user.mfa } : {}),
    ...(r.device?.id !== undefined ? { deviceId: r.device.id } : {}),
    ...(r.device?.user_agent !== undefined ? { userAgent: r.device.user_agent } : {}),
  };
  return ev;
}

/**
 * What the auth service reports after the engine's decision. A wrong password fails whatever the
 * engine said (the password is checked first); a step-up is passed by the account's owner and
 * failed by an attacker (who has the password but not the second factor or mailbox); a block ends
 * the attempt with nothing to report.
 */
export function appliedOutcome(decision: Action, outcome: Outcome, label: Label, passesStepUp = false): Outcome | null {
  switch (decision) {
    case 'allow':
      return outcome;
    case 'step_up':
      if (outcome === 'failed' || outcome === 'challenge_failed') return 'failed';
      return label === 'legit' || passesStepUp ? 'challenge_passed' : 'challenge_failed';
    case 'block':
      return null;
    default:
      return assertNever(decision, 'decision');
  }
}

/**
 * Replay `lines` (in their order, which should be time order) through a fresh engine. Lines may be
 * parsed SimLines or NDJSON text (bad text lines go to onBadLine and are skipped).
 */
export async function replayThroughEngine(
  lines: Iterable<SimLine | string> | AsyncIterable<SimLine | string>,
  opts: ReplayOptions,
): Promise<ReplaySummary> {
  let clock = 0;
  const store: SignalStore = opts.store ?? createMemoryStore({ hashSecret: REPLAY_HASH_SECRET, now: () => clock });
  const ownStore = opts.store === undefined;
  const active = { pack: opts.pack };
  const engine: Engine = createEngine({
    store,
    geoip: opts.geoip,
    packs: () => active,
    // Simulated time runs far faster than the wall clock; no signal may be cut short by a timer.
    signalTimeoutMs: 60_000,
    extraFeatures: ALL_FEATURES,
    ...(opts.model?.engineModel ? { model: opts.model.engineModel } : {}),
    // Outcomes are sent right away; an hour keeps the in-process store small.
    outcomeWindowSeconds: 3600,
  });
  const decisions: Record<Action, number> = { allow: 0, step_up: 0, block: 0 };
  let events = 0;
  let badLines = 0;
  let lineNo = 0;
  let unsupportedChanges = 0;
  let skippedChainSteps = 0;
  const changesOk = engineAcceptsChanges();
  // session_id → the decision id of the sign-in that opened it; chains already stopped.
  const sessions = new Map<string, string>();
  const stoppedChains = new Set<string>();
  try {
    for await (const item of lines) {
      lineNo++;
      let line: SimLine;
      if (typeof item === 'string') {
        if (item.trim().length === 0) continue;
        const parsed = parseSimLine(item);
        if (typeof parsed === 'string') {
          badLines++;
          opts.onBadLine?.(lineNo, parsed);
          continue;
        }
        line = parsed;
      } else line = item;
      const chain = isChainType(line.label) ? line.attack_id : undefined;
      if (chain !== undefined && stoppedChains.has(chain)) {
        skippedChainSteps++;
        continue;
      }
      if (line.request.type === ACCOUNT_CHANGE && !changesOk) {
        unsupportedChanges++;
        continue;
      }
      const ev = toVigilEvent(line.request, line.session !== undefined ? sessions.get(line.session) : undefined);
      if (ev.time > clock) clock = ev.time;
      const result = await engine.evaluate(ev, { explain: true });
      const features = (result.features ?? {}) as Readonly<Record<string, FeatureValue>>;
      let anomaly: number | null = result.model?.anomaly ?? null;
      if (anomaly === null && opts.model) anomaly = await opts.model.score(features);
      const applied = appliedOutcome(result.decision, line.outcome, line.label, line.passes_step_up === true);
      if (line.session_id !== undefined) sessions.set(line.session_id, result.decision_id);
      if (chain !== undefined && (applied === null || applied === 'challenge_failed' || applied === 'failed')) stoppedChains.add(chain);
      if (applied !== null) await engine.outcome(result.decision_id, applied);
      decisions[result.decision]++;
      const rba = features['rba.score'];
      await opts.onEvent({
        index: events,
        line,
        label: line.label,
        decision: result.decision,
        score: result.score,
        features,
        rba: typeof rba === 'number' ? rba : null,
        anomaly,
        applied,
        rules: result.rules.map((h) => h.name),
        decisionId: result.decision_id,
      });
      events++;
    }
  } finally {
    if (ownStore) await engine.close().catch(() => undefined);
  }
  return { events, badLines, decisions, unsupportedChanges, skippedChainSteps };
}

/** A training row for `vigil train --events` (training/train.ts): the explain features and the label. */
export interface FeatureRow {
  readonly features: Readonly<Record<string, FeatureValue>>;
  readonly label: Label;
  readonly attacker_type?: AttackType;
}

export function featureRow(e: ReplayedEvent): FeatureRow {
  return { features: e.features, label: e.label, ...(e.line.attacker_type ? { attacker_type: e.line.attacker_type } : {}) };
}
