// Backtesting a candidate pack against recorded traffic (POST /v1/packs/backtest, the console):
// the candidate and the active pack each evaluate the features the decision log kept for the last
// N decisions, and the report counts both packs' decisions and rule hits and lists the decisions
// that change. Both packs see the same kept features, so the comparison is fair; what neither can
// see (raw identifiers, live-list answers: never kept) is said in `notes`, and `reproduced` tells
// how often the active pack, recomputed, gives the answer that was actually kept.
import { recordToSlotsLenient, type CompiledPack, type Decision } from '../dsl/index.ts';
import { IDENTIFIER_FEATURES, VIGIL_SCHEME } from '../features/catalog.ts';
import type { PackInfo, StoredDecision } from './types.ts';

type Action = Decision['decision'];
type Counts = Record<Action, number>;

/** How many changed decisions a report lists (the count of all of them is `changed`). */
export const MAX_LISTED_CHANGES = 200;

export interface BacktestChange {
  readonly decision_id: string;
  readonly at: string;
  readonly type: string;
  /** The active pack's answer, recomputed. */
  readonly before: Action;
  readonly after: Action;
  /** Enforcing rules each pack matched. */
  readonly rules_before: readonly string[];
  readonly rules_after: readonly string[];
}

export interface BacktestRuleHits {
  readonly name: string;
  /** Hits under the active pack (enforcing or shadow), null when that pack has no such rule. */
  readonly active: number | null;
  readonly candidate: number | null;
}

export interface BacktestReport {
  readonly events: number;
  /** The oldest and newest decision evaluated (ISO), null when there were none. */
  readonly from: string | null;
  readonly to: string | null;
  readonly active: { readonly pack: PackInfo; readonly decisions: Counts };
  readonly candidate: { readonly pack: PackInfo; readonly decisions: Counts };
  /** What was kept at the time (whatever pack decided then). */
  readonly kept: { readonly decisions: Counts };
  /** Decisions the active pack, recomputed from kept features, answers as was kept. */
  readonly reproduced: number;
  readonly rules: readonly BacktestRuleHits[];
  readonly changed: number;
  /** The first MAX_LISTED_CHANGES changed decisions, newest first. */
  readonly changes: readonly BacktestChange[];
  readonly notes: readonly string[];
}

const zero = (): Counts => ({ allow: 0, step_up: 0, block: 0 });
const info = (p: CompiledPack): PackInfo => ({ name: p.name, version: p.version, hash: p.hash });

function evaluate(pack: CompiledPack, type: string, features: Readonly<Record<string, unknown>>): Decision {
  // Probe slots stay missing: list answers are not kept.
  return pack.evaluate(type, recordToSlotsLenient(pack, type, features, VIGIL_SCHEME).slots);
}

/** `decisions` newest first, as the decision log's search answers. */
export function backtest(active: CompiledPack, candidate: CompiledPack, decisions: readonly StoredDecision[]): BacktestReport {
  const activeCounts = zero();
  const candidateCounts = zero();
  const keptCounts = zero();
  const activeHits = new Map<string, number>(active.rules.map((r) => [r.name, 0]));
  const candidateHits = new Map<string, number>(candidate.rules.map((r) => [r.name, 0]));
  const changes: BacktestChange[] = [];
  let changed = 0;
  let reproduced = 0;
  const count = (hits: Map<string, number>, d: Decision): void => {
    for (const h of d.rules) hits.set(h.name, (hits.get(h.name) ?? 0) + 1);
    for (const h of d.shadow) hits.set(h.name, (hits.get(h.name) ?? 0) + 1);
  };
  for (const s of decisions) {
    const type = typeof s.request.type === 'string' ? s.request.type : 'login';
    const before = evaluate(active, type, s.features);
    const after = evaluate(candidate, type, s.features);
    activeCounts[before.decision]++;
    candidateCounts[after.decision]++;
    keptCounts[s.result.decision]++;
    if (before.decision === s.result.decision) reproduced++;
    count(activeHits, before);
    count(candidateHits, after);
    if (before.decision !== after.decision) {
      changed++;
      if (changes.length < MAX_LISTED_CHANGES) {
        changes.push({
          decision_id: s.decision_id,
          at: s.at,
          type,
          before: before.decision,
          after: after.decision,
          rules_before: before.rules.map((h) => h.name),
          rules_after: after.rules.map((h) => h.name),
        });
      }
    }
  }
  const names = [...new Set([...activeHits.keys(), ...candidateHits.keys()])];
  const notes: string[] = [];
  const blind = [...new Set([...active.features, ...candidate.features].filter((f) => IDENTIFIER_FEATURES.has(f)))];
  if (blind.length > 0) notes.push(`${blind.join(', ')} ${blind.length === 1 ? 'is' : 'are'} never kept with a decision: rules reading ${blind.length === 1 ? 'it' : 'them'} see it missing in a backtest.`);
  if (active.probes.length + candidate.probes.length > 0) notes.push('Live-list (redis) memberships are not kept: they are missing in a backtest.');
  return {
    events: decisions.length,
    from: decisions.length > 0 ? decisions[decisions.length - 1]!.at : null,
    to: decisions.length > 0 ? decisions[0]!.at : null,
    active: { pack: info(active), decisions: activeCounts },
    candidate: { pack: info(candidate), decisions: candidateCounts },
    kept: { decisions: keptCounts },
    reproduced,
    rules: names.map((name) => ({ name, active: activeHits.get(name) ?? null, candidate: candidateHits.get(name) ?? null })),
    changed,
    changes,
    notes,
  };
}
