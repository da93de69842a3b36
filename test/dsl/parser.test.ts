// The parser: every construct of dsl.md §1-§3 and §6 into the AST of dsl/ast.ts, every precedence
// level, node spans, and the parse-time diagnostics: E_SYNTAX (one, at the offending token, then
// stop), E_LITERAL (collected), E_LIMIT (file size, string length, nesting depth). Also: the grammar
// yields exactly one parse for a corpus of real packs, and a 500-rule pack parses fast.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type * as A from '../../dsl/ast.ts';
import { assertNever } from '../../dsl/ast.ts';
import type { Diagnostic } from '../../dsl/diagnostics.ts';
import { DEFAULT_LIMITS, type Limits } from '../../dsl/limits.ts';
import { parseExpression, parseFile } from '../../dsl/parser.ts';
import { bigPack, diagnosticProblems, stripSpans } from './parse-helpers.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = join(HERE, '../..');

function parse(text: string, limits?: Partial<Limits>) {
  const r = parseFile(text, 'p.rules', limits);
  expect(diagnosticProblems(text, 'p.rules', r.diagnostics)).toEqual([]);
  return r;
}

/** The file's declarations, asserting a clean parse. */
function decls(text: string): readonly A.Decl[] {
  const r = parse(text);
  expect(r.diagnostics).toEqual([]);
  return r.file!.decls;
}

const at = (d: Diagnostic): string => `${d.code}@${d.span.line}:${d.span.col}`;
const codes = (text: string, limits?: Partial<Limits>): string[] => parse(text, limits).diagnostics.map(at);

/** An expression as an S-expression, to state precedence and associativity compactly. */
function sx(e: A.Expr): string {
  switch (e.kind) {
    case 'Binary':
      return `(${e.op} ${sx(e.left)} ${sx(e.right)})`;
    case 'Unary':
      return `(${e.op} ${sx(e.operand)})`;
    case 'Paren':
      return `[${sx(e.expr)}]`;
    case 'Call':
      return `${e.callee.name}(${e.args.map(sx).join(' ')})`;
    case 'ListLit':
      return `{${e.items.map(sx).join(' ')}}`;
    case 'Name':
      return `$${e.name}`;
    case 'Feature':
      return e.path;
    case 'Number':
    case 'Duration':
      return `${e.kind[0]}${e.value}`;
    case 'String':
      return JSON.stringify(e.value);
    case 'Bool':
      return String(e.value);
    default:
      return assertNever(e);
  }
}

function expr(text: string): A.Expr {
  const r = parseExpression(text, 'e.rules');
  expect(r.diagnostics).toEqual([]);
  return r.expr!;
}

