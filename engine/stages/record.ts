// Stage 5, record: the decision document goes to the store for /v1/outcome and audit, and the
// evaluated features to the training recorder when one is configured. Neither is awaited: the answer
// never waits for a second round trip or for a store that is down. The store runs one connection's
// commands in order, so an outcome sent through this instance later always finds the decision;
// `pending` lets close() wait for writes still in flight.
import { errorMessage } from '../../common/errors.ts';
import type { SignalStore } from '../../features/store/index.ts';
import { decisionDocJson, recordedFeatures, type StoredRequestFields } from '../decisions.ts';
import type { FeaturePlan } from '../plan.ts';
import type { Recorder } from '../recorder.ts';
import type { EvaluateResult } from '../types.ts';
import type { Extracted, SignalFailure, SignalsRead, StageLogger } from './types.ts';

export interface RecordDeps {
  readonly store: SignalStore;
  readonly ttlSeconds: number;
  readonly recorder?: Recorder;
  readonly fail: SignalFailure;
  readonly logger?: StageLogger;
  readonly pending: Set<Promise<void>>;
}

export function record(deps: RecordDeps, x: Extracted, read: SignalsRead, plan: FeaturePlan, result: EvaluateResult): void {
  const ev = x.event;
  const agent = x.input.ua;
  const req: StoredRequestFields = {};
  if (ev.userCreatedAt !== undefined) req.created_at = new Date(ev.userCreatedAt).toISOString();
  if (ev.mfa !== undefined) req.mfa = ev.mfa;
  if (agent.browser !== undefined) req.browser = agent.browser;
  if (agent.os !== undefined) req.os = agent.os;
  const at = new Date(ev.time).toISOString();
  const id = result.decision_id;
  const json = decisionDocJson(id, at, read.ctx, req, plan, x.slots, result);
  deps.recorder?.record({
    kind: 'decision',
    decision_id: id,
    time: at,
    type: ev.type,
    decision: result.decision,
    score: result.score,
    features: recordedFeatures(plan, x.slots),
  });
  const write = deps.store
    .putDecision(id, json, deps.ttlSeconds)
    .catch((err: unknown) => {
      // The answer stands; only /v1/outcome and audit for this decision are lost.
      deps.fail('decision_store');
      deps.logger?.warn({ err: errorMessage(err), decision_id: id }, 'could not store the decision');
    })
    .finally(() => deps.pending.delete(write));
  deps.pending.add(write);
}
