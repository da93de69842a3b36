// Tests for dsl/regex.ts: ReDoS-prone patterns are refused as unsafe, backreferences, lookarounds
// and inline flags (but a leading `(?i)`) outright with their place, invalid syntax as invalid;
// accepted patterns match as an unanchored, case-sensitive JavaScript search in Unicode mode;
// verdicts are cached.
import { describe, expect, it } from 'vitest';
import { MAX_PATTERN_LENGTH, compileSafeRegex } from '../../dsl/regex.ts';

function accepted(pattern: string): (s: string) => boolean {
  const r = compileSafeRegex(pattern);
  if (!r.ok) throw new Error(`expected ${pattern} to be accepted: ${r.reason}`);
  return r.test;
}

describe('compileSafeRegex', () => {
  it.each([
    ['(a+)+$'],
    ['(a|a)*b'],
    ['^(\\w+\\s?)*$'],
    ['(.*a){12}'],
    ['\\d*\\d*x'],
    ['^(a|aa)+$'],
    ['\\s+$'],
  ])('refuses the super-linear pattern %s as unsafe', (pattern) => {
    const r = compileSafeRegex(pattern);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.unsafe).toBe(true);
  });

  it.each([['(a)\\1'], ['(?<w>a)\\k<w>'], ['a(?=b)'], ['a(?!b)'], ['(?<=a)b'], ['(?<!a)b']])(
    'refuses the backreference or lookaround in %s outright',
    (pattern) => {
      const r = compileSafeRegex(pattern);
      expect(r).toMatchObject({ ok: false, unsafe: true });
    },
  );

  it.each([['('], ['[a-'], ['a{2,1}'], ['*a'], ['\\'], ['\\-']])('refuses the invalid pattern %j as invalid, not unsafe', (pattern) => {
    const r = compileSafeRegex(pattern);
    expect(r).toMatchObject({ ok: false, unsafe: false });
  });

  it('accepts ordinary patterns and matches them as a JavaScript search', () => {
    const email = accepted('^[a-z0-9._%+-]+@corp\\.example$');
    expect(email('alice.b+tag@corp.example')).toBe(true);
    expect(email('alice@corp.example.evil')).toBe(false);
    expect(email('alice@corpxexample')).toBe(false);

    const bot = accepted('^bot-\\d{3}$');
    expect(bot('bot-007')).toBe(true);
    expect(bot('bot-0071')).toBe(false);
    expect(bot('robot-007')).toBe(false);

    // Unanchored and case-sensitive.
    const curl = accepted('curl/');
    expect(curl('Mozilla curl/8.1')).toBe(true);
    expect(curl('CURL/8.1')).toBe(false);

    const agents = accepted('^(python-requests|Go-http-client|okhttp)/');
    expect(agents('python-requests/2.31')).toBe(true);
    expect(agents('Mozilla/5.0 python-requests/2.31')).toBe(false);
  });

  it('a leading `(?i)` makes the whole pattern case-insensitive', () => {
    const curl = accepted('(?i)^curl/');
    expect(curl('CURL/8')).toBe(true);
    expect(curl('Curl/8')).toBe(true);
    expect(curl('wget')).toBe(false);
  });

  it('`.` and classes match one code point (Unicode mode)', () => {
    expect(accepted('^.$')('😀')).toBe(true);
    expect(accepted('^[^a]$')('😀')).toBe(true);
    expect(accepted('^.$')('ab')).toBe(false);
  });

  it.each([
    ['ab(?=c)', 2, 5],
    ['(?<!a)b', 0, 4],
    ['(a)\\1', 3, 5],
    ['a(?i)b', 1, 5],
    ['(?s)a.b', 0, 4],
    ['(?i)(?m)a', 4, 8],
  ])('refuses %j with the place of the construct', (pattern, from, to) => {
    expect(compileSafeRegex(pattern)).toMatchObject({ ok: false, unsafe: true, at: { from, to } });
  });

  it('does not mistake escaped backslashes or class members for backreferences or lookarounds', () => {
    expect(accepted('a\\\\1')('a\\1')).toBe(true);
    expect(accepted('[(?=]x')('=x')).toBe(true);
    expect(accepted('(?<name>ab)c')('abc')).toBe(true);
    expect(accepted('^(?:ab)+c')('ababc')).toBe(true);
  });

  it('refuses overlong patterns as unsafe', () => {
    expect(compileSafeRegex('a'.repeat(MAX_PATTERN_LENGTH + 1))).toMatchObject({ ok: false, unsafe: true });
  });

  it('caches verdicts by pattern', () => {
    const a = compileSafeRegex('^cache-me-[0-9]+$');
    const b = compileSafeRegex('^cache-me-[0-9]+$');
    expect(b).toBe(a);
    const bad = compileSafeRegex('(x+)+y');
    expect(compileSafeRegex('(x+)+y')).toBe(bad);
  });

  it('keeps working on long inputs in linear time for accepted patterns', () => {
    const test = accepted('^[a-z]+@[a-z]+\\.example$');
    const long = 'a'.repeat(200_000) + '!';
    expect(test(long)).toBe(false);
  });
});
