// The engine: evaluate one event — parse the address, run GeoIP and the user-agent parser, read every
// store-backed signal in ONE pipelined round trip (recording the attempt in the same trip), fill the
// active pack's slots, run the rules, store the decision for /v1/outcome and audit. Also applies
// outcomes, serves stored decisions and erases users. Nothing here knows HTTP; every dependency is
// injected.
import type { CompiledPack, Decision, Slots } from '../dsl/index.ts';
import type { GeoIp, GeoRecord } from '../features/geoip.ts';
import { modelSlots, type ModelScore, type ModelScorer } from '../features/model/index.ts';
import { historyFeatures } from '../features/history.ts';
import { isPrivateIp, parseIp } from '../features/ip.ts';
import { rbaFields, rbaScore, type RbaAttempt } from '../features/rba.ts';
import type { EventContext, ListProbeRequest, SignalStore } from '../features/store/index.ts';
import { createUserAgentParser, type UserAgentInfo, type UserAgentParser } from '../features/useragent.ts';
import { velocityFeatures } from '../features/velocity.ts';
import { planFeatures, type FeaturePlan } from './plan.ts';
import { createIdFactory } from './ids.ts';
import type { Recorder } from './recorder.ts';
import type { Engine, EvaluateResult, Outcome, PackInfo, StoredDecision, VigilEvent } from './types.ts';

export type { Engine, EvaluateResult, Outcome, StoredDecision, VigilEvent } from './types.ts';
export { planFeatures, type FeaturePlan } from './plan.ts';

/** What the engine needs of the active pack (engine/packs' ActivePack fits). */
export interface ActivePackRef {
  readonly pack: CompiledPack;
}

export interface EngineLogger {
  warn(obj: object, msg: string): void;
}

export interface EngineOptions {
  readonly store: SignalStore;
  /** null: no GeoIP at all (every geo.* feature missing, events degraded when a rule needs them). */
  readonly geoip: GeoIp | null;
  /** The pack serving now; read once per evaluation, so a swap never mixes two packs in one decision. */
  readonly packs: () => ActivePackRef | null;
  readonly signalTimeoutMs: number;
  /**
   * Features to compute beyond what the pack reads (the model's inputs; replay and recording ask
   * for the whole catalog so that any pack can be evaluated on the result).
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
  readonly onSignalFailure?: (source: 'store' | 'geoip' | 'decision_store' | 'model') => void;
}

/** No pack is active (start-up failed): the API answers 503. */
export class EngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineUnavailableError';
  }
}

const DEFAULT_DECISION_TTL_S = 7 * 24 * 3600;

/**
 * What is stored per decision: hashed identifiers only (the EventContext), never raw ones. The
 * request as shown by GET /v1/decisions is rebuilt from the context and `req` (what the context does
 * not hold); documents written before `req` existed carry the whole `request`.
 */
interface DecisionDoc {
  readonly decision_id: string;
  readonly at: string;
  readonly ctx: EventContext;
  readonly req?: { readonly created_at?: string; readonly mfa?: boolean; readonly browser?: string; readonly os?: string };
  readonly request?: Readonly<Record<string, unknown>>;
  readonly features: Readonly<Record<string, unknown>>;
  readonly result: EvaluateResult;
  readonly outcome?: Outcome;
}

/** The stored request of a decision: the caller's fields, identifiers as their keyed hashes. */
function storedRequest(doc: DecisionDoc): Readonly<Record<string, unknown>> {
  if (doc.request) return doc.request;
  const c = doc.ctx;
  return {
    type: c.type,
    time: new Date(c.time).toISOString(),
    user: c.user,
    ip: c.ip,
    ...(c.device !== undefined ? { device: c.device } : {}),
    ...doc.req,
  };
}

