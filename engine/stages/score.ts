// Stage 3, score: the Freeman et al. RBA score from the counts the store read, then the anomaly
// model, which reads the execution context filled so far (its inputs are in the plan). The model
// resolves undefined on failure or timeout and never throws; the event is then degraded.
import { rbaScore } from '../../features/rba.ts';
import type { ModelScorer } from '../../features/model/index.ts';
import type { FeaturePlan } from '../plan.ts';
import { fillPhase } from './fill.ts';
import type { Extracted, Scored, SignalFailure, SignalLatency, SignalsRead } from './types.ts';

export interface ScoreDeps {
  /** Absent: model.* features are missing and no model runs. */
  readonly model?: ModelScorer;
  readonly fail: SignalFailure;
  /** Absent: nothing is timed. */
  readonly latency?: SignalLatency | undefined;
}

export async function score(deps: ScoreDeps, x: Extracted, read: SignalsRead, plan: FeaturePlan, explain: boolean): Promise<Scored> {
  const { input, slots } = x;
  const counts = read.signals?.rba;
  const rba = counts ? rbaScore(read.attempt, counts) : undefined;
  input.rba = rba;
  fillPhase(plan.phases.store, input, slots);
  const model = deps.model;
  if (!model) {
    fillPhase(plan.phases.model, input, slots);
    return { rba, model: undefined, degraded: false };
  }
  const latency = deps.latency;
  const t0 = latency ? performance.now() : 0;
  const scored = await model.score(slots, { explain });
  if (latency) latency('model', (performance.now() - t0) / 1000);
  input.anomaly = scored?.anomaly;
  input.modelVersion = scored?.version ?? model.version;
  fillPhase(plan.phases.model, input, slots);
  if (!scored) deps.fail('model');
  return { rba, model: scored, degraded: scored === undefined };
}