describe('declarations', () => {
  it('the header, consts and the three kinds of list', () => {
    const ds = decls(`pack login_core version 7
const a = 900
const b = -3
const c = ["KP", "IR",]
const d = 3d
list nets: ip = ["10.0.0.0/8", "192.0.2.1"]
list empty: number = []
list tor: ip = file "lists/tor.txt"
list blocked: string = redis "vigil:blocked"
`);
    expect(stripSpans(ds)).toEqual([
      { kind: 'Header', name: { kind: 'Ident', name: 'login_core' }, version: { kind: 'Number', value: 7, raw: '7' } },
      { kind: 'Const', name: { kind: 'Ident', name: 'a' }, value: { kind: 'Number', value: 900, raw: '900' } },
      { kind: 'Const', name: { kind: 'Ident', name: 'b' }, value: { kind: 'Unary', op: '-', operand: { kind: 'Number', value: 3, raw: '3' } } },
      {
        kind: 'Const',
        name: { kind: 'Ident', name: 'c' },
        value: { kind: 'ListLit', items: [{ kind: 'String', value: 'KP', raw: '"KP"' }, { kind: 'String', value: 'IR', raw: '"IR"' }] },
      },
      { kind: 'Const', name: { kind: 'Ident', name: 'd' }, value: { kind: 'Duration', value: 259200, raw: '3d' } },
      {
        kind: 'List',
        name: { kind: 'Ident', name: 'nets' },
        elemType: { kind: 'TypeName', name: 'ip' },
        source: {
          kind: 'InlineList',
          items: { kind: 'ListLit', items: [{ kind: 'String', value: '10.0.0.0/8', raw: '"10.0.0.0/8"' }, { kind: 'String', value: '192.0.2.1', raw: '"192.0.2.1"' }] },
        },
      },
      { kind: 'List', name: { kind: 'Ident', name: 'empty' }, elemType: { kind: 'TypeName', name: 'number' }, source: { kind: 'InlineList', items: { kind: 'ListLit', items: [] } } },
      { kind: 'List', name: { kind: 'Ident', name: 'tor' }, elemType: { kind: 'TypeName', name: 'ip' }, source: { kind: 'FileList', path: { kind: 'String', value: 'lists/tor.txt', raw: '"lists/tor.txt"' } } },
      { kind: 'List', name: { kind: 'Ident', name: 'blocked' }, elemType: { kind: 'TypeName', name: 'string' }, source: { kind: 'RedisList', key: { kind: 'String', value: 'vigil:blocked', raw: '"vigil:blocked"' } } },
    ]);
  });

  it('a const may hold any expression (the checker restricts it) and the header may come anywhere', () => {
    const ds = decls('const x = a.b + 1\npack p version 1\npack q version -2\npack r version 1.5');
    expect(ds.map((d) => d.kind)).toEqual(['Const', 'Header', 'Header', 'Header']);
    const versions = ds.slice(1).map((d) => (d.kind === 'Header' ? [d.version.value, d.version.raw] : null));
    expect(versions).toEqual([[1, '1'], [-2, '-2'], [1.5, '1.5']]);
  });

  it('a rule with every clause, in any order, duplicates kept for the checker', () => {
    const [rule] = decls(`rule r {
  mode shadow
  description "d"
  on login, recovery
  when a.b
  then step_up
  score -20
  reason "x"
  tags ato, geo
  then block
  mode enforce
}`);
    expect(stripSpans(rule)).toEqual({
      kind: 'Rule',
      name: { kind: 'Ident', name: 'r' },
      clauses: [
        { kind: 'Mode', mode: 'shadow' },
        { kind: 'Description', text: { kind: 'String', value: 'd', raw: '"d"' } },
        { kind: 'On', types: [{ kind: 'Ident', name: 'login' }, { kind: 'Ident', name: 'recovery' }] },
        { kind: 'When', cond: { kind: 'Feature', path: 'a.b' } },
        { kind: 'Then', action: 'step_up' },
        { kind: 'Score', value: { kind: 'Number', value: -20, raw: '-20' } },
        { kind: 'Reason', template: { kind: 'Template', parts: ['x'], raw: '"x"' } },
        { kind: 'Tags', tags: [{ kind: 'Ident', name: 'ato' }, { kind: 'Ident', name: 'geo' }] },
        { kind: 'Then', action: 'block' },
        { kind: 'Mode', mode: 'enforce' },
      ],
    });
  });

  it('an empty rule, scores of every sign and shape (the checker checks the range)', () => {
    const ds = decls('rule a {}\nrule b { score 40 }\nrule c { score - 5 }\nrule d { score 2.5 }\nrule e { score 150 }');
    const scores = ds.flatMap((d) => (d.kind === 'Rule' ? d.clauses : [])).map((c) => (c.kind === 'Score' ? [c.value.value, c.value.raw] : null));
    expect(scores).toEqual([[40, '40'], [-5, '-5'], [2.5, '2.5'], [150, '150']]);
    expect(ds[0]!.kind === 'Rule' && ds[0]!.clauses).toEqual([]);
  });

  it('default and per-event policies', () => {
    const ds = decls('policy {\n  block   when score >= 90\n  step_up when score >= 50\n}\npolicy recovery { allow when true }\npolicy login {}');
    expect(stripSpans(ds)).toEqual([
      {
        kind: 'Policy',
        eventType: null,
        lines: [
          { kind: 'PolicyLine', action: 'block', cond: { kind: 'Binary', op: '>=', left: { kind: 'Name', name: 'score' }, right: { kind: 'Number', value: 90, raw: '90' } } },
          { kind: 'PolicyLine', action: 'step_up', cond: { kind: 'Binary', op: '>=', left: { kind: 'Name', name: 'score' }, right: { kind: 'Number', value: 50, raw: '50' } } },
        ],
      },
      { kind: 'Policy', eventType: { kind: 'Ident', name: 'recovery' }, lines: [{ kind: 'PolicyLine', action: 'allow', cond: { kind: 'Bool', value: true } }] },
      { kind: 'Policy', eventType: { kind: 'Ident', name: 'login' }, lines: [] },
    ]);
  });

  it('tests: event, given (trailing comma, empty), every expect', () => {
    const ds = decls(`test "t" {
  event login
  given { geo.country: "BR", user.age: 2h, event.type: "login", x.y: -1, }
  given {}
  expect step_up
  expect matched r
  expect not matched s
}
test "empty" {}`);
    expect(stripSpans(ds)).toEqual([
      {
        kind: 'Test',
        name: { kind: 'String', value: 't', raw: '"t"' },
        items: [
          { kind: 'TestEvent', type: { kind: 'Ident', name: 'login' } },
          {
            kind: 'Given',
            entries: [
              { kind: 'GivenEntry', feature: { kind: 'Feature', path: 'geo.country' }, value: { kind: 'String', value: 'BR', raw: '"BR"' } },
              { kind: 'GivenEntry', feature: { kind: 'Feature', path: 'user.age' }, value: { kind: 'Duration', value: 7200, raw: '2h' } },
              { kind: 'GivenEntry', feature: { kind: 'Feature', path: 'event.type' }, value: { kind: 'String', value: 'login', raw: '"login"' } },
              { kind: 'GivenEntry', feature: { kind: 'Feature', path: 'x.y' }, value: { kind: 'Unary', op: '-', operand: { kind: 'Number', value: 1, raw: '1' } } },
            ],
          },
          { kind: 'Given', entries: [] },
          { kind: 'ExpectDecision', action: 'step_up' },
          { kind: 'ExpectMatched', rule: { kind: 'Ident', name: 'r' }, negated: false },
          { kind: 'ExpectMatched', rule: { kind: 'Ident', name: 's' }, negated: true },
        ],
      },
      { kind: 'Test', name: { kind: 'String', value: 'empty', raw: '"empty"' }, items: [] },
    ]);
  });

  it('an empty file or one of comments only has no declarations', () => {
    expect(decls('')).toEqual([]);
    expect(decls('# nothing\n   # here\n')).toEqual([]);
  });

  it('the example of dsl.md §1 parses with exactly the expected structure', () => {
    const text = readFileSync(join(HERE, 'fixtures/spec_example.rules'), 'utf8');
    const ds = decls(text);
    expect(ds.map((d) => `${d.kind}:${'name' in d && d.name ? (d.name.kind === 'Ident' ? d.name.name : d.name.value) : d.kind === 'Policy' ? (d.eventType?.name ?? '*') : ''}`)).toEqual([
      'Header:login_core', 'Const:max_speed_kmh', 'List:corp_nets', 'List:risky_asns', 'List:tor_exits', 'List:blocked_users',
      'Rule:impossible_travel', 'Policy:*', 'Policy:recovery', 'Test:far traveller on a new device is challenged',
    ]);
    const rule = ds[6] as A.RuleDecl;
    expect(rule.clauses.map((c) => c.kind)).toEqual(['Description', 'On', 'When', 'Then', 'Score', 'Reason', 'Tags', 'Mode']);
    const when = rule.clauses[2] as A.WhenClause;
    expect(sx(when.cond)).toBe('(and (> history.travel_kmh $max_speed_kmh) (not device.known))');
    const reason = rule.clauses[5] as A.ReasonClause;
    expect(reason.template.parts.map((p) => (typeof p === 'string' ? p : sx(p)))).toEqual(['travel at ', 'history.travel_kmh', ' km/h to ', 'geo.country']);
    expect(stripSpans(ds[2])).toMatchObject({ source: { kind: 'InlineList', items: { items: [{ value: '10.0.0.0/8' }, { value: '2001:db8::/32' }, { value: '198.51.100.7' }] } } });
    expect(stripSpans(ds[3])).toMatchObject({ elemType: { name: 'number' }, source: { items: { items: [{ value: 9009 }, { value: 16276 }] } } });
    expect(stripSpans(ds[4])).toMatchObject({ source: { kind: 'FileList', path: { value: 'lists/tor-exits.txt' } } });
    expect(stripSpans(ds[5])).toMatchObject({ source: { kind: 'RedisList', key: { value: 'blocked_users' } } });
    const policies = ds.slice(7, 9) as A.PolicyDecl[];
    expect(policies.map((p) => p.lines.map((l) => `${l.action} ${sx(l.cond)}`))).toEqual([
      ['block (>= $score N90)', 'step_up (>= $score N50)'],
      ['block (>= $score N70)', 'step_up (>= $score N20)'],
    ]);
    const test = ds[9] as A.TestDecl;
    expect(test.items.map((i) => i.kind)).toEqual(['TestEvent', 'Given', 'ExpectDecision', 'ExpectMatched']);
    const given = test.items[1] as A.TestGiven;
    expect(given.entries.map((e) => `${e.feature.path}=${sx(e.value)}`)).toEqual(['history.travel_kmh=N5000', 'device.known=false', 'geo.country="BR"']);
  });
});

