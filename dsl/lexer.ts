// The rules language's lexer (moo) and the token-to-AST builders the nearley grammar's
// postprocessors call (`dsl/grammar.ne` imports both). It owns everything that is decided per token:
// keywords, dotted feature paths, string escapes, number and duration literals (E_LITERAL), string
// length (E_LIMIT), and a running lower bound on expression nesting (E_LIMIT) computed from brackets
// and prefix operators, so a pathological input is refused before the Earley parser builds a chart
// for it. The builders compute each expression's depth from its children's (never by walking a
// tree), so nothing here recurses.
//
// Postprocessors of an Earley parser also run for completed items that the final parse does not use,
// so builders must have no side effects: diagnostics come from the lexer (one per token, in order).
// The one exception is a `reason` template, whose interpolations are parsed by a callback the parser
// injects (`LexContext.template`); its clause completes exactly once per occurrence.
import moo from 'moo';
import type * as A from './ast.ts';
import { diag, type Diagnostic } from './diagnostics.ts';

/** Words that may not name a const, list or rule (dsl.md §1); segments of a feature path may be keywords. */
export const KEYWORDS = [
  'pack', 'version', 'const', 'list', 'rule', 'policy', 'test', 'description', 'on', 'when', 'then',
  'score', 'reason', 'tags', 'mode', 'shadow', 'enforce', 'allow', 'step_up', 'block', 'and', 'or',
  'not', 'in', 'matches', 'contains', 'starts_with', 'ends_with', 'true', 'false', 'file', 'redis',
  'event', 'given', 'expect', 'matched',
] as const;
export type Keyword = (typeof KEYWORDS)[number];

// Keyword token types carry a `kw_` prefix: nearley compiles `%name` into a JS identifier reference,
// and `in`, `true`, `false` are reserved words.
const KEYWORD_TYPES: Record<string, string> = Object.fromEntries(KEYWORDS.map((k) => [`kw_${k}`, k]));

const PUNCTUATION = {
  coalesce: '??',
  eq: '==',
  ne: '!=',
  le: '<=',
  ge: '>=',
  lt: '<',
  gt: '>',
  assign: '=',
  plus: '+',
  minus: '-',
  star: '*',
  slash: '/',
  lparen: '(',
  rparen: ')',
  lbracket: '[',
  rbracket: ']',
  lbrace: '{',
  rbrace: '}',
  comma: ',',
  colon: ':',
} as const;

// The moo lexer; each parse lexes with its own `FileLexer` around a clone of it.
const mooLexer = moo.compile({
  // A byte-order mark (editors on Windows write one) is a blank like any other.
  ws: { match: /[ \t\r\n\uFEFF]+/, lineBreaks: true },
  comment: /#[^\n]*/,
  // A string may not contain a raw line break: an unterminated one is reported at its opening quote.
  string: /"(?:[^"\\\n\r]|\\[^\n\r])*"/,
  unterminated: /"[^\n]*/,
  // One token for anything starting with a digit, classified afterwards, so `1.5h` and `3days` are one
  // bad literal (E_LITERAL, parsing continues) instead of a number followed by a stray identifier.
  numeric: /[0-9](?:[eE][+-][0-9]|[0-9a-zA-Z_]|\.[0-9a-zA-Z_])*/,
  feature: /[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+/,
  ident: { match: /[a-z_][a-z0-9_]*/, type: moo.keywords(KEYWORD_TYPES) },
  ...PUNCTUATION,
  error: moo.error,
});

export type TokenType =
  | 'string'
  | 'number'
  | 'duration'
  | 'feature'
  | 'ident'
  | `kw_${Keyword}`
  | keyof typeof PUNCTUATION;

const TOKEN_TYPES = new Set<string>(['string', 'number', 'duration', 'feature', 'ident', ...Object.keys(KEYWORD_TYPES), ...Object.keys(PUNCTUATION)]);

/**
 * The grammar's `@lexer`: nearley consults it only through `has` while the compiled grammar loads
 * (every parse passes its own FileLexer). A `%name` that is not a token type refers to one of the
 * token classes below instead.
 */
export const lexer = { has: (type: string): boolean => TOKEN_TYPES.has(type) };

/**
 * A grammar terminal matching any of several token types: one Earley state instead of one per type.
 * nearley calls `test` for every awaiting state and every token, so it tests a bit the token was
 * given when it was made.
 */
export interface TokenClass {
  readonly members: readonly TokenType[];
  readonly test: (t: Token) => boolean;
}

const CLASS_BITS = new Map<string, number>();
let classCount = 0;

