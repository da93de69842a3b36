// The checker: every diagnostic code it emits, at its line and column (dsl.md §5), and the typing
// rules of dsl.md §3. Packs are fed as source text through compilePack, as the CLI and API do.
import { describe, expect, it } from 'vitest';
import { compilePack, packFromFiles, type CompileResult, type Limits } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { diagnosticCodes, locOf } from './parse-helpers.ts';

const HEAD = 'pack t version 1\n';

function compile(text: string, extra: Record<string, string> = {}, limits?: Partial<Limits>): CompileResult {
  return compilePack(packFromFiles({ 'main.rules': text, ...extra }), { scheme: VIGIL_SCHEME, limits });
}

const codes = diagnosticCodes;
const loc = locOf;

/** A pack whose single rule has condition `cond` (and that uses nothing else). */
function cond(c: string, decls = ''): string {
  return `${HEAD}${decls}rule r {\n  when ${c}\n  then block\n}\n`;
}

describe('a clean pack', () => {
  it('has no diagnostics and compiles', () => {
    const r = compile(cond('geo.country == "BR" and not device.known'));
    expect(codes(r)).toEqual([]);
    expect(r.pack).not.toBeNull();
  });
});

describe('E_HEADER', () => {
  it('a missing header is reported at 1:1 of the first file', () => {
    const r = compile('rule r {\n  when true\n  then block\n}\n');
    expect(codes(r)).toEqual(['E_HEADER@1:1']);
    expect(r.diagnostics[0]!.span.file).toBe('main.rules');
    expect(r.pack).toBeNull();
  });
  it('a duplicate header is reported at the second one', () => {
    const src = `${HEAD}pack u version 2\n${cond('true').slice(HEAD.length)}`;
    expect(codes(compile(src))).toEqual([`E_HEADER@${loc(src, 'pack u')}`]);
  });
  it('a header that is not the first declaration is misplaced', () => {
    const src = 'const x = 1\npack t version 1\nrule r {\n  when geo.asn == x\n  then block\n}\n';
    expect(codes(compile(src))).toEqual([`E_HEADER@${loc(src, 'pack t')}`]);
  });
  it('a header in the second file of a directory pack is misplaced when the first has declarations', () => {
    const r = compilePack(
      packFromFiles({ 'a.rules': 'rule r {\n  when true\n  then block\n}\n', 'b.rules': HEAD }),
      { scheme: VIGIL_SCHEME },
    );
    expect(r.diagnostics.map((d) => [d.code, d.span.file, d.span.line, d.span.col])).toEqual([['E_HEADER', 'b.rules', 1, 1]]);
  });
  it('a header alone in the first file of a directory pack is fine', () => {
    const r = compilePack(
      packFromFiles({ 'a.rules': HEAD, 'b.rules': 'rule r {\n  when true\n  then block\n}\n' }),
      { scheme: VIGIL_SCHEME },
    );
    expect(codes(r)).toEqual([]);
    expect(r.pack?.name).toBe('t');
  });
});

describe('E_SYNTAX stops everything else', () => {
  it('reports only the syntax error, not the later semantic ones', () => {
    const r = compilePack(
      packFromFiles({ 'a.rules': `${HEAD}rule r {\n  when geo.nope ==\n}\n`, 'b.rules': 'rule s {\n  when zzz\n}\n' }),
      { scheme: VIGIL_SCHEME },
    );
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E_SYNTAX']);
    expect(r.diagnostics[0]!.span.file).toBe('a.rules');
    expect(r.pack).toBeNull();
  });
});

