// Declarations and scopes: the pack header (E_HEADER), the one namespace of rules, lists and consts
// (E_DUPLICATE), const values, and resolving every name an expression, an `on` list or a `policy T`
// uses: consts, lists, `score`, features and event types, each unknown one E_UNKNOWN_NAME with a
// "did you mean" hint. Ends with W_UNUSED. List declarations themselves are dsl/check/lists.ts.
//
// Choices where dsl.md is silent (docs/dsl.md §2, §3, §5, §10):
//  - A `const` is a literal: bool, number, string, duration, a negated number/duration, or a list
//    literal of those (one type, not empty). Anything else is E_TYPE. Consts are inlined.
//  - `score` outside a policy condition is E_UNKNOWN_NAME.
//  - A missing header is reported at 1:1 of the first file; a header that is not the pack's first
//    declaration, and every header after the first, is E_HEADER at that header. A header version
//    must be a non-negative integer (E_LITERAL).
//  - W_UNUSED: a const or list that no rule (`when`, `reason`), policy or test reads (dsl.md §3,
//    v1.1: a use by a policy or a test counts).
import type * as A from '../ast.ts';
import { diag } from '../diagnostics.ts';
import { assertNever, listOf, type Type, type Value, type Scalar } from '../types.ts';
import type { ConstInfo } from './checked.ts';
import { literalOf, suggest, unparen, type CheckContext } from './context.ts';
import { listDecl } from './lists.ts';

/** The header's name and version; reports a missing, misplaced or duplicate header. */
export function checkHeader(
  cx: CheckContext,
  files: readonly A.SourceFile[],
  decls: readonly A.Decl[],
): { name: string; version: number } {
  const headers = decls.filter((d): d is A.Header => d.kind === 'Header');
  const first = headers[0];
  if (!first) {
    const file = files[0]?.file ?? '<pack>';
    cx.report(diag('E_HEADER', { file, offset: 0, end: 0, line: 1, col: 1 }, 'the pack has no header', 'start the pack with `pack NAME version N`'));
    return { name: '', version: 0 };
  }
  if (decls[0] !== first) {
    cx.report(diag('E_HEADER', first.span, 'the `pack` header must be the first declaration of the pack'));
  }
  for (const h of headers.slice(1)) {
    cx.report(diag('E_HEADER', h.span, `duplicate \`pack\` header (the first is at ${first.span.file}:${first.span.line}:${first.span.col})`));
  }
  const v = first.version.value;
  if (!Number.isInteger(v) || v < 0) {
    cx.report(diag('E_LITERAL', first.version.span, 'the pack version must be a non-negative integer'));
  }
  return { name: first.name.name, version: v };
}

/**
 * Enter every const, list and rule name before any body is checked, so declarations may come in any
 * order. Rules, lists and consts share one namespace; the second use of a name is E_DUPLICATE.
 */
export function declareNames(cx: CheckContext, decls: readonly A.Decl[]): void {
  const declared = new Map<string, { id: A.Ident; what: string }>();
  const claim = (id: A.Ident, what: string): boolean => {
    const prev = declared.get(id.name);
    if (prev) {
      const at = `${prev.id.span.file}:${prev.id.span.line}:${prev.id.span.col}`;
      cx.report(
        diag('E_DUPLICATE', id.span, `${what} \`${id.name}\`: the name is already declared as a ${prev.what} at ${at} (rules, lists and consts share one namespace)`),
      );
      return false;
    }
    declared.set(id.name, { id, what });
    return true;
  };
  for (const d of decls) {
    switch (d.kind) {
      case 'Const':
        if (claim(d.name, 'const')) cx.consts.set(d.name.name, constDecl(cx, d));
        break;
      case 'List':
        if (claim(d.name, 'list')) cx.lists.set(d.name.name, listDecl(cx, d));
        break;
      case 'Rule':
        // Tests may name a rule even when its name clashes (the clash is reported once, here).
        claim(d.name, 'rule');
        cx.ruleNames.add(d.name.name);
        break;
      case 'Header':
      case 'Policy':
      case 'Test':
        break;
      default:
        assertNever(d, 'declaration');
    }
  }
}

