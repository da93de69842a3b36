// The stored decision document: what is kept per decision for /v1/outcome and audit — hashed
// identifiers only (the store's EventContext), the request's other fields, the features as evaluated
// (raw identifiers left out) and the answer — how it is written, read back, and shown.
import type { EventContext } from '../features/store/index.ts';
import type { FeaturePlan } from './plan.ts';
import type { EvaluateResult, Outcome, StoredDecision } from './types.ts';
import type { Slots } from '../dsl/index.ts';

/**
 * The request as shown by GET /v1/decisions is rebuilt from `ctx` and `req` (what the context does
 * not hold); documents written before `req` existed carry the whole `request`.
 */
export interface DecisionDoc {
  readonly decision_id: string;
  readonly at: string;
  readonly ctx: EventContext;
  readonly req?: StoredRequestFields;
  readonly request?: Readonly<Record<string, unknown>>;
  readonly features: Readonly<Record<string, unknown>>;
  readonly result: EvaluateResult;
  readonly outcome?: Outcome;
}

export interface StoredRequestFields {
  created_at?: string;
  mfa?: boolean;
  browser?: string;
  os?: string;
}

/** The document as JSON text, written piece by piece (no intermediate object on the hot path). */
export function decisionDocJson(
  id: string,
  at: string,
  ctx: EventContext,
  req: StoredRequestFields,
  plan: FeaturePlan,
  slots: Slots,
  result: EvaluateResult,
): string {
  return (
    `{"decision_id":${JSON.stringify(id)},"at":"${at}","ctx":${JSON.stringify(ctx)},"req":${JSON.stringify(req)}` +
    `,"features":${keptFeaturesJson(plan, slots)}` +
    // The explained feature values are stored once, in `features`.
    `,"result":${JSON.stringify(result.features ? { ...result, features: undefined } : result)}}`
  );
}

/** Parse a stored document; null for text that is not one. */
export function parseDecisionDoc(raw: string): DecisionDoc | null {
  try {
    const doc: unknown = JSON.parse(raw);
    return typeof doc === 'object' && doc !== null ? (doc as DecisionDoc) : null;
  } catch {
    return null;
  }
}

export function storedDecision(doc: DecisionDoc): StoredDecision {
  return {
    decision_id: doc.decision_id,
    request: storedRequest(doc),
    features: doc.features,
    result: doc.result,
    at: doc.at,
    ...(doc.outcome !== undefined ? { outcome: doc.outcome } : {}),
  };
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

/**
 * The features the pack (and model) read, as JSON text: missing or non-finite → null, and never a
 * raw identifier. The `"name":` prefixes are made once per plan.
 */
function keptFeaturesJson(plan: FeaturePlan, slots: Slots): string {
  let keys = prefixes.get(plan);
  if (keys === undefined) {
    keys = plan.kept.map((e, i) => (i === 0 ? '' : ',') + JSON.stringify(e.name) + ':');
    prefixes.set(plan, keys);
  }
  const kept = plan.kept;
  let out = '{';
  for (let i = 0; i < kept.length; i++) {
    const v = slots[kept[i]!.slot];
    out +=
      keys[i]! +
      (typeof v === 'string' ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? 'true' : 'false') : typeof v === 'number' && Number.isFinite(v) ? String(v) : 'null');
  }
  return out + '}';
}

const prefixes = new WeakMap<FeaturePlan, readonly string[]>();

/** The features recorded for training: the plan's, without raw identifiers, missing → null. */
export function recordedFeatures(plan: FeaturePlan, slots: Slots): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of plan.kept) out[e.name] = slots[e.slot] ?? null;
  return out;
}
