// The rules language's compiler: turns a CheckedPack (error-free) into a CompiledPack of closures
// that read feature values by slot. A feature's slot is the Scheme's (so the engine fills one context
// for every pack); the pack's Redis-list probes take the slots after `scheme.size`; consts are
// inlined and constant sub-expressions folded; `in` lists become Sets or IpSets; the rules that run
// for each event type are precomputed. evaluate() allocates only the hits it returns and the
// Decision itself. Emergency overrides reach evaluate() as one byte per rule (RULE_MODE), computed
// once per change by `ruleModes`: no rule name is looked up per event.
//
// A chain of one precedence level (`a or b or …`, `a + b - …`) may be as long as the file allows, so
// neither compiling nor evaluating it may recurse along it: `and`, `or` and `??` (associative, and
// lazy from left to right either way) compile to a balanced tree of their two-operand closures, the
// arithmetic chains to one closure folding left to right.
//
// Semantics: dsl.md §3 (missing values, through dsl/ops.ts) and §4 (decision). An event type the
// scheme does not know runs only the rules without `on`, under the default policy.
//
// Each pack also carries what dsl/explain.ts needs to trace it later (the checked AST, the sources,
// a way to compile one sub-expression); nothing of it is built until a trace is asked for.
import type * as A from './ast.ts';
import { assertNever, chainOf, continuesChain } from './ast.ts';
import { InternalError } from './errors.ts';
import type { CheckedPack, CheckedPolicy, CheckedRule } from './check/index.ts';
import { RULE_MODE, type CompiledPack, type CompiledRuleInfo, type Decision, type ListProbe, type RuleHit, type RuleOverrideMode } from './compiled.ts';
import { IpSet, canonicalIp, parseIpOrCidr } from './iplist.ts';
import { BINARY_OPS, FUNCTIONS, UNARY_OPS, resolveSignature, type Fn, type Membership, type OpEntry, type Operand } from './ops.ts';
import { elementOf, isList, type MaybeValue, type Scalar, type Scheme, type Slots, type Type, type Value } from './types.ts';
import { formatValue } from './values.ts';
import { noticeOf, type Notice } from './notices.ts';
import { attachTraceHooks } from './explain.ts';

const SEVERITY: Readonly<Record<A.Action, number>> = { allow: 0, step_up: 1, block: 2 };
const EMPTY_HITS: readonly RuleHit[] = Object.freeze([]);
const EMPTY_NOTICES: readonly Notice[] = Object.freeze([]);
const OFF = RULE_MODE.off;
const AS_SHADOW = RULE_MODE.shadow;

interface RuntimeRule {
  /** Position in the pack's `rules` (declaration order): the rule's byte in a modes array. */
  readonly index: number;
  readonly name: string;
  readonly when: Fn;
  readonly enforce: boolean;
  readonly action: A.Action | null;
  readonly score: number;
  readonly tags: readonly string[];
  readonly reason: (s: Slots) => string | null;
  /** The rule's notice with its catalogue message, built once; null without one. */
  readonly notice: Notice | null;
}

interface RuntimePolicyLine {
  readonly action: A.Action;
  readonly cond: Fn;
}

function unparen(e: A.Expr): A.Expr {
  while (e.kind === 'Paren') e = e.expr;
  return e;
}

function konst(value: MaybeValue): Operand {
  return { fn: () => value, isConst: true, value };
}

function membershipOf(values: readonly Value[], elem: Scalar): Membership {
  if (elem === 'ip') {
    const { set } = IpSet.from(values as readonly string[]);
    return { has: (v) => (typeof v === 'string' ? set.has(v) : undefined) };
  }
  const set = new Set<Value>(values);
  return { has: (v) => set.has(v) };
}

/** A canonical text for an expression, to share one probe between identical `x in redis_list` uses. */
function exprKey(e: A.Expr): string {
  switch (e.kind) {
    case 'Bool':
    case 'Number':
    case 'Duration':
      return String(e.value);
    case 'String':
      return JSON.stringify(e.value);
    case 'ListLit':
      return `[${e.items.map(exprKey).join(',')}]`;
    case 'Name':
      return e.name;
    case 'Feature':
      return e.path;
    case 'Call':
      return `${e.callee.name}(${e.args.map(exprKey).join(',')})`;
    case 'Unary':
      return `(${e.op} ${exprKey(e.operand)})`;
    case 'Binary': {
      const links = chainOf(e);
      let key = exprKey(links[0]!.left);
      for (const link of links) key = `(${key} ${link.op} ${exprKey(link.right)})`;
      return key;
    }
    case 'Paren':
      return exprKey(e.expr);
    default:
      return assertNever(e, 'expression');
  }
}

