// What is kept of a decision: the decision log's row (decisionlog/: the features as evaluated, the
// answer without its rendered reasons, keyed hashes and a coarse address prefix — never a raw user
// id, device id or address) and how a kept decision is shown again (GET /v1/decisions/:id, explain).
import type { Slots } from '../dsl/index.ts';
import type { LogRow, RuleHitRow } from '../decisionlog/index.ts';
import type { RuleHit } from '../dsl/index.ts';
import type { EventContext } from '../features/store/index.ts';
import type { FeaturePlan } from './plan.ts';
import type { EvaluateResult, StoredDecision } from './types.ts';

/** The request's fields that identify nobody, kept with the decision. */
export interface StoredRequestFields {
  created_at?: string;
  mfa?: boolean;
  browser?: string;
  os?: string;
}

/** The features the pack (and model) read, without raw identifiers: missing or non-finite → null. */
export function keptFeatures(plan: FeaturePlan, slots: Slots): Record<string, boolean | number | string | null> {
  const out: Record<string, boolean | number | string | null> = {};
  const kept = plan.kept;
  for (let i = 0; i < kept.length; i++) {
    const e = kept[i]!;
    const v = slots[e.slot];
    out[e.name] = v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? null : v;
  }
  return out;
}

// Rendered reasons are not kept: they may carry a raw value (an address, a user id) that the live
// answer may show its caller but nothing stored may hold.
function hitRows(hits: readonly RuleHit[]): RuleHitRow[] {
  return hits.map((h) => ({ name: h.name, action: h.action, score: h.score, tags: h.tags }));
}

/** What only the user's security log shows (decisionlog/migrations/005_security_log.sql). */
export interface SecurityFields {
  /** GeoIP city, English. */
  readonly city?: string | undefined;
  /** account_change events: what changed. */
  readonly change?: string | undefined;
  /** The answer's notice codes, in its order. */
  readonly notices?: readonly string[] | undefined;
}

export function logRow(
  result: EvaluateResult,
  ctx: EventContext,
  prefix: string | null,
  request: StoredRequestFields,
  features: Readonly<Record<string, boolean | number | string | null>>,
  security: SecurityFields = {},
): LogRow {
  return {
    id: result.decision_id,
    time: ctx.time,
    type: ctx.type,
    user: ctx.user,
    device: ctx.device ?? null,
    ip: ctx.ip,
    prefix,
    country: ctx.country ?? null,
    asn: ctx.asn ?? null,
    decision: result.decision,
    score: result.score,
    degraded: result.degraded,
    rules: hitRows(result.rules),
    shadow: hitRows(result.shadow),
    overrides: result.overrides,
    pack: result.pack,
    modelVersion: result.model?.version ?? null,
    features,
    ctx: ctx as unknown as Readonly<Record<string, unknown>>,
    request: request as Readonly<Record<string, unknown>>,
    ...(security.city !== undefined ? { city: security.city } : {}),
    ...(security.change !== undefined ? { change: security.change } : {}),
    ...(security.notices !== undefined && security.notices.length > 0 ? { notices: security.notices } : {}),
    outcome: null,
    outcomeAt: null,
  };
}

/** A kept decision as GET /v1/decisions/:id shows it: identifiers as their keyed hashes. */
export function storedDecision(row: LogRow): StoredDecision {
  const anomaly = row.features['model.anomaly'];
  const result: EvaluateResult = {
    decision_id: row.id,
    decision: row.decision,
    score: row.score,
    rules: row.rules.map((h) => ({ ...h, reason: null })),
    shadow: row.shadow.map((h) => ({ ...h, reason: null })),
    model: row.modelVersion === null ? null : { anomaly: typeof anomaly === 'number' ? anomaly : null, version: row.modelVersion },
    pack: row.pack,
    degraded: row.degraded,
    // The log row keeps no notices (the user's security log keeps their codes).
    notices: [],
    ...(row.overrides && row.overrides.length > 0 ? { overrides: row.overrides } : {}),
  };
  return {
    decision_id: row.id,
    request: {
      type: row.type,
      time: new Date(row.time).toISOString(),
      user: row.user,
      ip: row.ip,
      ...(row.prefix !== null ? { ip_prefix: row.prefix } : {}),
      ...(row.device !== null ? { device: row.device } : {}),
      ...(row.country !== null ? { country: row.country } : {}),
      ...(row.asn !== null ? { asn: row.asn } : {}),
      ...row.request,
    },
    features: row.features,
    result,
    at: new Date(row.time).toISOString(),
    ...(row.outcome !== null ? { outcome: row.outcome } : {}),
  };
}
