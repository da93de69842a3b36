// Shared by the parser, printer and property tests and by `npm run fuzz` (test/fuzz/run.ts):
// span-free AST comparison, a generated 500-rule pack, the language's token vocabulary for token
// soups, and fast-check arbitraries for whole files whose printed form must parse back to them.
import fc from 'fast-check';
import type * as A from '../../dsl/ast.ts';
import { continuesChain } from '../../dsl/ast.ts';
import { DIAGNOSTIC_CODES, type Diagnostic } from '../../dsl/diagnostics.ts';
import { KEYWORDS } from '../../dsl/lexer.ts';
import type { Limits } from '../../dsl/limits.ts';
import { parseFile } from '../../dsl/parser.ts';
import { printFile, printTemplate, quoteString } from '../../dsl/printer.ts';

/** A deep copy without `span`/`opSpan`, for structural equality "modulo spans". */
export function stripSpans(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(stripSpans);
  if (x !== null && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (k !== 'span' && k !== 'opSpan') out[k] = stripSpans(v);
    return out;
  }
  return x;
}

/** 1-based line and column of `offset` in `text` (the Span convention: columns count code points). */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const nl = before.lastIndexOf('\n');
  return { line: before.split('\n').length, col: [...before.slice(nl + 1)].length + 1 };
}

/** Every diagnostic's code is registered and its span lies inside `text` with matching line/col. */
export function diagnosticProblems(text: string, file: string, diags: readonly Diagnostic[]): string[] {
  const problems: string[] = [];
  for (const d of diags) {
    if (!(d.code in DIAGNOSTIC_CODES)) problems.push(`unknown code ${d.code}`);
    const s = d.span;
    if (s.file !== file) problems.push(`${d.code}: file ${s.file}`);
    if (!(s.offset >= 0 && s.offset <= s.end && s.end <= text.length)) problems.push(`${d.code}: span ${s.offset}..${s.end} outside 0..${text.length}`);
    const lc = lineCol(text, s.offset);
    if (lc.line !== s.line || lc.col !== s.col) problems.push(`${d.code}: ${s.line}:${s.col} for offset ${s.offset}, expected ${lc.line}:${lc.col}`);
  }
  return problems;
}

/**
 * Nesting depth of an expression as the parser counts it: a leaf (or an empty list or call) is 1, and
 * a chain of one precedence level (`a or b or c`) is one level (dsl.md §3, v1.1).
 */
export function exprDepth(e: A.Expr): number {
  switch (e.kind) {
    case 'Binary': {
      const left = exprDepth(e.left);
      return Math.max(continuesChain(e) ? left : 1 + left, 1 + exprDepth(e.right));
    }
    case 'Unary':
      return 1 + exprDepth(e.operand);
    case 'Paren':
      return 1 + exprDepth(e.expr);
    case 'ListLit':
      return 1 + Math.max(0, ...e.items.map(exprDepth));
    case 'Call':
      return 1 + Math.max(0, ...e.args.map(exprDepth));
    default:
      return 1;
  }
}

/** The deepest expression of a file (0 when it has none). */
export function fileDepth(f: A.SourceFile): number {
  const exprs: A.Expr[] = [];
  for (const d of f.decls) {
    if (d.kind === 'Const') exprs.push(d.value);
    else if (d.kind === 'List' && d.source.kind === 'InlineList') exprs.push(d.source.items);
    else if (d.kind === 'Policy') exprs.push(...d.lines.map((l) => l.cond));
    else if (d.kind === 'Test') for (const i of d.items) if (i.kind === 'Given') exprs.push(...i.entries.map((e) => e.value));
    if (d.kind !== 'Rule') continue;
    for (const c of d.clauses) {
      if (c.kind === 'When') exprs.push(c.cond);
      else if (c.kind === 'Reason') for (const p of c.template.parts) if (typeof p !== 'string') exprs.push(p);
    }
  }
  return Math.max(0, ...exprs.map(exprDepth));
}