describe('expressions: precedence and associativity (dsl.md §3)', () => {
  const cases: [string, string][] = [
    ['a ?? b or c', '(?? $a (or $b $c))'],
    ['a or b ?? c', '(?? (or $a $b) $c)'],
    ['a ?? b ?? c', '(?? (?? $a $b) $c)'],
    ['a or b and c', '(or $a (and $b $c))'],
    ['a and b or c', '(or (and $a $b) $c)'],
    ['a or b or c', '(or (or $a $b) $c)'],
    ['a and b and c', '(and (and $a $b) $c)'],
    ['not a and b', '(and (not $a) $b)'],
    ['not not a', '(not (not $a))'],
    ['not a == b', '(not (== $a $b))'],
    ['a ?? b == c', '(?? $a (== $b $c))'],
    ['a == b + c', '(== $a (+ $b $c))'],
    ['a + b == c', '(== (+ $a $b) $c)'],
    ['a != b', '(!= $a $b)'],
    ['a < b', '(< $a $b)'],
    ['a <= b', '(<= $a $b)'],
    ['a > b', '(> $a $b)'],
    ['a >= b', '(>= $a $b)'],
    ['x in l', '(in $x $l)'],
    ['x not in [1, 2,]', '(not in $x {N1 N2})'],
    ['not x in l', '(not (in $x $l))'],
    ['not x not in l', '(not (not in $x $l))'],
    ['s matches "^a"', '(matches $s "^a")'],
    ['s contains "a" and s starts_with "b" or s ends_with "c"', '(or (and (contains $s "a") (starts_with $s "b")) (ends_with $s "c"))'],
    ['a + b * c', '(+ $a (* $b $c))'],
    ['a * b + c', '(+ (* $a $b) $c)'],
    ['a - b - c', '(- (- $a $b) $c)'],
    ['a / b / c', '(/ (/ $a $b) $c)'],
    ['a - b + c', '(+ (- $a $b) $c)'],
    ['a * b / c * d', '(* (/ (* $a $b) $c) $d)'],
    ['-a * b', '(* (- $a) $b)'],
    ['- -a', '(- (- $a))'],
    ['--a', '(- (- $a))'],
    ['a - -b', '(- $a (- $b))'],
    ['a--b', '(- $a (- $b))'],
    ['not -a < 3', '(not (< (- $a) N3))'],
    ['(a or b) and c', '(and [(or $a $b)] $c)'],
    ['((a))', '[[$a]]'],
    ['-(a + b)', '(- [(+ $a $b)])'],
    ['f(a, b + 1)', 'f($a (+ $b N1))'],
    ['f()', 'f()'],
    ['max(min(a, b), abs(-c))', 'max(min($a $b) abs((- $c)))'],
    ['[]', '{}'],
    ['[a.b, "x", 1, 2s, true, false]', '{a.b "x" N1 D2 true false}'],
    ['score >= 90', '(>= $score N90)'],
    ['event.type == "login" and model.version != "v"', '(and (== event.type "login") (!= model.version "v"))'],
    ['a ?? b or c and not d == e + f * -g', '(?? $a (or $b (and $c (not (== $d (+ $e (* $f (- $g))))))))'],
  ];
  for (const [text, want] of cases) {
    it(text, () => expect(sx(expr(text))).toBe(want));
  }

  it('a binary node carries the span of its operator token (both words of `not in`)', () => {
    const e = expr('x  not   in l') as A.Binary;
    expect([e.opSpan.offset, e.opSpan.end, e.span.offset, e.span.end]).toEqual([3, 11, 0, 13]);
    const c = expr('a.b >= 3') as A.Binary;
    expect([c.opSpan.col, c.opSpan.end - c.opSpan.offset]).toEqual([5, 2]);
  });
});

