// The v1.1 clarifications of the language contract (shared/spec/dsl.md, end of § 3), one block each.
// Diagnostics are asserted by code and position (LINE:COL in code points), never by wording.
import { describe, expect, it } from 'vitest';
import {
  compilePack,
  evaluateRecord,
  packFromFiles,
  renderDiagnostics,
  type CompileResult,
  type CompiledPack,
  type Limits,
} from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { diagnosticCodes, locOf } from './parse-helpers.ts';

const HEAD = 'pack t version 1\n';

function compile(files: string | Record<string, string>, limits?: Partial<Limits>): CompileResult {
  const f = typeof files === 'string' ? { 'main.rules': files } : files;
  return compilePack(packFromFiles(f), { scheme: VIGIL_SCHEME, limits });
}

const codes = diagnosticCodes;
const loc = locOf;

function rule(cond: string, decls = ''): string {
  return `${HEAD}${decls}rule r {\n  when ${cond}\n  then block\n}\n`;
}

function build(src: string, limits?: Partial<Limits>): CompiledPack {
  const r = compile(src, limits);
  expect(codes(r)).toEqual([]);
  return r.pack!;
}

/** Does rule `r` of a pack built from `cond` match an event with these features? */
function holds(cond: string, features: Record<string, unknown> = {}, decls = ''): boolean {
  const out = evaluateRecord(build(rule(cond, decls)), 'login', features, { scheme: VIGIL_SCHEME });
  if (!out.ok) throw new Error(out.errors.join('; '));
  return out.decision.rules.some((h) => h.name === 'r');
}

describe('a chain of one left-associative operator is one level of nesting', () => {
  it('a flat list of 500 `or` alternatives compiles and evaluates', () => {
    const cond = Array.from({ length: 500 }, (_, i) => `geo.asn == ${i}`).join(' or ');
    expect(holds(cond, { 'geo.asn': 499 })).toBe(true);
    expect(holds(cond, { 'geo.asn': 500 })).toBe(false);
  });

  it('so do 500-term chains of `and`, `+`, `*`, `??`, and of `+`/`-` mixed', () => {
    const n = 500;
    expect(holds(Array.from({ length: n }, () => 'geo.tor').join(' and '), { 'geo.tor': true })).toBe(true);
    expect(holds(`${Array.from({ length: n }, () => 'geo.asn').join(' + ')} == 1000`, { 'geo.asn': 2 })).toBe(true);
    expect(holds(`${Array.from({ length: n }, () => 'geo.asn').join(' * ')} == 1`, { 'geo.asn': 1 })).toBe(true);
    expect(holds(`(${Array.from({ length: n }, () => 'geo.city').join(' ?? ')} ?? "x") == "x"`)).toBe(true);
    const mixed = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'geo.asn' : '1')).join(' + ').replace(/\+ 1/g, '- 1');
    expect(holds(`${mixed} == 250`, { 'geo.asn': 2 })).toBe(true);
  });

  it('a chain counts once against maxDepth; parentheses, `not` and other operators still nest', () => {
    const lim = { maxDepth: 2 };
    expect(codes(compile(rule('geo.tor or geo.vpn or geo.proxy or geo.hosting'), lim))).toEqual([]);
    expect(codes(compile(rule('geo.asn + 1 - 2 + 3 > 0'), { maxDepth: 3 }))).toEqual([]);
    for (const cond of ['geo.tor or (geo.vpn)', 'geo.tor or not geo.vpn', 'geo.tor or geo.vpn and geo.proxy']) {
      const src = rule(cond);
      expect(codes(compile(src, lim)).map((c) => c.split('@')[0])).toEqual(['E_LIMIT']);
    }
    const deep = rule(`${'('.repeat(64)}geo.tor${')'.repeat(64)}`);
    expect(codes(compile(deep))).toEqual([`E_LIMIT@${loc(deep, 'geo.tor')}`]);
  });

  it('a 20,000-term chain compiles and evaluates without exhausting the stack', () => {
    const cond = Array.from({ length: 20_000 }, (_, i) => `geo.asn == ${i}`).join(' or ');
    expect(holds(cond, { 'geo.asn': 19_999 })).toBe(true);
  });
});