/** Chains whose operator may be regrouped: associative, and lazy from left to right in any grouping. */
const REGROUPABLE = new Set<A.BinaryOp>(['and', 'or', '??']);

class PackCompiler {
  readonly features: string[] = [];
  readonly featureTypes: Type[] = [];
  private readonly featureSlot = new Map<string, number>();
  private readonly probeDefs: { list: string; key: string; elemType: Scalar; operand: Fn }[] = [];
  private readonly probeSlot = new Map<string, number>();
  /** The total score, which policy conditions read as `score`; set by evaluate() before policies run. */
  readonly scoreBox = { v: 0 };

  constructor(
    private readonly c: CheckedPack,
    private readonly scheme: Scheme,
  ) {}

  /** Assign feature slots first, so that probe slots can follow them. */
  collect(e: A.Expr): void {
    switch (e.kind) {
      case 'Feature':
        if (!this.featureSlot.has(e.path)) {
          const def = this.scheme.feature(e.path);
          if (!def) throw new InternalError(`unchecked feature ${e.path}`);
          this.featureSlot.set(e.path, def.slot);
          this.features.push(e.path);
          this.featureTypes.push(def.type);
        }
        return;
      case 'Bool':
      case 'Number':
      case 'String':
      case 'Duration':
      case 'Name':
        return;
      case 'ListLit':
        e.items.forEach((i) => this.collect(i));
        return;
      case 'Call':
        e.args.forEach((a) => this.collect(a));
        return;
      case 'Unary':
        this.collect(e.operand);
        return;
      case 'Binary': {
        const links = chainOf(e);
        this.collect(links[0]!.left);
        for (const link of links) this.collect(link.right);
        return;
      }
      case 'Paren':
        this.collect(e.expr);
        return;
      default:
        assertNever(e, 'expression');
    }
  }

  get probeCount(): number {
    return this.probeDefs.length;
  }

  probes(): ListProbe[] {
    const base = this.scheme.size;
    return this.probeDefs.map((p, i) => ({ slot: base + i, list: p.list, key: p.key, elemType: p.elemType, operand: p.operand }));
  }

  type(e: A.Expr): Type {
    const t = this.c.types.get(e);
    if (t === undefined) throw new InternalError(`untyped ${e.kind} at ${e.span.file}:${e.span.line}:${e.span.col}`);
    return t;
  }

  private ipConst(text: string): Operand {
    const p = parseIpOrCidr(text);
    if (!p.ok) throw new InternalError(`unchecked ip literal ${text}`);
    // A single address is a one-address range too: `==` then tests membership in an IpSet, which
    // parses the runtime address without allocating, instead of canonicalizing it to a string.
    return { ...konst(p.canonical), range: membershipOf([p.canonical], 'ip') };
  }

  private listConst(values: readonly Value[], t: Type): Operand {
    if (!isList(t)) throw new InternalError('list operand of scalar type');
    return { fn: () => undefined, isConst: true, value: undefined, members: membershipOf(values, elementOf(t)) };
  }

  private apply(entry: OpEntry, args: readonly Operand[], argTypes: readonly Type[]): Operand {
    const r = resolveSignature(entry, argTypes);
    if (!r) throw new InternalError(`unresolved ${entry.name}(${argTypes.join(', ')})`);
    const { sig } = r;
    let fn: Fn;
    if (sig.build) fn = sig.build(args);
    else {
      const ev = sig.eval;
      if (!ev) throw new InternalError(`${entry.name} has neither eval nor build`);
      // Operands that are plain feature reads are read from their slot in place: one call less
      // per operation on the hot path. An eval signature takes one operand or two (ops.ts); this
      // runs once per operation at compile time.
      const left = args[0];
      if (left === undefined || args.length > 2) throw new InternalError(`${entry.name}: an eval signature takes 1 or 2 operands, got ${args.length}`);
      const ls = left.slot;
      if (args.length === 1) {
        const a = left.fn;
        fn =
          ls === undefined
            ? (s) => {
                const v = a(s);
                return v === undefined ? undefined : ev(v, v);
              }
            : (s) => {
                const v = s[ls];
                return v === undefined ? undefined : ev(v, v);
              };
      } else {
        const l = left.fn;
        const right = args[1]!;
        if (right.isConst && ls !== undefined && right.value !== undefined && sig.fused) {
          fn = sig.fused(ls, right.value);
        } else if (right.isConst && ls !== undefined) {
          const rv = right.value;
          fn = rv === undefined ? () => undefined : (s) => {
            const v = s[ls];
            return v === undefined ? undefined : ev(v, rv);
          };
        } else if (right.isConst) {
          const rv = right.value;
          fn = rv === undefined ? () => undefined : (s) => {
            const v = l(s);
            return v === undefined ? undefined : ev(v, rv);
          };
        } else {
          const rf = right.fn;
          fn = (s) => {
            const a = l(s);
            if (a === undefined) return undefined;
            const b = rf(s);
            return b === undefined ? undefined : ev(a, b);
          };
        }
      }
    }
    // Constant folding: constants never read slots, so one call with no slots gives the value.
    if (!isList(r.result) && args.every((a) => a.isConst)) return konst(fn([]));
    return { fn, isConst: false, value: undefined };
  }

