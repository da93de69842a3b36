// The generated rules (bench/lib/rulegen.ts) in three other rule engines, for the DSL benchmark:
// CEL (@marcbachmann/cel-js, each rule parsed once), Jexl (compiled expressions, evalSync) and
// json-rules-engine (one Engine per event type, Engine.run per event).
//
// Vigil's missing values follow three-valued logic; the other engines do not have it, so each rule is
// translated to negation normal form (`not` pushed down to the literals, and/or swapped) and every
// literal is made false when its feature is missing (a `has()` / `!= null` / custom-operator guard,
// only where the engine's own comparison would not already be false), or, for `(x ?? d) op v`,
// true/false as `d op v` decides at translation time. For and/or over literals, "true under
// three-valued logic" and "true with every missing literal false" are the same, so all engines
// match the same rules; bench/dsl.ts checks that on sample events before timing anything.
import { parse as celParse } from '@marcbachmann/cel-js';
import jexlDefault from 'jexl';
import { Engine, type NestedCondition, type TopLevelCondition } from 'json-rules-engine';
import type { BenchEvent, FeatureValue } from './events.ts';
import { appliesTo, litValue, type CmpOp, type Cond, type EventType, type GenPack, type GenRule, type Lit } from './rulegen.ts';

/** A literal with the polarity NNF gives it. */
type NLit = { readonly lit: Lit; readonly positive: boolean };
type NCond = NLit | { readonly kind: 'and' | 'or'; readonly items: readonly NCond[] };

function isNLit(c: NCond): c is NLit {
  return 'lit' in c;
}

export function nnf(c: Cond, positive = true): NCond {
  switch (c.kind) {
    case 'and':
    case 'or': {
      const kind = positive ? c.kind : c.kind === 'and' ? 'or' : 'and';
      return { kind, items: c.items.map((x) => nnf(x, positive)) };
    }
    case 'not':
      return nnf(c.item, !positive);
    default:
      return { lit: c, positive };
  }
}

const NEGATED: Record<CmpOp, CmpOp> = { '>': '<=', '>=': '<', '<': '>=', '<=': '>', '==': '!=', '!=': '==' };

/** The literal as a two-valued predicate over a present value. */
type Pred =
  | { kind: 'cmp'; op: CmpOp; value: string | number }
  | { kind: 'in'; values: readonly (string | number)[]; negate: boolean }
  | { kind: 'is'; value: boolean };

function predOf(n: NLit): Pred {
  const l = n.lit;
  switch (l.kind) {
    case 'num':
    case 'str':
      return { kind: 'cmp', op: n.positive ? l.op : NEGATED[l.op], value: l.value };
    case 'in':
      return { kind: 'in', values: l.values, negate: l.negate === n.positive };
    case 'bool':
      return { kind: 'is', value: l.value === n.positive };
  }
}

/**
 * How a literal reads once missing values are decided: `present && P(x)`, or `missing || P(x)`
 * when it has a `??` default that satisfies P.
 */
function guardOf(n: NLit): 'present' | 'missing-or' {
  const l = n.lit;
  if (l.kind !== 'num' || l.dflt === undefined) return 'present';
  const v = litValue(l, {});
  return (v === true) === n.positive ? 'missing-or' : 'present';
}

/** Does the engine's JS-like comparison already answer false for a missing (undefined) value? */
function falseWhenUndefined(p: Pred): boolean {
  if (p.kind === 'cmp') return p.op !== '!=';
  if (p.kind === 'in') return !p.negate;
  return true;
}

// ---------------------------------------------------------------------------------------------
// CEL
// ---------------------------------------------------------------------------------------------

