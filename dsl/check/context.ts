// The state the checker's passes share (dsl/check/index.ts runs them): the pack's source, scheme and
// limits, the symbol tables the declarations pass fills (consts, lists, rule names), the side tables
// of the CheckedPack (types, name targets, patterns), and the diagnostics, reported at most once
// each. Also the small helpers every pass uses on expressions (unparen, literalOf) and for hints.
import type * as A from '../ast.ts';
import { didYouMean, type Diagnostic } from '../diagnostics.ts';
import type { PackSource } from '../index.ts';
import type { Limits } from '../limits.ts';
import { assertNever, type Scalar, type Scheme, type Type, type Value } from '../types.ts';
import type { ConstInfo, ListInfo, NameTarget } from './checked.ts';

export class CheckContext {
  readonly diagnostics: Diagnostic[] = [];
  readonly types = new Map<A.Expr, Type>();
  readonly names = new Map<A.NameRef, NameTarget>();
  readonly regexes = new Map<A.Expr, (s: string) => boolean>();
  readonly consts = new Map<string, ConstInfo>();
  readonly lists = new Map<string, ListInfo>();
  /** Every declared rule name, clashing ones included (tests may name them). */
  readonly ruleNames = new Set<string>();
  /** Diagnostics already reported (coercing a const may be reached from many uses). */
  private readonly reported = new Set<string>();

  constructor(
    readonly src: PackSource,
    readonly scheme: Scheme,
    readonly limits: Limits,
  ) {}

  report(d: Diagnostic): void {
    const key = `${d.code}|${d.span.file}|${d.span.offset}|${d.message}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.diagnostics.push(d);
  }

  /** Record `e`'s type (when it has one) and return it. */
  typed(e: A.Expr, t: Type | null): Type | null {
    if (t !== null) this.types.set(e, t);
    return t;
  }
}

/** A diagnostic hint naming the closest candidate, if one is close enough. */
export function suggest(name: string, candidates: Iterable<string>): string | undefined {
  const hint = didYouMean(name, candidates);
  return hint && `did you mean \`${hint}\`?`;
}

export function unparen(e: A.Expr): A.Expr {
  while (e.kind === 'Paren') e = e.expr;
  return e;
}

/** A literal's value and type, or null when `e` is not a (possibly negated) literal. */
export function literalOf(e: A.Expr): { value: Value; type: Scalar } | null {
  const u = unparen(e);
  switch (u.kind) {
    case 'Bool':
      return { value: u.value, type: 'bool' };
    case 'Number':
      return { value: u.value, type: 'number' };
    case 'String':
      return { value: u.value, type: 'string' };
    case 'Duration':
      return { value: u.value, type: 'duration' };
    case 'Unary': {
      if (u.op !== '-') return null;
      const inner = literalOf(u.operand);
      if (!inner || (inner.type !== 'number' && inner.type !== 'duration')) return null;
      return { value: -(inner.value as number), type: inner.type };
    }
    case 'ListLit':
    case 'Name':
    case 'Feature':
    case 'Call':
    case 'Binary':
    case 'Paren':
      return null;
    default:
      return assertNever(u, 'expression');
  }
}
