// The explanation of a kept decision (GET /v1/decisions/:id?explain=1, `vigil explain`, the
// console): the language's trace (dsl/explain.ts) recomputed from the features the decision log
// kept, with the active pack, plus the model's contributions and what the recomputation cannot see.
// A kept decision holds no raw identifier and no live-list answer, so conditions on those read as
// missing here even when they matched at the time; `kept` says what the decision itself matched.
import { explainRecord, type CompiledPack, type DecisionTrace } from '../dsl/index.ts';
import { IDENTIFIER_FEATURES, VIGIL_SCHEME } from '../features/catalog.ts';
import type { Engine, PackInfo, StoredDecision } from './types.ts';

export interface DecisionExplanation {
  /** The pack that decided (kept with the decision). */
  readonly decided_by: PackInfo;
  /** The pack the trace was computed with (the active one), or null when none is loaded. */
  readonly traced_with: PackInfo | null;
  /** The active pack is the one that decided (same hash). */
  readonly same_pack: boolean;
  readonly trace: DecisionTrace | null;
  /** The rules the kept decision matched (enforcing and shadow), the ground truth of the time. */
  readonly kept: { readonly rules: readonly string[]; readonly shadow: readonly string[] };
  /** Rules whose recomputed match differs from the kept decision. */
  readonly differs: readonly string[];
  readonly model: {
    readonly version: string | null;
    readonly anomaly: number | null;
    /** Recomputed with the model loaded now (`explained_with`). */
    readonly contributions: readonly { readonly feature: string; readonly contribution: number }[];
    readonly explained_with: string | null;
  } | null;
  /** What the reader should know about this trace, one sentence each. */
  readonly notes: readonly string[];
}

function scalarFeatures(f: Readonly<Record<string, unknown>>): Record<string, boolean | number | string | null> {
  const out: Record<string, boolean | number | string | null> = {};
  for (const [k, v] of Object.entries(f)) {
    out[k] = typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string' ? v : null;
  }
  return out;
}

const packLabel = (p: PackInfo): string => `${p.name} v${p.version} (${p.hash.slice(0, 19)}…)`;

export function explainDecision(stored: StoredDecision, active: CompiledPack | null, engine: Pick<Engine, 'explainModel'>): DecisionExplanation {
  const decidedBy = stored.result.pack;
  const eventType = typeof stored.request.type === 'string' ? stored.request.type : 'login';
  const features = scalarFeatures(stored.features);
  const kept = { rules: stored.result.rules.map((r) => r.name), shadow: stored.result.shadow.map((r) => r.name) };
  const notes: string[] = [];
  let trace: DecisionTrace | null = null;
  let differs: string[] = [];
  if (active) {
    trace = explainRecord(active, eventType, features, { scheme: VIGIL_SCHEME });
    if (active.hash !== decidedBy.hash) {
      notes.push(`Decided by ${packLabel(decidedBy)}; this trace uses the active pack ${active.name} v${active.version} (${active.hash.slice(0, 19)}…).`);
    }
    const identifiers = active.features.filter((f) => IDENTIFIER_FEATURES.has(f));
    if (identifiers.length > 0) {
      notes.push(`${identifiers.join(', ')} ${identifiers.length === 1 ? 'is' : 'are'} never kept with a decision: conditions reading ${identifiers.length === 1 ? 'it' : 'them'} show missing here.`);
    }
    if (active.probes.length > 0) notes.push('Live-list (redis) memberships are not kept with a decision: they show missing here.');
    const matchedAtTheTime = new Set([...kept.rules, ...kept.shadow]);
    differs = trace.rules.filter((r) => r.matched !== matchedAtTheTime.has(r.rule)).map((r) => r.rule);
    if (differs.length > 0) notes.push(`The recomputed match differs from the kept decision for: ${differs.join(', ')}.`);
    if (trace.ignored.length > 0) notes.push(`Kept features this version does not know were left missing: ${trace.ignored.join(', ')}.`);
  } else {
    notes.push('No pack is active: no trace.');
  }
  let model: DecisionExplanation['model'] = null;
  if (stored.result.model) {
    const m = engine.explainModel?.(features) ?? null;
    model = {
      version: stored.result.model.version,
      anomaly: stored.result.model.anomaly,
      contributions: m?.contributions ?? [],
      explained_with: m?.version ?? null,
    };
    if (m && m.version !== stored.result.model.version) notes.push(`Scored by model ${stored.result.model.version}; contributions computed with ${m.version}.`);
  }
  return {
    decided_by: decidedBy,
    traced_with: active ? { name: active.name, version: active.version, hash: active.hash } : null,
    same_pack: active !== null && active.hash === decidedBy.hash,
    trace,
    kept,
    differs,
    model,
    notes,
  };
}