/** Everything parseFile must guarantee for any input; returns the violations (none expected). */
export function parseInvariants(text: string, limits?: Partial<Limits>): string[] {
  const r = parseFile(text, 'f.rules', limits);
  const problems = diagnosticProblems(text, 'f.rules', r.diagnostics);
  const syntax = r.diagnostics.filter((d) => d.code === 'E_SYNTAX').length;
  if (syntax > 1) problems.push(`${syntax} E_SYNTAX diagnostics`);
  if (syntax === 1 && r.file !== null) problems.push('E_SYNTAX with a file');
  if (r.file === null && r.diagnostics.every((d) => d.code !== 'E_SYNTAX' && d.code !== 'E_LIMIT')) problems.push('no file and no reason');
  return problems;
}

/** A pack of `n` rules (plus consts, lists, policies and tests) using most of the language. */
export function bigPack(n: number): string {
  const out: string[] = ['pack big version 3', '', 'const limit_a = 10', 'const young = 3d', 'list nets: ip = ["10.0.0.0/8", "192.0.2.1"]', ''];
  for (let i = 0; i < n; i++) {
    switch (i % 5) {
      case 0:
        out.push(`rule r${i} {\n  when velocity.ip_failed_10m >= limit_a + ${i} and not device.known\n  then step_up\n}`);
        break;
      case 1:
        out.push(`rule r${i} {\n  on login\n  when ip.address in nets or geo.country == "C${i}"\n  score -${i % 50}\n}`);
        break;
      case 2:
        out.push(`rule r${i} {\n  when user.age < young and history.travel_kmh > ${i}.5\n  then block\n  reason "r${i} {geo.country}"\n}`);
        break;
      case 3:
        out.push(`rule r${i} {\n  when lower(ua.browser) matches "^cu" and geo.asn not in [1, ${i}]\n  then allow\n  mode shadow\n}`);
        break;
      default:
        out.push(`rule r${i} {\n  when max(rba.score, ${i}) * 2 - 1 > 3 and present(device.id)\n  score ${i % 100}\n  tags t${i}\n}`);
    }
  }
  out.push('policy {\n  block when score >= 90\n  step_up when score >= 50\n}');
  out.push('test "t" {\n  event login\n  given { geo.country: "BR", device.known: false, user.age: 2h }\n  expect step_up\n  expect matched r0\n}');
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Token soups: sequences drawn from the language's own vocabulary, to reach deep parser states.
// ---------------------------------------------------------------------------------------------

export const VOCABULARY: readonly string[] = [
  ...KEYWORDS,
  '??', '==', '!=', '<=', '>=', '<', '>', '=', '+', '-', '*', '/', '(', ')', '[', ']', '{', '}', ',', ':',
  'x', 'corp_nets', 'lower', 'geo.country', 'event.type', 'a.b.c', '0', '42', '0.25', '1e3', '30s', '7d',
  '"s"', '"a \\"q\\" \\u{1F600}"', '"{geo.country}"', '"{{x}}"', '"{a +}"', '"}"', '"\\q"', '1.5h', '3days',
  '1e999', '"unterminated', '# comment\n', '\n', '@', 'É', '"\\u{110000}"', '99999999999999999999d',
];

export const tokenSoup: fc.Arbitrary<string> = fc
  .array(fc.tuple(fc.constantFrom(...VOCABULARY), fc.constantFrom(' ', ' ', '\n', '', '\t')), { maxLength: 60 })
  .map((parts) => parts.map(([t, sep]) => t + sep).join(''));

// ---------------------------------------------------------------------------------------------
// ASTs. Spans are placeholders (comparisons strip them); raws are the canonical source of values.
// ---------------------------------------------------------------------------------------------

const S: A.Span = { file: 'gen.rules', offset: 0, end: 0, line: 1, col: 1 };
const KEYWORD_SET = new Set<string>(KEYWORDS);

export const identArb: fc.Arbitrary<string> = fc
  .stringMatching(/^[a-z_][a-z0-9_]{0,7}$/)
  .filter((s) => !KEYWORD_SET.has(s));
const segmentArb = fc.oneof(identArb, fc.constantFrom(...KEYWORDS));
const featureArb: fc.Arbitrary<string> = fc.array(segmentArb, { minLength: 2, maxLength: 3 }).map((s) => s.join('.'));

const ident = (name: string): A.Ident => ({ kind: 'Ident', name, span: S });
const str = (value: string): A.StringLit => ({ kind: 'String', value, raw: quoteString(value), span: S });
const stringValueArb = fc.string({ maxLength: 12, unit: fc.constantFrom('a', ' ', '"', '\\', '\n', '\t', '{', '}', 'é', '😀', '\u0001', '#') });

const numberArb: fc.Arbitrary<A.NumberLit> = fc
  .oneof(
    fc.nat({ max: 1_000_000 }).map(String),
    fc.tuple(fc.nat({ max: 999 }), fc.nat({ max: 99 })).map(([a, b]) => `${a}.${b}`),
    fc.tuple(fc.nat({ max: 9 }), fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.nat({ max: 20 })).map((p) => p.join('')),
  )
  .map((raw) => ({ kind: 'Number', value: Number(raw), raw, span: S }));

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const durationArb: fc.Arbitrary<A.DurationLit> = fc
  .tuple(fc.nat({ max: 10_000 }), fc.constantFrom('s', 'm', 'h', 'd'))
  .map(([n, u]) => ({ kind: 'Duration', value: n * UNITS[u]!, raw: `${n}${u}`, span: S }));

const leafArb: fc.Arbitrary<A.Expr> = fc.oneof(
  numberArb,
  durationArb,
  stringValueArb.map(str),
  fc.boolean().map((value): A.BoolLit => ({ kind: 'Bool', value, span: S })),
  identArb.map((name): A.NameRef => ({ kind: 'Name', name, span: S })),
  fc.constant<A.NameRef>({ kind: 'Name', name: 'score', span: S }),
  featureArb.map((path): A.FeatureRef => ({ kind: 'Feature', path, span: S })),
);

const BINARY_OPS: readonly A.BinaryOp[] = [
  '??', 'or', 'and', '==', '!=', '<', '<=', '>', '>=', 'in', 'not in', 'matches', 'contains', 'starts_with', 'ends_with',
  '+', '-', '*', '/',
];

/** Arbitrary expression trees (not necessarily as the parser would build them: see `withParens`). */
export const exprArb: fc.Arbitrary<A.Expr> = fc.letrec<{ expr: A.Expr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc.tuple(fc.constantFrom(...BINARY_OPS), tie('expr'), tie('expr')).map(
      ([op, left, right]): A.Binary => ({ kind: 'Binary', op, left, right, opSpan: S, span: S }),
    ),
    fc.tuple(fc.constantFrom<A.UnaryOp>('not', '-'), tie('expr')).map(([op, operand]): A.Unary => ({ kind: 'Unary', op, operand, span: S })),
    tie('expr').map((expr): A.Paren => ({ kind: 'Paren', expr, span: S })),
    fc.array(tie('expr'), { maxLength: 3 }).map((items): A.ListLit => ({ kind: 'ListLit', items, span: S })),
    fc.tuple(identArb, fc.array(tie('expr'), { maxLength: 3 })).map(
      ([name, args]): A.Call => ({ kind: 'Call', callee: ident(name), args, span: S }),
    ),
  ),
})).expr;