describe('spans', () => {
  const text = `pack p version 1
rule travel {
  when history.travel_kmh > 900 and
       not device.known
  score -20
  reason "at \\u{1F600} {geo.country ?? \\"?\\"} x"
}
test "t" { given { a.b: (1) } }
`;
  const [header, rule, test] = decls(text) as [A.Header, A.RuleDecl, A.TestDecl];
  const pos = (s: A.Span): string => `${s.line}:${s.col}+${s.end - s.offset}`;

  it('declarations, names and clauses', () => {
    expect(pos(header.span)).toBe('1:1+16');
    expect(pos(header.version.span)).toBe('1:16+1');
    expect(pos(rule.span)).toBe(`2:1+${text.indexOf('}\ntest') + 1 - text.indexOf('rule')}`);
    expect(pos(rule.name.span)).toBe('2:6+6');
    const [when, score, reason] = rule.clauses as [A.WhenClause, A.ScoreClause, A.ReasonClause];
    expect(pos(when.span)).toBe(`3:3+${text.indexOf('known') + 5 - text.indexOf('when')}`);
    expect(pos(score.span)).toBe('5:3+9');
    expect(pos(score.value.span)).toBe('5:9+3');
    expect(pos(reason.span)).toBe(`6:3+${'reason "at \\u{1F600} {geo.country ?? \\"?\\"} x"'.length}`);
    expect(pos(reason.template.span)).toBe(`6:10+${'"at \\u{1F600} {geo.country ?? \\"?\\"} x"'.length}`);
  });

  it('expressions across lines', () => {
    const cond = (rule.clauses[0] as A.WhenClause).cond as A.Binary;
    expect(pos(cond.opSpan)).toBe('3:33+3');
    const right = cond.right as A.Unary;
    expect(pos(right.span)).toBe('4:8+16');
    expect(pos(right.operand.span)).toBe('4:12+12');
    const left = cond.left as A.Binary;
    expect(pos(left.left.span)).toBe('3:8+18');
    expect(pos(left.right.span)).toBe('3:29+3');
  });

  it('interpolations point into the file, past escapes before and inside them', () => {
    const tpl = (rule.clauses[2] as A.ReasonClause).template;
    expect(tpl.parts[0]).toBe('at 😀 ');
    const e = tpl.parts[1] as A.Binary;
    expect(e.op).toBe('??');
    const line6 = text.split('\n')[5]!;
    expect(pos(e.left.span)).toBe(`6:${line6.indexOf('geo.country') + 1}+11`);
    expect(pos(e.opSpan)).toBe(`6:${line6.indexOf('??') + 1}+2`);
    // The inner string `"?"` is written `\"?\"`: its span covers the escaped quotes.
    expect(pos(e.right.span)).toBe(`6:${line6.indexOf('\\"?') + 1}+5`);
    expect(e.right).toMatchObject({ kind: 'String', value: '?', raw: '"?"' });
    expect(tpl.parts[2]).toBe(' x');
  });

  it('tests and given entries', () => {
    const given = test.items[0] as A.TestGiven;
    expect(pos(given.span)).toBe('8:12+18');
    const entry = given.entries[0]!;
    expect(pos(entry.span)).toBe('8:20+8');
    expect(pos(entry.feature.span)).toBe('8:20+3');
    expect(pos(entry.value.span)).toBe('8:25+3');
  });

  it('the file spans the whole text', () => {
    const f = parse(text).file!;
    expect(f.span).toEqual({ file: 'p.rules', offset: 0, end: text.length, line: 1, col: 1 });
    expect(f.file).toBe('p.rules');
  });
});

