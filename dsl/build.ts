// The AST builders: the functions the nearley grammar's postprocessors call (dsl/grammar.ne), each
// turning one matched rule's data (`d`, nearley's array of the rule's symbols' values: tokens from
// dsl/lexer.ts and nodes built before) into an AST node (dsl/ast.ts) with its span.
//
// Builders compute each expression's depth from its children's (never by walking a tree), so nothing
// here recurses, and they throw ParseStop (E_LIMIT) when a node is deeper than `maxDepth`. A chain of
// one precedence level (`a or b or c`) is one level of nesting (dsl.md §3, v1.1): a link whose left
// operand continues the chain adds nothing for it.
//
// Postprocessors of an Earley parser also run for completed items that the final parse does not use,
// so builders must have no side effects: diagnostics come from the lexer (one per token, in order).
// The one exception is a `reason` template, whose interpolations are parsed by a callback the parser
// injects (`BuildState.template`); its clause completes exactly once per occurrence.
import type * as A from './ast.ts';
import { continuesChain } from './ast.ts';
import { InternalError, ParseStop } from './errors.ts';
import type { Token, TokenType } from './lexer.ts';

/** Per-parse state of the builders; tokens carry it to them (`Token.ctx.build`). */
export interface BuildState {
  /** Parses a `reason` string into a Template (injected by the parser). */
  readonly template: (tok: Token) => A.Template;
  /** Depth of each composite expression built so far (a leaf is 1), so no builder walks a tree. */
  readonly depths: Map<object, number>;
}

function withDepth<T extends A.Expr>(node: T, childDepth: number, at: Token): T {
  const depth = childDepth + 1;
  if (depth > at.ctx.limits.maxDepth) {
    throw new ParseStop('E_LIMIT', node.span, `expression nested deeper than ${at.ctx.limits.maxDepth} levels`);
  }
  at.ctx.build.depths.set(node, depth);
  return node;
}

function depthOf(at: Token, e: A.Expr): number {
  return at.ctx.build.depths.get(e) ?? 1;
}

type Spanned = Token | { readonly span: A.Span };

/** The span from the start of `a` to the end of `b`. */
function join(a: Spanned, b: Spanned): A.Span {
  const s = a.span;
  return { file: s.file, offset: s.offset, end: b.span.end, line: s.line, col: s.col };
}

/** A persistent list built by left-recursive rules (never mutated: partial parses share tails). */
export interface Cons<T> {
  readonly item: T;
  readonly prev: Cons<T> | null;
}

export function toArray<T>(c: Cons<T> | null): T[] {
  const out: T[] = [];
  for (let p = c; p !== null; p = p.prev) out.push(p.item);
  return out.reverse();
}

/**
 * A list whose enclosing rule completes after every item (`on a, b, c` is a whole clause after each
 * name), so its builder must not copy it each time: extensions share one array, appending in place
 * when they extend its last item and copying only when a prefix is extended a second way.
 */
export interface Grow<T> {
  readonly items: T[];
  readonly length: number;
}

function grow<T>(prev: Grow<T> | null, item: T): Grow<T> {
  if (prev === null) return { items: [item], length: 1 };
  const items = prev.items.length === prev.length ? prev.items : prev.items.slice(0, prev.length);
  items.push(item);
  return { items, length: prev.length + 1 };
}

function grown<T>(g: Grow<T>): T[] {
  return g.items.length === g.length ? g.items : g.items.slice(0, g.length);
}

const BINARY_OPS: Partial<Record<TokenType, A.BinaryOp>> = {
  coalesce: '??',
  kw_or: 'or',
  kw_and: 'and',
  eq: '==',
  ne: '!=',
  lt: '<',
  le: '<=',
  gt: '>',
  ge: '>=',
  kw_in: 'in',
  kw_matches: 'matches',
  kw_contains: 'contains',
  kw_starts_with: 'starts_with',
  kw_ends_with: 'ends_with',
  plus: '+',
  minus: '-',
  star: '*',
  slash: '/',
};

const ACTIONS: Partial<Record<TokenType, A.Action>> = { kw_allow: 'allow', kw_step_up: 'step_up', kw_block: 'block' };

function ident(t: Token): A.Ident {
  return { kind: 'Ident', name: t.text, span: t.span };
}

function action(t: Token): A.Action {
  const a = ACTIONS[t.type];
  if (a === undefined) throw new InternalError(`not an action token: ${t.type}`);
  return a;
}

function stringLit(t: Token): A.StringLit {
  return { kind: 'String', value: t.str, raw: t.text, span: t.span };
}

function numberLit(t: Token): A.NumberLit {
  return { kind: 'Number', value: t.num, raw: t.text, span: t.span };
}

