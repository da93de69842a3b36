// Policies: at most one default policy and one per event type (E_DUPLICATE), the event type a
// `policy T` names (E_UNKNOWN_NAME), each line's condition (a bool, where `score` is the total score),
// and W_UNREACHABLE for a line that can never apply.
//
// Choice where dsl.md is silent (docs/dsl.md §10): the reachability analysis runs over the integer
// scores 0..100 through `and`/`or`/`not`/parentheses, comparisons of `score` with a number literal or
// number const (either side), and `true`/`false`; anything else is "may hold for any score,
// guaranteed for none". A line is unreachable when every score it may hold for is one an earlier line
// surely catches (which covers the contract's case, dsl.md §3 v1.1: its condition implies an earlier
// one's on `score` alone), or when it holds for no score at all. Kleene logic keeps this sound with
// missing features: `score >= 50 or geo.tor` surely holds from 50 on, whatever `geo.tor` is.
import type * as A from '../ast.ts';
import { chainOf } from '../ast.ts';
import { diag } from '../diagnostics.ts';
import type { CheckedPolicy } from './checked.ts';
import { literalOf, unparen, type CheckContext } from './context.ts';
import { resolveEventType } from './declarations.ts';
import { typeCondition, type Scope } from './types.ts';

const POLICY_SCOPE: Scope = { policy: true };
const SCORES = 101;

export function checkPolicies(
  cx: CheckContext,
  decls: readonly A.Decl[],
): { defaultPolicy: CheckedPolicy | null; policies: Map<string, CheckedPolicy> } {
  let defaultPolicy: CheckedPolicy | null = null;
  const policies = new Map<string, CheckedPolicy>();
  for (const d of decls) {
    if (d.kind !== 'Policy') continue;
    const known = d.eventType === null || resolveEventType(cx, d.eventType);
    for (const line of d.lines) typeCondition(cx, line.cond, POLICY_SCOPE, 'a policy condition');
    reportUnreachable(cx, d);
    const p: CheckedPolicy = { decl: d, eventType: d.eventType?.name ?? null, lines: d.lines };
    if (d.eventType === null) {
      if (defaultPolicy) cx.report(diag('E_DUPLICATE', d.span, 'the default policy is already declared'));
      else defaultPolicy = p;
    } else if (known) {
      if (policies.has(d.eventType.name)) cx.report(diag('E_DUPLICATE', d.eventType.span, `a policy for \`${d.eventType.name}\` is already declared`));
      else policies.set(d.eventType.name, p);
    }
  }
  return { defaultPolicy, policies };
}

/** For each score 0..100: whether a condition surely holds (`must`) and whether it may (`may`). */
interface Cover {
  readonly must: boolean[];
  readonly may: boolean[];
}

const scores = (v: boolean): boolean[] => new Array<boolean>(SCORES).fill(v);

function reportUnreachable(cx: CheckContext, d: A.PolicyDecl): void {
  const covered = scores(false);
  for (const line of d.lines) {
    const c = cover(cx, line.cond);
    if (c.may.every((m) => !m)) {
      cx.report(diag('W_UNREACHABLE', line.span, 'this policy line can never apply: its condition holds for no score from 0 to 100'));
    } else if (c.may.every((m, i) => !m || covered[i])) {
      cx.report(diag('W_UNREACHABLE', line.span, 'this policy line can never apply: earlier lines catch every score it could match'));
    }
    c.must.forEach((m, i) => {
      if (m) covered[i] = true;
    });
  }
}

const FLIP: Partial<Record<A.BinaryOp, A.BinaryOp>> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

const COMPARE: Partial<Record<A.BinaryOp, (s: number, k: number) => boolean>> = {
  '==': (s, k) => s === k,
  '!=': (s, k) => s !== k,
  '<': (s, k) => s < k,
  '<=': (s, k) => s <= k,
  '>': (s, k) => s > k,
  '>=': (s, k) => s >= k,
};

function cover(cx: CheckContext, e: A.Expr): Cover {
  const unknown: Cover = { must: scores(false), may: scores(true) };
  const u = unparen(e);
  if (u.kind === 'Bool') return { must: scores(u.value), may: scores(u.value) };
  if (u.kind === 'Unary' && u.op === 'not') {
    const c = cover(cx, u.operand);
    return { must: c.may.map((x) => !x), may: c.must.map((x) => !x) };
  }
  if (u.kind !== 'Binary') return unknown;
  if (u.op === 'and' || u.op === 'or') {
    // A chain is walked as a loop (ast.ts chainOf), so its length costs no stack.
    const f = u.op === 'and' ? (a: boolean, b: boolean) => a && b : (a: boolean, b: boolean) => a || b;
    const links = chainOf(u);
    let acc = cover(cx, links[0]!.left);
    for (const link of links) {
      const r = cover(cx, link.right);
      acc = { must: acc.must.map((x, i) => f(x, r.must[i]!)), may: acc.may.map((x, i) => f(x, r.may[i]!)) };
    }
    return acc;
  }
  let op: A.BinaryOp = u.op;
  let n: number | undefined;
  if (isScore(cx, u.left)) n = numberConst(cx, u.right);
  else if (isScore(cx, u.right)) {
    n = numberConst(cx, u.left);
    op = FLIP[op] ?? op;
  }
  const test = COMPARE[op];
  if (n === undefined || !test) return unknown;
  const k = n;
  const set = scores(false).map((_, i) => test(i, k));
  return { must: set, may: [...set] };
}

function numberConst(cx: CheckContext, e: A.Expr): number | undefined {
  const u = unparen(e);
  const lit = literalOf(u);
  if (lit) return lit.type === 'number' ? (lit.value as number) : undefined;
  if (u.kind === 'Name') {
    const t = cx.names.get(u);
    if (t?.kind === 'const' && t.info.type === 'number') return t.info.value as number;
  }
  return undefined;
}

function isScore(cx: CheckContext, e: A.Expr): boolean {
  const u = unparen(e);
  return u.kind === 'Name' && cx.names.get(u)?.kind === 'score';
}