describe('templates', () => {
  const tpl = (src: string): A.Template => {
    const [rule] = decls(`rule r { reason ${src} }`) as [A.RuleDecl];
    return (rule.clauses[0] as A.ReasonClause).template;
  };
  const parts = (src: string) => tpl(src).parts.map((p) => (typeof p === 'string' ? p : sx(p)));

  it('text and interpolations alternate; `{{` and `}}` are literal braces', () => {
    expect(parts('"{a.b}"')).toEqual(['a.b']);
    expect(parts('"x {a.b} y {c}{d}"')).toEqual(['x ', 'a.b', ' y ', '$c', '$d']);
    expect(parts('"{{a}} {{ }}"')).toEqual(['{a} { }']);
    expect(parts('""')).toEqual([]);
  });

  it('`\\u{7B}` is an escaped brace, never an interpolation', () => {
    expect(parts('"\\u{7B}x\\u{7D}"')).toEqual(['{x}']);
  });

  it('an interpolation may hold any expression, strings with braces included', () => {
    expect(parts('"{lower(a.b) == \\"}\\" or x ?? 1 > 2}"')).toEqual(['(?? (or (== lower(a.b) "}") $x) (> N1 N2))']);
  });

  it('errors inside: a lone `}`, an unclosed `{`, an empty or bad interpolation are E_SYNTAX there', () => {
    const line = (s: string) => `rule r {\n  reason ${s}\n}`;
    expect(codes(line('"a } b"'))).toEqual(['E_SYNTAX@2:13']);
    expect(codes(line('"a { b"'))).toEqual(['E_SYNTAX@2:13']);
    expect(codes(line('"a {} b"'))).toEqual(['E_SYNTAX@2:14']);
    expect(codes(line('"a {x +} b"'))).toEqual(['E_SYNTAX@2:17']);
    expect(codes(line('"\\t{x y}"'))).toEqual(['E_SYNTAX@2:16']);
    expect(codes(line('"{a < b < c}"'))).toEqual(['E_SYNTAX@2:18']);
    expect(parse(line('"{x +}"')).file).toBeNull();
  });

  it('literal errors inside an interpolation are E_LITERAL at their place', () => {
    expect(codes('rule r {\n  reason "{x == 1.5h} {y == \\"\\\\q\\"}"\n}')).toEqual(['E_LITERAL@2:17', 'E_LITERAL@2:31']);
  });
});