describe('E_UNKNOWN_NAME', () => {
  it('an unknown feature, with a did-you-mean hint', () => {
    const src = cond('geo.contry == "BR"');
    const r = compile(src);
    expect(codes(r)).toEqual([`E_UNKNOWN_NAME@${loc(src, 'geo.contry')}`]);
    expect(r.diagnostics[0]!.hint).toContain('geo.country');
  });
  it('an unknown const or list name, with a hint among consts and lists', () => {
    const src = cond('geo.asn in risky_asn', 'list risky_asns: number = [9009]\n');
    const r = compile(src);
    expect(codes(r)).toEqual([`W_UNUSED@${loc(src, 'risky_asns')}`, `E_UNKNOWN_NAME@${loc(src, 'risky_asn', 1)}`]);
    expect(r.diagnostics[1]!.hint).toContain('risky_asns');
  });
  it('an unknown function, with a hint', () => {
    const src = cond('lowr(geo.country) == "br"');
    const r = compile(src);
    expect(codes(r)).toEqual([`E_UNKNOWN_NAME@${loc(src, 'lowr')}`]);
    expect(r.diagnostics[0]!.hint).toContain('lower');
  });
  it('an unknown event type in `on` and in `policy T`', () => {
    const src = `${HEAD}rule r {\n  on login, recovry\n  when true\n  then block\n}\npolicy logn {\n  block when score >= 90\n}\n`;
    const r = compile(src);
    expect(codes(r)).toEqual([`E_UNKNOWN_NAME@${loc(src, 'recovry')}`, `E_UNKNOWN_NAME@${loc(src, 'logn')}`]);
    expect(r.diagnostics.map((d) => d.hint)).toEqual([expect.stringContaining('recovery'), expect.stringContaining('login')]);
  });
  it('`score` outside a policy condition', () => {
    const src = cond('score > 10');
    expect(codes(compile(src))).toEqual([`E_UNKNOWN_NAME@${loc(src, 'score')}`]);
  });
  it('`score` inside a reason interpolation is also outside a policy', () => {
    const src = `${HEAD}rule r {\n  when true\n  score 5\n  reason "total {score}"\n}\n`;
    expect(codes(compile(src))).toEqual([`E_UNKNOWN_NAME@${loc(src, 'score}')}`]);
  });
});