const PREC: Record<A.BinaryOp, number> = {
  '??': 1, or: 2, and: 3, '==': 5, '!=': 5, '<': 5, '<=': 5, '>': 5, '>=': 5, in: 5, 'not in': 5, matches: 5,
  contains: 5, starts_with: 5, ends_with: 5, '+': 6, '-': 6, '*': 7, '/': 7,
};

/**
 * The tree the parser builds from a faithful printing of `e`: Paren nodes wherever dsl.md §3's
 * precedence (left-associative binaries, non-chaining comparisons) needs them. Written from the spec's
 * table, independently of the printer.
 */
export function withParens(e: A.Expr, min = 1): A.Expr {
  let p: number;
  let out: A.Expr;
  switch (e.kind) {
    case 'Binary': {
      p = PREC[e.op];
      const left = withParens(e.left, p === 5 ? 6 : p);
      out = { ...e, left, right: withParens(e.right, p + 1) };
      break;
    }
    case 'Unary':
      p = e.op === 'not' ? 4 : 8;
      out = { ...e, operand: withParens(e.operand, p) };
      break;
    case 'Paren':
      p = 9;
      out = { ...e, expr: withParens(e.expr) };
      break;
    case 'ListLit':
      p = 9;
      out = { ...e, items: e.items.map((i) => withParens(i)) };
      break;
    case 'Call':
      p = 9;
      out = { ...e, args: e.args.map((a) => withParens(a)) };
      break;
    default:
      p = 9;
      out = e;
  }
  return p < min ? { kind: 'Paren', expr: out, span: S } : out;
}

