// The lexer on its own: token types (keywords, feature paths, literals), decoded values, positions,
// the literal diagnostics it collects (E_LITERAL, E_LIMIT for long strings), the failures that end
// the token stream (E_SYNTAX) and the nesting bound it tracks ahead of the parser (E_LIMIT).
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../dsl/diagnostics.ts';
import { Columns, FileLexer, KEYWORDS, decodeEscapes, type Token } from '../../dsl/lexer.ts';
import { DEFAULT_LIMITS, type Limits } from '../../dsl/limits.ts';

function lex(text: string, limits: Partial<Limits> = { maxDepth: 64, maxStringLength: 100 }) {
  const diagnostics: Diagnostic[] = [];
  const lx = new FileLexer({
    file: 'l.rules',
    limits: { ...DEFAULT_LIMITS, ...limits },
    diagnostics,
    columns: new Columns(text),
    build: {
      template: () => {
        throw new Error('no templates here');
      },
      depths: new Map(),
    },
  });
  lx.reset(text);
  const toks: Token[] = [];
  for (let t = lx.next(); t !== undefined; t = lx.next()) toks.push(t);
  return { toks, diagnostics, failure: lx.failure };
}

const types = (text: string): string[] => lex(text).toks.map((t) => t.type);
const at = (d: { code: string; span: { line: number; col: number } }): string => `${d.code}@${d.span.line}:${d.span.col}`;

describe('token types', () => {
  it('every keyword is its own kw_ type, never an identifier', () => {
    for (const k of KEYWORDS) expect(types(k)).toEqual([`kw_${k}`]);
  });

  it('identifiers are [a-z_][a-z0-9_]*, keyword prefixes included', () => {
    expect(types('ab _x a1 notx in_ scored')).toEqual(['ident', 'ident', 'ident', 'ident', 'ident', 'ident']);
  });

  it('a dotted path of two or more segments is one feature token, even with keyword segments', () => {
    const { toks } = lex('geo.country event.type model.version a.b.c not.in');
    expect(toks.map((t) => [t.type, t.text])).toEqual([
      ['feature', 'geo.country'],
      ['feature', 'event.type'],
      ['feature', 'model.version'],
      ['feature', 'a.b.c'],
      ['feature', 'not.in'],
    ]);
  });

  it('operators and punctuation, longest first', () => {
    expect(types('?? == != <= >= < > = + - * / ( ) [ ] { } , :')).toEqual([
      'coalesce', 'eq', 'ne', 'le', 'ge', 'lt', 'gt', 'assign', 'plus', 'minus', 'star', 'slash',
      'lparen', 'rparen', 'lbracket', 'rbracket', 'lbrace', 'rbrace', 'comma', 'colon',
    ]);
    expect(types('a<=b')).toEqual(['ident', 'le', 'ident']);
  });

  it('comments run to the end of the line outside strings; newlines are blanks', () => {
    expect(types('a # b c\n# whole line\n  d "# not a comment" # e')).toEqual(['ident', 'ident', 'string']);
    expect(lex('"# x"').toks[0]!.str).toBe('# x');
  });

  it('a byte-order mark is a blank', () => {
    const { toks, failure } = lex('\uFEFFpack');
    expect(failure).toBeNull();
    expect(toks.map((t) => [t.type, t.span.col])).toEqual([['kw_pack', 2]]);
  });
});

describe('positions', () => {
  it('every token has its offset, end and 1-based line/col', () => {
    const { toks } = lex('pack x\n  when geo.country\r\n\t"s"');
    expect(toks.map((t) => [t.text, t.span.offset, t.span.end, t.span.line, t.span.col])).toEqual([
      ['pack', 0, 4, 1, 1],
      ['x', 5, 6, 1, 6],
      ['when', 9, 13, 2, 3],
      ['geo.country', 14, 25, 2, 8],
      ['"s"', 28, 31, 3, 2],
    ]);
    expect(toks[3]!.span).toEqual({ file: 'l.rules', offset: 14, end: 25, line: 2, col: 8 });
  });

  it('columns count code points: a character outside the BMP is one column, a tab is one', () => {
    const { toks, diagnostics } = lex('"😀😀" x\n\t"😀\\q" y 😀');
    expect(toks.map((t) => [t.text, t.span.offset, t.span.line, t.span.col])).toEqual([
      ['"😀😀"', 0, 1, 1],
      ['x', 7, 1, 6],
      ['"😀\\q"', 10, 2, 2],
      ['y', 17, 2, 8],
    ]);
    // The bad escape and the stray character are reported where they are, in code points too.
    expect(diagnostics.map(at)).toEqual(['E_LITERAL@2:4']);
    expect(lex('"😀😀" x\n\t"😀\\q" y 😀').failure).toMatchObject({ code: 'E_SYNTAX', span: { line: 2, col: 10 } });
  });
});