describe('E_TYPE', () => {
  const cases: [string, string, string][] = [
    // [condition, token the diagnostic points at, why]
    ['geo.country == 3', '==', 'mixed operand types point at the operator'],
    ['geo.asn', 'geo.asn', 'a when condition must be bool'],
    ['geo.asn > "x"', '"x"', 'an ordering comparison needs numbers or durations'],
    ['user.age > 3', '>', 'durations compare only with durations'],
    ['user.age + 1 > 2h', '+', 'duration + number'],
    ['geo.country * 2 > 1', 'geo.country', 'arithmetic on a string'],
    ['user.age * 2 > 1h', 'user.age', 'durations only add and subtract'],
    ['geo.tor and geo.asn', 'geo.asn', 'and needs bools'],
    ['not geo.asn', 'geo.asn', 'not needs a bool'],
    ['-geo.country == "x"', 'geo.country', 'unary minus needs a number or duration'],
    ['len(geo.asn) > 1', 'geo.asn', 'a function argument of the wrong type'],
    ['hours(geo.asn) > 1', 'geo.asn', 'hours takes a duration'],
    ['min(1) > 0', 'min', 'a function with the wrong number of arguments'],
    ['geo.asn ?? "x" == "x"', '??', 'coalesce needs one type on both sides'],
    ['geo.country matches geo.city', 'geo.city', 'matches needs a string literal'],
    ['geo.asn matches "a"', 'geo.asn', 'matches needs a string on the left'],
    ['geo.country in geo.city', 'geo.city', 'in needs a list on the right'],
    ['geo.country in [1, 2]', 'in', 'in needs a list of the left type'],
    ['geo.country in ["a", 2]', '2', 'list literal entries of one type'],
    ['geo.country in [geo.city]', 'geo.city', 'list literal entries must be constants'],
    ['geo.country contains 1', '1', 'contains takes strings'],
    ['present([1])', '[1]', 'a list is not a value outside in'],
    ['ip.address == geo.country', '==', 'ip and a string feature do not compare'],
  ];
  for (const [c, at, why] of cases) {
    it(`${why}: ${c}`, () => {
      const src = cond(c);
      const r = compile(src);
      // The rule's `when` is on line 3; locate the token from there on.
      const offset = src.indexOf('when ');
      const tokenAt = src.indexOf(at, offset);
      const before = src.slice(0, tokenAt);
      expect(codes(r)).toEqual([`E_TYPE@${before.split('\n').length}:${tokenAt - before.lastIndexOf('\n')}`]);
      expect(r.pack).toBeNull();
    });
  }
  it('a policy condition must be bool', () => {
    const src = `${HEAD}${cond('true').slice(HEAD.length)}policy {\n  block when score\n}\n`;
    expect(codes(compile(src))).toEqual([`E_TYPE@${loc(src, 'score\n')}`]);
  });
  it('a const must be a literal', () => {
    const src = cond('geo.asn == x', 'const x = geo.asn\n');
    expect(codes(compile(src))).toEqual([`E_TYPE@${loc(src, 'geo.asn')}`]);
  });
  it('an empty list const has no type', () => {
    const src = cond('geo.asn in x', 'const x = []\n');
    expect(codes(compile(src))).toEqual([`E_TYPE@${loc(src, '[]')}`]);
  });
  it('a list declaration with an element of another type', () => {
    const src = cond('geo.asn in l', 'list l: number = [1, "two"]\n');
    expect(codes(compile(src))).toEqual([`E_TYPE@${loc(src, '"two"')}`]);
  });
  it('a list of an unknown element type', () => {
    const src = cond('geo.asn in l', 'list l: nmber = [1]\n');
    const r = compile(src);
    expect(codes(r)).toEqual([`E_TYPE@${loc(src, 'nmber')}`]);
    expect(r.diagnostics[0]!.hint).toContain('number');
  });
  it('a named list whose type differs from the left of in', () => {
    const src = cond('geo.country in l', 'list l: number = [1]\n');
    expect(codes(compile(src))).toEqual([`E_TYPE@${loc(src, 'in l')}`]);
  });
  it('a list name used as a value', () => {
    const src = cond('present(l)', 'list l: number = [1]\n');
    expect(codes(compile(src))).toEqual([`E_TYPE@${loc(src, 'l)')}`]);
  });
  it('a list interpolated into a reason', () => {
    const src = `${HEAD}list l: number = [1]\nrule r {\n  when true\n  score 1\n  reason "in {l}"\n}\n`;
    expect(codes(compile(src))).toEqual([`E_TYPE@${loc(src, 'l}')}`]);
  });
  it('does not cascade: one unknown name gives one diagnostic', () => {
    const src = cond('(geo.nope + 1) * 2 > 3 and geo.nope2 == "x"');
    expect(compile(src).diagnostics.map((d) => d.code)).toEqual(['E_UNKNOWN_NAME', 'E_UNKNOWN_NAME']);
  });
  it('accepts every well-typed operator and function', () => {
    const ok = [
      'geo.asn + 1 - 2 * 3 / 4 > -5',
      'user.age + 2h - 30m >= 1d',
      '-user.age < 0s',
      'geo.country != "BR" or geo.city starts_with "S" or geo.city ends_with "o" or geo.city contains "a"',
      'geo.country matches "^[A-Z]{2}$"',
      'lower(geo.country) == upper("br") and len(geo.city) > 2 and abs(geo.lat) < 90',
      'min(geo.asn, 3) == max(1, 2) and hours(user.age) > 1 and days(user.age) > 1',
      'present(geo.country) and (geo.tor ?? false)',
      'geo.asn in [1, 2] and geo.asn not in [3] and geo.country in []',
      'ip.address == "10.0.0.1" or ip.address == "10.0.0.0/8" or ip.address in ["192.0.2.0/24", "2001:db8::1"]',
      '(ip.address ?? "0.0.0.0") != "::1"',
      'user.age == 3d and geo.tor == true',
    ];
    for (const c of ok) expect(codes(compile(cond(c))), c).toEqual([]);
  });
});