const templateArb: fc.Arbitrary<A.Template> = fc
  .array(fc.oneof(stringValueArb.filter((s) => s !== ''), exprArb), { maxLength: 4 })
  .map((raw) => {
    // Adjacent text parts merge, as the parser produces them.
    const parts: (string | A.Expr)[] = [];
    for (const p of raw) {
      const last = parts[parts.length - 1];
      if (typeof p === 'string' && typeof last === 'string') parts[parts.length - 1] = last + p;
      else parts.push(typeof p === 'string' ? p : withParens(p));
    }
    const t: A.Template = { kind: 'Template', parts, raw: '', span: S };
    return { ...t, raw: printTemplate(t) };
  });

const signedArb: fc.Arbitrary<A.NumberLit> = fc
  .tuple(fc.boolean(), fc.nat({ max: 150 }))
  .map(([neg, n]) => ({ kind: 'Number', value: neg ? -n : n, raw: neg ? `-${n}` : `${n}`, span: S }));
const actionArb = fc.constantFrom<A.Action>('allow', 'step_up', 'block');
const identsArb = fc.array(identArb, { minLength: 1, maxLength: 3 }).map((ns) => ns.map(ident));
/** Tags are any names, keywords included (dsl.md §3, v1.1). */
const tagsArb = fc.array(segmentArb, { minLength: 1, maxLength: 3 }).map((ns) => ns.map(ident));
const normExpr = exprArb.map((e) => withParens(e));

const clauseArb: fc.Arbitrary<A.RuleClause> = fc.oneof(
  stringValueArb.map((v): A.DescriptionClause => ({ kind: 'Description', text: str(v), span: S })),
  identsArb.map((types): A.OnClause => ({ kind: 'On', types, span: S })),
  normExpr.map((cond): A.WhenClause => ({ kind: 'When', cond, span: S })),
  actionArb.map((action): A.ThenClause => ({ kind: 'Then', action, span: S })),
  signedArb.map((value): A.ScoreClause => ({ kind: 'Score', value, span: S })),
  templateArb.map((template): A.ReasonClause => ({ kind: 'Reason', template, span: S })),
  tagsArb.map((tags): A.TagsClause => ({ kind: 'Tags', tags, span: S })),
  fc.constantFrom<'enforce' | 'shadow'>('enforce', 'shadow').map((mode): A.ModeClause => ({ kind: 'Mode', mode, span: S })),
);

const testItemArb: fc.Arbitrary<A.TestItem> = fc.oneof(
  identArb.map((t): A.TestEvent => ({ kind: 'TestEvent', type: ident(t), span: S })),
  fc
    .array(fc.tuple(featureArb, normExpr), { maxLength: 4 })
    .map((es): A.TestGiven => ({
      kind: 'Given',
      entries: es.map(([path, value]) => ({ kind: 'GivenEntry', feature: { kind: 'Feature', path, span: S }, value, span: S })),
      span: S,
    })),
  actionArb.map((action): A.ExpectDecision => ({ kind: 'ExpectDecision', action, span: S })),
  fc.tuple(identArb, fc.boolean()).map(([r, negated]): A.ExpectMatched => ({ kind: 'ExpectMatched', rule: ident(r), negated, span: S })),
);