  expr(e: A.Expr): Operand {
    switch (e.kind) {
      case 'Bool':
      case 'Number':
      case 'Duration':
        return konst(e.value);
      case 'String':
        if (this.type(e) === 'ip') return this.ipConst(e.value);
        return konst(e.value);
      case 'Paren':
        return this.expr(e.expr);
      case 'ListLit': {
        const t = this.type(e);
        const values = e.items.map((i) => {
          const v = this.expr(i).value;
          if (v === undefined) throw new InternalError('non-constant list entry');
          return v;
        });
        return this.listConst(values, t);
      }
      case 'Name': {
        const target = this.c.names.get(e);
        if (!target) throw new InternalError(`unresolved name ${e.name}`);
        switch (target.kind) {
          case 'score': {
            const box = this.scoreBox;
            return { fn: () => box.v, isConst: false, value: undefined };
          }
          case 'const': {
            const t = this.type(e);
            const v = target.info.value;
            if (Array.isArray(v)) return this.listConst(v as readonly Value[], t);
            if (t === 'ip') return this.ipConst(v as string);
            return konst(v as Value);
          }
          case 'list': {
            const info = target.info;
            if (info.source === 'redis') throw new InternalError(`redis list ${e.name} outside \`in\``);
            return this.listConst(info.values, this.type(e));
          }
          default:
            return assertNever(target, 'name target');
        }
      }
      case 'Feature': {
        const slot = this.featureSlot.get(e.path);
        if (slot === undefined) throw new InternalError(`feature ${e.path} has no slot`);
        return { fn: (s) => s[slot], isConst: false, value: undefined, slot };
      }
      case 'Call': {
        const entry = FUNCTIONS.get(e.callee.name);
        if (!entry) throw new InternalError(`unknown function ${e.callee.name}`);
        return this.apply(entry, e.args.map((a) => this.expr(a)), e.args.map((a) => this.type(a)));
      }
      case 'Unary': {
        const entry = UNARY_OPS.get(e.op);
        if (!entry) throw new InternalError(`unknown unary ${e.op}`);
        return this.apply(entry, [this.expr(e.operand)], [this.type(e.operand)]);
      }
      case 'Binary': {
        if (continuesChain(e)) return this.chain(e);
        if (e.op === 'in' || e.op === 'not in') {
          const right = unparen(e.right);
          if (right.kind === 'Name') {
            const target = this.c.names.get(right);
            if (target?.kind === 'list' && target.info.source === 'redis') return this.probe(e, target.info.decl.name.name, target.info.key ?? '', this.type(e.right));
          }
        }
        const entry = BINARY_OPS.get(e.op);
        if (!entry) throw new InternalError(`unknown binary ${e.op}`);
        const args = [this.expr(e.left), this.expr(e.right)];
        if (e.op === 'matches') {
          const regex = this.c.regexes.get(e.right);
          if (!regex) throw new InternalError('unchecked pattern');
          args[1] = { ...args[1]!, regex };
        }
        return this.apply(entry, args, [this.type(e.left), this.type(e.right)]);
      }
      default:
        return assertNever(e, 'expression');
    }
  }