describe('E_DUPLICATE', () => {
  it('rules, lists and consts share one namespace', () => {
    const src = `${HEAD}const x = 1\nlist x: number = [1]\nrule x {\n  when geo.asn == x\n  then block\n}\n`;
    expect(codes(compile(src))).toEqual([`E_DUPLICATE@${loc(src, 'x', 1)}`, `E_DUPLICATE@${loc(src, 'x', 2)}`]);
  });
  it('a clause twice in one rule', () => {
    const src = `${HEAD}rule r {\n  when true\n  then block\n  when false\n}\n`;
    expect(codes(compile(src))).toEqual([`E_DUPLICATE@${loc(src, 'when', 1)}`]);
  });
  it('an event type twice in `on`', () => {
    const src = `${HEAD}rule r {\n  on login, login\n  when true\n  then block\n}\n`;
    expect(codes(compile(src))).toEqual([`E_DUPLICATE@${loc(src, 'login', 1)}`]);
  });
  it('two default policies, two policies for one event type', () => {
    const body = cond('true').slice(HEAD.length);
    const src = `${HEAD}${body}policy {\n  block when score >= 90\n}\npolicy {\n  block when score >= 80\n}\npolicy login {\n  block when score >= 90\n}\npolicy login {\n  block when score >= 80\n}\n`;
    expect(codes(compile(src))).toEqual([`E_DUPLICATE@${loc(src, 'policy', 1)}`, `E_DUPLICATE@${loc(src, 'login', 1)}`]);
  });
  it('a test name twice, and event/given/expect twice in one test', () => {
    const body = cond('true').slice(HEAD.length);
    const src =
      `${HEAD}${body}test "a" {\n  event login\n  event login\n  given { geo.asn: 1 }\n  given { geo.asn: 2 }\n  expect block\n  expect allow\n}\n` +
      `test "a" {\n  given { geo.asn: 1, geo.asn: 2 }\n  expect block\n}\n`;
    expect(codes(compile(src))).toEqual([
      `E_DUPLICATE@${loc(src, 'event login', 1)}`,
      `E_DUPLICATE@${loc(src, 'given', 1)}`,
      `E_DUPLICATE@${loc(src, 'expect allow')}`,
      `E_DUPLICATE@${loc(src, '"a"', 1)}`,
      `E_DUPLICATE@${loc(src, 'geo.asn: 2', 1)}`,
    ]);
  });
});

describe('E_LITERAL', () => {
  it('a score out of -100..100 or not an integer', () => {
    const src = `${HEAD}rule a {\n  when true\n  score 101\n}\nrule b {\n  when true\n  score 2.5\n}\nrule c {\n  when true\n  score -100\n}\n`;
    expect(codes(compile(src))).toEqual([`E_LITERAL@${loc(src, '101')}`, `E_LITERAL@${loc(src, '2.5')}`]);
  });
  it('a bad IP where an ip is expected, in a comparison and in an ip list literal', () => {
    const src = cond('ip.address == "10.0.0.300" or ip.address in ["10.0.0.1", "nope"]');
    expect(codes(compile(src))).toEqual([`E_LITERAL@${loc(src, '"10.0.0.300"')}`, `E_LITERAL@${loc(src, '"nope"')}`]);
  });
  it('a bad IP in a declared ip list and in a string const used as an ip', () => {
    const src = cond('ip.address in corp or ip.address == office', 'list corp: ip = ["10.0.0.0/33"]\nconst office = "1.2.3.x"\n');
    expect(codes(compile(src))).toEqual([`E_LITERAL@${loc(src, '"10.0.0.0/33"')}`, `E_LITERAL@${loc(src, '"1.2.3.x"')}`]);
  });
  it('a CIDR where a single address is needed', () => {
    const src = cond('(ip.address ?? "10.0.0.0/8") == "10.0.0.1"');
    expect(codes(compile(src))).toEqual([`E_LITERAL@${loc(src, '"10.0.0.0/8"')}`]);
  });
  it('a header version that is not a non-negative integer', () => {
    const src = `pack t version 1.5\n${cond('true').slice(HEAD.length)}`;
    expect(codes(compile(src))).toEqual([`E_LITERAL@${loc(src, '1.5')}`]);
  });
});

describe('E_REGEX', () => {
  it('an invalid pattern', () => {
    const src = cond('geo.city matches "([a-z"');
    expect(codes(compile(src))).toEqual([`E_REGEX@${loc(src, '"([a-z"')}`]);
  });
  it('a pattern that can backtrack super-linearly', () => {
    const src = cond('geo.city matches "^(a+)+$"');
    expect(codes(compile(src))).toEqual([`E_REGEX@${loc(src, '"^(a+)+$"')}`]);
  });
});