describe('`matches`: a search in the linear-time subset', () => {
  it('searches the string; ^ and $ anchor', () => {
    expect(holds('ua.browser matches "bot"', { 'ua.browser': 'xbotx' })).toBe(true);
    expect(holds('ua.browser matches "^bot$"', { 'ua.browser': 'xbotx' })).toBe(false);
  });

  it('`(?i)` makes the pattern case-insensitive', () => {
    expect(holds('ua.browser matches "(?i)^curl"', { 'ua.browser': 'CURL/8' })).toBe(true);
    expect(holds('ua.browser matches "(?i)^curl"', { 'ua.browser': 'wget' })).toBe(false);
  });

  it('`.` matches one code point', () => {
    expect(holds('ua.browser matches "^.$"', { 'ua.browser': '😀' })).toBe(true);
    expect(holds('ua.browser matches "^.$"', { 'ua.browser': 'ab' })).toBe(false);
  });

  it('lookarounds, backreferences and other inline flags are E_REGEX at the construct', () => {
    for (const [pattern, at] of [
      ['ab(?=c)', '(?='],
      ['x(?<!y)z', '(?<!'],
      ['(a)\\\\1', '\\\\1'],
      ['(?<w>a)\\\\k<w>', '\\\\k'],
      ['(?s)a.b', '(?s)'],
      ['a(?i)b', '(?i)'],
    ] as const) {
      const src = rule(`ua.browser matches "${pattern}"`);
      expect(codes(compile(src)), pattern).toEqual([`E_REGEX@${loc(src, at)}`]);
    }
  });

  it('an invalid or super-linear pattern is E_REGEX at the literal', () => {
    for (const pattern of ['(a', '^(a+)+$']) {
      const src = rule(`ua.browser matches "${pattern}"`);
      expect(codes(compile(src))).toEqual([`E_REGEX@${loc(src, '"')}`]);
    }
  });
});

describe('ip addresses', () => {
  it('an IPv4-mapped IPv6 address is compared as its IPv4 address', () => {
    expect(holds('ip.address == "::ffff:10.1.1.1"', { 'ip.address': '10.1.1.1' })).toBe(true);
    expect(holds('ip.address == "10.1.1.1"', { 'ip.address': '::ffff:10.1.1.1' })).toBe(true);
    expect(holds('ip.address == "10.0.0.0/8"', { 'ip.address': '::ffff:10.1.1.1' })).toBe(true);
    expect(holds('ip.address in ["10.0.0.0/8"]', { 'ip.address': '::ffff:a01:101' })).toBe(true);
    expect(holds('ip.address in ["::ffff:10.0.0.0/104"]', { 'ip.address': '10.200.0.1' })).toBe(true);
    expect(holds('ip.address in nets', { 'ip.address': '::ffff:192.0.2.7' }, 'list nets: ip = ["192.0.2.0/24"]\n')).toBe(true);
  });

  it('`ip == "CIDR"` is containment and `!=` its negation, with the range on either side', () => {
    expect(holds('ip.address == "10.0.0.0/8"', { 'ip.address': '10.2.3.4' })).toBe(true);
    expect(holds('ip.address == "10.0.0.0/8"', { 'ip.address': '11.0.0.1' })).toBe(false);
    expect(holds('"10.0.0.0/8" == ip.address', { 'ip.address': '10.2.3.4' })).toBe(true);
    expect(holds('ip.address != "10.0.0.0/8"', { 'ip.address': '11.0.0.1' })).toBe(true);
  });

  it('a CIDR literal with host bits set is E_LITERAL at the literal, wherever it is written', () => {
    const cases: [string, string][] = [
      [rule('ip.address == "10.1.2.3/8"'), '"10.1.2.3/8"'],
      [rule('ip.address in ["192.0.2.0/24", "10.1.2.3/8"]'), '"10.1.2.3/8"'],
      [rule('ip.address in nets', 'list nets: ip = ["10.1.2.3/8"]\n'), '"10.1.2.3/8"'],
      [rule('ip.address == net', 'const net = "10.1.2.3/8"\n'), '"10.1.2.3/8"'],
      [rule('ip.address == "::ffff:10.1.2.3/104"'), '"::ffff'],
      [rule('ip.address == "2001:db8::1/32"'), '"2001'],
    ];
    for (const [src, at] of cases) expect(codes(compile(src)), src).toEqual([`E_LITERAL@${loc(src, at)}`]);
  });

  it('a file list entry with host bits set is a bad entry (E_LIST_SOURCE at the path)', () => {
    const src = rule('ip.address in nets', 'list nets: ip = file "nets.txt"\n');
    const r = compile({ 'main.rules': src, 'nets.txt': '10.0.0.0/8\n10.1.2.3/8\n' });
    expect(codes(r)).toEqual([`E_LIST_SOURCE@${loc(src, '"nets.txt"')}`]);
  });
});

