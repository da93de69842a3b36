// The engine: evaluate one event as a short composition of stages (engine/stages/), each with typed
// inputs and outputs —
//   extract (request → typed event, execution context) → read signals (GeoIP, user agent, one store
//   round trip) → score (RBA, model) → decide (rules + policy) → record (decision document, training)
// — plus outcomes, stored decisions and erasure. Nothing here knows HTTP; every dependency is injected.
import type { CompiledPack } from '../dsl/index.ts';
import { CATALOG } from '../features/catalog.ts';
import type { GeoIp } from '../features/geoip.ts';
import type { ModelScorer } from '../features/model/index.ts';
import type { SignalStore } from '../features/store/index.ts';
import { createUserAgentParser, type UserAgentParser } from '../features/useragent.ts';
import { parseDecisionDoc, storedDecision, type DecisionDoc } from './decisions.ts';
import { EngineUnavailableError } from './errors.ts';
import { createIdFactory } from './ids.ts';
import { planFeatures } from './plan.ts';
import type { Recorder } from './recorder.ts';
import { decide } from './stages/decide.ts';
import { extract } from './stages/extract.ts';
import { record } from './stages/record.ts';
import { score } from './stages/score.ts';
import { readSignals } from './stages/signals.ts';
import type { SignalFailure, StageLogger } from './stages/types.ts';
import type { Engine, EvaluateResult, Outcome, StoredDecision, VigilEvent } from './types.ts';

export type { Engine, EvaluateResult, Outcome, StoredDecision, VigilEvent } from './types.ts';
export { planFeatures, type FeaturePlan } from './plan.ts';
export { EngineError, EngineUnavailableError } from './errors.ts';

/** What the engine needs of the active pack (engine/packs' ActivePack fits). */
export interface ActivePackRef {
  readonly pack: CompiledPack;
}

export type EngineLogger = StageLogger;

export interface EngineOptions {
  readonly store: SignalStore;
  /** null: no GeoIP at all (every geo.* feature missing, events degraded when a rule needs them). */
  readonly geoip: GeoIp | null;
  /** The pack serving now; read once per evaluation, so a swap never mixes two packs in one decision. */
  readonly packs: () => ActivePackRef | null;
  readonly signalTimeoutMs: number;
  /**
   * Features to compute beyond what the pack and the model read (replay asks for the whole registry
   * so that any pack can be evaluated on the result). With a recorder, the whole registry is computed.
   */
  readonly extraFeatures?: readonly string[];
  /** How long decisions are kept for /v1/outcome and audit (default 7 days). */
  readonly decisionTtlSeconds?: number;
  readonly ua?: UserAgentParser;
  readonly logger?: EngineLogger;
  /** The anomaly model (`model.*`); absent: those features are missing. */
  readonly model?: ModelScorer;
  /** Appends every decision's features and every outcome for training (off when absent). */
  readonly recorder?: Recorder;
  /** Called once per failed signal source per event (metrics). */
  readonly onSignalFailure?: SignalFailure;
}

const DEFAULT_DECISION_TTL_S = 7 * 24 * 3600;
const ALL_FEATURES: readonly string[] = CATALOG.map((e) => e.name);

export function createEngine(opts: EngineOptions): Engine {
  const { store, geoip, packs, model, recorder, logger } = opts;
  const ttl = opts.decisionTtlSeconds ?? DEFAULT_DECISION_TTL_S;
  const fail: SignalFailure = opts.onSignalFailure ?? (() => {});
  const ulid = createIdFactory();
  const pending = new Set<Promise<void>>();
  const signalDeps = { store, geoip, ua: opts.ua ?? createUserAgentParser(), signalTimeoutMs: opts.signalTimeoutMs, fail, logger };
  const scoreDeps = { model, fail };
  const recordDeps = { store, ttlSeconds: ttl, recorder, fail, logger, pending };
  const baseExtra = recorder ? ALL_FEATURES : (opts.extraFeatures ?? []);
  // The plan also covers the model's inputs; recomputed only when a reload changes the model.
  let extra = baseExtra;
  let extraFor: string | undefined;
  const extraFeatures = (): readonly string[] => {
    if (model && extraFor !== model.version) {
      extra = [...new Set([...baseExtra, ...model.features])];
      extraFor = model.version;
    }
    return extra;
  };

  async function evaluate(event: VigilEvent, evalOpts: { explain?: boolean } = {}): Promise<EvaluateResult> {
    const active = packs();
    if (!active) throw new EngineUnavailableError('no rule pack is active');
    const pack = active.pack;
    const plan = planFeatures(pack, extraFeatures());
    const explain = evalOpts.explain === true;
    const x = extract(event, pack);
    const read = await readSignals(signalDeps, x, pack, plan);
    const scored = await score(scoreDeps, x, read, plan, explain);
    const result = decide({ id: ulid(event.time), pack, plan, model, explain }, x, read, scored);
    record(recordDeps, x, read, plan, result);
    return result;
  }

  async function loadDoc(id: string): Promise<DecisionDoc | null> {
    const raw = await store.getDecision(id);
    return raw === null ? null : parseDecisionDoc(raw);
  }

  return {
    evaluate,

    async outcome(decisionId: string, outcome: Outcome): Promise<'ok' | 'not_found'> {
      const doc = await loadDoc(decisionId);
      if (!doc) return 'not_found';
      // Idempotent: a retried outcome must not count a failure twice or learn a place twice.
      if (doc.outcome !== undefined) return 'ok';
      await store.recordOutcome(doc.ctx, outcome, doc.ctx.time);
      recorder?.record({ kind: 'outcome', decision_id: decisionId, outcome });
      const remaining = Math.max(1, ttl - Math.max(0, (Date.now() - Date.parse(doc.at)) / 1000));
      await store.putDecision(decisionId, JSON.stringify({ ...doc, outcome }), remaining);
      return 'ok';
    },

    async getDecision(decisionId: string): Promise<StoredDecision | null> {
      const doc = await loadDoc(decisionId);
      return doc ? storedDecision(doc) : null;
    },

    async eraseUser(userId: string) {
      return { keys: await store.eraseUser(userId) };
    },

    async ready() {
      const pack = packs() !== null;
      const storeOk = await store.ping();
      return { ok: pack && storeOk, checks: { pack, store: storeOk, geoip: geoip !== null } };
    },

    async reloadModel(path?: string) {
      if (!model) throw new EngineUnavailableError('no model is configured');
      await model.reload(path);
      return { version: model.version };
    },

    async close() {
      await Promise.allSettled([...pending]);
      await model?.close();
      await recorder?.close();
      geoip?.close();
      await store.close();
    },
  };
}
