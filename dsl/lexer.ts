// The rules language's lexer (moo): turns a file's text into tokens for the nearley grammar
// (dsl/grammar.ne), deciding everything that is decided per token: keywords, dotted feature paths,
// string escapes, number and duration literals (E_LITERAL), string length (E_LIMIT), each token's
// span with its column in code points (Columns), and a running lower bound on expression nesting
// (E_LIMIT) computed from brackets and prefix operators, so a pathological input is refused before
// the Earley parser builds a chart for it. The AST is built from its tokens by dsl/build.ts.
import moo from 'moo';
import type * as A from './ast.ts';
import type { BuildState } from './build.ts';
import { diag, type Diagnostic } from './diagnostics.ts';
import { ParseStop } from './errors.ts';
import type { Limits } from './limits.ts';

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
/** Any name, keywords included (tags: `tags block, ato`). */
export const word = tokenClass('ident', ...KEYWORDS.map((k): TokenType => `kw_${k}`));

/** How a sub-lexer's offsets map back into the file: a template interpolation lexes decoded text. */
export interface PositionMap {
  /** Source offset of each local offset (length = local text length + 1). */
  readonly offsets: readonly number[];
  /** The one line every mapped offset is on (a string literal never crosses a line break). */
  readonly line: number;
  /** Source offset of that line's start. */
  readonly lineStart: number;
}

/** Per-parse state: what the lexer needs, and what the builders need, reached through tokens. */
export interface LexContext {
  readonly file: string;
  readonly limits: Limits;
  /** E_LITERAL and E_LIMIT (string length) diagnostics, collected in source order. */
  readonly diagnostics: Diagnostic[];
  /** Code-point columns of the file's text. */
  readonly columns: Columns;
  /** The AST builders' state (dsl/build.ts): postprocessors see only tokens, which carry it. */
  readonly build: BuildState;
}

/**
 * Columns of one text, counted in code points from 1 (dsl.md §3, v1.1: a character outside the BMP
 * is one column, a tab is one). moo counts UTF-16 units; a text without a surrogate pair needs no
 * conversion, and for one with pairs the last answer is kept, so a lexer moving left to right along a
 * line scans each unit once.
 */
export class Columns {
  private readonly pairs: boolean;
  private lineStart = -1;
  private at = 0;
  private col = 1;

  constructor(private readonly text: string) {
    this.pairs = /[\uD800-\uDBFF][\uDC00-\uDFFF]/.test(text);
  }

  /** The column of `offset` on the line that starts at offset `lineStart`. */
  of(offset: number, lineStart: number): number {
    if (!this.pairs) return offset - lineStart + 1;
    if (lineStart !== this.lineStart || offset < this.at) {
      this.lineStart = lineStart;
      this.at = lineStart;
      this.col = 1;
    }
    const text = this.text;
    let col = this.col;
    for (let i = this.at; i < offset; i++) {
      const c = text.charCodeAt(i);
      // The second half of a surrogate pair does not start a code point.
      if (c >= 0xdc00 && c <= 0xdfff && i > lineStart) {
        const h = text.charCodeAt(i - 1);
        if (h >= 0xd800 && h <= 0xdbff) continue;
      }
      col++;
    }
    this.at = offset;
    this.col = col;
    return col;
  }
}

export class Token {
  constructor(
    readonly type: TokenType,
    readonly text: string,
    /** Where the token is in the file (for a template interpolation: mapped back into the file). */
    readonly span: A.Span,
    /** File offset of the start of the token's line (columns of offsets inside it are counted from there). */
    readonly lineStart: number,
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
    const cols = this.ctx.columns;
    if (m === null) {
      // moo's `col` counts UTF-16 units from the line's start, and a token never crosses a line.
      const lineStart = t.offset - t.col + 1;
      return { file: this.ctx.file, offset: localStart, end: localEnd, line: t.line, col: cols.of(localStart, lineStart) };
    }
    const offset = m.offsets[localStart]!;
    return { file: this.ctx.file, offset, end: m.offsets[localEnd]!, line: m.line, col: cols.of(offset, m.lineStart) };
  }

  private lineStartOf(t: MooToken): number {
    return this.map === null ? t.offset - t.col + 1 : this.map.lineStart;
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
    return new Token(type, t.text, span, this.lineStartOf(t), this.ctx, str, num);
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
      // The suffix is whatever letters were written: an own key only, or `5constructor` would find
      // Object.prototype's and pass for a known unit.
      const unit = Object.hasOwn(UNIT_SECONDS, s[2]!) ? UNIT_SECONDS[s[2]!] : undefined;
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

/** The number of code points of `s` (a lone surrogate counts as one). */
export function codePoints(s: string): number {
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

/**
 * The span of `value[from, to)` of a string literal, where `raw` is its source text (quotes included)
 * and `span` its span: a diagnostic about part of a literal's value points there, at the offending
 * character or escape, not at the opening quote (dsl.md §3, v1.1).
 */
export function spanInString(raw: string, span: A.Span, from: number, to: number): A.Span {
  const { units, at } = decodeEscapes(raw);
  let rawFrom = -1;
  let rawTo = -1;
  let v = 0;
  for (let k = 0; k < units.length; k++) {
    const next = v + units[k]!.length;
    if (rawFrom < 0 && from < next) rawFrom = at[k]!;
    if (rawTo < 0 && to <= next && to > v) rawTo = at[k + 1]!;
    v = next;
  }
  if (rawFrom < 0) rawFrom = at[units.length]!;
  if (rawTo < rawFrom) rawTo = rawFrom;
  return {
    file: span.file,
    offset: span.offset + rawFrom,
    end: span.offset + rawTo,
    line: span.line,
    col: span.col + codePoints(raw.slice(0, rawFrom)),
  };
}
