// The printer: canonical layout, parentheses only where the tree needs them, escapes in strings and
// templates, and the round trip parse → print → parse (same AST modulo spans, printing is a fixed
// point) over every real pack in the repository.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type * as A from '../../dsl/ast.ts';
import { parseExpression, parseFile } from '../../dsl/parser.ts';
import { printExpr, printFile, printTemplate, quoteString } from '../../dsl/printer.ts';
import { stripSpans } from './parse-helpers.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '../..');
const S: A.Span = { file: 'h.rules', offset: 0, end: 0, line: 1, col: 1 };

function roundTrip(text: string, path = 'p.rules'): string {
  const first = parseFile(text, path);
  expect(first.diagnostics.filter((d) => d.code === 'E_SYNTAX' || d.code === 'E_LIMIT'), path).toEqual([]);
  const printed = printFile(first.file!);
  const second = parseFile(printed, path);
  expect(second.diagnostics, path).toEqual(first.diagnostics.length === 0 ? [] : second.diagnostics);
  expect(stripSpans(second.file), path).toEqual(stripSpans(first.file));
  expect(printFile(second.file!), path).toBe(printed);
  return printed;
}

const name = (n: string): A.NameRef => ({ kind: 'Name', name: n, span: S });
const bin = (op: A.BinaryOp, left: A.Expr, right: A.Expr): A.Binary => ({ kind: 'Binary', op, left, right, opSpan: S, span: S });
const un = (op: A.UnaryOp, operand: A.Expr): A.Unary => ({ kind: 'Unary', op, operand, span: S });
const [a, b, c] = [name('a'), name('b'), name('c')];

describe('layout', () => {
  it('the dsl.md §1 example prints canonically', () => {
    const text = readFileSync(join(HERE, 'fixtures/spec_example.rules'), 'utf8');
    expect(roundTrip(text)).toBe(`pack login_core version 7

const max_speed_kmh = 900

list corp_nets: ip = ["10.0.0.0/8", "2001:db8::/32", "198.51.100.7"]
list risky_asns: number = [9009, 16276]
list tor_exits: ip = file "lists/tor-exits.txt"
list blocked_users: string = redis "blocked_users"

rule impossible_travel {
  description "sign-in from a place too far from the last one to have travelled"
  on login, recovery
  when history.travel_kmh > max_speed_kmh and not device.known
  then step_up
  score 40
  reason "travel at {history.travel_kmh} km/h to {geo.country}"
  tags ato, geo
  mode shadow
}

policy {
  block when score >= 90
  step_up when score >= 50
}

policy recovery {
  block when score >= 70
  step_up when score >= 20
}

test "far traveller on a new device is challenged" {
  event login
  given { history.travel_kmh: 5000, device.known: false, geo.country: "BR" }
  expect step_up
  expect matched impossible_travel
}
`);
  });

  it('empty blocks, an empty file, long givens on several lines', () => {
    expect(printFile({ kind: 'File', file: 'x', decls: [], span: S })).toBe('');
    expect(roundTrip('rule r {} policy {} test "t" { given {} expect not matched r }')).toBe(
      'rule r {}\n\npolicy {}\n\ntest "t" {\n  given {}\n  expect not matched r\n}\n',
    );
    const long = 'test "t" { given { history.travel_kmh: 5000, device.known: false, geo.country: "BR", user.age: 3d } }';
    expect(roundTrip(long)).toBe(
      'test "t" {\n  given {\n    history.travel_kmh: 5000,\n    device.known: false,\n    geo.country: "BR",\n    user.age: 3d,\n  }\n}\n',
    );
  });

  it('literals print as written', () => {
    expect(roundTrip('const a = 1e3\nconst b = 0.50\nconst c = "\\u{41}\\t"\nconst d = -7d\nrule r { score -0 }')).toBe(
      'const a = 1e3\nconst b = 0.50\nconst c = "\\u{41}\\t"\nconst d = -7d\n\nrule r {\n  score -0\n}\n',
    );
  });
});