describe('positions: columns count code points from 1, a tab is one column', () => {
  it('a character outside the BMP is one column', () => {
    const src = rule('ua.browser == "😀😀" and zzz');
    expect(codes(compile(src))).toEqual([`E_UNKNOWN_NAME@${loc(src, 'zzz')}`]);
    expect(loc(src, 'zzz')).toBe('3:31');
  });

  it('a tab is one column', () => {
    const src = `${HEAD}rule r {\n\twhen\tzzz\n\tthen block\n}\n`;
    expect(codes(compile(src))).toEqual(['E_UNKNOWN_NAME@3:7']);
  });

  it('syntax errors and the end of input count code points too', () => {
    const src = `${HEAD}const s = "😀" )\n`;
    expect(codes(compile(src))).toEqual([`E_SYNTAX@${loc(src, ')')}`]);
    const open = `${HEAD}rule r { when "😀" == "😀"`;
    expect(codes(compile(open))).toEqual([`E_SYNTAX@2:25`]);
  });

  it('a diagnostic inside a string literal points at the escape or character, not the quote', () => {
    const bad = `${HEAD}const s = "😀 ok \\q"\nrule r {\n  when geo.city == s\n  then block\n}\n`;
    expect(codes(compile(bad))).toEqual([`E_LITERAL@${loc(bad, '\\q')}`]);
    const u = `${HEAD}const s = "a\\u{D800}b\\u12"\nrule r {\n  when geo.city == s\n  then block\n}\n`;
    expect(codes(compile(u))).toEqual([`E_LITERAL@${loc(u, '\\u{D800}')}`, `E_LITERAL@${loc(u, '\\u12')}`]);
    const tpl = `${HEAD}rule r {\n  when true\n  score 1\n  reason "😀 {geo.contry} and }"\n}\n`;
    expect(codes(compile(tpl))).toEqual([`E_SYNTAX@${loc(tpl, '}"')}`]);
    const name = `${HEAD}rule r {\n  when true\n  score 1\n  reason "😀 {geo.contry}"\n}\n`;
    expect(codes(compile(name))).toEqual([`E_UNKNOWN_NAME@${loc(name, 'geo.contry')}`]);
  });
});

describe('rendering follows code-point columns', () => {
  it('the caret sits under the offending token after an emoji and a tab', () => {
    const src = `${HEAD}rule r {\n\twhen ua.browser == "😀" and zzz\n\tthen block\n}\n`;
    const r = compile(src);
    expect(codes(r)).toEqual(['E_UNKNOWN_NAME@3:29']);
    const lines = renderDiagnostics(r.diagnostics, new Map([['main.rules', src]])).split('\n');
    expect(lines[0]).toMatch(/^main\.rules:3:29: error\[E_UNKNOWN_NAME\]/);
    expect(lines[1]).toBe(' 3 | \twhen ua.browser == "😀" and zzz');
    expect(lines[2]).toBe(`   | \t${' '.repeat(27)}^^^`);
  });
});

describe('functions', () => {
  it('hours() and days() return fractions', () => {
    expect(holds('hours(user.age) == 1.5', { 'user.age': 5400 })).toBe(true);
    expect(holds('days(user.age) == 0.25', { 'user.age': 21600 })).toBe(true);
  });

  it('len counts code points', () => {
    expect(holds('len(ua.browser) == 2', { 'ua.browser': '😀a' })).toBe(true);
  });

  it('lower and upper follow Unicode', () => {
    expect(holds('lower(geo.city) == "ärger éclair"', { 'geo.city': 'ÄRGER ÉCLAIR' })).toBe(true);
    expect(holds('upper(geo.city) == "STRASSE"', { 'geo.city': 'straße' })).toBe(true);
  });
});

