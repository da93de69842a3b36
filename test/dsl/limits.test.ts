// dsl/limits.ts: the one set of limits, the validation of overrides (an unknown key or a value that
// is not a positive integer is LimitsError E_BAD_LIMITS), and that every pass reads the resolved
// object compilePack hands it.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, LimitsError, compilePack, packFromFiles, resolveLimits, type Limits } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';

const HEAD = 'pack t version 1\n';

function codes(text: string, limits?: Partial<Limits>): string[] {
  const r = compilePack(packFromFiles({ 'main.rules': text }), { scheme: VIGIL_SCHEME, limits });
  return r.diagnostics.map((d) => `${d.code}@${d.span.line}:${d.span.col}`);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('DEFAULT_LIMITS', () => {
  it('covers every limit of the lexer, parser and checker, and is frozen', () => {
    expect(DEFAULT_LIMITS).toEqual({
      maxRules: 5000,
      maxDepth: 64,
      maxStringLength: 10_000,
      maxListEntries: 1_000_000,
      maxFileBytes: 4 * 1024 * 1024,
      maxPatternLength: 1000,
    });
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
  });
});

describe('resolveLimits', () => {
  it('is DEFAULT_LIMITS without overrides, and overrides them one by one', () => {
    expect(resolveLimits()).toBe(DEFAULT_LIMITS);
    expect(resolveLimits({})).toEqual(DEFAULT_LIMITS);
    expect(resolveLimits({ maxDepth: 8 })).toEqual({ ...DEFAULT_LIMITS, maxDepth: 8 });
    expect(Object.isFrozen(resolveLimits({ maxDepth: 8 }))).toBe(true);
  });

  it('keeps the default of a key given as undefined', () => {
    expect(resolveLimits({ maxRules: undefined, maxDepth: 3 })).toEqual({ ...DEFAULT_LIMITS, maxDepth: 3 });
  });

  it.each([
    ['an unknown key', { maxDepht: 3 }],
    ['zero', { maxDepth: 0 }],
    ['a negative value', { maxRules: -1 }],
    ['a fraction', { maxStringLength: 2.5 }],
    ['NaN', { maxFileBytes: Number.NaN }],
    ['Infinity', { maxListEntries: Number.POSITIVE_INFINITY }],
    ['a string', { maxDepth: '64' }],
    ['null', { maxDepth: null }],
  ])('refuses %s with LimitsError E_BAD_LIMITS', (_, partial) => {
    const e = thrown(() => resolveLimits(partial as Partial<Limits>));
    expect(e).toBeInstanceOf(LimitsError);
    expect((e as LimitsError).code).toBe('E_BAD_LIMITS');
  });

  it('refuses anything but an object', () => {
    for (const bad of [null, 3, 'x', [1]]) {
      expect((thrown(() => resolveLimits(bad as unknown as Partial<Limits>)) as LimitsError).code).toBe('E_BAD_LIMITS');
    }
  });
});

describe('compilePack uses the resolved limits', () => {
  it('throws LimitsError for bad limits instead of compiling', () => {
    const e = thrown(() => compilePack(packFromFiles({ 'main.rules': HEAD }), { scheme: VIGIL_SCHEME, limits: { maxRules: 0 } }));
    expect(e).toBeInstanceOf(LimitsError);
  });

  it('hands every pass the same limits: parser (depth, strings, file size), checker (rules, lists, patterns)', () => {
    const rule = (cond: string) => `${HEAD}rule r {\n  when ${cond}\n  then block\n}\n`;
    expect(codes(rule('((geo.tor))'), { maxDepth: 2 })).toEqual(['E_LIMIT@3:10']);
    expect(codes(rule('geo.city == "abcd"'), { maxStringLength: 3 })).toEqual(['E_LIMIT@3:20']);
    expect(codes(rule('geo.tor'), { maxFileBytes: 16 })).toEqual(['E_LIMIT@1:1']);
    expect(codes(`${HEAD}rule a {\n  when true\n  score 1\n}\nrule b {\n  when true\n  score 1\n}\n`, { maxRules: 1 })).toEqual(['E_LIMIT@6:6']);
    expect(codes(rule('geo.asn in [1, 2, 3]'), {})).toEqual([]);
    expect(codes(`${HEAD}list l: number = [1, 2, 3]\n${rule('geo.asn in l').slice(HEAD.length)}`, { maxListEntries: 2 })).toEqual(['E_LIMIT@2:18']);
    expect(codes(rule('ua.browser matches "abcdef"'), { maxPatternLength: 5 })).toEqual(['E_REGEX@3:27']);
    expect(codes(rule('ua.browser matches "abcde"'), { maxPatternLength: 5 })).toEqual([]);
  });
});
