// The ONE table of the language's operators and functions (in the style of cel-js's overload
// registry): every entry lists its signatures, and each signature carries both its type check (the
// parameter patterns and result type the checker resolves against) and its evaluation (what the
// compiler turns into a closure). Adding an operator or function means adding one entry here.
//
// Missing values (dsl.md §3): a signature with `eval` is *strict* — the compiler only calls it with
// present values and gives missing as soon as an operand is missing. A signature with `build` sees
// the compiled operands themselves: it is used for the missing-aware operators (`and`, `or`, `not`,
// `??`, `present`) and for those that need compile-time data (`in` lists, `matches` patterns,
// ip ranges).
import { InternalError } from './errors.ts';
import { canonicalIp } from './iplist.ts';
import type { MaybeValue, Scalar, Slots, Type, Value } from './types.ts';
import { isList, elementOf } from './types.ts';

export type Fn = (s: Slots) => MaybeValue;

/** Membership in a compile-time list (a Set, or an IpSet for ip lists); undefined = cannot say. */
export interface Membership {
  has(v: Value): boolean | undefined;
}

/** A compiled operand as a `build` sees it. */
export interface Operand {
  readonly fn: Fn;
  /** True when the operand is a compile-time constant (literal or const): `value` holds it. */
  readonly isConst: boolean;
  readonly value: MaybeValue;
  /** Set when the operand is a plain feature read, so operations can read the slot directly. */
  readonly slot?: number;
  /** A list operand's membership test. */
  readonly members?: Membership;
  /** An ip literal that is a CIDR range: its membership test. */
  readonly range?: Membership;
  /** A `matches` pattern, compiled (and proven linear) by the checker. */
  readonly regex?: (s: string) => boolean;
}

/** A parameter pattern: a concrete scalar, `T` (any scalar, bound once per signature) or `list<T>`. */
export type Param = Scalar | 'T' | 'list<T>';

export interface Signature {
  readonly params: readonly Param[];
  readonly result: Scalar | 'T';
  /** Strict evaluation, called with present values only (unary entries ignore `b`). */
  readonly eval?: (a: Value, b: Value) => MaybeValue;
  /** Evaluation that needs the operands themselves (laziness, lists, patterns, ranges). */
  readonly build?: (args: readonly Operand[]) => Fn;
  /**
   * Optional fast path for the commonest shape, `feature OP constant`: the same result as `eval`,
   * as one closure that reads the slot in place (rules are mostly such comparisons).
   */
  readonly fused?: (slot: number, k: Value) => Fn;
}

export type EntryKind = 'binary' | 'unary' | 'function';

export interface OpEntry {
  readonly kind: EntryKind;
  readonly name: string;
  /** Tried in order; the first whose parameters match wins. */
  readonly sigs: readonly Signature[];
}

// ---------------------------------------------------------------------------------------------
// Evaluation helpers
// ---------------------------------------------------------------------------------------------

const num = (v: Value): number => v as number;
const str = (v: Value): string => v as string;

function ipEquals(a: Value, b: Value): MaybeValue {
  const ca = canonicalIp(str(a));
  const cb = canonicalIp(str(b));
  return ca === undefined || cb === undefined ? undefined : ca === cb;
}

/**
 * `or` (dominant = true) and `and` (dominant = false) under Kleene's three-valued logic: the
 * dominant value wins over missing, missing wins over the other value; the right side is evaluated
 * only when the left does not decide.
 */
function kleene(dominant: boolean) {
  return (args: readonly Operand[]): Fn => {
    const [l, r] = args as [Operand, Operand];
    const lf = l.fn;
    const rf = r.fn;
    return (s) => {
      const a = lf(s);
      if (a === dominant) return dominant;
      const b = rf(s);
      if (b === dominant) return dominant;
      return a === undefined || b === undefined ? undefined : !dominant;
    };
  };
}

/**
 * `ip == "10.0.0.0/8"` is containment; `ip == "10.0.0.1"` compares canonical addresses (an ip
 * literal arrives as a one-address range); two runtime ips compare canonically.
 */
function buildIpEquals(negate: boolean) {
  return (args: readonly Operand[]): Fn => {
    const [l, r] = args as [Operand, Operand];
    const range = r.range ?? l.range;
    if (range) {
      const other = r.range ? l.fn : r.fn;
      return (s) => {
        const v = other(s);
        if (v === undefined) return undefined;
        const hit = range.has(v);
        return hit === undefined ? undefined : hit !== negate;
      };
    }
    const lf = l.fn;
    const rf = r.fn;
    return (s) => {
      const a = lf(s);
      if (a === undefined) return undefined;
      const b = rf(s);
      if (b === undefined) return undefined;
      const eq = ipEquals(a, b);
      return eq === undefined ? undefined : eq !== negate;
    };
  };
}

