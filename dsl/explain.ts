// The explain trace: why a compiled pack decided what it did for one set of slots. For every rule
// (and the policy lines) it gives the tree of the condition's sub-expressions, each as its source
// text with the value it had: true, false, missing, a number, a string — so an analyst sees which
// operand made a condition fail or stay missing. The compiler (dsl/compiler.ts) attaches what a
// trace needs to each pack it builds (the checked AST, the sources, a way to compile one
// sub-expression); the trace itself is built on first use, so evaluation never pays for it.
//
// Each sub-expression is evaluated on its own closure, not by instrumenting the rule's closure: the
// hot path stays as compiled, and a right operand that `and`/`or` short-circuited past still shows
// its value (marked `skipped`).
import type * as A from './ast.ts';
import { assertNever, chainOf } from './ast.ts';
import type { CheckedPack, CheckedRule, NameTarget } from './check/index.ts';
import type { CompiledPack, Decision } from './compiled.ts';
import { InternalError } from './errors.ts';
import { printExpr } from './printer.ts';
import { isList, type MaybeValue, type Scheme, type Slots, type Type } from './types.ts';
import { formatDuration, formatNumber, recordToSlotsLenient, resolveProbes, type ListLookup } from './values.ts';

type Fn = (s: Slots) => MaybeValue;

/** One sub-expression and the value it had. */
export interface TraceNode {
  /** The sub-expression's source text (line breaks folded to spaces). */
  readonly expr: string;
  readonly line: number;
  readonly col: number;
  /** The checker's type: `bool`, `number`, `string`, `duration`, `ip`, or `list<…>`. */
  readonly type: string;
  /** The value; null when missing, and for a list (see `shown`). Durations in seconds. */
  readonly value: boolean | number | string | null;
  /** The value as the language prints it: `true`, `false`, `missing`, `2h`, `"GB"`, `[3 entries]`. */
  readonly shown: string;
  /** True when `and`, `or` or `??` decided before reaching this operand (its value is shown anyway). */
  readonly skipped?: true;
  /** The operands, literals left out (their text is the value). */
  readonly children: readonly TraceNode[];
}

export interface RuleTrace {
  readonly rule: string;
  readonly line: number;
  readonly col: number;
  readonly mode: 'enforce' | 'shadow';
  readonly action: A.Action | null;
  readonly score: number;
  /** Does the rule run for this event type (its `on` list)? */
  readonly applies: boolean;
  /** Applies and its condition is true. */
  readonly matched: boolean;
  readonly when: TraceNode;
}

export interface PolicyLineTrace {
  readonly action: A.Action;
  readonly line: number;
  readonly col: number;
  readonly matched: boolean;
  readonly cond: TraceNode;
}

export interface PolicyTrace {
  /** The event type of the policy used, or null for the default policy. */
  readonly policy: string | null;
  /** The score its conditions read. */
  readonly score: number;
  /** False when a matched block or allow rule decided before the policy was read. */
  readonly consulted: boolean;
  readonly lines: readonly PolicyLineTrace[];
  /** Index of the first line whose condition held, or null (the policy then answers allow). */
  readonly chosen: number | null;
}

export interface DecisionTrace {
  readonly pack: { readonly name: string; readonly version: number; readonly hash: string };
  readonly event_type: string;
  readonly decision: A.Action;
  readonly score: number;
  /**
   * What decided: a matched enforcing `block` rule, else an `allow` rule, else the policy (a
   * matched `step_up` rule raises an `allow` policy answer to step_up: `policy+step_up`).
   */
  readonly via: 'block_rule' | 'allow_rule' | 'policy' | 'policy+step_up';
  readonly rules: readonly RuleTrace[];
  /** null when the pack has no policy for this event (it then answers allow unless a rule decided). */
  readonly policy: PolicyTrace | null;
  /** Features given that this scheme does not know or whose value has the wrong type; they were left missing. */
  readonly ignored: readonly string[];
}

/** What the compiler hands over for tracing one pack. */
export interface TraceHooks {
  readonly checked: CheckedPack;
  /** File path (as in spans) → text. */
  readonly sources: ReadonlyMap<string, string>;
  readonly eventTypes: readonly string[];
  /** The closure of one sub-expression (never a list-typed one). */
  compile(e: A.Expr): Fn;
  type(e: A.Expr): Type;
  /** What a bare name refers to. */
  target(e: A.NameRef): NameTarget | undefined;
  /** The box policy conditions read `score` from. */
  readonly scoreBox: { v: number };
}

interface Tracer {
  readonly rules: readonly { readonly rule: CheckedRule; readonly when: Template }[];
  readonly policies: ReadonlyMap<string | null, readonly { readonly line: A.PolicyLine; readonly cond: Template }[]>;
  readonly eventTypes: ReadonlySet<string>;
  readonly scoreBox: { v: number };
}