function tokenClass(...members: TokenType[]): TokenClass {
  const bit = 1 << classCount++;
  for (const m of members) CLASS_BITS.set(m, (CLASS_BITS.get(m) ?? 0) | bit);
  return { members, test: (t) => (t.classes & bit) !== 0 };
}

export const cmpOp = tokenClass(
  'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'kw_in', 'kw_matches', 'kw_contains', 'kw_starts_with', 'kw_ends_with',
);
export const addOp = tokenClass('plus', 'minus');
export const mulOp = tokenClass('star', 'slash');
export const atom = tokenClass('number', 'duration', 'string', 'kw_true', 'kw_false', 'feature', 'ident', 'kw_score');
export const actionKw = tokenClass('kw_allow', 'kw_step_up', 'kw_block');
export const modeKw = tokenClass('kw_shadow', 'kw_enforce');

/** How a sub-lexer's offsets map back into the file: a template interpolation lexes decoded text. */
export interface PositionMap {
  /** Source offset of each local offset (length = local text length + 1). */
  readonly offsets: readonly number[];
  readonly line: number;
  /** Column of source offset `baseOffset` (the map never crosses a line break). */
  readonly baseCol: number;
  readonly baseOffset: number;
}

export interface LexLimits {
  readonly maxDepth: number;
  readonly maxStringLength: number;
}

/** Per-parse state shared by the lexer and the builders. */
export interface LexContext {
  readonly file: string;
  readonly limits: LexLimits;
  /** E_LITERAL and E_LIMIT (string length) diagnostics, collected in source order. */
  readonly diagnostics: Diagnostic[];
  /** Parses a `reason` string into a Template (injected by the parser). */
  readonly template: (tok: Token) => A.Template;
  /** Depth of each composite expression built so far (a leaf is 1), so no builder walks a tree. */
  readonly depths: Map<object, number>;
}

export class Token {
  constructor(
    readonly type: TokenType,
    readonly text: string,
    /** Where the token is in the file (for a template interpolation: mapped back into the file). */
    readonly span: A.Span,
    readonly ctx: LexContext,
    /** Decoded value of a string token. */
    readonly str: string,
    /** Value of a number (or, in seconds, a duration) token. */
    readonly num: number,
  ) {
    this.classes = CLASS_BITS.get(type) ?? 0;
  }
  /** The token classes (`TokenClass`) it belongs to, as bits. */
  readonly classes: number;
  /** nearley's error reporter displays `value`. */
  get value(): string {
    return this.text;
  }
}

