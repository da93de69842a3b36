// The report on sensitive changes for `vigil model eval` (and `vigil simulate --changes` traffic): per
// takeover chain kind, the share stopped; for the owners' own changes, the share challenged, usual
// (at home) and unusual (abroad, on a brand-new phone, right after a recovery), and how many were
// blocked. Pure: no I/O.
//
// A chain is stopped when any of its steps is blocked, or stepped up where the attacker cannot pass:
// the simulator marks the steps whose challenge the attacker passes (`passes_step_up`: a phished code
// on the sign-in, a hijacked mailbox's codes on the recovery and, without a second factor, on the
// sign-in). A step-up on the change itself (a fresh second factor or a confirmation on a known device)
// stops every chain.
//
// Also how well each scorer ranks a chain's change events above the owners' own changes (ROC AUC):
// model.anomaly, to show what the anomaly model adds on changes, and the pack's decision (severity,
// then score: training/eval.ts packScore) for comparison. Only the change steps that happened count:
// a chain stopped at its sign-in or recovery has no change event to rank.
import { packScore, rocAuc } from './eval.ts';
import type { ReplayedEvent } from './replay.ts';
import { ACCOUNT_CHANGE, CHAIN_TYPES, CHANGE_CONTEXTS, isChainType, type ChainType, type ChangeContext } from './simulate.ts';

export interface ChainResult {
  readonly n: number;
  readonly stopped: number;
}

/** ROC AUC of one chain kind's change events against the owners' changes (null: nothing to rank). */
export interface ChangeAuc {
  /** model.anomaly; null without a model. */
  readonly model: number | null;
  readonly pack: number | null;
  /** Change events of this kind. */
  readonly n: number;
}

export interface ChangesReport {
  readonly chains: Readonly<Record<ChainType, ChainResult>>;
  /** Against `legitChanges` owners' changes (usual and unusual, from the warm-up on). */
  readonly auc: Readonly<Record<ChainType, ChangeAuc>>;
  readonly legitChanges: number;
  readonly usual: { readonly n: number; readonly challenged: number; readonly blocked: number };
  readonly unusual: { readonly n: number; readonly challenged: number; readonly blocked: number };
  /** The owners' changes by where they happened (`home` is `usual`; the others add up to `unusual`). */
  readonly byContext: Readonly<Record<ChangeContext, { readonly n: number; readonly challenged: number; readonly blocked: number }>>;
  /** account_change lines the engine would not take (it predates spec v2). */
  readonly unsupported: number;
}

export interface ChangesCollector {
  add(e: ReplayedEvent): void;
  report(unsupported: number): ChangesReport;
}

