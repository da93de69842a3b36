// What the stages of one evaluation hand each other (engine/index.ts composes them):
//   extract → read signals → score → decide → record.
// Each stage's output is its own typed record; the per-event execution context (`slots`, indexed by
// the registry's slots) and the sources' outputs (`input`, what the registry's extractors read) are
// created by extract and filled phase by phase by the stages after it.
import type { Slots } from '../../dsl/index.ts';
import type { FeatureInput } from '../../features/catalog.ts';
import type { ModelScore } from '../../features/model/index.ts';
import type { RbaAttempt } from '../../features/rba.ts';
import type { EventContext, EventSignals } from '../../features/store/index.ts';
import type { VigilEvent } from '../types.ts';

/** Called once per failed signal source per event (metrics). */
export type SignalFailure = (source: 'store' | 'geoip' | 'decision_store' | 'decision_log' | 'model') => void;

/**
 * Called once per signal source read on the answer's path, with the seconds it took, failures and
 * timeouts included (metrics: latency per source). `store` is the one round trip of the event.
 */
export type SignalLatency = (source: 'store' | 'geoip' | 'model', seconds: number) => void;

export interface StageLogger {
  warn(obj: object, msg: string): void;
}

/** extract: the request as a typed event, with the execution context for the plan. */
export interface Extracted {
  readonly event: VigilEvent;
  /** Every source's output; extract sets `event` and `ip`, later stages the rest. */
  readonly input: FeatureInput;
  /** The execution context: the registry's slots, then the probe slots (the pack's; once the live answer is decided, the shadow pack's). */
  readonly slots: Slots;
}

/** read signals: GeoIP, the user agent and the one store round trip. */
export interface SignalsRead {
  /** The attempt as the store keys it (hashed identifiers only): stored with the decision. */
  readonly ctx: EventContext;
  /** The attempt as the RBA score sees it. */
  readonly attempt: RbaAttempt;
  /** null: the store failed or ran past its budget. */
  readonly signals: EventSignals | null;
  /** Index in `pack.probes` of each probe sent, aligned with the start of `signals.probes`. */
  readonly probesSent: readonly number[];
  /** Index in the shadow pack's `probes` of each of its probes sent… */
  readonly shadowProbesSent: readonly number[];
  /** …and where in `signals.probes` its answer is (a probe the live pack asked too is shared). */
  readonly shadowProbeAnswers: readonly number[];
  /** GeoIP or the store failed (or GeoIP is needed and not configured). */
  readonly degraded: boolean;
}

/** score: the RBA score and the anomaly model. */
export interface Scored {
  readonly rba: number | undefined;
  /** undefined: no model, or the model failed or timed out. */
  readonly model: ModelScore | undefined;
  /** The model failed or timed out. */
  readonly degraded: boolean;
}
