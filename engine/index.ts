// The engine: evaluate one event as a short composition of stages (engine/stages/), each with typed
// inputs and outputs —
//   extract (request → typed event, execution context) → read signals (GeoIP, user agent, one store
//   round trip) → score (RBA, model) → decide (rules + policy, under the overrides in force) →
//   record (decision document, training) → shadow (the shadow pack, if any, into its report)
// — plus outcomes (from the outcome window in the store, or from the decision log past it), kept
// decisions, the shadow report and erasure. Nothing here knows HTTP; every dependency is injected.
import type { CompiledPack } from '../dsl/index.ts';
import { CATALOG } from '../features/catalog.ts';
import type { GeoIp } from '../features/geoip.ts';
import { modelSlots, type ModelScorer } from '../features/model/index.ts';
import type { SignalStore } from '../features/store/index.ts';
import { createUserAgentParser, type UserAgentParser } from '../features/useragent.ts';
import type { DecisionLog } from '../decisionlog/index.ts';
import { errorMessage } from '../common/errors.ts';
import { parseEventContext, type EventContext } from '../features/store/index.ts';
import { storedDecision } from './decisions.ts';
import { decodeWindow, encodeWindow } from './window.ts';
import { EngineUnavailableError } from './errors.ts';
import { createIdFactory } from './ids.ts';
import { createLiveLists } from './lists.ts';
import { planFeatures } from './plan.ts';
import type { Recorder } from './recorder.ts';
import { createMemoryShadowReport, type ShadowReportStore } from './shadowreport.ts';
import { decide } from './stages/decide.ts';
import { extract } from './stages/extract.ts';
import { record } from './stages/record.ts';
import { score } from './stages/score.ts';
import { runShadow } from './stages/shadow.ts';
import { readSignals } from './stages/signals.ts';
import { linkedLoginFromRow } from './session.ts';
import type { SignalFailure, SignalLatency, StageLogger } from './stages/types.ts';
import type { DecisionPage, DecisionQuery, Engine, EvaluateResult, Outcome, StoredDecision, VigilEvent } from './types.ts';

export type { DecisionPage, DecisionQuery, Engine, EvaluateResult, Outcome, SecurityLogItem, SecurityLogView, StoredDecision, VigilEvent } from './types.ts';
export { planFeatures, type FeaturePlan } from './plan.ts';
export { EngineError, EngineUnavailableError } from './errors.ts';
export { createLiveLists, type DeclaredList, type ListEntry, type ListLookup, type ListView, type LiveLists } from './lists.ts';
export {
  createMemoryShadowReport,
  createRedisShadowReport,
  type ShadowReport,
  type ShadowReportStore,
} from './shadowreport.ts';

/** What the engine needs of the active pack (engine/packs' ActivePack fits). */
export interface ActivePackRef {
  readonly pack: CompiledPack;
  /** One RULE_MODE per rule of `pack`, when an override is in force. */
  readonly modes?: Uint8Array | undefined;
  /** The shadow pack, run after the live answer on the same features. */
  readonly shadow?: { readonly pack: CompiledPack } | undefined;
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
  /** How long the outcome window keeps a decision in the store (VIGIL_OUTCOME_WINDOW, default 1 h). */
  readonly outcomeWindowSeconds?: number;
  /**
   * How long a sign-in's session record is kept (VIGIL_SESSION_WINDOW, default 24 h): an account
   * change naming an older sign-in reads it from the decision log, or without one has every
   * session.* feature missing.
   */
  readonly sessionWindowSeconds?: number;
  /** The decision log: every decision, durable and searchable. Absent: decisions live only in the window. */
  readonly log?: DecisionLog;
  readonly ua?: UserAgentParser;
  readonly logger?: EngineLogger;
  /** The anomaly model (`model.*`); absent: those features are missing. */
  readonly model?: ModelScorer;
  /** Appends every decision's features and every outcome for training (off when absent). */
  readonly recorder?: Recorder;
  /** Called once per failed signal source per event (metrics). */
  readonly onSignalFailure?: SignalFailure;
  /** Called with each signal source's time per event (metrics); absent: nothing is timed. */
  readonly onSignalLatency?: SignalLatency;
  /** How often this instance sweeps expired live-list entries, ms (default 1000; 0: never). */
  readonly listSweepMs?: number;
  /** Where shadow-pack comparisons are counted (default: in this process). */
  readonly shadowReport?: ShadowReportStore;
}

