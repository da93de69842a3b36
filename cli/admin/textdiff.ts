// A unified text diff (`diff -u` format: `---`/`+++` labels, `@@ -a,b +c,d @@` hunks with three
// lines of context) for `vigil pack diff`. Lines are matched by a longest common subsequence of
// what lies between the common head and tail; a middle too large for the quadratic table is shown
// as removed then added, which is correct, only less tight.

type Op = { readonly kind: ' ' | '-' | '+'; readonly text: string };

/** Cells of the LCS table above which the middle is shown as one replacement. */
const MAX_CELLS = 4_000_000;

/** Marks a last line without a newline: it differs from the same text with one, as in diff. */
const NO_NEWLINE = '\u0000';

function splitLines(text: string): string[] {
  if (text === '') return [];
  if (text.endsWith('\n')) return text.slice(0, -1).split('\n');
  const lines = text.split('\n');
  lines[lines.length - 1] += NO_NEWLINE;
  return lines;
}

function lcsOps(a: readonly string[], b: readonly string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const ops: Op[] = a.slice(0, head).map((text) => ({ kind: ' ' as const, text }));
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const n = am.length;
  const m = bm.length;
  if ((n + 1) * (m + 1) > MAX_CELLS) {
    for (const text of am) ops.push({ kind: '-', text });
    for (const text of bm) ops.push({ kind: '+', text });
  } else {
    // len[i][j]: LCS length of am[i..] and bm[j..].
    const w = m + 1;
    const len = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        len[i * w + j] = am[i] === bm[j] ? len[(i + 1) * w + j + 1]! + 1 : Math.max(len[(i + 1) * w + j]!, len[i * w + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        ops.push({ kind: ' ', text: am[i]! });
        i++;
        j++;
      } else if (j >= m || (i < n && len[(i + 1) * w + j]! >= len[i * w + j + 1]!)) {
        ops.push({ kind: '-', text: am[i]! });
        i++;
      } else {
        ops.push({ kind: '+', text: bm[j]! });
        j++;
      }
    }
  }
  for (const text of a.slice(a.length - tail)) ops.push({ kind: ' ', text });
  return ops;
}

function range(start: number, count: number): string {
  // diff -u: an empty side names the line before it; a count of one is left out.
  const first = count === 0 ? start : start + 1;
  return count === 1 ? String(first) : `${first},${count}`;
}

/**
 * The unified diff turning `before` into `after`, labelled `fromLabel`/`toLabel`; '' when they are
 * equal. `null` for a side means the file does not exist there (`/dev/null`).
 */
export function unifiedDiff(before: string | null, after: string | null, fromLabel: string, toLabel: string, context = 3): string {
  if (before === after) return '';
  const ops = lcsOps(splitLines(before ?? ''), splitLines(after ?? ''));
  const out: string[] = [`--- ${before === null ? '/dev/null' : fromLabel}`, `+++ ${after === null ? '/dev/null' : toLabel}`];
  const changed = ops.map((o) => o.kind !== ' ');
  if (!changed.includes(true)) return '';
  let k = 0;
  // Line numbers (0-based) of ops[k] in a and b.
  const posA: number[] = [];
  const posB: number[] = [];
  let pa = 0;
  let pb = 0;
  for (const o of ops) {
    posA.push(pa);
    posB.push(pb);
    if (o.kind !== '+') pa++;
    if (o.kind !== '-') pb++;
  }
  while (k < ops.length) {
    if (!changed[k]) {
      k++;
      continue;
    }
    const start = Math.max(0, k - context);
    let end = k;
    // Extend while the next change lies within 2 * context unchanged lines.
    for (;;) {
      while (end < ops.length && changed[end]) end++;
      let next = end;
      while (next < ops.length && !changed[next]) next++;
      if (next < ops.length && next - end <= 2 * context) end = next;
      else break;
    }
    const stop = Math.min(ops.length, end + context);
    const hunk = ops.slice(start, stop);
    const countA = hunk.filter((o) => o.kind !== '+').length;
    const countB = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${range(posA[start]!, countA)} +${range(posB[start]!, countB)} @@`);
    for (let x = start; x < stop; x++) {
      const o = ops[x]!;
      if (o.text.endsWith(NO_NEWLINE)) out.push(`${o.kind}${o.text.slice(0, -1)}`, '\\ No newline at end of file');
      else out.push(`${o.kind}${o.text}`);
    }
    k = stop;
  }
  return `${out.join('\n')}\n`;
}