describe('E_SYNTAX: one diagnostic at the offending token, then stop', () => {
  const cases: [string, string, string][] = [
    ['input ended early', 'rule r {\n  when a.b', 'E_SYNTAX@2:11'],
    ['input ended early, trailing comment', 'rule r { when a.b > 1\n# end\n', 'E_SYNTAX@3:1'],
    ['operand missing before the next clause', 'rule r {\n  when geo.country == \n  then block\n}', 'E_SYNTAX@3:3'],
    ['chained comparison', 'rule r { when a.b < b.c < c.d then block }', 'E_SYNTAX@1:25'],
    ['chained equality', 'rule r { when a == b == c }', 'E_SYNTAX@1:22'],
    ['keyword as rule name', 'rule block { when a.b then block }', 'E_SYNTAX@1:6'],
    ['keyword as const name', 'const score = 1', 'E_SYNTAX@1:7'],
    ['keyword as list name', 'list file: ip = []', 'E_SYNTAX@1:6'],
    ['keyword as event type', 'rule r { on ato, block }', 'E_SYNTAX@1:18'],
    ['a not after a comparison', 'rule r { when a == not b }', 'E_SYNTAX@1:20'],
    ['unknown top-level word', 'pack p version 1\nrules r {}', 'E_SYNTAX@2:1'],
    ['duration score', 'rule r { score 5m }', 'E_SYNTAX@1:16'],
    ['trailing comma in a call', 'const x = f(a,)', 'E_SYNTAX@1:15'],
    ['missing comma in a list', 'const x = [1 2]', 'E_SYNTAX@1:14'],
    ['given key is not a feature', 'test "t" { given { x: 1 } }', 'E_SYNTAX@1:20'],
    ['unterminated string', 'rule r {\n  description "abc\n}', 'E_SYNTAX@2:15'],
    ['stray character', 'const x = 1 @ 2', 'E_SYNTAX@1:13'],
    ['upper-case identifier', 'const X = 1', 'E_SYNTAX@1:7'],
    ['feature as a name', 'rule a.b {}', 'E_SYNTAX@1:6'],
    ['empty parens', 'const x = ()', 'E_SYNTAX@1:12'],
  ];
  for (const [what, text, want] of cases) {
    it(what, () => {
      const r = parse(text);
      expect(r.diagnostics.map(at)).toEqual([want]);
      expect(r.file).toBeNull();
    });
  }

  it('a chained comparison carries a hint; other syntax errors do not', () => {
    expect(parse('rule r { when a.b < b.c < c.d }').diagnostics[0]!.hint).toBeDefined();
    expect(parse('rule r { when a.b == 1 != 2 }').diagnostics[0]!.hint).toBeDefined();
    expect(parse('rule r { when a.b < }').diagnostics[0]!.hint).toBeUndefined();
    expect(parse('rule r { when < 1 }').diagnostics[0]!.hint).toBeUndefined();
  });

  it('E_LITERAL before the error is kept, anything after it is not reported', () => {
    expect(codes('const a = 1.5h\nconst b = @\nconst c = "\\q"')).toEqual(['E_LITERAL@1:11', 'E_SYNTAX@2:11']);
  });

  it('the offending token that is also a bad literal reports only E_SYNTAX', () => {
    expect(codes('const a = 1 1.5h')).toEqual(['E_SYNTAX@1:13']);
  });

  it('parseExpression reports the same way', () => {
    const r = parseExpression('a +', 'e.rules');
    expect(r.expr).toBeNull();
    expect(r.diagnostics.map(at)).toEqual(['E_SYNTAX@1:4']);
  });
});