describe('E_LIST_SOURCE', () => {
  const decl = (path: string, type = 'ip') =>
    cond(type === 'ip' ? 'ip.address in l' : 'geo.asn in l', `list l: ${type} = file "${path}"\n`);
  it('a file that does not exist', () => {
    const src = decl('lists/nope.txt');
    expect(codes(compile(src))).toEqual([`E_LIST_SOURCE@${loc(src, '"lists/nope.txt"')}`]);
  });
  it('a path that leaves the pack directory', () => {
    const src = decl('../secrets.txt');
    expect(codes(compile(src))).toEqual([`E_LIST_SOURCE@${loc(src, '"../secrets.txt"')}`]);
  });
  it('a bad entry, at the path literal, naming the list file line', () => {
    const src = decl('lists/tor.txt');
    const r = compile(src, { 'lists/tor.txt': '# exits\n10.0.0.1\n\nnot-an-ip\n192.0.2.0/24\n' });
    expect(codes(r)).toEqual([`E_LIST_SOURCE@${loc(src, '"lists/tor.txt"')}`]);
    expect(r.diagnostics[0]!.message).toContain('lists/tor.txt:4');
  });
  it('number list entries are parsed as numbers', () => {
    const src = decl('lists/asn.txt', 'number');
    expect(codes(compile(src, { 'lists/asn.txt': '9009\n16276\n' }))).toEqual([]);
    expect(codes(compile(src, { 'lists/asn.txt': '9009\nAS16276\n' }))).toEqual([`E_LIST_SOURCE@${loc(src, '"lists/asn.txt"')}`]);
  });
  it('reports at most five bad entries and a summary', () => {
    const src = decl('lists/x.txt');
    const r = compile(src, { 'lists/x.txt': Array.from({ length: 9 }, (_, i) => `bad${i}`).join('\n') });
    expect(r.diagnostics.filter((d) => d.code === 'E_LIST_SOURCE')).toHaveLength(6);
  });
});

describe('E_RULE', () => {
  it('a rule with no when, and one with neither then nor score', () => {
    const src = `${HEAD}rule a {\n  then block\n}\nrule b {\n  when true\n  tags x\n}\n`;
    expect(codes(compile(src))).toEqual([`E_RULE@${loc(src, 'a {')}`, `E_RULE@${loc(src, 'b {')}`]);
  });
  it('`score` alone is enough', () => {
    const src = `${HEAD}rule a {\n  when true\n  score 10\n}\n`;
    expect(codes(compile(src))).toEqual([]);
  });
});

describe('W_UNUSED', () => {
  it('warns for a const and a list no rule, policy or test reads', () => {
    const src = `${HEAD}const a = 5\nconst b = 6\nlist c: string = ["x"]\nlist d: string = redis "d"\nrule r {\n  when geo.asn == a\n  then block\n}\npolicy {\n  block when geo.country in d\n}\ntest "t" {\n  given { geo.asn: b }\n}\n`;
    const r = compile(src);
    expect(codes(r)).toEqual([`W_UNUSED@${loc(src, 'c:')}`]);
    expect(r.diagnostics.every((d) => d.severity === 'warning')).toBe(true);
    expect(r.pack).not.toBeNull();
  });
});

describe('W_UNREACHABLE', () => {
  const pol = (lines: string) => `${HEAD}${cond('true').slice(HEAD.length)}policy {\n${lines}}\n`;
  it('a line whose scores an earlier line already takes', () => {
    const src = pol('  step_up when score >= 50\n  block when score >= 90\n');
    expect(codes(compile(src))).toEqual([`W_UNREACHABLE@${loc(src, 'block when')}`]);
  });
  it('no warning when the earlier line is narrower', () => {
    expect(codes(compile(pol('  block when score >= 90\n  step_up when score >= 50\n')))).toEqual([]);
  });
  it('any line after a literal true', () => {
    const src = pol('  step_up when true\n  block when geo.tor\n');
    expect(codes(compile(src))).toEqual([`W_UNREACHABLE@${loc(src, 'block when')}`]);
  });
  it('a condition that can hold for no score', () => {
    const src = pol('  block when score > 100\n');
    expect(codes(compile(src))).toEqual([`W_UNREACHABLE@${loc(src, 'block when')}`]);
  });
  it('flipped comparisons, consts, and/or/not are analysed', () => {
    const src = `${HEAD}const hi = 80\n${cond('true').slice(HEAD.length)}policy {\n  block when hi <= score or score < 10\n  step_up when not (score < 80) and geo.tor\n  step_up when score <= 5\n  allow when score == 50 and geo.tor\n}\n`;
    expect(codes(compile(src))).toEqual([`W_UNREACHABLE@${loc(src, 'step_up when not')}`, `W_UNREACHABLE@${loc(src, 'step_up when score')}`]);
  });
  it('a feature condition does not cover scores', () => {
    expect(codes(compile(pol('  block when geo.tor\n  step_up when score >= 0\n')))).toEqual([]);
  });
});