const listSourceArb: fc.Arbitrary<A.ListSource> = fc.oneof(
  fc.array(normExpr, { maxLength: 4 }).map((items): A.InlineListSource => ({ kind: 'InlineList', items: { kind: 'ListLit', items, span: S }, span: S })),
  stringValueArb.map((v): A.FileListSource => ({ kind: 'FileList', path: str(v), span: S })),
  stringValueArb.map((v): A.RedisListSource => ({ kind: 'RedisList', key: str(v), span: S })),
);

export const declArb: fc.Arbitrary<A.Decl> = fc.oneof(
  fc.tuple(identArb, signedArb).map(([n, version]): A.Header => ({ kind: 'Header', name: ident(n), version, span: S })),
  fc.tuple(identArb, normExpr).map(([n, value]): A.ConstDecl => ({ kind: 'Const', name: ident(n), value, span: S })),
  fc.tuple(identArb, fc.constantFrom('ip', 'number', 'string', 'bool', 'duration'), listSourceArb).map(
    ([n, t, source]): A.ListDecl => ({ kind: 'List', name: ident(n), elemType: { kind: 'TypeName', name: t, span: S }, source, span: S }),
  ),
  fc.tuple(identArb, fc.array(clauseArb, { maxLength: 6 })).map(([n, clauses]): A.RuleDecl => ({ kind: 'Rule', name: ident(n), clauses, span: S })),
  fc.tuple(fc.option(identArb), fc.array(fc.tuple(actionArb, normExpr), { maxLength: 3 })).map(
    ([t, lines]): A.PolicyDecl => ({
      kind: 'Policy',
      eventType: t === null ? null : ident(t),
      lines: lines.map(([action, cond]) => ({ kind: 'PolicyLine', action, cond, span: S })),
      span: S,
    }),
  ),
  fc.tuple(stringValueArb, fc.array(testItemArb, { maxLength: 5 })).map(([n, items]): A.TestDecl => ({ kind: 'Test', name: str(n), items, span: S })),
);

export const fileArb: fc.Arbitrary<A.SourceFile> = fc
  .array(declArb, { maxLength: 6 })
  .map((decls) => ({ kind: 'File', file: 'gen.rules', decls, span: S }));

/** A generated file's printed text with one vocabulary token spliced in, replacing a few characters. */
export const mutatedFile: fc.Arbitrary<string> = fc
  .tuple(fileArb.map(printFile), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat({ max: 6 }), fc.constantFrom(...VOCABULARY))
  .map(([text, where, del, tok]) => {
    const at = Math.floor(where * text.length);
    return `${text.slice(0, at)} ${tok} ${text.slice(at + del)}`;
  });

/** `CODE@LINE:COL` for every diagnostic of a compilation (in the order compilePack sorted them). */
export function diagnosticCodes(r: { readonly diagnostics: readonly Diagnostic[] }): string[] {
  return r.diagnostics.map((d) => `${d.code}@${d.span.line}:${d.span.col}`);
}

/** LINE:COL of the nth occurrence of `needle` in `src`, the column counted in code points (dsl.md § 3). */
export function locOf(src: string, needle: string, nth = 0): string {
  let i = -1;
  for (let k = 0; k <= nth; k++) {
    i = src.indexOf(needle, i + 1);
    if (i < 0) throw new Error(`${needle} #${nth} not in source`);
  }
  const before = src.slice(0, i);
  const lineStart = before.lastIndexOf('\n') + 1;
  return `${before.split('\n').length}:${[...before.slice(lineStart)].length + 1}`;
}