export function createEngine(opts: EngineOptions): Engine {
  const { store, geoip, packs, signalTimeoutMs } = opts;
  const ttl = opts.decisionTtlSeconds ?? DEFAULT_DECISION_TTL_S;
  const ua = opts.ua ?? createUserAgentParser();
  const ulid = createIdFactory();
  const fail = opts.onSignalFailure ?? (() => {});
  const pending = new Set<Promise<void>>();
  const model = opts.model;
  // The plan also covers the model's inputs; recomputed only when a reload changes the model.
  let extra: readonly string[] = opts.extraFeatures ?? [];
  let extraFor: string | undefined;
  const extraFeatures = (): readonly string[] => {
    if (model && extraFor !== model.version) {
      extra = [...new Set([...(opts.extraFeatures ?? []), ...model.features])];
      extraFor = model.version;
    }
    return extra;
  };

  async function evaluate(ev: VigilEvent, evalOpts: { explain?: boolean } = {}): Promise<EvaluateResult> {
    const active = packs();
    if (!active) throw new EngineUnavailableError('no rule pack is active');
    const pack = active.pack;
    const plan = planFeatures(pack, extraFeatures());
    const bag: Record<string, boolean | number | string | undefined> = {};
    let degraded = false;

    // --- in-process signals: event, address, GeoIP, user agent -----------------------------------
    const ip = parseIp(ev.ip);
    bag['event.type'] = ev.type;
    bag['event.hour'] = new Date(ev.time).getUTCHours();
    bag['ip.address'] = ip ? ip.address : undefined;
    bag['ip.private'] = ip ? isPrivateIp(ip) : undefined;
    bag['user.id'] = ev.userId;
    bag['user.age'] =
      ev.userCreatedAt !== undefined && ev.time >= ev.userCreatedAt ? (ev.time - ev.userCreatedAt) / 1000 : undefined;
    bag['user.mfa'] = ev.mfa;
    bag['device.id'] = ev.deviceId;

    // GeoIP and the user agent always run: they are microseconds, and the history learns places and
    // browsers from them even when today's pack reads neither.
    let geo: GeoRecord = {};
    if (ip && geoip) {
      try {
        geo = geoip.lookupParsed(ip);
      } catch (err) {
        degraded = true;
        fail('geoip');
        opts.logger?.warn({ err: errMessage(err) }, 'GeoIP lookup failed');
      }
    } else if (!geoip && plan.geo) {
      degraded = true;
    }
    fillGeo(bag, geo);
    const agent: UserAgentInfo = ua.parse(ev.userAgent);
    bag['ua.browser'] = agent.browser;
    bag['ua.os'] = agent.os;
    bag['ua.device_type'] = agent.deviceType;

    // --- the one store round trip ----------------------------------------------------------------
    // Absent values are undefined properties here (no conditional spreads: this runs per request).
    const attempt: RbaAttempt = {
      ip: ip?.address,
      asn: geo.asn,
      country: geo.country,
      ua: ev.userAgent,
      browser: agent.browser,
      os: agent.os,
      deviceType: agent.deviceType,
    };
    const ctx = store.context({
      type: ev.type,
      userId: ev.userId,
      ip: ip ? ip.address : ev.ip,
      time: ev.time,
      deviceId: ev.deviceId,
      country: geo.country,
      asn: geo.asn,
      lat: geo.lat,
      lon: geo.lon,
      browser: agent.browser,
      os: agent.os,
      rbaFields: rbaFields(attempt),
    });

    const slots: Slots = new Array(pack.slotCount);
    const probeReqs: ListProbeRequest[] = [];
    const probeIdx: number[] = [];
    if (pack.probes.length > 0) {
      // Probe operands read the in-process features only (store features are not known yet).
      fillSlots(pack, bag, slots);
      for (let i = 0; i < pack.probes.length; i++) {
        const p = pack.probes[i]!;
        const v = p.operand(slots);
        if (v !== undefined) {
          probeReqs.push({ key: p.key, value: String(v) });
          probeIdx.push(i);
        }
      }
    }
    const signals = await store.readEvent(
      ctx,
      { history: plan.store.history, velocity: plan.store.velocity, rba: plan.store.rba, probes: probeReqs },
      signalTimeoutMs,
    );
    if (signals === null) {
      degraded = true;
      fail('store');
    }
    const hist = historyFeatures(signals?.history, { time: ev.time, lat: geo.lat, lon: geo.lon });
    // Copied key by key: Object.assign onto the many-keyed bag takes V8's slow path, and it was half
    // of evaluate's own time.
    copyInto(bag, hist);
    copyInto(bag, velocityFeatures(signals?.velocity));
    bag['rba.score'] = signals?.rba ? rbaScore(attempt, signals.rba) : undefined;
    let scored: ModelScore | undefined;
    if (model) {
      // Resolves undefined on failure or timeout, never throws.
      scored = await model.score(modelSlots(bag), { explain: evalOpts.explain === true });
      if (!scored) {
        degraded = true;
        fail('model');
      }
    }
    bag['model.anomaly'] = scored?.anomaly;
    bag['model.version'] = scored?.version ?? model?.version;
    bag['engine.degraded'] = degraded;

    fillSlots(pack, bag, slots);
    const base = pack.slotCount - pack.probes.length;
    for (let i = 0; i < pack.probes.length; i++) slots[base + i] = undefined;
    if (signals) {
      for (let j = 0; j < probeIdx.length; j++) slots[pack.probes[probeIdx[j]!]!.slot] = signals.probes[j];
    }

    const decision: Decision = pack.evaluate(ev.type, slots);
    const packInfo: PackInfo = { name: pack.name, version: pack.version, hash: pack.hash };
    const id = ulid(ev.time);
    const features = evalOpts.explain ? explainFeatures(plan, bag) : undefined;
    const result: EvaluateResult = {
      decision_id: id,
      decision: decision.decision,
      score: decision.score,
      rules: decision.rules,
      shadow: decision.shadow,
      model: model ? { anomaly: scored?.anomaly ?? null, version: scored?.version ?? model.version } : null,
      pack: packInfo,
      degraded,
      ...(features ? { features, plan: plan.steps, contributions: scored?.contributions ?? [] } : {}),
    };

    const req: { created_at?: string; mfa?: boolean; browser?: string; os?: string } = {};
    if (ev.userCreatedAt !== undefined) req.created_at = new Date(ev.userCreatedAt).toISOString();
    if (ev.mfa !== undefined) req.mfa = ev.mfa;
    if (agent.browser !== undefined) req.browser = agent.browser;
    if (agent.os !== undefined) req.os = agent.os;
    // The stored document (DecisionDoc), written as JSON text piece by piece.
    const at = new Date(ev.time).toISOString();
    const docJson =
      `{"decision_id":${JSON.stringify(id)},"at":"${at}","ctx":${JSON.stringify(ctx)},"req":${JSON.stringify(req)}` +
      `,"features":${usedFeaturesJson(plan, bag)}` +
      // The explained feature values are stored once, in `features`.
      `,"result":${JSON.stringify(features ? { ...result, features: undefined } : result)}}`;
    opts.recorder?.record({
      kind: 'decision',
      decision_id: id,
      time: at,
      type: ev.type,
      decision: decision.decision,
      score: decision.score,
      features: recordedFeatures(bag),
    });
    // Not awaited: the answer must not wait for a second round trip (or for a store that is down).
    // Redis runs one connection's commands in order, so an outcome sent through this instance later
    // always finds the decision. close() waits for writes still in flight.
    const write = store
      .putDecision(id, docJson, ttl)
      .catch((err: unknown) => {
        // The answer stands; only /v1/outcome and audit for this decision are lost.
        fail('decision_store');
        opts.logger?.warn({ err: errMessage(err), decision_id: id }, 'could not store the decision');
      })
      .finally(() => pending.delete(write));
    pending.add(write);
    return result;
  }

  async function loadDoc(id: string): Promise<DecisionDoc | null> {
    const raw = await store.getDecision(id);
    if (raw === null) return null;
    try {
      return JSON.parse(raw) as DecisionDoc;
    } catch {
      return null;
    }
  }

  return {
    evaluate,

    async outcome(decisionId: string, outcome: Outcome): Promise<'ok' | 'not_found'> {
      const doc = await loadDoc(decisionId);
      if (!doc) return 'not_found';
      // Idempotent: a retried outcome must not count a failure twice or learn a place twice.
      if (doc.outcome !== undefined) return 'ok';
      await store.recordOutcome(doc.ctx, outcome, doc.ctx.time);
      opts.recorder?.record({ kind: 'outcome', decision_id: decisionId, outcome });
      const remaining = Math.max(1, ttl - Math.max(0, (Date.now() - Date.parse(doc.at)) / 1000));
      await store.putDecision(decisionId, JSON.stringify({ ...doc, outcome }), remaining);
      return 'ok';
    },

    async getDecision(decisionId: string): Promise<StoredDecision | null> {
      const doc = await loadDoc(decisionId);
      if (!doc) return null;
      return {
        decision_id: doc.decision_id,
        request: storedRequest(doc),
        features: doc.features,
        result: doc.result,
        at: doc.at,
        ...(doc.outcome !== undefined ? { outcome: doc.outcome } : {}),
      };
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
      await opts.recorder?.close();
      geoip?.close();
      await store.close();
    },
  };
}