/** Legitimate changes count from `warmupDays` on; chains always. */
export function createChangesCollector(opts: { readonly warmupDays: number }): ChangesCollector {
  const chains = new Map<string, { kind: ChainType; stopped: boolean }>();
  const usual = { n: 0, challenged: 0, blocked: 0 };
  const unusual = { n: 0, challenged: 0, blocked: 0 };
  const byContext = Object.fromEntries(CHANGE_CONTEXTS.map((c) => [c, { n: 0, challenged: 0, blocked: 0 }])) as Record<ChangeContext, { n: number; challenged: number; blocked: number }>;
  type Scores = { model: number[]; pack: number[] };
  const legitScores: Scores = { model: [], pack: [] };
  const chainScores = new Map<ChainType, Scores>(CHAIN_TYPES.map((k) => [k, { model: [], pack: [] }]));
  let modelSeen = false;
  // A missing anomaly (a failed model run) ranks below everything, as in training/eval.ts.
  const push = (to: Scores, e: ReplayedEvent): void => {
    if (e.anomaly !== null) modelSeen = true;
    to.model.push(e.anomaly ?? Number.NEGATIVE_INFINITY);
    to.pack.push(packScore(e.decision, e.score));
  };
  const auc = (pos: readonly number[], neg: readonly number[]): number | null => {
    const v = rocAuc(pos, neg);
    return Number.isFinite(v) ? v : null;
  };
  return {
    add(e) {
      const label = e.label;
      if (isChainType(label)) {
        const id = e.line.attack_id ?? `${label}-${e.index}`;
        let c = chains.get(id);
        if (!c) chains.set(id, (c = { kind: label, stopped: false }));
        const passes = e.line.passes_step_up === true;
        if (e.decision === 'block' || (e.decision === 'step_up' && !passes)) c.stopped = true;
        if (e.line.request.type === ACCOUNT_CHANGE) push(chainScores.get(label)!, e);
        return;
      }
      if (label !== 'legit' || e.line.request.type !== ACCOUNT_CHANGE || e.line.day < opts.warmupDays) return;
      const context = e.line.change_context ?? 'home';
      for (const t of [context === 'home' ? usual : unusual, byContext[context]]) {
        t.n++;
        if (e.decision !== 'allow') t.challenged++;
        if (e.decision === 'block') t.blocked++;
      }
      push(legitScores, e);
    },
    report(unsupported) {
      const out = {} as Record<ChainType, ChainResult>;
      for (const k of CHAIN_TYPES) out[k] = { n: 0, stopped: 0 };
      for (const c of chains.values()) {
        const r = out[c.kind];
        out[c.kind] = { n: r.n + 1, stopped: r.stopped + (c.stopped ? 1 : 0) };
      }
      const aucs = {} as Record<ChainType, ChangeAuc>;
      for (const k of CHAIN_TYPES) {
        const p = chainScores.get(k)!;
        aucs[k] = { model: modelSeen ? auc(p.model, legitScores.model) : null, pack: auc(p.pack, legitScores.pack), n: p.pack.length };
      }
      return { chains: out, auc: aucs, legitChanges: legitScores.pack.length, usual: { ...usual }, unusual: { ...unusual }, byContext: structuredClone(byContext), unsupported };
    },
  };
}

const pct = (a: number, n: number): string => (n === 0 ? 'n/a' : `${((100 * a) / n).toFixed(1)}%`);

/** Goals: each chain ≥ 95 % stopped; usual changes challenged ≤ 2 %, unusual ≤ 50 %, none blocked. */
export function formatChangesReport(r: ChangesReport): string {
  // Without the changes, a chain is judged on its first steps only: say so rather than print that.
  if (r.unsupported > 0) {
    return `sensitive changes: account_change not supported by this server (${r.unsupported} change events not evaluated)\n`;
  }
  const lines = ['sensitive changes                      stopped / challenged   blocked       n   goal'];
  for (const k of CHAIN_TYPES) {
    const c = r.chains[k];
    lines.push(`chain ${k.padEnd(28)} ${pct(c.stopped, c.n).padStart(12)} ${''.padStart(9)} ${String(c.n).padStart(7)}   ≥ 95% stopped`);
  }
  lines.push(`legit change, usual (home)         ${pct(r.usual.challenged, r.usual.n).padStart(12)} ${String(r.usual.blocked).padStart(9)} ${String(r.usual.n).padStart(7)}   ≤ 2% challenged, 0 blocked`);
  lines.push(`legit change, unusual              ${pct(r.unusual.challenged, r.unusual.n).padStart(12)} ${String(r.unusual.blocked).padStart(9)} ${String(r.unusual.n).padStart(7)}   ≤ 50% challenged, 0 blocked`);
  for (const c of CHANGE_CONTEXTS) {
    if (c === 'home') continue;
    const t = r.byContext[c];
    lines.push(`  unusual: ${c.padEnd(24)} ${pct(t.challenged, t.n).padStart(12)} ${String(t.blocked).padStart(9)} ${String(t.n).padStart(7)}`);
  }
  lines.push('');
  lines.push(`change events vs the owners' changes (${r.legitChanges}): ROC AUC`);
  lines.push('                                   model.anomaly      pack       n');
  const num = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(4));
  for (const k of CHAIN_TYPES) {
    const a = r.auc[k];
    lines.push(`chain ${k.padEnd(28)} ${num(a.model).padStart(14)} ${num(a.pack).padStart(9)} ${String(a.n).padStart(7)}`);
  }
  return lines.join('\n') + '\n';
}