describe('E_TEST', () => {
  const body = cond('geo.tor').slice(HEAD.length);
  it('unknown event type, feature and rule; wrong given types', () => {
    const src =
      `${HEAD}${body}test "t" {\n  event logn\n  given { geo.contry: "BR", geo.tor: 1, user.age: 30, ip.address: "10.0.0.0/8", geo.asn: "x", geo.city: geo.country }\n` +
      `  expect block\n  expect matched nope\n  expect not matched r\n}\n`;
    const r = compile(src);
    expect(codes(r)).toEqual([
      `E_TEST@${loc(src, 'logn')}`,
      `E_TEST@${loc(src, 'geo.contry')}`,
      `E_TEST@${loc(src, '1,')}`,
      `E_TEST@${loc(src, '30')}`,
      `E_TEST@${loc(src, '"10.0.0.0/8"')}`,
      `E_TEST@${loc(src, '"x"')}`,
      `E_TEST@${loc(src, 'geo.country }')}`,
      `E_TEST@${loc(src, 'nope')}`,
    ]);
    expect(r.diagnostics[1]!.hint).toContain('geo.country');
  });
  it('accepts duration literals, ip strings, negative numbers and consts as given values', () => {
    const src = `${HEAD}const k = 5\n${body}test "t" {\n  event recovery\n  given { user.age: 2h, ip.address: "2001:db8::1", geo.lat: -3.5, geo.asn: k, geo.tor: true }\n  expect block\n}\n`;
    expect(codes(compile(src))).toEqual([]);
  });
  it('given event.type contradicting the test event', () => {
    const src = `${HEAD}${body}test "t" {\n  event login\n  given { event.type: "recovery" }\n}\n`;
    expect(codes(compile(src))).toEqual([`E_TEST@${loc(src, '"recovery"')}`]);
  });
});

describe('E_LIMIT', () => {
  it('more rules than maxRules, at the first rule over the limit', () => {
    const src = `${HEAD}${['a', 'b', 'c'].map((n) => `rule ${n} {\n  when true\n  score 1\n}\n`).join('')}`;
    expect(codes(compile(src, {}, { maxRules: 2 }))).toEqual([`E_LIMIT@${loc(src, 'c {')}`]);
    expect(codes(compile(src, {}, { maxRules: 3 }))).toEqual([]);
  });
  it('a list with more entries than maxListEntries, inline or from a file', () => {
    const src = cond('geo.asn in a or geo.asn in b', 'list a: number = [1, 2, 3]\nlist b: number = file "b.txt"\n');
    const r = compile(src, { 'b.txt': '1\n2\n3\n' }, { maxListEntries: 2 });
    expect(codes(r)).toEqual([`E_LIMIT@${loc(src, '[1, 2, 3]')}`, `E_LIMIT@${loc(src, '"b.txt"')}`]);
  });
});

describe('diagnostics are sorted by file and position', () => {
  it('across files, whatever order the checks found them in', () => {
    // W_UNUSED (a.rules) is found after E_UNKNOWN_NAME (b.rules) but sorts first.
    const r = compilePack(
      packFromFiles({ 'a.rules': `${HEAD}const unused = 1\n`, 'b.rules': 'rule s {\n  when geo.nope\n  then block\n}\n' }),
      { scheme: VIGIL_SCHEME },
    );
    expect(r.diagnostics.map((d) => `${d.span.file}:${d.code}@${d.span.line}:${d.span.col}`)).toEqual([
      'a.rules:W_UNUSED@2:7',
      'b.rules:E_UNKNOWN_NAME@2:8',
    ]);
  });
});
