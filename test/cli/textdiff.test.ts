// The unified diff of `vigil pack diff`: applying its hunks to the old text gives the new text
// (property-based, lines drawn from a small alphabet so that matches abound, with and without a
// final newline), hunks are `diff -u` shaped, and the edge cases (equal, new, deleted, a missing
// final newline) print as diff prints them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../cli/admin/textdiff.ts';

/** Lines with their terminators: the last lacks one when the text does not end with a newline. */
function linesOf(t: string): string[] {
  return t.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** Apply a unified diff to `before`, checking every context and removed line against it. */
function apply(before: string, patch: string): string {
  const old = linesOf(before);
  const lines = linesOf(patch).map((l) => l.replace(/\n$/, ''));
  const out: string[] = [];
  let at = 0;
  const body = lines.slice(2);
  for (let i = 0; i < body.length; i++) {
    const line = body[i]!;
    const h = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$/.exec(line);
    if (h) {
      const start = Number(h[1]);
      const count = h[2] === undefined ? 1 : Number(h[2]);
      const from = count === 0 ? start : start - 1;
      while (at < from) out.push(old[at++]!);
      continue;
    }
    if (line === '\\ No newline at end of file') continue;
    const text = line.slice(1) + (body[i + 1] === '\\ No newline at end of file' ? '' : '\n');
    if (line[0] === ' ' || line[0] === '-') {
      if (old[at] !== text) throw new Error(`line ${at + 1}: expected ${JSON.stringify(text)}, found ${JSON.stringify(old[at])}`);
      at++;
    }
    if (line[0] === ' ' || line[0] === '+') out.push(text);
  }
  while (at < old.length) out.push(old[at++]!);
  return out.join('');
}

const text = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', 'c', 'rule x {', '}', ''), { maxLength: 40 }), fc.boolean())
  .map(([lines, nl]) => (lines.length === 0 ? '' : lines.join('\n') + (nl ? '\n' : '')));

describe('unifiedDiff', () => {
  it('applied to the old text, gives the new text', () => {
    fc.assert(
      fc.property(text, text, (a, b) => {
        const d = unifiedDiff(a, b, 'a/f', 'b/f');
        if (a === b) return d === '';
        return apply(a, d) === b;
      }),
      { numRuns: 2000 },
    );
  });

  it('has diff -u hunks: three lines of context, nearby changes merged, counts of one left out', () => {
    const a = 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\n';
    const b = 'a\nb\nC\nd\ne\nf\ng\nh\ni\nj\nk\nl\nM\nn\n';
    expect(unifiedDiff(a, b, 'a/m', 'b/m')).toBe(
      ['--- a/m', '+++ b/m', '@@ -1,6 +1,6 @@', ' a', ' b', '-c', '+C', ' d', ' e', ' f', '@@ -10,5 +10,5 @@', ' j', ' k', ' l', '-m', '+M', ' n', ''].join('\n'),
    );
    expect(unifiedDiff('a\nb\n', 'a\nB\nb\n', 'x', 'y')).toBe('--- x\n+++ y\n@@ -1,2 +1,3 @@\n a\n+B\n b\n');
    expect(unifiedDiff('x\n', 'y\n', 'x', 'y')).toBe('--- x\n+++ y\n@@ -1 +1 @@\n-x\n+y\n');
  });

  it('a new file, a deleted file, equal texts, a missing final newline', () => {
    expect(unifiedDiff(null, 'x\ny\n', 'a/f', 'b/f')).toBe('--- /dev/null\n+++ b/f\n@@ -0,0 +1,2 @@\n+x\n+y\n');
    expect(unifiedDiff('x\n', null, 'a/f', 'b/f')).toBe('--- a/f\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n');
    expect(unifiedDiff('same\n', 'same\n', 'a', 'b')).toBe('');
    expect(unifiedDiff('a\nb\n', 'a\nb', 'a', 'b')).toBe('--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n');
  });

  it('a middle too large for the table is shown as removed then added, still correct', () => {
    const a = Array.from({ length: 2100 }, (_, i) => `a${i}`).join('\n') + '\n';
    const b = Array.from({ length: 2100 }, (_, i) => `b${i}`).join('\n') + '\n';
    const d = unifiedDiff(`head\n${a}tail\n`, `head\n${b}tail\n`, 'x', 'y');
    expect(apply(`head\n${a}tail\n`, d)).toBe(`head\n${b}tail\n`);
  });
});
