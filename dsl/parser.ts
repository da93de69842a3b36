// The rules language's parser: runs the nearley grammar (dsl/grammar.ne, compiled into
// dsl/generated/) over the moo lexer (dsl/lexer.ts), whose postprocessors build the AST
// (dsl/build.ts), and turns the outcome into an AST (dsl/ast.ts) and diagnostics. Owns the parse-time
// rules of dsl.md §5: the first lexing or parsing failure is one E_SYNTAX and stops the parse;
// E_LITERAL (escapes, numbers, durations) is collected; E_LIMIT stops at an over-large file or an
// over-deep expression (so no later pass can overflow the stack) and is collected for an over-long
// string. Also parses `reason` templates: `{expr}` interpolations are parsed as expressions with
// spans pointing into the file; `{{`/`}}` are literal braces.
import nearley from 'nearley';
import compiled from './generated/grammar.js';
import type * as A from './ast.ts';
import { diag, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import { toArray, type Cons } from './build.ts';
import { InternalError, ParseStop } from './errors.ts';
import { Columns, FileLexer, Token, atom, cmpOp, decodeEscapes, word, type LexContext, type PositionMap } from './lexer.ts';
import { DEFAULT_LIMITS, resolveLimits, type Limits } from './limits.ts';

const FILE_GRAMMAR = nearley.Grammar.fromCompiled(compiled);
const EXPR_GRAMMAR = nearley.Grammar.fromCompiled(compiled);
EXPR_GRAMMAR.start = 'Expr';

type Outcome<T> = { readonly value: T } | { readonly stop: ParseStop };

/**
 * Parse one `.rules` file. `file` is null when parsing stopped (E_SYNTAX, or E_LIMIT for the file's
 * size or an expression's depth); the diagnostics are sorted by position.
 */
export function parseFile(
  text: string,
  path: string,
  limits?: Partial<Limits>,
): { file: A.SourceFile | null; diagnostics: Diagnostic[] } {
  const lim = resolveLimits(limits);
  // UTF-8 needs at most 3 bytes per UTF-16 unit, so most files skip the byte count.
  if (text.length * 3 > lim.maxFileBytes && Buffer.byteLength(text, 'utf8') > lim.maxFileBytes) {
    const at: A.Span = { file: path, offset: 0, end: 0, line: 1, col: 1 };
    return { file: null, diagnostics: [diag('E_LIMIT', at, `the file is larger than ${lim.maxFileBytes} bytes`)] };
  }
  const diagnostics: Diagnostic[] = [];
  const ctx = context(path, text, lim, diagnostics);
  const r = run<Cons<A.Decl> | null>(FILE_GRAMMAR, text, ctx, null);
  if ('stop' in r) return { file: null, diagnostics: stopped(diagnostics, r.stop) };
  const file: A.SourceFile = {
    kind: 'File',
    file: path,
    decls: toArray(r.value),
    span: { file: path, offset: 0, end: text.length, line: 1, col: 1 },
  };
  return { file, diagnostics: sortDiagnostics(diagnostics) };
}

/** Parse one expression (tests and tools). Same diagnostics as in a file, with default limits. */
export function parseExpression(text: string, path: string): { expr: A.Expr | null; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const ctx = context(path, text, DEFAULT_LIMITS, diagnostics);
  const r = run<A.Expr>(EXPR_GRAMMAR, text, ctx, null);
  if ('stop' in r) return { expr: null, diagnostics: stopped(diagnostics, r.stop) };
  return { expr: r.value, diagnostics: sortDiagnostics(diagnostics) };
}

function context(file: string, text: string, limits: Limits, diagnostics: Diagnostic[]): LexContext {
  const ctx: LexContext = {
    file,
    limits,
    diagnostics,
    columns: new Columns(text),
    build: { template: (tok) => parseTemplate(tok, ctx), depths: new Map() },
  };
  return ctx;
}

/** Diagnostics after a stop: what was collected before it (parsing ended there), then the stop. */
function stopped(collected: readonly Diagnostic[], stop: ParseStop): Diagnostic[] {
  const before = stop.code === 'E_SYNTAX' ? collected.filter((d) => d.span.offset < stop.span.offset) : collected;
  return sortDiagnostics([...before, diag(stop.code, stop.span, stop.message, stop.hint)]);
}

function run<T>(grammar: nearley.Grammar, text: string, ctx: LexContext, map: PositionMap | null): Outcome<T> {
  const lx = new FileLexer(ctx, map);
  const parser = new nearley.Parser(grammar, { lexer: lx });
  try {
    parser.feed(text);
  } catch (e) {
    if (e instanceof ParseStop) return { stop: e };
    // nearley's own error for a token no state accepts carries the token.
    const tok = (e as { token?: unknown }).token;
    if (!(tok instanceof Token)) throw e;
    const states = awaiting(parser);
    const hint = cmpOp.test(tok) && completesComparison(states) ? 'comparisons do not chain: write `a < b and b < c`' : undefined;
    return { stop: new ParseStop('E_SYNTAX', tok.span, `unexpected ${describe(tok.type, tok.text)}${expected(states)}`, hint) };
  }
  if (lx.failure) return { stop: lx.failure };
  const results = parser.results as T[];
  if (results.length === 0) {
    return { stop: new ParseStop('E_SYNTAX', endOf(text, ctx, map), `unexpected end of input${expected(awaiting(parser))}`) };
  }
  if (results.length > 1) {
    throw new InternalError(`the grammar is ambiguous (${results.length} parses of ${ctx.file})`);
  }
  return { value: results[0]! };
}

function endOf(text: string, ctx: LexContext, map: PositionMap | null): A.Span {
  const file = ctx.file;
  if (map !== null) {
    const offset = map.offsets[text.length]!;
    return { file, offset, end: offset, line: map.line, col: ctx.columns.of(offset, map.lineStart) };
  }
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) line++;
  const offset = text.length;
  return { file, offset, end: offset, line, col: ctx.columns.of(offset, text.lastIndexOf('\n') + 1) };
}

