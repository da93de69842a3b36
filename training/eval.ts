// Quality metrics for `vigil model eval`: exact ROC AUC (rank / Mann–Whitney statistic with ties),
// PR AUC (average precision), TPR at a maximum FPR (threshold sweep), ROC curves, and the collector
// that turns replayed simulated traffic (training/replay.ts) into a report per scorer and attacker type
// together with the pack's operating point. Pure: no I/O.
import type { Action } from '../dsl/ast.ts';
import type { ReplayedEvent } from './replay.ts';
import type { RocPanel } from './roc-svg.ts';
import { ACCOUNT_CHANGE, ATTACK_TYPES, isAttackType, type AttackType, type LegitScenario } from './simulate.ts';

// ------------------------------------------------------------------------------------------------
// Metrics. `pos` are the scores of positives (attacks), `neg` of negatives (legitimate); higher
// means more suspicious. A scorer that says nothing scores -Infinity (ranked below everything).
// ------------------------------------------------------------------------------------------------

interface Scored {
  readonly s: number;
  readonly p: boolean;
}

function merged(pos: readonly number[], neg: readonly number[], descending: boolean): Scored[] {
  const all: Scored[] = new Array(pos.length + neg.length);
  let k = 0;
  for (const s of pos) all[k++] = { s: checkScore(s), p: true };
  for (const s of neg) all[k++] = { s: checkScore(s), p: false };
  all.sort(descending ? (a, b) => b.s - a.s || 0 : (a, b) => a.s - b.s || 0);
  return all;
}

function checkScore(s: number): number {
  if (Number.isNaN(s)) throw new RangeError('a score is NaN');
  return s;
}

// Tie groups are runs of equal scores; the comparators above turn -Infinity − -Infinity (NaN) into 0
// so that "no score" is one tie group too.
function same(a: number, b: number): boolean {
  return a === b;
}

/**
 * ROC AUC = P(score of a random positive > score of a random negative) + ½ P(equal): the
 * Mann–Whitney U statistic from average ranks of tied groups, divided by |pos|·|neg|. NaN when
 * either side is empty.
 */
export function rocAuc(pos: readonly number[], neg: readonly number[]): number {
  if (pos.length === 0 || neg.length === 0) return Number.NaN;
  const all = merged(pos, neg, false);
  let rankSumPos = 0;
  let i = 0;
  while (i < all.length) {
    let j = i;
    let posInGroup = 0;
    while (j < all.length && same(all[j]!.s, all[i]!.s)) {
      if (all[j]!.p) posInGroup++;
      j++;
    }
    // Ranks i+1 … j share their average.
    const avgRank = (i + 1 + j) / 2;
    rankSumPos += posInGroup * avgRank;
    i = j;
  }
  const nP = pos.length;
  const u = rankSumPos - (nP * (nP + 1)) / 2;
  return u / (nP * neg.length);
}

/**
 * PR AUC as average precision: Σ (R_k − R_{k−1}) · P_k over the distinct thresholds from the highest
 * score down, tied scores forming one threshold (scikit-learn's `average_precision_score`). NaN when
 * there is no positive.
 */
