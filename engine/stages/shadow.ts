// Stage 4b, shadow: once the live answer is decided, the shadow pack runs on the same execution
// context — the same features, its own probe answers from the same store round trip written into
// the probe slots the live pack no longer needs — and its decision goes to the shadow report, never
// into the answer. No override applies to it: overrides silence rules of the active pack.
import type { Action } from '../../dsl/ast.ts';
import type { CompiledPack } from '../../dsl/index.ts';
import type { ShadowReportStore } from '../shadowreport.ts';
import type { EvaluateResult } from '../types.ts';
import type { Extracted, SignalsRead } from './types.ts';

/** Runs the shadow pack and reports the comparison; returns its decision. */
export function runShadow(shadow: CompiledPack, x: Extracted, read: SignalsRead, live: EvaluateResult, report: ShadowReportStore): Action {
  const slots = x.slots;
  const base = shadow.slotCount - shadow.probes.length;
  for (let i = base; i < shadow.slotCount; i++) slots[i] = undefined;
  const answers = read.signals?.probes;
  if (answers) {
    const sent = read.shadowProbesSent;
    const at = read.shadowProbeAnswers;
    for (let j = 0; j < sent.length; j++) slots[shadow.probes[sent[j]!]!.slot] = answers[at[j]!];
  }
  const d = shadow.evaluate(x.event.type, slots);
  report.add(live.pack.hash, shadow.hash, live.decision, d.decision, live.rules, d.rules, live.decision_id);
  return d.decision;
}