describe('declarations', () => {
  it('a declaration lies within one file: one split across files is E_SYNTAX where the first ends', () => {
    const a = `${HEAD}rule r {\n  when geo.tor\n`;
    const r = compile({ 'a.rules': a, 'b.rules': '  then block\n}\n' });
    expect(r.diagnostics.map((d) => `${d.code}@${d.span.file}:${d.span.line}:${d.span.col}`)).toEqual(['E_SYNTAX@a.rules:4:1']);
  });

  it('an empty list literal takes its type from the other side of `in`', () => {
    expect(holds('geo.country in []', { 'geo.country': 'GB' })).toBe(false);
    expect(holds('geo.country not in []', { 'geo.country': 'GB' })).toBe(true);
    expect(holds('ip.address not in []', { 'ip.address': '10.0.0.1' })).toBe(true);
    expect(holds('user.age not in []', { 'user.age': 60 })).toBe(true);
  });

  it('tags are any identifiers, keywords included', () => {
    const src = `${HEAD}rule r {\n  when true\n  score 1\n  tags block, ato, when, score\n}\n`;
    const pack = build(src);
    const out = evaluateRecord(pack, 'login', {}, { scheme: VIGIL_SCHEME });
    expect(out.ok && out.decision.rules[0]!.tags).toEqual(['block', 'ato', 'when', 'score']);
  });

  it('`on` or `policy` naming an unknown event type is E_UNKNOWN_NAME at the name', () => {
    const on = `${HEAD}rule r {\n  on login, logout\n  when true\n  then block\n}\n`;
    expect(codes(compile(on))).toEqual([`E_UNKNOWN_NAME@${loc(on, 'logout')}`]);
    const pol = `${HEAD}policy logout {\n  block when score >= 90\n}\n`;
    expect(codes(compile(pol))).toEqual([`E_UNKNOWN_NAME@${loc(pol, 'logout')}`]);
  });

  it('a const or list used only by a policy or a test counts as used', () => {
    const src = `${HEAD}const high = 90\nconst asn = 9009\nlist corp: ip = ["10.0.0.0/8"]\nconst idle = 1\n` +
      `rule r {\n  when geo.tor\n  score 50\n}\n` +
      `policy {\n  block when score >= high\n  allow when ip.address in corp\n}\n` +
      `test "t" {\n  given { geo.asn: asn }\n  expect allow\n}\n`;
    expect(codes(compile(src))).toEqual([`W_UNUSED@${loc(src, 'idle')}`]);
  });

  it('`expect matched` counts shadow rules too', () => {
    const src = `${HEAD}rule s {\n  when geo.tor\n  then block\n  mode shadow\n}\n` +
      `test "shadow fires" {\n  given { geo.tor: true }\n  expect allow\n  expect matched s\n}\n` +
      `test "shadow quiet" {\n  given { geo.tor: false }\n  expect not matched s\n}\n`;
    const report = compile(src).runTests();
    expect(report).toMatchObject({ passed: 2, failed: 0 });
  });
});

describe('W_UNREACHABLE', () => {
  it('is reported where the later line implies an earlier one on `score` alone', () => {
    const src = `${HEAD}policy {\n  step_up when score >= 50\n  block when score >= 90 and geo.tor\n}\n`;
    expect(codes(compile(src))).toEqual([`W_UNREACHABLE@${loc(src, 'block')}`]);
    const flipped = `${HEAD}policy login {\n  step_up when 50 <= score\n  block when (score > 60)\n}\n`;
    expect(codes(compile(flipped))).toEqual([`W_UNREACHABLE@${loc(flipped, 'block')}`]);
  });

  it('is not reported when an earlier line also needs a feature', () => {
    const src = `${HEAD}policy {\n  block when score >= 90 and geo.tor\n  step_up when score >= 90\n}\n`;
    expect(codes(compile(src))).toEqual([]);
  });
});