/** A sub-expression ready to trace: its text, type, closure (null for a list) and operands. */
interface Template {
  readonly expr: string;
  readonly span: A.Span;
  readonly type: Type;
  readonly fn: Fn | null;
  /** What a list reads as (`[3 entries]`, `redis "key"`). */
  readonly listShown: string | null;
  /** How the node's operator short-circuits its operands, left to right. */
  readonly lazy: 'and' | 'or' | '??' | null;
  readonly children: readonly Template[];
}

const hooksOf = new WeakMap<CompiledPack, TraceHooks>();
const tracers = new WeakMap<CompiledPack, Tracer>();

/** Called by the compiler for every pack it builds. */
export function attachTraceHooks(pack: CompiledPack, hooks: TraceHooks): void {
  hooksOf.set(pack, hooks);
}

function tracerOf(pack: CompiledPack): Tracer {
  let t = tracers.get(pack);
  if (t) return t;
  const hooks = hooksOf.get(pack);
  if (!hooks) throw new InternalError('this pack was not built by the compiler: it cannot be traced');
  t = buildTracer(hooks);
  tracers.set(pack, t);
  return t;
}

function foldLines(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

function buildTracer(h: TraceHooks): Tracer {
  const textOf = (e: A.Expr): string => {
    const src = h.sources.get(e.span.file);
    const raw = src !== undefined && e.span.end <= src.length ? src.slice(e.span.offset, e.span.end) : '';
    return foldLines(raw.trim() === '' ? printExpr(e) : raw);
  };

  const isLiteral = (e: A.Expr): boolean => e.kind === 'Bool' || e.kind === 'Number' || e.kind === 'String' || e.kind === 'Duration';

  const template = (e: A.Expr): Template => {
    while (e.kind === 'Paren') e = e.expr;
    const type = h.type(e);
    const list = isList(type);
    let lazy: Template['lazy'] = null;
    let operands: A.Expr[];
    switch (e.kind) {
      case 'Bool':
      case 'Number':
      case 'String':
      case 'Duration':
      case 'Feature':
      case 'Name':
      case 'ListLit':
        operands = [];
        break;
      case 'Unary':
        operands = [e.operand];
        break;
      case 'Call':
        operands = [...e.args];
        break;
      case 'Binary': {
        // A chain of one precedence level is one node with all its operands, as it is written.
        const links = chainOf(e);
        operands = [links[0]!.left, ...links.map((l) => l.right)];
        if (e.op === 'and' || e.op === 'or' || e.op === '??') lazy = e.op;
        break;
      }
      default:
        return assertNever(e, 'expression');
    }
    return {
      expr: textOf(e),
      span: e.span,
      type,
      fn: list ? null : h.compile(e),
      listShown: list ? listShown(e) : null,
      lazy,
      children: operands.filter((o) => !isLiteral(o)).map(template),
    };
  };

  const listShown = (e: A.Expr): string => {
    if (e.kind === 'ListLit') return `[${e.items.length} ${e.items.length === 1 ? 'entry' : 'entries'}]`;
    if (e.kind === 'Name') {
      const t = h.target(e);
      if (t?.kind === 'list') {
        if (t.info.source === 'redis') return `redis ${JSON.stringify(t.info.key ?? '')}`;
        return `[${t.info.values.length} ${t.info.values.length === 1 ? 'entry' : 'entries'}]`;
      }
      if (t?.kind === 'const' && Array.isArray(t.info.value)) return `[${t.info.value.length} entries]`;
    }
    return 'list';
  };

  const rules = h.checked.rules.map((rule) => {
    if (!rule.when) throw new InternalError(`rule ${rule.name} has no when`);
    return { rule, when: template(rule.when) };
  });
  const policies = new Map<string | null, { line: A.PolicyLine; cond: Template }[]>();
  const policyLines = (p: { lines: readonly A.PolicyLine[] }): { line: A.PolicyLine; cond: Template }[] =>
    p.lines.map((line) => ({ line, cond: template(line.cond) }));
  if (h.checked.defaultPolicy) policies.set(null, policyLines(h.checked.defaultPolicy));
  for (const [t, p] of h.checked.policies) policies.set(t, policyLines(p));
  return { rules, policies, eventTypes: new Set(h.eventTypes), scoreBox: h.scoreBox };
}

function shown(v: MaybeValue, type: Type): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'number') return type === 'duration' ? formatDuration(v) : formatNumber(v);
  if (typeof v === 'string') return type === 'ip' ? v : JSON.stringify(v);
  return String(v);
}