function celScalar(v: string | number): string {
  if (typeof v === 'string') return JSON.stringify(v);
  // Values arrive as JS numbers, which cel-js treats as doubles; keep list literals homogeneous.
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

function celPred(feature: string, p: Pred): string {
  switch (p.kind) {
    case 'cmp':
      return `${feature} ${p.op} ${celScalar(p.value)}`;
    case 'in': {
      const test = `${feature} in [${p.values.map(celScalar).join(', ')}]`;
      return p.negate ? `!(${test})` : test;
    }
    case 'is':
      return p.value ? feature : `!${feature}`;
  }
}

/** CEL reports a missing map key as an error; `has()` keeps evaluation on the fast, non-throwing path. */
export function toCel(c: NCond): string {
  if (!isNLit(c)) return c.items.map((x) => `(${toCel(x)})`).join(c.kind === 'and' ? ' && ' : ' || ');
  const f = c.lit.feature;
  const p = celPred(f, predOf(c));
  return guardOf(c) === 'present' ? `has(${f}) && ${p}` : `!has(${f}) || ${p}`;
}

// ---------------------------------------------------------------------------------------------
// Jexl
// ---------------------------------------------------------------------------------------------

function jexlScalar(v: string | number): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function jexlPred(feature: string, p: Pred): string {
  switch (p.kind) {
    case 'cmp':
      return `${feature} ${p.op} ${jexlScalar(p.value)}`;
    case 'in': {
      const test = `${feature} in [${p.values.map(jexlScalar).join(', ')}]`;
      return p.negate ? `!(${test})` : test;
    }
    case 'is':
      return `${feature} == ${p.value}`;
  }
}

/** Jexl reads a missing property as undefined; `&&` and `||` share a precedence, so every group is parenthesized. */
export function toJexl(c: NCond): string {
  if (!isNLit(c)) return c.items.map((x) => `(${toJexl(x)})`).join(c.kind === 'and' ? ' && ' : ' || ');
  const f = c.lit.feature;
  const pred = predOf(c);
  const p = jexlPred(f, pred);
  if (guardOf(c) === 'missing-or') return `${f} == null || ${p}`;
  return falseWhenUndefined(pred) ? p : `${f} != null && ${p}`;
}

// ---------------------------------------------------------------------------------------------
// json-rules-engine
// ---------------------------------------------------------------------------------------------

const JRE_OP: Record<CmpOp, string> = {
  '>': 'greaterThan',
  '>=': 'greaterThanInclusive',
  '<': 'lessThan',
  '<=': 'lessThanInclusive',
  '==': 'equal',
  '!=': 'notEqual',
};

function jreLit(n: NLit): NestedCondition {
  const fact = n.lit.feature;
  const p = predOf(n);
  const cond: NestedCondition =
    p.kind === 'cmp'
      ? { fact, operator: JRE_OP[p.op], value: p.value }
      : p.kind === 'in'
        ? { fact, operator: p.negate ? 'notIn' : 'in', value: [...p.values] }
        : { fact, operator: 'equal', value: p.value };
  if (guardOf(n) === 'missing-or') return { any: [{ fact, operator: 'isMissing', value: true }, cond] };
  return falseWhenUndefined(p) ? cond : { all: [{ fact, operator: 'isPresent', value: true }, cond] };
}

export function toJre(c: NCond): TopLevelCondition {
  if (isNLit(c)) return { all: [jreLit(c)] };
  const items = c.items.map((x): NestedCondition => (isNLit(x) ? jreLit(x) : toJre(x)));
  return c.kind === 'and' ? { all: items } : { any: items };
}

// ---------------------------------------------------------------------------------------------
// Harnesses
// ---------------------------------------------------------------------------------------------

/** A feature record as nested objects (`geo.country` → ctx.geo.country); missing keys are absent. */
export type NestedContext = Record<string, Record<string, FeatureValue>>;

const NAMESPACES = ['event', 'ip', 'geo', 'user', 'device', 'ua', 'history', 'rba', 'velocity', 'model', 'engine'];

export function nestedContext(e: BenchEvent): NestedContext {
  const ctx: NestedContext = {};
  for (const ns of NAMESPACES) ctx[ns] = {};
  for (const [name, v] of Object.entries(e.features)) {
    const dot = name.indexOf('.');
    const ns = name.slice(0, dot);
    (ctx[ns] ??= {})[name.slice(dot + 1)] = v;
  }
  return ctx;
}

export interface SyncHarness<C> {
  readonly name: string;
  /** ms to translate and compile every rule. */
  readonly buildMs: number;
  /** Per-event input, built outside the timed loop (as Vigil's slots are). */
  prepare(e: BenchEvent): C;
  /** Indices (into pack.rules) of the rules that match. */
  matchSync(type: EventType, ctx: C, out: number[]): void;
}

interface Compiled<F> {
  readonly index: number;
  readonly fn: F;
}

function byType<F>(pack: GenPack, compile: (r: GenRule) => F): Record<EventType, Compiled<F>[]> {
  const all = pack.rules.map((r, index) => ({ index, rule: r, fn: compile(r) }));
  return {
    login: all.filter((x) => appliesTo(x.rule, 'login')).map(({ index, fn }) => ({ index, fn })),
    recovery: all.filter((x) => appliesTo(x.rule, 'recovery')).map(({ index, fn }) => ({ index, fn })),
  };
}

export function celHarness(pack: GenPack): SyncHarness<NestedContext> {
  const t0 = performance.now();
  const rules = byType(pack, (r) => celParse(toCel(nnf(r.when))));
  const buildMs = performance.now() - t0;
  return {
    name: 'cel-js',
    buildMs,
    prepare: nestedContext,
    matchSync(type, ctx, out) {
      for (const r of rules[type]) {
        try {
          if (r.fn(ctx) === true) out.push(r.index);
        } catch {
          // A CEL evaluation error is "no match", as a missing value is in Vigil.
        }
      }
    },
  };
}

export function jexlHarness(pack: GenPack): SyncHarness<NestedContext> {
  const t0 = performance.now();
  const jexl = new jexlDefault.Jexl();
  const rules = byType(pack, (r) => jexl.compile(toJexl(nnf(r.when))));
  const buildMs = performance.now() - t0;
  return {
    name: 'jexl',
    buildMs,
    prepare: nestedContext,
    matchSync(type, ctx, out) {
      for (const r of rules[type]) if (r.fn.evalSync(ctx) === true) out.push(r.index);
    },
  };
}

export interface AsyncHarness<C> {
  readonly name: string;
  readonly buildMs: number;
  prepare(e: BenchEvent): C;
  match(type: EventType, ctx: C): Promise<number[]>;
}

export function jreHarness(pack: GenPack): AsyncHarness<Record<string, FeatureValue>> {
  const t0 = performance.now();
  const engines = {} as Record<EventType, Engine>;
  const indexOf = new Map(pack.rules.map((r, i) => [r.name, i]));
  for (const type of ['login', 'recovery'] as const) {
    const engine = new Engine([], { allowUndefinedFacts: true });
    engine.addOperator('isPresent', (v: unknown) => v !== undefined);
    engine.addOperator('isMissing', (v: unknown) => v === undefined);
    pack.rules.forEach((r) => {
      if (appliesTo(r, type)) engine.addRule({ name: r.name, conditions: toJre(nnf(r.when)), event: { type: r.name } });
    });
    engines[type] = engine;
  }
  const buildMs = performance.now() - t0;
  return {
    name: 'json-rules-engine',
    buildMs,
    prepare: (e) => ({ ...e.features }),
    async match(type, facts) {
      const { events } = await engines[type].run(facts);
      return events.map((ev) => indexOf.get(ev.type)!).sort((a, b) => a - b);
    },
  };
}