  /** A chain of two or more links (see the header). */
  private chain(e: A.Binary): Operand {
    const links = chainOf(e);
    const operands = [this.expr(links[0]!.left), ...links.map((l) => this.expr(l.right))];
    const entry = BINARY_OPS.get(e.op);
    if (!entry) throw new InternalError(`unknown binary ${e.op}`);
    if (REGROUPABLE.has(e.op)) {
      // One operator and one type all along: `and`/`or` are bool, `??` is the chain's type.
      const t = this.type(e);
      const tree = (from: number, to: number): Operand => {
        if (to - from === 1) return operands[from]!;
        const mid = (from + to) >>> 1;
        return this.apply(entry, [tree(from, mid), tree(mid, to)], [t, t]);
      };
      return tree(0, operands.length);
    }
    const steps = links.map((link) => {
      const op = BINARY_OPS.get(link.op);
      const sig = op && resolveSignature(op, [this.type(link.left), this.type(link.right)])?.sig;
      if (!sig?.eval) throw new InternalError(`chain operator ${link.op} has no strict evaluation`);
      return sig.eval;
    });
    const fns = operands.map((o) => o.fn);
    const first = fns[0]!;
    const fn: Fn = (s) => {
      let acc = first(s);
      for (let i = 1; i < fns.length && acc !== undefined; i++) {
        const v = fns[i]!(s);
        acc = v === undefined ? undefined : steps[i - 1]!(acc, v);
      }
      return acc;
    };
    if (operands.every((o) => o.isConst)) return konst(fn([]));
    return { fn, isConst: false, value: undefined };
  }

  /** `x in redis_list`: the engine resolves membership into a probe slot before evaluation. */
  private probe(e: A.Binary, list: string, key: string, listType: Type): Operand {
    if (!isList(listType)) throw new InternalError('probe on a scalar');
    const elemType = elementOf(listType);
    const id = `${list}|${exprKey(e.left)}`;
    let index = this.probeSlot.get(id);
    if (index === undefined) {
      const operand = this.expr(e.left).fn;
      const canonical: Fn =
        elemType === 'ip'
          ? (s) => {
              const v = operand(s);
              return typeof v === 'string' ? canonicalIp(v) : undefined;
            }
          : operand;
      index = this.probeDefs.length;
      this.probeDefs.push({ list, key, elemType, operand: canonical });
      this.probeSlot.set(id, index);
    }
    const slot = this.scheme.size + index;
    const negate = e.op === 'not in';
    return {
      fn: negate
        ? (s) => {
            const v = s[slot];
            return v === undefined ? undefined : !v;
          }
        : (s) => s[slot],
      isConst: false,
      value: undefined,
    };
  }

  reason(r: CheckedRule): (s: Slots) => string | null {
    if (!r.reason) {
      const d = r.description;
      return () => d;
    }
    const parts = r.reason.parts.map((p) => (typeof p === 'string' ? p : { fn: this.expr(p).fn, type: this.type(p) }));
    if (parts.every((p) => typeof p === 'string')) {
      const text = parts.join('');
      return () => text;
    }
    return (s) => {
      let out = '';
      for (const p of parts) out += typeof p === 'string' ? p : formatValue(p.fn(s), p.type);
      return out;
    };
  }

  policy(p: CheckedPolicy | null): RuntimePolicyLine[] {
    return p ? p.lines.map((l) => ({ action: l.action, cond: this.expr(l.cond).fn })) : [];
  }
}

/**
 * Compile an error-free CheckedPack. `hash` is the pack hash (dsl/pack.ts packHash); `sources`
 * (file path → text) lets the explain trace (dsl/explain.ts) quote each sub-expression as written.
 */