export function averagePrecision(pos: readonly number[], neg: readonly number[]): number {
  if (pos.length === 0) return Number.NaN;
  let prevRecall = 0;
  let ap = 0;
  for (const [tp, fp] of thresholds(pos, neg)) {
    const recall = tp / pos.length;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}

/**
 * Cumulative (true positives, false positives) at each distinct threshold "score ≥ t", from the
 * highest score down; tied scores form one threshold.
 */
function* thresholds(pos: readonly number[], neg: readonly number[]): Generator<[tp: number, fp: number]> {
  const all = merged(pos, neg, true);
  let tp = 0;
  let fp = 0;
  let i = 0;
  while (i < all.length) {
    let j = i;
    while (j < all.length && same(all[j]!.s, all[i]!.s)) {
      if (all[j]!.p) tp++;
      else fp++;
      j++;
    }
    yield [tp, fp];
    i = j;
  }
}

/** Points (fpr, tpr) of the ROC curve, from (0,0) through each distinct threshold to (1,1). */
export function rocCurve(pos: readonly number[], neg: readonly number[]): { readonly fpr: number[]; readonly tpr: number[] } {
  const fpr = [0];
  const tpr = [0];
  if (pos.length === 0 || neg.length === 0) return { fpr, tpr };
  for (const [tp, fp] of thresholds(pos, neg)) {
    fpr.push(fp / neg.length);
    tpr.push(tp / pos.length);
  }
  return { fpr, tpr };
}

/**
 * The highest TPR of any threshold "score ≥ t" whose FPR is at most `maxFpr` (0 when even the
 * highest threshold passes more negatives than that). NaN when either side is empty.
 */
export function tprAtFpr(pos: readonly number[], neg: readonly number[], maxFpr: number): number {
  if (pos.length === 0 || neg.length === 0) return Number.NaN;
  const { fpr, tpr } = rocCurve(pos, neg);
  let best = 0;
  // Compare counts, not fractions, so that 0.001 · 1000 negatives allows exactly one.
  const allowed = Math.floor(maxFpr * neg.length + 1e-9);
  for (let k = 0; k < fpr.length; k++) {
    if (Math.round(fpr[k]! * neg.length) <= allowed) best = Math.max(best, tpr[k]!);
    else break;
  }
  return best;
}

// ------------------------------------------------------------------------------------------------
// The evaluation report
// ------------------------------------------------------------------------------------------------

export const SCORERS = ['model.anomaly', 'rba.score', 'pack'] as const;
export type ScorerName = (typeof SCORERS)[number];

export interface ScorerMetrics {
  readonly auc: number;
  readonly prAuc: number;
  /** TPR at 0.1% and 1% FPR. */
  readonly tpr0001: number;
  readonly tpr001: number;
}

export interface ScorerReport {
  readonly name: ScorerName;
  /** False when no event had a value (no model loaded): printed as n/a. */
  readonly available: boolean;
  readonly byType: Readonly<Record<AttackType, ScorerMetrics | null>>;
}

export interface OperatingPoint {
  readonly stepUp: number;
  readonly block: number;
  /** stepUp + block. */
  readonly caught: number;
  readonly n: number;
}

export interface EvalReport {
  readonly warmupDays: number;
  readonly legit: number;
  readonly attacks: Readonly<Record<AttackType, number>>;
  readonly scorers: readonly ScorerReport[];
  readonly pack: {
    /** Every legitimate attempt: sign-ins, wrong passwords and recoveries. */
    readonly legit: OperatingPoint;
    /**
     * Legitimate sign-ins: login attempts with the right password, the attempts where the owner
     * meets a step-up (the auth service checks the password first, docs/flows.md).
     */
    readonly legitSignIns: OperatingPoint;
    /** Legitimate login attempts with a wrong password: a step-up there is never shown, a block is. */
    readonly legitWrongPassword: OperatingPoint;
    readonly legitRecoveries: OperatingPoint;
    readonly legitByScenario: Readonly<Record<string, OperatingPoint>>;
    readonly byType: Readonly<Record<AttackType, OperatingPoint>>;
    /** Stuffing attempts after the first 5 of their burst, and the share blocked. */
    readonly stuffingUnderway: { readonly n: number; readonly blocked: number };
    /** TPR of rba.score alone at the pack's legitimate challenge-or-block rate, per type. */
    readonly rbaAtPackRate: Readonly<Record<AttackType, number>>;
    /** Rules that stepped up or blocked legitimate attempts, by count. */
    readonly legitRules: Readonly<Record<string, number>>;
  };
  readonly targets: readonly TargetCheck[];
}

export interface TargetCheck {
  readonly name: string;
  readonly value: string;
  readonly target: string;
  readonly met: boolean;
}

const SEVERITY: Readonly<Record<Action, number>> = { allow: 0, step_up: 1, block: 2 };

/** The pack's decision as one score for ROC: severity first, the pack score within it. */
export function packScore(decision: Action, score: number): number {
  return SEVERITY[decision] * 1e9 + Math.max(-1e8, Math.min(1e8, score));
}

/** The burst's first attempts cannot be recognised as a burst yet. */
export const STUFFING_UNDERWAY_AFTER = 5;

interface Tally {
  stepUp: number;
  block: number;
  n: number;
}

function tally(t: Tally, d: Action): void {
  t.n++;
  if (d === 'step_up') t.stepUp++;
  else if (d === 'block') t.block++;
}

function point(t: Tally): OperatingPoint {
  const f = (x: number): number => (t.n === 0 ? Number.NaN : x / t.n);
  return { stepUp: f(t.stepUp), block: f(t.block), caught: f(t.stepUp + t.block), n: t.n };
}

function perType<T>(f: (a: AttackType) => T): Record<AttackType, T> {
  return { naive: f('naive'), vpn: f('vpn'), targeted: f('targeted'), stuffing: f('stuffing') };
}

export interface EvalCollector {
  add(e: ReplayedEvent): void;
  report(): EvalReport;
  /** ROC curves per attacker type (one per available scorer), for training/roc-svg.ts. */
  panels(): RocPanel[];
}

/** Collects replayed events: legitimate ones from `warmupDays` on, attacks always. */
export function createEvalCollector(opts: { readonly warmupDays: number }): EvalCollector {
  const legitScores: Record<ScorerName, number[]> = { 'model.anomaly': [], 'rba.score': [], pack: [] };
  const attackScores: Record<AttackType, Record<ScorerName, number[]>> = perType(() => ({ 'model.anomaly': [], 'rba.score': [], pack: [] }));
  const seen: Record<ScorerName, boolean> = { 'model.anomaly': false, 'rba.score': false, pack: true };
  const legit: Tally = { stepUp: 0, block: 0, n: 0 };
  const signIns: Tally = { stepUp: 0, block: 0, n: 0 };
  const wrongPassword: Tally = { stepUp: 0, block: 0, n: 0 };
  const recoveries: Tally = { stepUp: 0, block: 0, n: 0 };
  const byScenario = new Map<string, Tally>();
  const byType: Record<AttackType, Tally> = perType(() => ({ stepUp: 0, block: 0, n: 0 }));
  const underway = { n: 0, blocked: 0 };
  const legitRules = new Map<string, number>();

  return {
    add(e) {
      // Sensitive changes and takeover chains have their own report (training/changes-eval.ts).
      if (e.line.request.type === ACCOUNT_CHANGE) return;
      const label = e.label;
      if (label !== 'legit' && !isAttackType(label)) return;
      if (label === 'legit' && e.line.day < opts.warmupDays) return;
      if (e.anomaly !== null) seen['model.anomaly'] = true;
      if (e.rba !== null) seen['rba.score'] = true;
      const scores: Record<ScorerName, number> = {
        'model.anomaly': e.anomaly ?? Number.NEGATIVE_INFINITY,
        'rba.score': e.rba ?? Number.NEGATIVE_INFINITY,
        pack: packScore(e.decision, e.score),
      };
      if (label === 'legit') {
        for (const s of SCORERS) legitScores[s].push(scores[s]);
        tally(legit, e.decision);
        if (e.line.request.type === 'recovery') tally(recoveries, e.decision);
        else tally(e.line.outcome === 'succeeded' ? signIns : wrongPassword, e.decision);
        const sc: LegitScenario | 'other' = e.line.scenario ?? 'other';
        let t = byScenario.get(sc);
        if (!t) byScenario.set(sc, (t = { stepUp: 0, block: 0, n: 0 }));
        tally(t, e.decision);
        if (e.decision !== 'allow') for (const r of e.rules) legitRules.set(r, (legitRules.get(r) ?? 0) + 1);
        return;
      }
      const type = label;
      for (const s of SCORERS) attackScores[type][s].push(scores[s]);
      tally(byType[type], e.decision);
      if (type === 'stuffing' && (e.line.seq ?? 0) >= STUFFING_UNDERWAY_AFTER) {
        underway.n++;
        if (e.decision === 'block') underway.blocked++;
      }
    },

    report() {
      const scorers: ScorerReport[] = SCORERS.map((name) => ({
        name,
        available: seen[name],
        byType: perType((a) => {
          const pos = attackScores[a][name];
          const neg = legitScores[name];
          if (!seen[name] || pos.length === 0 || neg.length === 0) return null;
          return { auc: rocAuc(pos, neg), prAuc: averagePrecision(pos, neg), tpr0001: tprAtFpr(pos, neg, 0.001), tpr001: tprAtFpr(pos, neg, 0.01) };
        }),
      }));
      const legitPoint = point(legit);
      const packRate = legitPoint.caught;
      const rbaAtPackRate = perType((a) => {
        const pos = attackScores[a]['rba.score'];
        const neg = legitScores['rba.score'];
        return Number.isNaN(packRate) ? Number.NaN : tprAtFpr(pos, neg, packRate);
      });
      const types = perType((a) => point(byType[a]));
      const scen: Record<string, OperatingPoint> = {};
      for (const [k, t] of [...byScenario].sort((a, b) => (a[0] < b[0] ? -1 : 1))) scen[k] = point(t);
      const rules: Record<string, number> = {};
      for (const [k, n] of [...legitRules].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) rules[k] = n;
      const base = {
        warmupDays: opts.warmupDays,
        legit: legit.n,
        attacks: perType((a) => byType[a].n),
        scorers,
        pack: {
          legit: legitPoint,
          legitSignIns: point(signIns),
          legitWrongPassword: point(wrongPassword),
          legitRecoveries: point(recoveries),
          legitByScenario: scen,
          byType: types,
          stuffingUnderway: { n: underway.n, blocked: underway.n === 0 ? Number.NaN : underway.blocked / underway.n },
          rbaAtPackRate,
          legitRules: rules,
        },
      };
      return { ...base, targets: checkTargets(base.pack, scorers) };
    },

    panels() {
      return ATTACK_TYPES.filter((a) => byType[a].n > 0).map((a) => ({
        title: `${a} (${byType[a].n} attempts vs ${legit.n} legit)`,
        curves: SCORERS.filter((s) => seen[s]).map((s) => {
          const pos = attackScores[a][s];
          const neg = legitScores[s];
          return { name: s, ...rocCurve(pos, neg), auc: rocAuc(pos, neg) };
        }),
      }));
    },
  };
}

function pct(x: number, digits = 2): string {
  return Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(digits)}%`;
}

function num(x: number, digits = 4): string {
  return Number.isNaN(x) ? 'n/a' : x.toFixed(digits);
}

/** The targets the lead reports on (see docs/model-evaluation.md). */
function checkTargets(pack: EvalReport['pack'], scorers: readonly ScorerReport[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const l = pack.legit;
  out.push({ name: 'legit attempts challenged', value: pct(l.stepUp), target: '≤ 3%', met: l.stepUp <= 0.03 });
  const s = pack.legitSignIns;
  if (s.n > 0) out.push({ name: 'legit sign-ins challenged (password right)', value: pct(s.caught), target: '≤ 3%', met: s.caught <= 0.03 });
  out.push({ name: 'legit blocked', value: pct(l.block, 3), target: '0', met: l.block === 0 });
  const t = pack.byType;
  if (t.naive.n > 0) out.push({ name: 'naive stepped up or blocked', value: pct(t.naive.caught), target: '≥ 99.5%', met: t.naive.caught >= 0.995 });
  if (t.vpn.n > 0) out.push({ name: 'VPN stepped up or blocked', value: pct(t.vpn.caught), target: '≥ 99%', met: t.vpn.caught >= 0.99 });
  if (t.targeted.n > 0) {
    const rba = pack.rbaAtPackRate.targeted;
    out.push({
      name: 'targeted: pack vs rba.score alone at the same challenge rate',
      value: `${pct(t.targeted.caught)} vs ${pct(rba)}`,
      target: 'pack ≥ 2× rba and ≥ rba + 25 points',
      met: t.targeted.caught >= Math.max(2 * rba, rba + 0.25),
    });
  }
  if (pack.stuffingUnderway.n > 0) {
    out.push({ name: `stuffing blocked after ${STUFFING_UNDERWAY_AFTER} attempts of a burst`, value: pct(pack.stuffingUnderway.blocked), target: '≥ 99%', met: pack.stuffingUnderway.blocked >= 0.99 });
  }
  const model = scorers.find((s) => s.name === 'model.anomaly');
  for (const a of ['naive', 'vpn'] as const) {
    const m = model?.available ? model.byType[a] : null;
    out.push({ name: `model AUC, ${a}`, value: m ? num(m.auc) : 'n/a', target: '≥ 0.95', met: m !== null && m.auc >= 0.95 });
  }
  return out;
}

function padRight(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function padLeft(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

/** The report as the text tables `vigil model eval` prints. */
export function formatReport(r: EvalReport): string {
  const lines: string[] = [];
  const counts = ATTACK_TYPES.map((a) => `${a} ${r.attacks[a]}`).join(', ');
  lines.push(`events counted: legit ${r.legit} (from day ${r.warmupDays}), attacks: ${counts}`);
  lines.push('');
  const head = ['scorer', 'attack', 'ROC AUC', 'PR AUC', 'TPR@0.1%FPR', 'TPR@1%FPR'];
  const widths = [14, 10, 9, 9, 12, 10];
  lines.push(head.map((h, i) => (i < 2 ? padRight(h, widths[i]!) : padLeft(h, widths[i]!))).join('  '));
  for (const s of r.scorers) {
    for (const a of ATTACK_TYPES) {
      if (r.attacks[a] === 0) continue;
      const m = s.byType[a];
      const cells = m
        ? [num(m.auc), num(m.prAuc), pct(m.tpr0001, 1), pct(m.tpr001, 1)]
        : ['n/a', 'n/a', 'n/a', 'n/a'];
      lines.push([padRight(s.name, widths[0]!), padRight(a, widths[1]!), ...cells.map((c, i) => padLeft(c, widths[i + 2]!))].join('  '));
    }
  }
  lines.push('');
  lines.push('pack operating point            step_up    block   caught       n');
  const row = (name: string, p: OperatingPoint): string =>
    [padRight(name, 30), padLeft(pct(p.stepUp), 9), padLeft(pct(p.block), 8), padLeft(pct(p.caught), 8), padLeft(String(p.n), 7)].join(' ');
  lines.push(row('legit', r.pack.legit));
  lines.push(row('  sign-ins (password right)', r.pack.legitSignIns));
  lines.push(row('  wrong passwords', r.pack.legitWrongPassword));
  lines.push(row('  recoveries', r.pack.legitRecoveries));
  for (const [k, p] of Object.entries(r.pack.legitByScenario)) lines.push(row(`  legit: ${k}`, p));
  for (const a of ATTACK_TYPES) if (r.attacks[a] > 0) lines.push(row(a, r.pack.byType[a]));
  if (r.pack.stuffingUnderway.n > 0) {
    lines.push(`stuffing blocked once a burst is under way (after ${STUFFING_UNDERWAY_AFTER} attempts): ${pct(r.pack.stuffingUnderway.blocked)} of ${r.pack.stuffingUnderway.n}`);
  }
  const rbaRates = ATTACK_TYPES.filter((a) => r.attacks[a] > 0).map((a) => `${a} ${pct(r.pack.rbaAtPackRate[a])}`);
  lines.push(`rba.score alone at the pack's legit challenge rate (${pct(r.pack.legit.caught)}): ${rbaRates.join(', ')}`);
  const lr = Object.entries(r.pack.legitRules).slice(0, 8);
  if (lr.length > 0) lines.push(`rules behind legit challenges: ${lr.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  lines.push('');
  lines.push('targets');
  for (const t of r.targets) lines.push(`  ${t.met ? 'met   ' : 'MISSED'}  ${padRight(t.name, 62)} ${padLeft(t.value, 18)}  (${t.target})`);
  return lines.join('\n') + '\n';
}

/** JSON-safe copy of the report (NaN → null). */
export function reportJson(r: EvalReport): unknown {
  return JSON.parse(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
}