function copyInto(bag: Record<string, boolean | number | string | undefined>, from: object): void {
  const src = from as Readonly<Record<string, boolean | number | string | undefined>>;
  for (const k in src) bag[k] = src[k];
}

function fillGeo(bag: Record<string, boolean | number | string | undefined>, g: GeoRecord): void {
  bag['geo.country'] = g.country;
  bag['geo.city'] = g.city;
  bag['geo.lat'] = g.lat;
  bag['geo.lon'] = g.lon;
  bag['geo.asn'] = g.asn;
  bag['geo.asn_org'] = g.asnOrg;
  bag['geo.anonymous'] = g.anonymous;
  bag['geo.vpn'] = g.vpn;
  bag['geo.tor'] = g.tor;
  bag['geo.hosting'] = g.hosting;
  bag['geo.proxy'] = g.proxy;
}

function fillSlots(pack: CompiledPack, bag: Record<string, boolean | number | string | undefined>, slots: Slots): void {
  const names = pack.features;
  for (let i = 0; i < names.length; i++) slots[pack.slotOf(names[i]!)] = bag[names[i]!];
}

/** Every feature computed for explain output (missing → null); durations are already seconds. */
function explainFeatures(
  plan: FeaturePlan,
  bag: Record<string, boolean | number | string | undefined>,
): Record<string, boolean | number | string | null> {
  const out: Record<string, boolean | number | string | null> = {};
  for (const k of Object.keys(bag)) out[k] = bag[k] ?? null;
  for (const k of plan.features) if (!(k in out)) out[k] = null;
  return out;
}