function run(t: Template, slots: Slots, skipped: boolean): TraceNode {
  const v = t.fn ? t.fn(slots) : undefined;
  const children: TraceNode[] = [];
  // Whether the operator had decided before reaching each operand (literals are left out of
  // `children`, but a decided chain stays decided, so the walk over the traced ones suffices).
  let decided = false;
  for (const c of t.children) {
    const node = run(c, slots, skipped || decided);
    children.push(node);
    if (t.lazy === 'and' && node.value === false) decided = true;
    else if (t.lazy === 'or' && node.value === true) decided = true;
    else if (t.lazy === '??' && node.value !== null) decided = true;
  }
  return {
    expr: t.expr,
    line: t.span.line,
    col: t.span.col,
    type: t.type,
    value: v === undefined ? null : v,
    shown: t.listShown ?? shown(v, t.type),
    ...(skipped ? { skipped: true as const } : {}),
    children,
  };
}

function ruleTrace(r: { readonly rule: CheckedRule; readonly when: Template }, eventType: string, known: boolean, slots: Slots): RuleTrace {
  const applies = r.rule.on === null || (known && r.rule.on.includes(eventType));
  const when = run(r.when, slots, false);
  return {
    rule: r.rule.name,
    line: r.rule.decl.span.line,
    col: r.rule.decl.span.col,
    mode: r.rule.mode,
    action: r.rule.action,
    score: r.rule.score,
    applies,
    matched: applies && when.value === true,
    when,
  };
}

/** The trace of one rule on these slots (probe slots already resolved), or null for an unknown rule. */
export function explainRule(pack: CompiledPack, rule: string, slots: Slots, eventType?: string): RuleTrace | null {
  const t = tracerOf(pack);
  const r = t.rules.find((x) => x.rule.name === rule);
  if (!r) return null;
  const type = eventType ?? (r.rule.on?.[0] ?? pack.eventTypes[0] ?? '');
  return ruleTrace(r, type, t.eventTypes.has(type), slots);
}

/** The trace of a whole decision: every rule, the policy, and what decided. Probe slots must be resolved. */
export function explainSlots(pack: CompiledPack, eventType: string, slots: Slots, ignored: readonly string[] = []): DecisionTrace {
  const t = tracerOf(pack);
  const known = t.eventTypes.has(eventType);
  const decision: Decision = pack.evaluate(eventType, slots);
  const rules = t.rules.map((r) => ruleTrace(r, eventType, known, slots));
  const enforced = rules.filter((r) => r.matched && r.mode === 'enforce');
  const blockRule = enforced.some((r) => r.action === 'block');
  const allowRule = !blockRule && enforced.some((r) => r.action === 'allow');
  const lines = (known ? t.policies.get(eventType) : undefined) ?? t.policies.get(null);
  const policyName = known && t.policies.has(eventType) ? eventType : null;
  let policy: PolicyTrace | null = null;
  let policyAction: A.Action = 'allow';
  if (lines) {
    t.scoreBox.v = decision.score;
    const traced = lines.map((l) => {
      const cond = run(l.cond, slots, false);
      return { action: l.line.action, line: l.line.span.line, col: l.line.span.col, matched: cond.value === true, cond };
    });
    const chosen = traced.findIndex((l) => l.matched);
    if (chosen >= 0) policyAction = traced[chosen]!.action;
    policy = { policy: policyName, score: decision.score, consulted: !blockRule && !allowRule, lines: traced, chosen: chosen >= 0 ? chosen : null };
  }
  const via: DecisionTrace['via'] = blockRule
    ? 'block_rule'
    : allowRule
      ? 'allow_rule'
      : policyAction === 'allow' && decision.decision === 'step_up'
        ? 'policy+step_up'
        : 'policy';
  return {
    pack: { name: pack.name, version: pack.version, hash: pack.hash },
    event_type: eventType,
    decision: decision.decision,
    score: decision.score,
    via,
    rules,
    policy,
    ignored,
  };
}

/**
 * The trace of a decision given feature values as JSON (name → value, null = missing; durations
 * in seconds), as the decision log keeps them. Unlike evaluateRecord this never refuses
 * (values.ts recordToSlotsLenient): what it could not use is listed in `ignored`. Probes are
 * answered by `lists` (none: every live-list membership is missing).
 */
export function explainRecord(
  pack: CompiledPack,
  eventType: string,
  features: Readonly<Record<string, unknown>>,
  opts: { readonly scheme: Scheme; readonly lists?: ListLookup },
): DecisionTrace {
  const { slots, ignored } = recordToSlotsLenient(pack, eventType, features, opts.scheme);
  resolveProbes(pack, slots, opts.lists ?? { has: () => undefined });
  return explainSlots(pack, eventType, slots, ignored);
}