describe('E_LITERAL: collected, parsing goes on', () => {
  it('bad durations, numbers and escapes anywhere', () => {
    const text = `const a = 1.5h
const b = 3x
const c = 1e999
rule r {
  description "bad \\q"
  when user.age > 2.0d and a.b == "\\u{110000}"
  score 10
}
test "\\z" { given { a.b: 1.2.3 } }`;
    const r = parse(text);
    expect(r.diagnostics.map(at)).toEqual(['E_LITERAL@1:11', 'E_LITERAL@2:11', 'E_LITERAL@3:11', 'E_LITERAL@5:20', 'E_LITERAL@6:19', 'E_LITERAL@6:36', 'E_LITERAL@9:7', 'E_LITERAL@9:26']);
    expect(r.file!.decls.map((d) => d.kind)).toEqual(['Const', 'Const', 'Const', 'Rule', 'Test']);
  });

  it('a fractional duration is still a Duration node', () => {
    const r = parse('const a = 1.5h');
    expect(stripSpans((r.file!.decls[0] as A.ConstDecl).value)).toEqual({ kind: 'Duration', value: 5400, raw: '1.5h' });
  });
});

describe('E_LIMIT', () => {
  it('a file over maxFileBytes is refused before lexing, at 1:1; bytes are UTF-8', () => {
    const text = 'const x = "éé"'; // 14 characters, 16 bytes
    expect(codes(text, { maxFileBytes: 16 })).toEqual([]);
    const r = parse(text, { maxFileBytes: 15 });
    expect(r.diagnostics.map(at)).toEqual(['E_LIMIT@1:1']);
    expect(r.file).toBeNull();
    expect(codes('@'.repeat(100), { maxFileBytes: 99 })).toEqual(['E_LIMIT@1:1']);
  });

  it('a string over maxStringLength is collected at the literal', () => {
    const r = parse('const a = "abcdef"\nconst b = "abcde"', { maxStringLength: 5 });
    expect(r.diagnostics.map(at)).toEqual(['E_LIMIT@1:11']);
    expect(r.file).not.toBeNull();
  });

  it('nesting: exactly maxDepth passes, one more stops the parse', () => {
    const chain = (n: number): string => Array.from({ length: n }, (_, i) => `a${i}`).join(' or ');
    // A chain of one precedence level is one level, whatever its length (dsl.md §3, v1.1).
    expect(codes(`rule r { when ${chain(1000)} }`)).toEqual([]);
    // `a + (…)` adds two levels (the `+` and the parentheses): nest(31) is 63 deep.
    const nest = (k: number): string => (k === 0 ? 'a' : `a + (${nest(k - 1)})`);
    expect(codes(`rule r { when not ${nest(31)} }`)).toEqual([]);
    const r = parse(`rule r {\n  when not not ${nest(31)}\n}`);
    expect(r.diagnostics.map(at)).toEqual(['E_LIMIT@2:8']);
    expect(r.file).toBeNull();
    expect(codes(`const x = ${'('.repeat(63)}1${')'.repeat(63)}`)).toEqual([]);
    expect(codes(`const x = ${'('.repeat(64)}1${')'.repeat(64)}`)).toEqual(['E_LIMIT@1:75']);
    expect(codes(`const x = ${'not '.repeat(63)}a`)).toEqual([]);
    expect(codes(`const x = ${'not '.repeat(64)}a`)).toEqual(['E_LIMIT@1:267']);
    expect(codes(`const x = ${'-'.repeat(64)}a`)).toEqual(['E_LIMIT@1:75']);
    expect(codes(`const x = ${'f('.repeat(64)}1${')'.repeat(64)}`)).toEqual(['E_LIMIT@1:139']);
    expect(codes(`const x = ${'['.repeat(64)}${']'.repeat(64)}`)).toEqual([]);
    expect(codes(`const x = ${'['.repeat(65)}${']'.repeat(65)}`)).toEqual(['E_LIMIT@1:75']);
  });

  it('mixed nesting counts every level', () => {
    // (a + -(b * (c and not d))) → Paren, +, Unary, Paren, *, Paren, and, not, d: 9 levels.
    const e = 'const x = (a + -(b * (c and not d)))';
    expect(codes(e, { maxDepth: 9 })).toEqual([]);
    expect(codes(e, { maxDepth: 8 }).map((c) => c.split('@')[0])).toEqual(['E_LIMIT']);
    // `==`, the `+` chain (one level), `*`, a leaf: 4 levels.
    expect(codes('const x = a * b + c * d + e * f == g', { maxDepth: 4 })).toEqual([]);
    expect(codes('const x = a * b + c * d + e * f == g', { maxDepth: 3 }).map((c) => c.split('@')[0])).toEqual(['E_LIMIT']);
  });

  it('depth is checked in interpolations, given values and lists too', () => {
    const deep = `${'('.repeat(70)}1${')'.repeat(70)}`;
    expect(codes(`rule r { reason "{${deep}}" }`)[0]).toMatch(/^E_LIMIT@1:/);
    expect(codes(`test "t" { given { a.b: ${deep} } }`)[0]).toMatch(/^E_LIMIT@1:/);
    expect(codes(`list l: number = [${deep}]`)[0]).toMatch(/^E_LIMIT@1:/);
  });

  it('pathological nesting is refused quickly and without recursion', () => {
    for (const text of [`const x = ${'not '.repeat(200_000)}a`, `const x = ${'('.repeat(200_000)}`, `const x = ${'a or ('.repeat(100_000)}a`]) {
      const start = performance.now();
      const r = parse(text);
      expect(r.diagnostics.map((d) => d.code)).toEqual(['E_LIMIT']);
      expect(performance.now() - start).toBeLessThan(1000);
    }
  });

  it('a flat chain of 100,000 alternatives parses, without recursion', () => {
    const r = parse(`const x = ${'a or '.repeat(100_000)}a`);
    expect(r.diagnostics).toEqual([]);
  });

  it('limits default to DEFAULT_LIMITS and may be overridden one by one', () => {
    expect(DEFAULT_LIMITS).toMatchObject({ maxDepth: 64, maxStringLength: 10_000, maxFileBytes: 4 * 1024 * 1024 });
    expect(codes(`const x = "${'a'.repeat(10_000)}"`)).toEqual([]);
    expect(codes(`const x = "${'a'.repeat(10_001)}"`)).toEqual(['E_LIMIT@1:11']);
    expect(codes('const x = (((1)))', { maxDepth: 3 })).toEqual(['E_LIMIT@1:14']);
  });
});