export const build = {
  // --- lists -------------------------------------------------------------------------------------
  empty: (): null => null,
  /** `Xs -> Xs X` (or `Xs -> X` when `d` has one element). */
  snoc: (d: unknown[]): Cons<unknown> =>
    d.length === 1 ? { item: d[0], prev: null } : { item: d[1], prev: d[0] as Cons<unknown> | null },
  /** `Xs -> Xs "," X` */
  snocSep: (d: unknown[]): Cons<unknown> => ({ item: d[2], prev: d[0] as Cons<unknown> }),
  /** `Idents -> %ident`, `Idents -> Idents "," %ident` (or `%word`): a Grow of Idents. */
  idents: (d: unknown[]): Grow<A.Ident> =>
    d.length === 1 ? grow(null, ident(d[0] as Token)) : grow(d[0] as Grow<A.Ident>, ident(d[2] as Token)),

  // --- expressions -------------------------------------------------------------------------------
  binary: (d: unknown[]): A.Binary => {
    const [left, op, right] = d as [A.Expr, Token, A.Expr];
    // The operator token classes the grammar sends here (lexer.ts cmpOp, addOp, mulOp) are listed
    // apart from this table: a token type missing from it is a bug, not a `Binary` without an op.
    const binaryOp = BINARY_OPS[op.type];
    if (binaryOp === undefined) throw new InternalError(`not a binary operator token: ${op.type}`);
    const node: A.Binary = {
      kind: 'Binary',
      op: binaryOp,
      left,
      right,
      opSpan: op.span,
      span: join(left, right),
    };
    // The chain `left` ends is already a level of its own: this link adds one for `right` only.
    const l = continuesChain(node) ? depthOf(op, left) - 1 : depthOf(op, left);
    return withDepth(node, Math.max(l, depthOf(op, right)), op);
  },
  notIn: (d: unknown[]): A.Binary => {
    const [left, not, inTok, right] = d as [A.Expr, Token, Token, A.Expr];
    const node: A.Binary = { kind: 'Binary', op: 'not in', left, right, opSpan: join(not, inTok), span: join(left, right) };
    return withDepth(node, Math.max(depthOf(not, left), depthOf(not, right)), not);
  },
  unary: (d: unknown[]): A.Unary => {
    const [op, operand] = d as [Token, A.Expr];
    const node: A.Unary = { kind: 'Unary', op: op.type === 'kw_not' ? 'not' : '-', operand, span: join(op, operand) };
    return withDepth(node, depthOf(op, operand), op);
  },
  paren: (d: unknown[]): A.Paren => {
    const [open, expr, close] = d as [Token, A.Expr, Token];
    return withDepth({ kind: 'Paren', expr, span: join(open, close) }, depthOf(open, expr), open);
  },
  listLit: (d: unknown[]): A.ListLit => {
    const [open, items, close] = d as [Token, Cons<A.Expr> | null, Token];
    const arr = toArray(items);
    let max = 0;
    for (const e of arr) max = Math.max(max, depthOf(open, e));
    return withDepth({ kind: 'ListLit', items: arr, span: join(open, close) }, max, open);
  },
  call: (d: unknown[]): A.Call => {
    const [callee, , args, close] = d as [Token, Token, Cons<A.Expr> | null, Token];
    const arr = toArray(args);
    let max = 0;
    for (const e of arr) max = Math.max(max, depthOf(callee, e));
    return withDepth({ kind: 'Call', callee: ident(callee), args: arr, span: join(callee, close) }, max, callee);
  },
  /** A one-token primary: a literal, a feature, a name, or the keyword `score` (a Name the checker
   * restricts to policy conditions). */
  atom: (d: unknown[]): A.Expr => {
    const t = d[0] as Token;
    switch (t.type) {
      case 'number':
        return numberLit(t);
      case 'duration':
        return { kind: 'Duration', value: t.num, raw: t.text, span: t.span };
      case 'string':
        return stringLit(t);
      case 'feature':
        return { kind: 'Feature', path: t.text, span: t.span };
      case 'ident':
      case 'kw_score':
        return { kind: 'Name', name: t.text, span: t.span };
      default:
        return { kind: 'Bool', value: t.type === 'kw_true', span: t.span };
    }
  },
  /** `-`? number, as one signed literal whose span includes the minus (score, version). */
  signed: (d: unknown[]): A.NumberLit => {
    if (d.length === 1) return numberLit(d[0] as Token);
    const [minus, n] = d as [Token, Token];
    return { kind: 'Number', value: -n.num, raw: `-${n.text}`, span: join(minus, n) };
  },

  // --- declarations ------------------------------------------------------------------------------
  header: (d: unknown[]): A.Header => {
    const [kw, name, , version] = d as [Token, Token, Token, A.NumberLit];
    return { kind: 'Header', name: ident(name), version, span: join(kw, version) };
  },
  constDecl: (d: unknown[]): A.ConstDecl => {
    const [kw, name, , value] = d as [Token, Token, Token, A.Expr];
    return { kind: 'Const', name: ident(name), value, span: join(kw, value) };
  },
  listDecl: (d: unknown[]): A.ListDecl => {
    const [kw, name, , type, , source] = d as [Token, Token, Token, Token, Token, A.ListSource];
    const elemType: A.TypeName = { kind: 'TypeName', name: type.text, span: type.span };
    return { kind: 'List', name: ident(name), elemType, source, span: join(kw, source) };
  },
  inlineList: (d: unknown[]): A.InlineListSource => {
    const items = build.listLit(d);
    return { kind: 'InlineList', items, span: items.span };
  },
  fileList: (d: unknown[]): A.FileListSource => {
    const [kw, path] = d as [Token, Token];
    return { kind: 'FileList', path: stringLit(path), span: join(kw, path) };
  },
  redisList: (d: unknown[]): A.RedisListSource => {
    const [kw, key] = d as [Token, Token];
    return { kind: 'RedisList', key: stringLit(key), span: join(kw, key) };
  },
  rule: (d: unknown[]): A.RuleDecl => {
    const [kw, name, , clauses, close] = d as [Token, Token, Token, Cons<A.RuleClause> | null, Token];
    return { kind: 'Rule', name: ident(name), clauses: toArray(clauses), span: join(kw, close) };
  },
  description: (d: unknown[]): A.DescriptionClause => {
    const [kw, text] = d as [Token, Token];
    return { kind: 'Description', text: stringLit(text), span: join(kw, text) };
  },
  on: (d: unknown[]): A.OnClause => {
    const [kw, names] = d as [Token, Grow<A.Ident>];
    const types = grown(names);
    return { kind: 'On', types, span: join(kw, types[types.length - 1]!) };
  },
  when: (d: unknown[]): A.WhenClause => {
    const [kw, cond] = d as [Token, A.Expr];
    return { kind: 'When', cond, span: join(kw, cond) };
  },
  then: (d: unknown[]): A.ThenClause => {
    const [kw, act] = d as [Token, Token];
    return { kind: 'Then', action: action(act), span: join(kw, act) };
  },
  score: (d: unknown[]): A.ScoreClause => {
    const [kw, value] = d as [Token, A.NumberLit];
    return { kind: 'Score', value, span: join(kw, value) };
  },
  reason: (d: unknown[]): A.ReasonClause => {
    const [kw, text] = d as [Token, Token];
    const template = text.ctx.build.template(text);
    return { kind: 'Reason', template, span: join(kw, text) };
  },
  tags: (d: unknown[]): A.TagsClause => {
    const [kw, names] = d as [Token, Grow<A.Ident>];
    const tags = grown(names);
    return { kind: 'Tags', tags, span: join(kw, tags[tags.length - 1]!) };
  },
  mode: (d: unknown[]): A.ModeClause => {
    const [kw, m] = d as [Token, Token];
    return { kind: 'Mode', mode: m.type === 'kw_shadow' ? 'shadow' : 'enforce', span: join(kw, m) };
  },
  notice: (d: unknown[]): A.NoticeClause => {
    const [kw, code] = d as [Token, Token];
    // The only two-name clause: any other first name is not a clause at all.
    if (kw.text !== 'notice') throw new ParseStop('E_SYNTAX', kw.span, `unexpected \`${kw.text}\` in a rule: expected a clause`);
    return { kind: 'Notice', code: ident(code), span: join(kw, code) };
  },
  policy: (d: unknown[]): A.PolicyDecl => {
    const [kw, type, , lines, close] = d as [Token, Token | null, Token, Cons<A.PolicyLine> | null, Token];
    return { kind: 'Policy', eventType: type ? ident(type) : null, lines: toArray(lines), span: join(kw, close) };
  },
  policyLine: (d: unknown[]): A.PolicyLine => {
    const [act, , cond] = d as [Token, Token, A.Expr];
    return { kind: 'PolicyLine', action: action(act), cond, span: join(act, cond) };
  },
  test: (d: unknown[]): A.TestDecl => {
    const [kw, name, , items, close] = d as [Token, Token, Token, Cons<A.TestItem> | null, Token];
    return { kind: 'Test', name: stringLit(name), items: toArray(items), span: join(kw, close) };
  },
  testEvent: (d: unknown[]): A.TestEvent => {
    const [kw, type] = d as [Token, Token];
    return { kind: 'TestEvent', type: ident(type), span: join(kw, type) };
  },
  given: (d: unknown[]): A.TestGiven => {
    const [kw, , entries, close] = d as [Token, Token, Cons<A.GivenEntry> | null, Token];
    return { kind: 'Given', entries: toArray(entries), span: join(kw, close) };
  },
  givenEntry: (d: unknown[]): A.GivenEntry => {
    const [feature, , value] = d as [Token, Token, A.Expr];
    return {
      kind: 'GivenEntry',
      feature: { kind: 'Feature', path: feature.text, span: feature.span },
      value,
      span: join(feature, value),
    };
  },
  expectDecision: (d: unknown[]): A.ExpectDecision => {
    const [kw, act] = d as [Token, Token];
    return { kind: 'ExpectDecision', action: action(act), span: join(kw, act) };
  },
  expectMatched: (d: unknown[]): A.ExpectMatched => {
    const negated = d.length === 4;
    const kw = d[0] as Token;
    const rule = d[d.length - 1] as Token;
    return { kind: 'ExpectMatched', rule: ident(rule), negated, span: join(kw, rule) };
  },
} as const;