const IDENTIFIERS = new Set(['user.id', 'device.id', 'ip.address']);

/**
 * The features the pack (and model) read, as stored for audit and recorded for training, written
 * straight as JSON text (the decision document's hottest part: no intermediate object): missing or
 * non-finite → null, and never a raw identifier (user.id, device.id and ip.address are left out).
 * The `"name":` prefixes are made once per plan.
 */
function usedFeaturesJson(plan: FeaturePlan, bag: Record<string, boolean | number | string | undefined>): string {
  let names = stored.get(plan);
  if (names === undefined) {
    const kept = plan.features.filter((k) => !IDENTIFIERS.has(k));
    names = { names: kept, keys: kept.map((k, i) => (i === 0 ? '' : ',') + JSON.stringify(k) + ':') };
    stored.set(plan, names);
  }
  let out = '{';
  for (let i = 0; i < names.names.length; i++) {
    const v = bag[names.names[i]!];
    out +=
      names.keys[i]! +
      (typeof v === 'string' ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? 'true' : 'false') : typeof v === 'number' && Number.isFinite(v) ? String(v) : 'null');
  }
  return out + '}';
}

const stored = new WeakMap<FeaturePlan, { readonly names: readonly string[]; readonly keys: readonly string[] }>();

/** Every feature computed (missing → null) minus raw identifiers: what training rows hold. */
function recordedFeatures(bag: Record<string, boolean | number | string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(bag)) if (!IDENTIFIERS.has(k)) out[k] = bag[k] ?? null;
  return out;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