/** Stops the parse: a lexing or parsing failure (E_SYNTAX) or a nesting limit (E_LIMIT). */
export class ParseStop extends Error {
  constructor(
    readonly code: 'E_SYNTAX' | 'E_LIMIT',
    readonly span: A.Span,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

const OPERAND_END = new Set<string>([
  'string', 'number', 'duration', 'feature', 'ident', 'kw_true', 'kw_false', 'kw_score', 'rparen', 'rbracket',
]);

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const NUMBER_RE = /^[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const DURATION_RE = /^([0-9]+)([smhd])$/;
const SUFFIXED_RE = /^([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)([a-zA-Z]+)$/;

type MooToken = moo.Token;

/**
 * A nearley lexer over one text: wraps a moo clone, drops blanks and comments, decodes literals,
 * attaches spans. A lexing failure or a nesting bound over the limit ends the token stream and is
 * left in `failure` (nearley then sees a clean end of input; the parser reports `failure` first).
 */
export class FileLexer implements nearleyLexer {
  // moo's typings omit clone(); a clone shares the compiled rules and has its own position.
  private readonly moo = (mooLexer as moo.Lexer & { clone(): moo.Lexer }).clone();
  failure: ParseStop | null = null;
  // Nesting lower bound: `base` counts nodes enclosing the current bracket level, `run` the prefix
  // operators (`not`, unary `-`) in a row since the last operand. A leaf here is at depth >= base+run+1.
  private base = 0;
  private run = 0;
  private readonly bases: number[] = [];
  private prevType = '';

  constructor(
    readonly ctx: LexContext,
    private readonly map: PositionMap | null = null,
  ) {}

  reset(chunk: string): void {
    this.moo.reset(chunk);
  }
  save(): moo.LexerState {
    return this.moo.save();
  }
  formatError(token: unknown, message: string): string {
    return token instanceof Token ? `${message} at ${token.span.line}:${token.span.col}` : message;
  }
  has(): boolean {
    return true;
  }

  next(): Token | undefined {
    if (this.failure) return undefined;
    for (;;) {
      const t = this.moo.next();
      if (t === undefined) return undefined;
      switch (t.type) {
        case 'ws':
        case 'comment':
          continue;
        case 'error':
          this.failure = new ParseStop('E_SYNTAX', this.spanOf(t.offset, t.offset + 1, t), `unexpected character ${JSON.stringify(t.text[0])}`);
          return undefined;
        case 'unterminated':
          this.failure = new ParseStop('E_SYNTAX', this.spanOf(t.offset, t.offset + t.text.length, t), 'unterminated string');
          return undefined;
        default: {
          const tok = this.token(t);
          if (!this.trackDepth(tok)) return undefined;
          this.prevType = tok.type;
          return tok;
        }
      }
    }
  }

  private spanOf(localStart: number, localEnd: number, t: MooToken): A.Span {
    const m = this.map;
    if (m === null) return { file: this.ctx.file, offset: localStart, end: localEnd, line: t.line, col: t.col + (localStart - t.offset) };
    const offset = m.offsets[localStart]!;
    return { file: this.ctx.file, offset, end: m.offsets[localEnd]!, line: m.line, col: m.baseCol + (offset - m.baseOffset) };
  }

  private token(t: MooToken): Token {
    const span = this.spanOf(t.offset, t.offset + t.text.length, t);
    let type = t.type as TokenType | 'numeric';
    let str = '';
    let num = 0;
    if (type === 'string') {
      str = this.decodeString(t);
      if (str.length > this.ctx.limits.maxStringLength && codePoints(str) > this.ctx.limits.maxStringLength) {
        this.ctx.diagnostics.push(
          diag('E_LIMIT', span, `a string literal may be at most ${this.ctx.limits.maxStringLength} characters long`),
        );
      }
    } else if (type === 'numeric') {
      const n = this.numeric(t.text, span);
      type = n.type;
      num = n.value;
    }
    return new Token(type, t.text, span, this.ctx, str, num);
  }

  private numeric(text: string, span: A.Span): { type: 'number' | 'duration'; value: number } {
    const report = (message: string): void => void this.ctx.diagnostics.push(diag('E_LITERAL', span, message));
    if (NUMBER_RE.test(text)) {
      const value = Number(text);
      if (!Number.isFinite(value)) report(`\`${text}\` is too large for a number`);
      return { type: 'number', value };
    }
    const d = DURATION_RE.exec(text);
    if (d) {
      const value = Number(d[1]) * UNIT_SECONDS[d[2]!]!;
      if (!Number.isSafeInteger(value)) report(`\`${text}\` is too long a duration`);
      return { type: 'duration', value };
    }
    const s = SUFFIXED_RE.exec(text);
    if (s) {
      const unit = UNIT_SECONDS[s[2]!];
      if (unit === undefined) {
        report(`\`${text}\`: unknown duration unit \`${s[2]!}\` (use s, m, h or d)`);
        return { type: 'duration', value: Number.NaN };
      }
      report(`\`${text}\`: a duration is an integer count and a unit (write \`36h\`, not \`1.5d\`)`);
      return { type: 'duration', value: Number(s[1]) * unit };
    }
    report(`\`${text}\` is not a number`);
    return { type: 'number', value: Number.NaN };
  }

  /** Decode `\" \\ \n \t \u{HEX}`; any other escape is E_LITERAL at the escape (decoding goes on). */
  private decodeString(t: MooToken): string {
    const raw = t.text;
    if (raw.indexOf('\\') < 0) return raw.slice(1, -1);
    const out = decodeEscapes(raw, (from, to, message) =>
      this.ctx.diagnostics.push(diag('E_LITERAL', this.spanOf(t.offset + from, t.offset + to, t), message)),
    );
    return out.units.join('');
  }

  /** Update the nesting lower bound; false (and `failure` set) when it is over the limit. */
  private trackDepth(tok: Token): boolean {
    const type = tok.type;
    const prefixPosition = !OPERAND_END.has(this.prevType);
    if ((type === 'kw_not' || type === 'minus') && prefixPosition) {
      this.run++;
      return this.checkDepth(this.base + this.run, tok);
    }
    if (type === 'lparen' || type === 'lbracket') {
      this.bases.push(this.base);
      this.base += this.run + 1;
      this.run = 0;
      return this.checkDepth(this.base, tok);
    }
    if (type === 'rparen' || type === 'rbracket') {
      this.base = this.bases.pop() ?? 0;
      this.run = 0;
      return true;
    }
    const leaf = this.base + this.run + 1;
    this.run = 0;
    return OPERAND_END.has(type) ? this.checkDepth(leaf, tok) : true;
  }

  private checkDepth(depth: number, tok: Token): boolean {
    if (depth <= this.ctx.limits.maxDepth) return true;
    this.failure = new ParseStop('E_LIMIT', tok.span, `expression nested deeper than ${this.ctx.limits.maxDepth} levels`);
    return false;
  }
}

// nearley's Lexer interface, as the structural type FileLexer satisfies (see @types/nearley).
interface nearleyLexer {
  reset(chunk: string, state?: moo.LexerState): void;
  next(): Token | undefined;
  save(): moo.LexerState;
  formatError(token: unknown, message: string): string;
  has(type: string): boolean;
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 >= s.length) n++;
    else {
      const d = s.charCodeAt(i + 1);
      n++;
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  return n;
}

/**
 * A string literal's content (`raw` includes the quotes) decoded unit by unit: `units[i]` is a piece
 * of the value that starts at `raw` offset `at[i]` (`at` has one extra entry, the closing quote's
 * offset), `escaped[i]` says whether it came from an escape (so `\u{7B}` is a literal brace in a
 * template, never an interpolation).
 */
export interface DecodedString {
  readonly units: string[];
  readonly at: number[];
  readonly escaped: boolean[];
}

export function decodeEscapes(raw: string, report?: (from: number, to: number, message: string) => void): DecodedString {
  const units: string[] = [];
  const at: number[] = [];
  const escaped: boolean[] = [];
  const last = raw.length - 1;
  let i = 1;
  while (i < last) {
    const c = raw[i]!;
    if (c !== '\\') {
      units.push(c);
      at.push(i);
      escaped.push(false);
      i++;
      continue;
    }
    const e = raw[i + 1]!;
    let unit: string | null = null;
    let len = 2;
    if (e === '"' || e === '\\') unit = e;
    else if (e === 'n') unit = '\n';
    else if (e === 't') unit = '\t';
    else if (e === 'u') {
      const m = /^\{([0-9a-fA-F]{1,6})\}/.exec(raw.slice(i + 2, i + 2 + 8));
      if (m) {
        len = 2 + m[0].length;
        const cp = parseInt(m[1]!, 16);
        if (cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff)) unit = String.fromCodePoint(cp);
        else report?.(i, i + len, `\`${raw.slice(i, i + len)}\` is not a Unicode scalar value`);
      } else report?.(i, i + 2, 'a `\\u` escape is written `\\u{HEX}` with 1 to 6 hex digits');
    } else report?.(i, i + 2, `unknown escape \`\\${e}\` (valid: \\" \\\\ \\n \\t \\u{HEX})`);
    // A bad escape keeps its text, so the value stays close to what was written.
    units.push(unit ?? raw.slice(i, i + len));
    at.push(i);
    escaped.push(true);
    i += len;
  }
  at.push(last);
  return { units, at, escaped };
}

// ---------------------------------------------------------------------------------------------
// Builders for the grammar's postprocessors. `d` is nearley's data array for the matched rule.
// ---------------------------------------------------------------------------------------------

function withDepth<T extends A.Expr>(node: T, childDepth: number, at: Token): T {
  const depth = childDepth + 1;
  if (depth > at.ctx.limits.maxDepth) {
    throw new ParseStop('E_LIMIT', node.span, `expression nested deeper than ${at.ctx.limits.maxDepth} levels`);
  }
  at.ctx.depths.set(node, depth);
  return node;
}

function depthOf(at: Token, e: A.Expr): number {
  return at.ctx.depths.get(e) ?? 1;
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
  if (a === undefined) throw new Error(`not an action token: ${t.type}`);
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
  /** `Idents -> %ident` and `Idents -> Idents "," %ident` (a Grow of Idents). */
  idents: (d: unknown[]): Grow<A.Ident> =>
    d.length === 1 ? grow(null, ident(d[0] as Token)) : grow(d[0] as Grow<A.Ident>, ident(d[2] as Token)),

  // --- expressions -------------------------------------------------------------------------------
  binary: (d: unknown[]): A.Binary => {
    const [left, op, right] = d as [A.Expr, Token, A.Expr];
    const node: A.Binary = {
      kind: 'Binary',
      op: BINARY_OPS[op.type]!,
      left,
      right,
      opSpan: op.span,
      span: join(left, right),
    };
    return withDepth(node, Math.max(depthOf(op, left), depthOf(op, right)), op);
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
    const template = text.ctx.template(text);
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