/** An Earley item of nearley's chart: a grammar rule and how much of it has been matched. */
interface ChartState {
  readonly rule: nearley.Rule;
  readonly dot: number;
}

/**
 * The chart items that awaited the next token where the parse stands: after a failed token, the
 * ones that could not take it; after the input, the ones that wanted more. They only word a
 * message ("expected …") and a hint; codes and positions never depend on them.
 *
 * nearley has no public API for what it expected (its own error report walks the same items), so
 * this is the one place that reads its chart's shape. `save()` is public and returns the column the
 * parse stands at (a failed token leaves `current` on the column that awaited it); the column's
 * `states` and their `rule`/`dot` are described only by nearley's source, so each is checked.
 */
function awaiting(parser: nearley.Parser): readonly ChartState[] {
  const states: unknown = parser.save()['states'];
  if (!Array.isArray(states)) return [];
  return states.filter(
    (s: unknown): s is ChartState =>
      typeof s === 'object' && s !== null && 'rule' in s && 'dot' in s && typeof s.dot === 'number' && s.rule instanceof nearley.Rule,
  );
}

/** A complete `a < b` ends here, so a comparison operator next would chain. */
function completesComparison(states: readonly ChartState[]): boolean {
  return states.some((s) => s.rule.name === 'Cmp' && s.rule.symbols.length > 1 && s.dot === s.rule.symbols.length);
}

// Tokens that can only start an operand; when an operand is expected they are summed up as one.
const OPERAND_STARTS = new Set(['lparen', 'lbracket', 'minus', 'kw_not', 'ident']);

/** "; expected X, Y" from the terminals the states await. */
function expected(states: readonly ChartState[]): string {
  const seen = new Set<string>();
  let operand = false;
  for (const s of states) {
    const sym: unknown = s.rule.symbols[s.dot];
    if (typeof sym !== 'object' || sym === null) continue;
    if (sym === atom) operand = true;
    // Any name, keywords included, reads as "a name".
    else if (sym === word) seen.add('ident');
    else if ('type' in sym && typeof sym.type === 'string') seen.add(sym.type);
    else if ('members' in sym && Array.isArray(sym.members)) for (const m of sym.members as string[]) seen.add(m);
  }
  const names = [...seen].filter((t) => !(operand && OPERAND_STARTS.has(t))).map((t) => describe(t));
  names.sort();
  if (operand) names.unshift('an expression');
  if (names.length === 0) return '';
  return `; expected ${names.length > 8 ? `${names.slice(0, 8).join(', ')}, …` : names.join(', ')}`;
}

