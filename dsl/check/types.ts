// Expression typing: the type of every expression node against the Scheme and the operator table
// (dsl/ops.ts), recorded in the CheckedPack's `types`; E_TYPE for an operand, argument or list entry
// no signature accepts, E_LITERAL for an ip literal that is not an address or a range, and E_REGEX
// for a `matches` pattern that is invalid or not provably linear (dsl/regex.ts). Names resolve
// through dsl/check/declarations.ts.
//
// A chain of one precedence level (`a or b or c`) is typed link by link in a loop (ast.ts chainOf):
// recursion follows nesting only, which the depth limit bounds.
//
// Choices where dsl.md is silent (docs/dsl.md §6, §7):
//  - A string literal, a list literal of strings, or a string(-list) const used where an `ip` is
//    expected (`==`, `!=`, `??`, `in`, `not in`) is parsed as an address or CIDR range at compile
//    time; a bad one, or a range with host bits set, is E_LITERAL at the literal (also when it sits
//    in a const).
//  - `ip == "10.0.0.0/8"` (a range on either side) is containment; `!=` is its negation. A range
//    where a single address is needed (`ip ?? "10.0.0.0/8"`) is E_LITERAL.
//  - A list literal's entries must be constants (literals or scalar consts). `[]` takes its type from
//    the left of `in` (always false); lists do not nest and appear only on the right of `in`.
//  - Type errors in an operation point at the operand whose type no signature accepts; when each
//    operand is acceptable on its own but the pair is not (`1 == "a"`), at the operator.
//  - An E_REGEX about one construct of a pattern (a lookaround, a backreference, an inline flag)
//    points at it inside the literal; any other at the literal.
import type * as A from '../ast.ts';
import { chainOf, continuesChain } from '../ast.ts';
import { diag } from '../diagnostics.ts';
import { InternalError } from '../errors.ts';
import { parseIpOrCidr } from '../iplist.ts';
import { spanInString } from '../lexer.ts';
import { BINARY_OPS, FUNCTIONS, UNARY_OPS, resolveSignature, type OpEntry } from '../ops.ts';
import { compileSafeRegex } from '../regex.ts';
import { assertNever, elementOf, isList, listOf, type Scalar, type Type } from '../types.ts';
import { literalOf, suggest, unparen, type CheckContext } from './context.ts';
import { resolveFeature, resolveName } from './declarations.ts';

/** Where an expression sits. */
export interface Scope {
  /** Inside a policy condition, where `score` is the total score. */
  readonly policy: boolean;
}

/** `e`'s type, recorded for `e` and its sub-expressions; null when ill-typed (already reported). */
export function typeExpr(cx: CheckContext, e: A.Expr, scope: Scope): Type | null {
  switch (e.kind) {
    case 'Bool':
      return cx.typed(e, 'bool');
    case 'Number':
      return cx.typed(e, 'number');
    case 'String':
      return cx.typed(e, 'string');
    case 'Duration':
      return cx.typed(e, 'duration');
    case 'Paren':
      return cx.typed(e, typeExpr(cx, e.expr, scope));
    case 'ListLit':
      return cx.typed(e, listLit(cx, e, scope));
    case 'Name':
      return cx.typed(e, resolveName(cx, e, scope.policy));
    case 'Feature':
      return cx.typed(e, resolveFeature(cx, e));
    case 'Call': {
      const entry = FUNCTIONS.get(e.callee.name);
      const argTypes = e.args.map((a) => typeExpr(cx, a, scope));
      if (!entry) {
        cx.report(diag('E_UNKNOWN_NAME', e.callee.span, `unknown function \`${e.callee.name}\``, suggest(e.callee.name, FUNCTIONS.keys())));
        return null;
      }
      const arity = entry.sigs[0]!.params.length;
      if (e.args.length !== arity) {
        cx.report(diag('E_TYPE', e.callee.span, `\`${e.callee.name}\` takes ${arity} argument${arity === 1 ? '' : 's'}, found ${e.args.length}`));
        return null;
      }
      return cx.typed(e, apply(cx, entry, e.args, argTypes, e.callee.span));
    }
    case 'Unary': {
      const entry = UNARY_OPS.get(e.op);
      if (!entry) throw new InternalError(`no unary operator ${e.op}`);
      return cx.typed(e, apply(cx, entry, [e.operand], [typeExpr(cx, e.operand, scope)], e.span));
    }
    case 'Binary': {
      if (!continuesChain(e)) return cx.typed(e, binary(cx, e, typeExpr(cx, e.left, scope), scope));
      const links = chainOf(e);
      let t = typeExpr(cx, links[0]!.left, scope);
      for (const link of links) t = cx.typed(link, binary(cx, link, t, scope));
      return t;
    }
    default:
      return assertNever(e, 'expression');
  }
}