describe('the grammar is unambiguous and has no quadratic paths', () => {
  function corpus(): [string, string][] {
    const files: [string, string][] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir).sort()) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.rules')) files.push([p, readFileSync(p, 'utf8')]);
      }
    };
    for (const dir of ['rules', 'test', 'examples']) walk(join(ROOT, dir));
    return files;
  }

  it('every .rules file in the repository parses to exactly one tree (no E_SYNTAX beyond the known one)', () => {
    const files = corpus();
    expect(files.length).toBeGreaterThan(10);
    for (const [path, text] of files) {
      // parseFile throws if a text has more than one parse.
      const r = parseFile(text, path);
      expect(diagnosticProblems(text, path, r.diagnostics), path).toEqual([]);
      const intended = path.endsWith('E_SYNTAX.rules') || path.includes('broken');
      if (!intended) expect(r.diagnostics.filter((d) => d.code === 'E_SYNTAX'), path).toEqual([]);
    }
  });

  it('long lists of declarations, tags, clauses and entries parse in linear time', () => {
    const n = 20_000;
    const wide = [
      Array(n).fill('const x = 1 + 2').join('\n'),
      `rule r { tags ${Array(n).fill('a').join(', ')} }`,
      `rule r { on ${Array(n).fill('login').join(', ')} }`,
      `rule r { ${Array(n).fill('then block').join(' ')} }`,
      `list l: number = [${Array(n).fill('1').join(', ')}]`,
      `test "t" { given { ${Array(n).fill('a.b: 1').join(', ')} } }`,
    ];
    for (const text of wide) {
      const start = performance.now();
      const r = parseFile(text, 'w.rules');
      expect(r.diagnostics).toEqual([]);
      // Quadratic work here took tens of seconds.
      expect(performance.now() - start, text.slice(0, 20)).toBeLessThan(3000);
    }
    const tags = parseFile(`rule r { tags ${Array(n).fill('a').join(', ')} }`, 'w.rules').file!.decls[0] as A.RuleDecl;
    expect((tags.clauses[0] as A.TagsClause).tags).toHaveLength(n);
    expect(parseFile(Array(n).fill('const x = 1 + 2').join('\n'), 'w.rules').file!.decls).toHaveLength(n);
  });

  it('a generated 500-rule pack parses to one tree', () => {
    const text = bigPack(500);
    expect(text.length).toBeGreaterThan(35_000);
    const r = parseFile(text, 'big.rules');
    expect(r.diagnostics).toEqual([]);
    expect(r.file!.decls.filter((d) => d.kind === 'Rule')).toHaveLength(500);
  });
});