describe('numbers and durations', () => {
  it('numbers: integers, decimals, exponents', () => {
    const { toks, diagnostics } = lex('0 42 0.25 1e3 2.5E-2 1e+2');
    expect(toks.map((t) => [t.type, t.num])).toEqual([
      ['number', 0], ['number', 42], ['number', 0.25], ['number', 1000], ['number', 0.025], ['number', 100],
    ]);
    expect(diagnostics).toEqual([]);
  });

  it('durations: an integer count and s|m|h|d, valued in seconds', () => {
    const { toks, diagnostics } = lex('30s 10m 2h 7d 0s');
    expect(toks.map((t) => [t.type, t.num])).toEqual([
      ['duration', 30], ['duration', 600], ['duration', 7200], ['duration', 604800], ['duration', 0],
    ]);
    expect(diagnostics).toEqual([]);
  });

  it('a fractional duration, an unknown unit or a malformed number is one E_LITERAL token', () => {
    const { toks, diagnostics } = lex('1.5h\n 3days 5x 1e999 1.2.3 0x1F 99999999999999999999d');
    expect(toks.map((t) => t.type)).toEqual(['duration', 'duration', 'duration', 'number', 'number', 'number', 'duration']);
    expect(diagnostics.map(at)).toEqual(['E_LITERAL@1:1', 'E_LITERAL@2:2', 'E_LITERAL@2:8', 'E_LITERAL@2:11', 'E_LITERAL@2:17', 'E_LITERAL@2:23', 'E_LITERAL@2:28']);
    expect(diagnostics[0]!.span.end).toBe(4);
  });

  it('a suffix that names an Object.prototype property is an unknown unit, not a known one', () => {
    for (const unit of ['constructor', 'toString', 'hasOwnProperty']) {
      const { toks, diagnostics } = lex(`5${unit}`);
      expect(toks.map((t) => t.type)).toEqual(['duration']);
      expect(Number.isNaN(toks[0]!.num)).toBe(true);
      expect(diagnostics.map(at)).toEqual(['E_LITERAL@1:1']);
      // The unknown-unit diagnostic, as for `5x`, not the one for a fractional count.
      expect(diagnostics[0]!.message).toContain(`unknown duration unit \`${unit}\``);
    }
  });

  it('a number followed by a dot and a blank is a lexing failure at the dot', () => {
    const { failure } = lex('x == 1. ');
    expect(failure?.code).toBe('E_SYNTAX');
    expect(failure?.span.col).toBe(7);
  });
});

describe('strings', () => {
  it('decodes \\" \\\\ \\n \\t \\u{HEX}', () => {
    const { toks, diagnostics } = lex('"a \\"q\\" \\\\ \\n \\t \\u{1F600} \\u{41}"');
    expect(toks[0]!.str).toBe('a "q" \\ \n \t 😀 A');
    expect(diagnostics).toEqual([]);
  });

  it('any other escape is E_LITERAL at the backslash, and lexing goes on', () => {
    const { toks, diagnostics } = lex('"ok \\q" "\\u{110000}" "\\u{D800}" "\\u41" "\\u{}" after');
    expect(toks.map((t) => t.type)).toEqual(['string', 'string', 'string', 'string', 'string', 'ident']);
    expect(diagnostics.map(at)).toEqual(['E_LITERAL@1:5', 'E_LITERAL@1:10', 'E_LITERAL@1:23', 'E_LITERAL@1:34', 'E_LITERAL@1:41']);
    expect(diagnostics[1]!.span.end - diagnostics[1]!.span.offset).toBe('\\u{110000}'.length);
  });

  it('a string longer than maxStringLength (in code points) is E_LIMIT; exactly the limit is fine', () => {
    const limits = { maxDepth: 64, maxStringLength: 3 };
    expect(lex('"abc" "😀😀😀"', limits).diagnostics).toEqual([]);
    const { diagnostics } = lex('x\n"abcd"', limits);
    expect(diagnostics.map(at)).toEqual(['E_LIMIT@2:1']);
  });

  it('an unterminated string ends the stream with E_SYNTAX at its opening quote', () => {
    const { toks, failure } = lex('a\n  "abc\nb');
    expect(toks.map((t) => t.text)).toEqual(['a']);
    expect(failure?.code).toBe('E_SYNTAX');
    expect([failure?.span.line, failure?.span.col]).toEqual([2, 3]);
  });

  it('decodeEscapes keeps the source offset of every unit and marks escapes', () => {
    const d = decodeEscapes('"a\\u{7B}{"');
    expect(d.units).toEqual(['a', '{', '{']);
    expect(d.at).toEqual([1, 2, 8, 9]);
    expect(d.escaped).toEqual([false, true, false]);
  });
});

describe('lexing failures', () => {
  it('a character outside the language is E_SYNTAX at that character', () => {
    for (const [text, col] of [['a @', 3], ['Rule', 1], ['x = é', 5], ['geo.', 4], ['a;b', 2]] as const) {
      const { failure } = lex(text);
      expect(failure?.code, text).toBe('E_SYNTAX');
      expect(failure?.span.col, text).toBe(col);
    }
  });
});

describe('nesting bound', () => {
  const limits = { maxDepth: 4, maxStringLength: 100 };

  it('brackets and prefix operators up to the limit pass', () => {
    expect(lex('(((a)))', limits).failure).toBeNull();
    expect(lex('not not not a', limits).failure).toBeNull();
    expect(lex('- - -a', limits).failure).toBeNull();
    expect(lex('f([(a)])', limits).failure).toBeNull();
    // Siblings do not add up: the bound falls back when a bracket closes or an operand ends a run.
    expect(lex('((a)) + ((b)) and not not c or not not d', limits).failure).toBeNull();
  });

  it('one level more stops the stream with E_LIMIT at the token that goes too deep', () => {
    const deep = lex('((((a))))', limits).failure;
    expect(deep?.code).toBe('E_LIMIT');
    expect(deep?.span.col).toBe(5);
    const nots = lex('when\nnot not not not a', limits).failure;
    expect([nots?.code, nots?.span.line, nots?.span.col]).toEqual(['E_LIMIT', 2, 17]);
    expect(lex('(- - - a)', limits).failure?.span.col).toBe(8);
    expect(lex('not (- (not a))', limits).failure?.code).toBe('E_LIMIT');
  });

  it('binary minus and `not in` are not prefix operators', () => {
    expect(lex('a - b - c - d - e - f', limits).failure).toBeNull();
    expect(lex('a not in b', { maxDepth: 1, maxStringLength: 9 }).failure).toBeNull();
  });
});
