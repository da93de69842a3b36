// Stage 5, record: the decision goes to the outcome window (Redis: what POST /v1/outcome needs, for
// VIGIL_OUTCOME_WINDOW) and to the decision log (everything else, durable and searchable, with what
// only the user's security log shows: the city, an account change's kind, the notice codes), and its
// features to the training recorder when one is configured. Nothing here is awaited: the answer never
// waits for a second round trip or for a store or database that is down (the log queues, then
// spools). The store runs one connection's commands in order, so an outcome sent through this
// instance later always finds the window record; `pending` lets close() wait for writes in flight.
import { errorMessage } from '../../common/errors.ts';
import type { DecisionLog } from '../../decisionlog/index.ts';
import { subnetKey } from '../../features/ip.ts';
import type { SignalStore } from '../../features/store/index.ts';
import { keptFeatures, logRow, type SecurityFields, type StoredRequestFields } from '../decisions.ts';
import type { FeaturePlan } from '../plan.ts';
import type { Recorder } from '../recorder.ts';
import type { EvaluateResult } from '../types.ts';
import { encodeWindow } from '../window.ts';
import { encodeSession } from '../session.ts';
import type { Extracted, SignalFailure, SignalsRead, StageLogger } from './types.ts';

export interface RecordDeps {
  readonly store: SignalStore;
  /** How long the outcome window keeps a decision, seconds. */
  readonly windowSeconds: number;
  /**
   * How long a sign-in's session record is kept for the account changes of its session, seconds
   * (written only when the pack reads session features).
   */
  readonly sessionSeconds: number;
  readonly log?: DecisionLog;
  readonly recorder?: Recorder;
  readonly fail: SignalFailure;
  readonly logger?: StageLogger;
  readonly pending: Set<Promise<void>>;
}

const WORD = /^[a-z][a-z_]{0,31}$/;
/** Longest city name kept (GeoIP data is untrusted input). */
const CITY_MAX = 100;

/**
 * What changed (an account_change event's `change`) and the answer's notice codes, for the user's
 * security log. Read by shape: the event and the answer carry them only when the pack and the
 * request use them (absent: no change, no notice).
 */
export function securityFieldsOf(ev: object, result: object): SecurityFields {
  // Only words the log accepts: a field it would refuse must not cost the decision its row.
  const change = 'change' in ev && typeof ev.change === 'string' && WORD.test(ev.change) ? ev.change : undefined;
  const notices: string[] = [];
  if ('notices' in result && Array.isArray(result.notices)) {
    for (const n of result.notices as unknown[]) {
      const code = typeof n === 'string' ? n : typeof n === 'object' && n !== null && 'code' in n ? n.code : undefined;
      if (typeof code === 'string' && WORD.test(code) && !notices.includes(code)) notices.push(code);
    }
  }
  return { ...(change !== undefined ? { change } : {}), ...(notices.length > 0 ? { notices } : {}) };
}

export function record(deps: RecordDeps, x: Extracted, read: SignalsRead, plan: FeaturePlan, result: EvaluateResult): void {
  const ev = x.event;
  const id = result.decision_id;
  const write = deps.store
    .putDecision(id, encodeWindow(read.ctx), deps.windowSeconds)
    .catch((err: unknown) => {
      // The answer stands; an outcome for it is then looked up in the decision log.
      deps.fail('decision_store');
      deps.logger?.warn({ err: errorMessage(err), decision_id: id }, 'could not store the decision in the outcome window');
    })
    .finally(() => deps.pending.delete(write));
  deps.pending.add(write);
  // A sign-in opens a session: what its account changes will compare themselves with.
  if (ev.type === 'login' && plan.store.session) {
    const session = deps.store
      .putSession(id, encodeSession(read.ctx, result.decision, result.score, x.input.history), deps.sessionSeconds)
      .catch((err: unknown) => {
        deps.fail('decision_store');
        deps.logger?.warn({ err: errorMessage(err), decision_id: id }, 'could not store the session record');
      })
      .finally(() => deps.pending.delete(session));
    deps.pending.add(session);
  }

  if (!deps.log && !deps.recorder) return;
  const features = keptFeatures(plan, x.slots);
  if (deps.log) {
    const agent = x.input.ua;
    const req: StoredRequestFields = {};
    if (ev.userCreatedAt !== undefined) req.created_at = new Date(ev.userCreatedAt).toISOString();
    if (ev.mfa !== undefined) req.mfa = ev.mfa;
    if (agent.browser !== undefined) req.browser = agent.browser;
    if (agent.os !== undefined) req.os = agent.os;
    const ip = x.input.ip;
    const city = x.input.geo.city;
    deps.log.append(
      logRow(result, read.ctx, ip ? subnetKey(ip) : null, req, features, {
        ...(city !== undefined && city.length > 0 ? { city: city.slice(0, CITY_MAX) } : {}),
        ...securityFieldsOf(ev, result),
      }),
    );
  }
  deps.recorder?.record({
    kind: 'decision',
    decision_id: id,
    time: new Date(ev.time).toISOString(),
    type: ev.type,
    decision: result.decision,
    score: result.score,
    features,
  });
}