const DEFAULT_OUTCOME_WINDOW_S = 3600;
const DEFAULT_SESSION_WINDOW_S = 86_400;
/** Erasure finds the user's window records through the log, this many decision ids at a time. */
const ERASE_PAGE = 1000;
const ALL_FEATURES: readonly string[] = CATALOG.map((e) => e.name);

export function createEngine(opts: EngineOptions): Engine {
  const { store, geoip, packs, model, recorder, logger, log } = opts;
  const window = opts.outcomeWindowSeconds ?? DEFAULT_OUTCOME_WINDOW_S;
  const fail: SignalFailure = opts.onSignalFailure ?? (() => {});
  const ulid = createIdFactory();
  const shadowReport = opts.shadowReport ?? createMemoryShadowReport({ ...(logger ? { logger } : {}) });
  const pending = new Set<Promise<void>>();
  const latency = opts.onSignalLatency;
  // Past the session window the log still holds the sign-in: its row gives the same session facts.
  const archivedLogin = log
    ? async (id: string) => {
        const row = await log.get(id);
        return row ? linkedLoginFromRow(row) : undefined;
      }
    : undefined;
  const signalDeps = { store, geoip, ua: opts.ua ?? createUserAgentParser(), signalTimeoutMs: opts.signalTimeoutMs, fail, latency, logger, archivedLogin };
  const scoreDeps = { model, fail, latency };
  const sessionSeconds = opts.sessionWindowSeconds ?? DEFAULT_SESSION_WINDOW_S;
  const recordDeps = { store, windowSeconds: window, sessionSeconds, log, recorder, fail, logger, pending };
  const lists = createLiveLists({
    store,
    packs,
    ...(logger ? { logger } : {}),
    ...(opts.listSweepMs !== undefined ? { sweepMs: opts.listSweepMs } : {}),
  });
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
    const shadow = active.shadow?.pack;
    const plan = planFeatures(pack, extraFeatures(), shadow);
    const explain = evalOpts.explain === true;
    const x = extract(event, plan.slotCount);
    const read = await readSignals(signalDeps, x, pack, plan, shadow);
    const scored = await score(scoreDeps, x, read, plan, explain);
    const result = decide({ id: ulid(event.time), pack, modes: active.modes, plan, model, explain }, x, read, scored);
    record(recordDeps, x, read, plan, result);
    if (shadow) runShadow(shadow, x, read, result, shadowReport);
    return result;
  }

  /** Teach the signals an outcome, then note it in the log (the window's own copy is noted by the caller). */
  async function apply(id: string, ctx: EventContext, outcome: Outcome): Promise<void> {
    await store.recordOutcome(ctx, outcome, ctx.time);
    recorder?.record({ kind: 'outcome', decision_id: id, outcome });
    if (log) {
      // The log queues (or spools) while its database is away; an outcome is never lost for it.
      await log.setOutcome(id, outcome, Date.now()).catch((err: unknown) => {
        logger?.warn({ err: errorMessage(err), decision_id: id }, 'could not note the outcome in the decision log');
      });
    }
  }

  return {
    evaluate,

    async outcome(decisionId: string, outcome: Outcome): Promise<'ok' | 'not_found'> {
      const raw = await store.getDecision(decisionId);
      const w = raw === null ? null : decodeWindow(raw);
      if (w) {
        // Idempotent: a retried outcome must not count a failure twice or learn a place twice.
        if (w.outcome !== null) return 'ok';
        await apply(decisionId, w.ctx, outcome);
        const left = Math.max(1, window - Math.max(0, (Date.now() - w.ctx.time) / 1000));
        await store.putDecision(decisionId, encodeWindow(w.ctx, outcome), left);
        return 'ok';
      }
      // Past the window, or answered while the store was down: the log still knows the decision.
      const row = log ? await log.get(decisionId) : null;
      if (!row) return 'not_found';
      if (row.outcome !== null) return 'ok';
      const ctx = parseEventContext(row.ctx);
      if (!ctx) return 'not_found';
      await apply(decisionId, ctx, outcome);
      return 'ok';
    },

    async getDecision(decisionId: string): Promise<StoredDecision | null> {
      const row = log ? await log.get(decisionId) : null;
      return row ? storedDecision(row) : null;
    },

    async searchDecisions(q: DecisionQuery): Promise<DecisionPage> {
      if (!log) return { decisions: [], cursor: null };
      // A search reads the table: what is still queued is written first, so an answer just given
      // is found (an admin call can wait one batch; the answer path never does).
      await log.flush();
      // The raw user id is hashed as the store keys it; nothing raw reaches the log.
      const { user, ...rest } = q;
      const page = await log.search(user === undefined ? rest : { ...rest, user: store.userHash(user) });
      return { decisions: page.rows.map(storedDecision), cursor: page.nextCursor };
    },

    async securityLog(userId, q = {}) {
      if (!log) return { entries: [], cursor: null };
      // As a search: what is still queued is written first, so the sign-in just answered shows.
      await log.flush();
      const page = await log.securityLog({
        user: store.userHash(userId),
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      });
      return {
        entries: page.entries.map((e) => ({
          at: new Date(e.time).toISOString(),
          type: e.type,
          ...(e.change !== null ? { change: e.change } : {}),
          decision: e.decision,
          country: e.country,
          city: e.city,
          browser: e.browser,
          os: e.os,
          notices: e.notices,
        })),
        cursor: page.nextCursor,
      };
    },

    async eraseUser(userId: string) {
      const user = store.userHash(userId);
      let windowRecords = 0;
      let decisions = 0;
      const ips = new Set<string>();
      const devices = new Set<string>();
      if (log) {
        // The log names the user's decisions (whose window records go too) and the addresses and
        // devices whose distinct-user sets hold the user; read before the log forgets them.
        let cursor: string | undefined;
        do {
          const page = await log.search({ user, limit: ERASE_PAGE, ...(cursor !== undefined ? { cursor } : {}) });
          windowRecords += await store.deleteDecisions(page.rows.map((r) => r.id));
          for (const r of page.rows) {
            ips.add(r.ip);
            if (r.device !== null) devices.add(r.device);
          }
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
        decisions = await log.eraseUser(user);
      }
      const keys = await store.eraseUser(userId, { ips: [...ips], devices: [...devices] });
      return { keys: keys + windowRecords, decisions };
    },

    clearCounters(target) {
      return store.clearCounters(target);
    },

    lists,

    async ready() {
      const pack = packs() !== null;
      const storeOk = await store.ping();
      return { ok: pack && storeOk, checks: { pack, store: storeOk, geoip: geoip !== null } };
    },

    shadowReport(q) {
      return shadowReport.read(q.active, q.shadow, q.since);
    },

    explainModel(features) {
      if (!model) return null;
      return { version: model.version, contributions: model.explain(modelSlots(features)) };
    },

    async reloadModel(path?: string) {
      if (!model) throw new EngineUnavailableError('no model is configured');
      await model.reload(path);
      return { version: model.version };
    },

    async close() {
      lists.close();
      await Promise.allSettled([...pending]);
      await shadowReport.close();
      await model?.close();
      await recorder?.close();
      await log?.close();
      geoip?.close();
      await store.close();
    },
  };
}