/** A `when` or policy condition: a bool. */
export function typeCondition(cx: CheckContext, e: A.Expr, scope: Scope, what: string): void {
  const t = typeExpr(cx, e, scope);
  if (t !== null && t !== 'bool') cx.report(diag('E_TYPE', e.span, `${what} must be bool, found ${t}`));
}

function listLit(cx: CheckContext, e: A.ListLit, scope: Scope): Type | null {
  let elem: Scalar | null = null;
  let ok = true;
  for (const item of e.items) {
    const t = typeExpr(cx, item, scope);
    if (t === null) {
      ok = false;
      continue;
    }
    if (!isConstant(cx, item)) {
      cx.report(diag('E_TYPE', item.span, 'list entries must be constants (literals or consts)'));
      ok = false;
      continue;
    }
    if (isList(t)) {
      cx.report(diag('E_TYPE', item.span, 'lists cannot be nested'));
      ok = false;
      continue;
    }
    if (elem === null) elem = t;
    else if (t !== elem) {
      cx.report(diag('E_TYPE', item.span, `list entries must be of one type: expected ${elem}, found ${t}`));
      ok = false;
    }
  }
  if (!ok) return null;
  // `[]` gets its type from its context (the left of `in`); see membership().
  return elem && listOf(elem);
}

function isConstant(cx: CheckContext, e: A.Expr): boolean {
  const u = unparen(e);
  if (literalOf(u)) return true;
  return u.kind === 'Name' && cx.names.get(u)?.kind === 'const';
}

/**
 * Resolve an operator or function against its signatures, reporting E_TYPE at the operand no
 * signature accepts, else at `opSpan`.
 */
function apply(cx: CheckContext, entry: OpEntry, args: readonly A.Expr[], argTypes: readonly (Type | null)[], opSpan: A.Span): Type | null {
  if (argTypes.some((t) => t === null)) return null;
  const types = argTypes as Type[];
  const r = resolveSignature(entry, types);
  if (r) return r.result;
  const what = `\`${entry.name}\``;
  for (let i = 0; i < args.length; i++) {
    const accepted = entry.sigs.map((s) => s.params[i]);
    const generic = accepted.some((p) => p === 'T' || p === 'list<T>');
    const t = types[i]!;
    if (generic) {
      if (isList(t) && !accepted.includes('list<T>')) {
        cx.report(diag('E_TYPE', args[i]!.span, `${what} does not take a list (a list can only be the right side of \`in\`)`));
        return null;
      }
      continue;
    }
    if (!accepted.includes(t as (typeof accepted)[number])) {
      const want = [...new Set(accepted)].join(' or ');
      const pos =
        entry.kind === 'function' ? `argument ${i + 1} of ${what}` : args.length === 1 ? `the operand of ${what}` : `the ${i === 0 ? 'left' : 'right'} side of ${what}`;
      cx.report(diag('E_TYPE', args[i]!.span, `${pos} must be ${want}, found ${t}`));
      return null;
    }
  }
  cx.report(diag('E_TYPE', opSpan, `${what} cannot combine ${types.join(' and ')}`));
  return null;
}

/** One binary operation whose left operand is already typed (`lt`). */
function binary(cx: CheckContext, e: A.Binary, lt: Type | null, scope: Scope): Type | null {
  const entry = BINARY_OPS.get(e.op);
  if (!entry) throw new InternalError(`no binary operator ${e.op}`);
  if (e.op === 'in' || e.op === 'not in') return membership(cx, e, entry, lt, scope);
  if (e.op === 'matches') return matches(cx, e, entry, lt, scope);
  let rt = typeExpr(cx, e.right, scope);
  if (e.op === '==' || e.op === '!=' || e.op === '??') {
    const allowRange = e.op !== '??';
    if (lt === 'ip' && rt === 'string' && coerceIp(cx, e.right, false, allowRange)) rt = 'ip';
    else if (rt === 'ip' && lt === 'string' && coerceIp(cx, e.left, false, allowRange)) lt = 'ip';
  }
  return apply(cx, entry, [e.left, e.right], [lt, rt], e.opSpan);
}