function constDecl(cx: CheckContext, d: A.ConstDecl): ConstInfo {
  const u = unparen(d.value);
  if (u.kind === 'ListLit') {
    if (u.items.length === 0) {
      cx.report(diag('E_TYPE', u.span, 'an empty list const has no element type; declare a typed `list` instead'));
      return { decl: d, type: null, value: undefined, literals: [], used: false };
    }
    const values: Value[] = [];
    let elem: Scalar | null = null;
    let ok = true;
    for (const item of u.items) {
      const lit = literalOf(item);
      if (!lit) {
        cx.report(diag('E_TYPE', item.span, 'list const entries must be literals'));
        ok = false;
        continue;
      }
      if (elem === null) elem = lit.type;
      else if (lit.type !== elem) {
        cx.report(diag('E_TYPE', item.span, `list entries must be of one type: expected ${elem}, found ${lit.type}`));
        ok = false;
        continue;
      }
      values.push(lit.value);
    }
    return { decl: d, type: ok && elem ? listOf(elem) : null, value: values, literals: u.items, used: false };
  }
  const lit = literalOf(u);
  if (!lit) {
    cx.report(diag('E_TYPE', d.value.span, 'a const must be a literal (bool, number, string, duration or a list of them)'));
    return { decl: d, type: null, value: undefined, literals: [], used: false };
  }
  return { decl: d, type: lit.type, value: lit.value, literals: [u], used: false };
}

/**
 * What a bare name in an expression is: a const, a list, or (in a policy condition) the total
 * score. Marks consts and lists used and records the target; null after an E_UNKNOWN_NAME.
 */
export function resolveName(cx: CheckContext, e: A.NameRef, inPolicy: boolean): Type | null {
  const c = cx.consts.get(e.name);
  if (c) {
    c.used = true;
    cx.names.set(e, { kind: 'const', info: c });
    return c.type;
  }
  const l = cx.lists.get(e.name);
  if (l) {
    l.used = true;
    cx.names.set(e, { kind: 'list', info: l });
    return l.elemType && listOf(l.elemType);
  }
  if (e.name === 'score') {
    if (inPolicy) {
      cx.names.set(e, { kind: 'score' });
      return 'number';
    }
    cx.report(diag('E_UNKNOWN_NAME', e.span, '`score` is only available in policy conditions'));
    return null;
  }
  const candidates = [...cx.consts.keys(), ...cx.lists.keys(), ...(inPolicy ? ['score'] : [])];
  cx.report(diag('E_UNKNOWN_NAME', e.span, `unknown name \`${e.name}\``, suggest(e.name, candidates)));
  return null;
}

/** A feature's type, or null after an E_UNKNOWN_NAME. */
export function resolveFeature(cx: CheckContext, e: A.FeatureRef): Type | null {
  const def = cx.scheme.feature(e.path);
  if (def) return def.type;
  cx.report(diag('E_UNKNOWN_NAME', e.span, `unknown feature \`${e.path}\``, suggest(e.path, cx.scheme.featureNames())));
  return null;
}

/** Is `id` (in `on` or `policy T`) a known event type? Reports E_UNKNOWN_NAME if not. */
export function resolveEventType(cx: CheckContext, id: A.Ident): boolean {
  const types = cx.scheme.eventTypes;
  if (types.includes(id.name)) return true;
  cx.report(diag('E_UNKNOWN_NAME', id.span, `unknown event type \`${id.name}\` (one of ${types.join(', ')})`, suggest(id.name, types)));
  return false;
}

/** W_UNUSED for every const and list nothing read; runs after every pass that resolves names. */
export function reportUnused(cx: CheckContext): void {
  for (const c of cx.consts.values()) {
    if (!c.used) cx.report(diag('W_UNUSED', c.decl.name.span, `const \`${c.decl.name.name}\` is never used`));
  }
  for (const l of cx.lists.values()) {
    if (!l.used) cx.report(diag('W_UNUSED', l.decl.name.span, `list \`${l.decl.name.name}\` is never used`));
  }
}