const TOKEN_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  duration: 'a duration',
  feature: 'a feature name',
  ident: 'a name',
};

function describe(type: string, text?: string): string {
  if (type === 'ident') return text === undefined ? TOKEN_NAMES[type]! : `name \`${text}\``;
  if (type === 'string' || type === 'number' || type === 'duration' || type === 'feature') {
    return text === undefined ? TOKEN_NAMES[type]! : `${TOKEN_NAMES[type]!.slice(2)} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
  }
  if (type.startsWith('kw_')) return text === undefined ? `\`${type.slice(3)}\`` : `keyword \`${type.slice(3)}\``;
  return `\`${text ?? PUNCT_TEXT[type] ?? type}\``;
}

const PUNCT_TEXT: Record<string, string> = {
  coalesce: '??', eq: '==', ne: '!=', le: '<=', ge: '>=', lt: '<', gt: '>', assign: '=', plus: '+', minus: '-',
  star: '*', slash: '/', lparen: '(', rparen: ')', lbracket: '[', rbracket: ']', lbrace: '{', rbrace: '}',
  comma: ',', colon: ':',
};

/**
 * A `reason` string → Template. Escapes were checked by the lexer; here the decoded text is split at
 * unescaped braces. Each interpolation's decoded text is lexed and parsed as an expression through a
 * position map, so its spans (and any diagnostic in it) point at the file.
 */
function parseTemplate(tok: Token, ctx: LexContext): A.Template {
  const { units, at, escaped } = decodeEscapes(tok.text);
  const base = tok.span;
  const n = units.length;
  const spanAt = (i: number, j: number): A.Span => ({
    file: ctx.file,
    offset: base.offset + at[i]!,
    end: base.offset + at[j]!,
    line: base.line,
    col: ctx.columns.of(base.offset + at[i]!, tok.lineStart),
  });
  const parts: (string | A.Expr)[] = [];
  let text = '';
  let i = 0;
  while (i < n) {
    const u = units[i]!;
    const brace = !escaped[i] && (u === '{' || u === '}');
    if (!brace) {
      text += u;
      i++;
      continue;
    }
    if (i + 1 < n && !escaped[i + 1] && units[i + 1] === u) {
      text += u;
      i += 2;
      continue;
    }
    if (u === '}') throw new ParseStop('E_SYNTAX', spanAt(i, i + 1), 'a lone `}` in a reason (write `}}` for a literal brace)');
    const close = closingBrace(units, i + 1);
    if (close < 0) throw new ParseStop('E_SYNTAX', spanAt(i, i + 1), 'unclosed `{` in a reason (write `{{` for a literal brace)');
    let code = '';
    const offsets: number[] = [];
    for (let k = i + 1; k < close; k++) {
      code += units[k]!;
      for (let c = 0; c < units[k]!.length; c++) offsets.push(base.offset + at[k]!);
    }
    offsets.push(base.offset + at[close]!);
    const map: PositionMap = { offsets, line: base.line, lineStart: tok.lineStart };
    const r = run<A.Expr>(EXPR_GRAMMAR, code, ctx, map);
    if ('stop' in r) throw r.stop;
    if (text !== '') parts.push(text);
    text = '';
    parts.push(r.value);
    i = close + 1;
  }
  if (text !== '') parts.push(text);
  return { kind: 'Template', parts, raw: tok.text, span: tok.span };
}

/** Index of the `}` closing an interpolation that starts at `from`, skipping string literals in it. */
function closingBrace(units: readonly string[], from: number): number {
  let inString = false;
  for (let j = from; j < units.length; j++) {
    const c = units[j]!;
    if (inString) {
      if (c === '\\') j++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '}') return j;
  }
  return -1;
}
