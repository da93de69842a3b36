// A pattern's ReDoS analysis done once per pack, whatever the thread: a compilation records the
// patterns it found safe (recordSafePatterns), and a second compilation of the same pack elsewhere
// takes them as proven (withProvenSafePatterns) instead of analysing them again. The cheap checks
// still run, and a proven verdict never enters the cache.
import { describe, expect, it } from 'vitest';
import { compileSafeRegex, recordSafePatterns, withProvenSafePatterns } from '../../dsl/regex.ts';

const tag = `p${process.pid}x${Date.now().toString(36)}`;

describe('patterns proven safe by another compilation', () => {
  it('recordSafePatterns lists the safe patterns a compilation met, cached or fresh, and no unsafe one', () => {
    const safe = `^${tag}[a-z]+$`;
    compileSafeRegex(safe); // cached now: still listed when met again
    const { result, safe: listed } = recordSafePatterns(() => [compileSafeRegex(safe), compileSafeRegex(`^${tag}(a+)+$`), compileSafeRegex(`(?i)^${tag}x{1,3}$`)]);
    expect(result.map((r) => r.ok)).toEqual([true, false, true]);
    expect(listed.sort()).toEqual([safe, `(?i)^${tag}x{1,3}$`].sort());
  });

  it('withProvenSafePatterns skips the analysis for those patterns only, without caching the verdict', () => {
    // Exponential: the analysis refuses it, so only a skipped analysis accepts it.
    const bomb = `^${tag}(b+)+$`;
    const trusted = withProvenSafePatterns([bomb], () => compileSafeRegex(bomb));
    expect(trusted.ok).toBe(true);
    expect(trusted.ok && trusted.test(`${tag}bbb`)).toBe(true);
    expect(compileSafeRegex(bomb)).toMatchObject({ ok: false, unsafe: true });
    // The cheap refusals are not skipped.
    expect(withProvenSafePatterns(['(a)\\1'], () => compileSafeRegex('(a)\\1'))).toMatchObject({ ok: false, reason: expect.stringMatching(/backreferences/) });
    expect(withProvenSafePatterns(['x'.repeat(2000)], () => compileSafeRegex('x'.repeat(2000)))).toMatchObject({ ok: false });
  });
});