function matches(cx: CheckContext, e: A.Binary, entry: OpEntry, lt: Type | null, scope: Scope): Type | null {
  const right = unparen(e.right);
  if (right.kind !== 'String') {
    typeExpr(cx, e.right, scope);
    cx.report(diag('E_TYPE', e.right.span, 'the right side of `matches` must be a string literal'));
    return null;
  }
  cx.typed(e.right, 'string');
  cx.typed(right, 'string');
  const re = compileSafeRegex(right.value, cx.limits.maxPatternLength);
  if (re.ok) cx.regexes.set(e.right, re.test);
  else {
    const why = re.reason.replace(/^Invalid regular expression: /, '');
    const at = re.at ? spanInString(right.raw, right.span, re.at.from, re.at.to) : right.span;
    cx.report(diag('E_REGEX', at, `${re.unsafe ? 'unsafe' : 'invalid'} regular expression: ${why}`));
  }
  return apply(cx, entry, [e.left, e.right], [lt, 'string'], e.opSpan);
}

function membership(cx: CheckContext, e: A.Binary, entry: OpEntry, leftType: Type | null, scope: Scope): Type | null {
  let lt = leftType;
  const right = unparen(e.right);
  if (right.kind === 'Name' && (cx.consts.get(right.name)?.type === null || (!cx.consts.has(right.name) && !cx.lists.has(right.name)))) {
    // A malformed const (already reported) or an unknown name (reported by typeExpr).
    typeExpr(cx, e.right, scope);
    return null;
  }
  const isListForm =
    right.kind === 'ListLit' ||
    (right.kind === 'Name' && (cx.lists.has(right.name) || cx.consts.get(right.name)?.type?.startsWith('list<') === true));
  if (!isListForm) {
    typeExpr(cx, e.right, scope);
    cx.report(diag('E_TYPE', e.right.span, `the right side of \`${e.op}\` must be a named list, a list literal or a list const`));
    return null;
  }
  if (right.kind === 'ListLit' && right.items.length === 0) {
    if (lt === null) return null;
    if (isList(lt)) {
      cx.report(diag('E_TYPE', e.left.span, `the left side of \`${e.op}\` must be a single value, found ${lt}`));
      return null;
    }
    cx.typed(right, listOf(lt));
    cx.typed(e.right, listOf(lt));
    return 'bool';
  }
  let rt = typeExpr(cx, e.right, scope);
  if (lt === 'ip' && rt === 'list<string>' && coerceIp(cx, e.right, true, true)) rt = 'list<ip>';
  else if (lt === 'string' && rt === 'list<ip>' && coerceIp(cx, e.left, false, false)) lt = 'ip';
  if (lt !== null && rt !== null && isList(rt) && !isList(lt) && elementOf(rt) !== lt) {
    cx.report(diag('E_TYPE', e.opSpan, `\`${e.op}\` needs a list of ${lt}, found ${rt}`));
    return null;
  }
  return apply(cx, entry, [e.left, e.right], [lt, rt], e.opSpan);
}

/**
 * Treat a string literal, a list literal of strings or a string(-list) const as ip(s). Returns false
 * when `e` is not of a coercible form (the caller then reports the type mismatch).
 */
function coerceIp(cx: CheckContext, e: A.Expr, list: boolean, allowRange: boolean): boolean {
  const u = unparen(e);
  let literals: readonly A.Expr[];
  if (!list && u.kind === 'String') literals = [u];
  else if (list && u.kind === 'ListLit') literals = u.items;
  else if (u.kind === 'Name') {
    const t = cx.names.get(u);
    if (t?.kind !== 'const' || t.info.type !== (list ? 'list<string>' : 'string')) return false;
    literals = t.info.literals;
  } else return false;
  for (const lit of literals) {
    const l = unparen(lit);
    if (l.kind !== 'String') return false;
    const p = parseIpOrCidr(l.value);
    if (!p.ok) cx.report(diag('E_LITERAL', l.span, `\`${l.value}\` is not an IP address${list || allowRange ? ' or CIDR range' : ''}`));
    else if (p.isCidr && !allowRange) cx.report(diag('E_LITERAL', l.span, `\`${l.value}\` is a range; an address is needed here`));
    else if (p.hostBits) cx.report(diag('E_LITERAL', l.span, `\`${l.value}\` has host bits set (the range is \`${p.canonical}\`)`));
    if (u.kind === 'ListLit') cx.typed(lit, 'ip');
  }
  const t: Type = list ? 'list<ip>' : 'ip';
  let x: A.Expr = e;
  cx.types.set(x, t);
  while (x.kind === 'Paren') {
    x = x.expr;
    cx.types.set(x, t);
  }
  return true;
}