function buildIn(negate: boolean) {
  return (args: readonly Operand[]): Fn => {
    const [l, r] = args as [Operand, Operand];
    const members = r.members;
    if (!members) throw new InternalError('`in` without a compiled list');
    const lf = l.fn;
    return (s) => {
      const v = lf(s);
      if (v === undefined) return undefined;
      const hit = members.has(v);
      return hit === undefined ? undefined : hit !== negate;
    };
  };
}

const ORDERED: readonly Param[][] = [
  ['number', 'number'],
  ['duration', 'duration'],
];

function comparison(name: string, ev: (a: Value, b: Value) => boolean, fused: (slot: number, k: Value) => Fn): OpEntry {
  return { kind: 'binary', name, sigs: ORDERED.map((params) => ({ params, result: 'bool', eval: ev, fused })) };
}

function stringTest(name: string, test: (a: string, b: string) => boolean): OpEntry {
  return { kind: 'binary', name, sigs: [{ params: ['string', 'string'], result: 'bool', eval: (a, b) => test(str(a), str(b)) }] };
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

export const TABLE: readonly OpEntry[] = [
  {
    kind: 'binary',
    name: '??',
    sigs: [
      {
        params: ['T', 'T'],
        result: 'T',
        build: ([l, r]) => {
          const lf = l!.fn;
          const rf = r!.fn;
          return (s) => {
            const v = lf(s);
            return v === undefined ? rf(s) : v;
          };
        },
      },
    ],
  },
  {
    kind: 'binary',
    name: 'or',
    sigs: [
      {
        params: ['bool', 'bool'],
        result: 'bool',
        // Three-valued: true wins over missing; missing wins over false.
        build: kleene(true),
      },
    ],
  },
  {
    kind: 'binary',
    name: 'and',
    sigs: [
      {
        params: ['bool', 'bool'],
        result: 'bool',
        // Three-valued: false wins over missing; missing wins over true.
        build: kleene(false),
      },
    ],
  },
  {
    kind: 'unary',
    name: 'not',
    sigs: [{ params: ['bool'], result: 'bool', eval: (a) => !a }],
  },
  {
    kind: 'binary',
    name: '==',
    sigs: [
      { params: ['ip', 'ip'], result: 'bool', build: buildIpEquals(false) },
      {
        params: ['T', 'T'],
        result: 'bool',
        eval: (a, b) => a === b,
        fused: (i, k) => (s) => {
          const v = s[i];
          return v === undefined ? undefined : v === k;
        },
      },
    ],
  },
  {
    kind: 'binary',
    name: '!=',
    sigs: [
      { params: ['ip', 'ip'], result: 'bool', build: buildIpEquals(true) },
      {
        params: ['T', 'T'],
        result: 'bool',
        eval: (a, b) => a !== b,
        fused: (i, k) => (s) => {
          const v = s[i];
          return v === undefined ? undefined : v !== k;
        },
      },
    ],
  },
  comparison(
    '<',
    (a, b) => num(a) < num(b),
    (i, k) => (s) => {
      const v = s[i];
      return v === undefined ? undefined : num(v) < num(k);
    },
  ),
  comparison(
    '<=',
    (a, b) => num(a) <= num(b),
    (i, k) => (s) => {
      const v = s[i];
      return v === undefined ? undefined : num(v) <= num(k);
    },
  ),
  comparison(
    '>',
    (a, b) => num(a) > num(b),
    (i, k) => (s) => {
      const v = s[i];
      return v === undefined ? undefined : num(v) > num(k);
    },
  ),
  comparison(
    '>=',
    (a, b) => num(a) >= num(b),
    (i, k) => (s) => {
      const v = s[i];
      return v === undefined ? undefined : num(v) >= num(k);
    },
  ),
  { kind: 'binary', name: 'in', sigs: [{ params: ['T', 'list<T>'], result: 'bool', build: buildIn(false) }] },
  { kind: 'binary', name: 'not in', sigs: [{ params: ['T', 'list<T>'], result: 'bool', build: buildIn(true) }] },
  {
    kind: 'binary',
    name: 'matches',
    sigs: [
      {
        params: ['string', 'string'],
        result: 'bool',
        build: ([l, r]) => {
          const lf = l!.fn;
          const test = r!.regex;
          if (!test) throw new InternalError('`matches` without a compiled pattern');
          return (s) => {
            const v = lf(s);
            return v === undefined ? undefined : test(str(v));
          };
        },
      },
    ],
  },
  stringTest('contains', (a, b) => a.includes(b)),
  stringTest('starts_with', (a, b) => a.startsWith(b)),
  stringTest('ends_with', (a, b) => a.endsWith(b)),
  {
    kind: 'binary',
    name: '+',
    sigs: [
      { params: ['number', 'number'], result: 'number', eval: (a, b) => num(a) + num(b) },
      { params: ['duration', 'duration'], result: 'duration', eval: (a, b) => num(a) + num(b) },
    ],
  },
  {
    kind: 'binary',
    name: '-',
    sigs: [
      { params: ['number', 'number'], result: 'number', eval: (a, b) => num(a) - num(b) },
      { params: ['duration', 'duration'], result: 'duration', eval: (a, b) => num(a) - num(b) },
    ],
  },
  { kind: 'binary', name: '*', sigs: [{ params: ['number', 'number'], result: 'number', eval: (a, b) => num(a) * num(b) }] },
  {
    kind: 'binary',
    name: '/',
    // Division by zero gives missing (dsl.md §3), never Infinity or NaN.
    sigs: [{ params: ['number', 'number'], result: 'number', eval: (a, b) => (num(b) === 0 ? undefined : num(a) / num(b)) }],
  },
  {
    kind: 'unary',
    name: '-',
    sigs: [
      { params: ['number'], result: 'number', eval: (a) => -num(a) },
      { params: ['duration'], result: 'duration', eval: (a) => -num(a) },
    ],
  },
  { kind: 'function', name: 'lower', sigs: [{ params: ['string'], result: 'string', eval: (a) => str(a).toLowerCase() }] },
  { kind: 'function', name: 'upper', sigs: [{ params: ['string'], result: 'string', eval: (a) => str(a).toUpperCase() }] },
  // Length in code points, so an emoji counts once.
  {
    kind: 'function',
    name: 'len',
    sigs: [
      {
        params: ['string'],
        result: 'number',
        eval: (a) => {
          let n = 0;
          for (const _ of str(a)) n++;
          return n;
        },
      },
    ],
  },
  { kind: 'function', name: 'abs', sigs: [{ params: ['number'], result: 'number', eval: (a) => Math.abs(num(a)) }] },
  {
    kind: 'function',
    name: 'min',
    sigs: [{ params: ['number', 'number'], result: 'number', eval: (a, b) => Math.min(num(a), num(b)) }],
  },
  {
    kind: 'function',
    name: 'max',
    sigs: [{ params: ['number', 'number'], result: 'number', eval: (a, b) => Math.max(num(a), num(b)) }],
  },
  {
    kind: 'function',
    name: 'present',
    sigs: [
      {
        params: ['T'],
        result: 'bool',
        build: ([a]) => {
          const f = a!.fn;
          return (s) => f(s) !== undefined;
        },
      },
    ],
  },
  { kind: 'function', name: 'hours', sigs: [{ params: ['duration'], result: 'number', eval: (a) => num(a) / 3600 }] },
  { kind: 'function', name: 'days', sigs: [{ params: ['duration'], result: 'number', eval: (a) => num(a) / 86400 }] },
];

function index(kind: EntryKind): ReadonlyMap<string, OpEntry> {
  return new Map(TABLE.filter((e) => e.kind === kind).map((e) => [e.name, e]));
}

export const BINARY_OPS = index('binary');
export const UNARY_OPS = index('unary');
export const FUNCTIONS = index('function');

// ---------------------------------------------------------------------------------------------
// Type resolution (the checker's half)
// ---------------------------------------------------------------------------------------------

export interface Resolved {
  readonly sig: Signature;
  readonly result: Type;
}

/** The first signature of `entry` the argument types fit, with its result type; undefined if none. */
export function resolveSignature(entry: OpEntry, argTypes: readonly Type[]): Resolved | undefined {
  for (const sig of entry.sigs) {
    if (sig.params.length !== argTypes.length) continue;
    let t: Scalar | undefined;
    let ok = true;
    for (let i = 0; i < sig.params.length && ok; i++) {
      const p = sig.params[i]!;
      const a = argTypes[i]!;
      if (p === 'T' || p === 'list<T>') {
        const want = p === 'T' ? !isList(a) : isList(a);
        if (!want) {
          ok = false;
          break;
        }
        const el = isList(a) ? elementOf(a) : (a as Scalar);
        if (t === undefined) t = el;
        else if (t !== el) ok = false;
      } else if (p !== a) {
        ok = false;
      }
    }
    if (!ok) continue;
    const result: Type = sig.result === 'T' ? (t ?? 'bool') : sig.result;
    return { sig, result };
  }
  return undefined;
}

/** How a signature reads in a message: `min(number, number) number`. */
export function describeSignatures(entry: OpEntry): string {
  return entry.sigs
    .map((s) => {
      const ps = s.params;
      if (entry.kind === 'function') return `${entry.name}(${ps.join(', ')}) ${s.result}`;
      if (entry.kind === 'unary') return `${entry.name} ${ps[0]}`;
      return `${ps[0]} ${entry.name} ${ps[1]}`;
    })
    .join(', ');
}