export function compileChecked(c: CheckedPack, scheme: Scheme, hash: string, sources: ReadonlyMap<string, string> = new Map()): CompiledPack {
  const pc = new PackCompiler(c, scheme);
  for (const r of c.rules) {
    if (r.when) pc.collect(r.when);
    r.reason?.parts.forEach((p) => typeof p !== 'string' && pc.collect(p));
  }
  for (const p of [c.defaultPolicy, ...c.policies.values()]) p?.lines.forEach((l) => pc.collect(l.cond));

  const rules: RuntimeRule[] = c.rules.map((r, index) => {
    if (!r.when) throw new InternalError(`rule ${r.name} has no when`);
    return {
      index,
      name: r.name,
      when: pc.expr(r.when).fn,
      enforce: r.mode === 'enforce',
      action: r.action,
      score: r.score,
      tags: Object.freeze([...r.tags]),
      reason: pc.reason(r),
      notice: r.notice === null ? null : noticeOf(r.notice),
    };
  });
  const infos: CompiledRuleInfo[] = c.rules.map((r) => ({
    name: r.name,
    on: r.on,
    action: r.action,
    score: r.score,
    mode: r.mode,
    tags: r.tags,
    description: r.description,
    notice: r.notice,
  }));

  const untypedRules = rules.filter((_, i) => c.rules[i]!.on === null);
  const rulesByType = new Map<string, RuntimeRule[]>();
  for (const t of scheme.eventTypes) rulesByType.set(t, rules.filter((_, i) => c.rules[i]!.on?.includes(t) ?? true));
  const defaultPolicy = pc.policy(c.defaultPolicy);
  const policyByType = new Map<string, RuntimePolicyLine[]>();
  for (const t of scheme.eventTypes) {
    const p = c.policies.get(t);
    policyByType.set(t, p ? pc.policy(p) : defaultPolicy);
  }

  const probes = pc.probes();
  const features = [...pc.features];
  const slotIndex = new Map(features.map((f) => [f, scheme.feature(f)!.slot]));
  const scoreBox = pc.scoreBox;

  function evaluate(eventType: string, slots: Slots, modes?: Uint8Array): Decision {
    const rs = rulesByType.get(eventType) ?? untypedRules;
    let total = 0;
    let block = false;
    let allow = false;
    let stepUp = false;
    let hits = EMPTY_HITS as RuleHit[];
    let shadow = EMPTY_HITS as RuleHit[];
    let overridden: string[] | undefined;
    let notices = EMPTY_NOTICES as Notice[];
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      if (r.when(slots) !== true) continue;
      let enforce = r.enforce;
      if (modes !== undefined) {
        // Only a matched rule whose effect the override changes is named: a shadow rule set to
        // shadow changes nothing.
        const m = modes[r.index];
        if (m === OFF) {
          (overridden ??= []).push(r.name);
          continue;
        }
        if (m === AS_SHADOW && enforce) {
          enforce = false;
          (overridden ??= []).push(r.name);
        }
      }
      const hit: RuleHit = { name: r.name, action: r.action, score: r.score, reason: r.reason(slots), tags: r.tags };
      if (!enforce) {
        if (shadow === EMPTY_HITS) shadow = [];
        shadow.push(hit);
        continue;
      }
      if (hits === EMPTY_HITS) hits = [];
      hits.push(hit);
      total += r.score;
      const n = r.notice;
      // Codes compare by identity: one shared object per code (dsl/notices.ts noticeOf).
      if (n !== null) {
        if (notices === EMPTY_NOTICES) notices = [n];
        else if (!notices.includes(n)) notices.push(n);
      }
      if (r.action === 'block') block = true;
      else if (r.action === 'allow') allow = true;
      else if (r.action === 'step_up') stepUp = true;
    }
    const score = total < 0 ? 0 : total > 100 ? 100 : total;
    let decision: A.Action;
    if (block) decision = 'block';
    else if (allow) decision = 'allow';
    else {
      let policyAction: A.Action = 'allow';
      const lines = policyByType.get(eventType) ?? defaultPolicy;
      scoreBox.v = score;
      for (let i = 0; i < lines.length; i++) {
        if (lines[i]!.cond(slots) === true) {
          policyAction = lines[i]!.action;
          break;
        }
      }
      decision = stepUp && SEVERITY[policyAction] < SEVERITY.step_up ? 'step_up' : policyAction;
    }
    return { decision, score, rules: hits, shadow, overrides: overridden, notices };
  }

  const pack: CompiledPack = {
    name: c.name,
    version: c.version,
    hash,
    features,
    featureTypes: [...pc.featureTypes],
    slotCount: scheme.size + pc.probeCount,
    probes,
    redisLists: [...c.lists.values()]
      .filter((l) => l.source === 'redis' && l.key !== null && l.elemType !== null)
      .map((l) => Object.freeze({ list: l.decl.name.name, key: l.key as string, elemType: l.elemType as Type })),
    rules: infos,
    eventTypes: [...scheme.eventTypes],
    slotOf: (f) => slotIndex.get(f) ?? -1,
    evaluate,
  };
  const probeCount = pc.probeCount;
  attachTraceHooks(pack, {
    checked: c,
    sources,
    eventTypes: scheme.eventTypes,
    compile(e) {
      const fn = pc.expr(e).fn;
      // Every `x in redis_list` of a condition got its probe above; a new one would read a slot
      // past slotCount.
      if (pc.probeCount !== probeCount) throw new InternalError('tracing added a list probe');
      return fn;
    },
    type: (e) => pc.type(e),
    target: (e) => c.names.get(e),
    scoreBox,
  });
  return pack;
}

/**
 * The modes array `evaluate` takes for `pack` under these overrides (rule name → mode), or
 * undefined when none names a rule of the pack. Names the pack does not have are ignored.
 */
export function ruleModes(pack: Pick<CompiledPack, 'rules'>, overrides: ReadonlyMap<string, RuleOverrideMode>): Uint8Array | undefined {
  let modes: Uint8Array | undefined;
  pack.rules.forEach((r, i) => {
    const m = overrides.get(r.name);
    if (m === undefined) return;
    modes ??= new Uint8Array(pack.rules.length);
    modes[i] = m === 'off' ? OFF : AS_SHADOW;
  });
  return modes;
}