describe('expressions', () => {
  it('source parentheses are kept, and no others are added', () => {
    for (const src of ['(a)', '((a + b)) * c', 'not (a and b)', 'a or b and c', 'a ?? b == c', 'x not in [1, 2]', '-(a) - -b', 'f(a, (b))']) {
      const e = parseExpression(src, 'e').expr!;
      expect(printExpr(e)).toBe(src);
    }
  });

  it('operators and spacing are normalised', () => {
    expect(printExpr(parseExpression('a+b*  -c>=max( d ,e)', 'e').expr!)).toBe('a + b * -c >= max(d, e)');
  });

  it('a hand-built tree gets the parentheses its shape needs', () => {
    expect(printExpr(bin('*', bin('+', a, b), c))).toBe('(a + b) * c');
    expect(printExpr(bin('-', a, bin('-', b, c)))).toBe('a - (b - c)');
    expect(printExpr(bin('-', bin('-', a, b), c))).toBe('a - b - c');
    expect(printExpr(bin('<', bin('<', a, b), c))).toBe('(a < b) < c');
    expect(printExpr(bin('==', a, bin('in', b, c)))).toBe('a == (b in c)');
    expect(printExpr(bin('and', a, un('not', b)))).toBe('a and not b');
    expect(printExpr(bin('==', a, un('not', b)))).toBe('a == (not b)');
    expect(printExpr(un('not', bin('and', a, b)))).toBe('not (a and b)');
    expect(printExpr(un('not', bin('==', a, b)))).toBe('not a == b');
    expect(printExpr(un('-', bin('+', a, b)))).toBe('-(a + b)');
    expect(printExpr(un('-', un('-', a)))).toBe('- -a');
    expect(printExpr(bin('??', bin('??', a, b), bin('??', b, c)))).toBe('a ?? b ?? (b ?? c)');
    expect(printExpr(bin('*', { kind: 'Number', value: -2, raw: '-2', span: S }, a))).toBe('-2 * a');
    // Every one of these prints to text that parses back to the same tree, plus the needed Parens.
    const reparsed = parseExpression(printExpr(bin('*', bin('+', a, b), c)), 'e').expr!;
    expect(stripSpans(reparsed)).toEqual(stripSpans(bin('*', { kind: 'Paren', expr: bin('+', a, b), span: S }, c)));
  });
});

describe('strings and templates', () => {
  it('quoteString escapes what the lexer needs escaped', () => {
    expect(quoteString('a "q" \\ \n \t \u0001 😀 {x}')).toBe('"a \\"q\\" \\\\ \\n \\t \\u{1} 😀 {x}"');
  });

  it('template text doubles braces; interpolations are printed and escaped into the string', () => {
    const t: A.Template = {
      kind: 'Template',
      parts: ['{lit} "q"\n', bin('??', { kind: 'Feature', path: 'geo.country', span: S }, { kind: 'String', value: '?}', raw: '"?}"', span: S }), '!'],
      raw: '',
      span: S,
    };
    const printed = printTemplate(t);
    expect(printed).toBe('"{{lit}} \\"q\\"\\n{geo.country ?? \\"?}\\"}!"');
    const [rule] = parseFile(`rule r { reason ${printed} }`, 't').file!.decls as [A.RuleDecl];
    const back = (rule.clauses[0] as A.ReasonClause).template;
    expect(stripSpans(back.parts)).toEqual(stripSpans(t.parts));
  });
});

describe('round trip over the repository', () => {
  it('every .rules file parses, prints, and parses back to the same AST', () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const n of readdirSync(dir).sort()) {
        const p = join(dir, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (n.endsWith('.rules')) files.push(p);
      }
    };
    for (const dir of ['rules', 'test', 'examples']) walk(join(ROOT, dir));
    let n = 0;
    for (const p of files) {
      const text = readFileSync(p, 'utf8');
      const r = parseFile(text, p);
      if (r.file === null) continue; // the E_SYNTAX samples
      roundTrip(text, p);
      n++;
    }
    expect(n).toBeGreaterThan(10);
  });
});
