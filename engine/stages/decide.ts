// Stage 4, decide: the last features (the engine's own state, the probe answers) go into the
// execution context, the pack's rules and policy run (dsl.md §4) under the rule overrides in force,
// and the answer is assembled — naming the overrides that changed it, and with every computed
// feature, the plan and the model's contributions when explain is asked for.
import type { CompiledPack, Decision } from '../../dsl/index.ts';
import type { ModelScorer } from '../../features/model/index.ts';
import type { FeaturePlan } from '../plan.ts';
import type { EvaluateResult } from '../types.ts';
import { fillPhase } from './fill.ts';
import type { Extracted, Scored, SignalsRead } from './types.ts';

export interface DecideInput {
  readonly id: string;
  readonly pack: CompiledPack;
  /** The pack's override modes (one RULE_MODE per rule), when any override is in force. */
  readonly modes?: Uint8Array | undefined;
  readonly plan: FeaturePlan;
  /** The configured model, if any (the answer names its version even when it failed). */
  readonly model: ModelScorer | undefined;
  readonly explain: boolean;
}

export function decide(d: DecideInput, x: Extracted, read: SignalsRead, scored: Scored): EvaluateResult {
  const { pack, plan, model } = d;
  const { input, slots } = x;
  const degraded = read.degraded || scored.degraded;
  input.degraded = degraded;
  fillPhase(plan.phases.engine, input, slots);
  // Probes not sent (their operand was missing) and probes unanswered (store down) stay missing.
  const base = pack.slotCount - pack.probes.length;
  for (let i = base; i < pack.slotCount; i++) slots[i] = undefined;
  const answers = read.signals?.probes;
  if (answers) {
    for (let j = 0; j < read.probesSent.length; j++) slots[pack.probes[read.probesSent[j]!]!.slot] = answers[j];
  }

  const decision: Decision = pack.evaluate(x.event.type, slots, d.modes);
  const result: EvaluateResult = {
    decision_id: d.id,
    decision: decision.decision,
    score: decision.score,
    rules: decision.rules,
    shadow: decision.shadow,
    model: model ? { anomaly: scored.model?.anomaly ?? null, version: scored.model?.version ?? model.version } : null,
    pack: { name: pack.name, version: pack.version, hash: pack.hash },
    degraded,
    notices: decision.notices,
    overrides: decision.overrides,
  };
  if (!d.explain) return result;
  return { ...result, features: explainFeatures(plan, x), plan: plan.steps, contributions: scored.model?.contributions ?? [] };
}

/** Every feature computed (missing → null); durations are already seconds. */
export function explainFeatures(plan: FeaturePlan, x: Extracted): Record<string, boolean | number | string | null> {
  const out: Record<string, boolean | number | string | null> = {};
  for (const e of plan.computed) out[e.name] = x.slots[e.slot] ?? null;
  return out;
}
