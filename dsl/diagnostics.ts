// The rules language's error registry: every diagnostic code, its default severity, and the one
// renderer that prints diagnostics as dsl.md §5 specifies (`file:LINE:COL: error[CODE]: message`,
// then the source line and a caret). Tests assert codes and positions, never wording.
import type { Span } from './ast.ts';

export const DIAGNOSTIC_CODES = {
  E_SYNTAX: 'lexing or parsing failed, or the input ended early',
  E_HEADER: 'missing, duplicate or misplaced `pack` header',
  E_UNKNOWN_NAME: 'a feature, const, list or function that does not exist',
  E_TYPE: 'operand, argument, condition or list element of the wrong type',
  E_DUPLICATE: 'a rule, list, const, policy or clause declared twice',
  E_LITERAL: 'a bad number, duration, IP/CIDR, score out of range, or escape',
  E_REGEX: 'an invalid or unsafe regular expression',
  E_LIST_SOURCE: 'a `file` list that cannot be read or leaves the pack directory; a bad entry in it',
  E_RULE: 'a rule with no `when`, or with neither `then` nor `score`',
  E_LIMIT: 'a pack exceeds a size limit (rules, nesting depth, string length, list size)',
  W_UNUSED: 'a const or list that no rule uses',
  W_UNREACHABLE: 'a policy line that can never apply after an earlier one',
  E_TEST: 'a test naming an unknown feature, event type or rule, or a `given` value of the wrong type',
  E_NOTICE: 'a `notice` code that is not in the catalogue (dsl.md §7)',
} as const;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;
export type Severity = 'error' | 'warning';

export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  /** Extra guidance printed under the caret, e.g. "did you mean `geo.country`?". */
  readonly hint?: string;
}

export function severityOf(code: DiagnosticCode): Severity {
  return code.startsWith('W_') ? 'warning' : 'error';
}

export function diag(code: DiagnosticCode, span: Span, message: string, hint?: string): Diagnostic {
  return hint === undefined
    ? { code, severity: severityOf(code), message, span }
    : { code, severity: severityOf(code), message, span, hint };
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

/** Order diagnostics by file, then position, so output is stable whatever order passes ran in. */
export function sortDiagnostics(diags: readonly Diagnostic[]): Diagnostic[] {
  return [...diags].sort(
    (a, b) =>
      (a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : 0) ||
      a.span.offset - b.span.offset ||
      (a.code < b.code ? -1 : a.code > b.code ? 1 : 0),
  );
}

/**
 * Render one diagnostic:
 *
 *   rules/x.rules:3:8: error[E_UNKNOWN_NAME]: unknown feature `geo.contry`
 *     3 | when geo.contry == "BR"
 *       |      ^^^^^^^^^^
 *     = hint: did you mean `geo.country`?
 *
 * `source` is the text of `d.span.file` (absent: the location line alone is printed).
 */
export function renderDiagnostic(d: Diagnostic, source?: string, displayPath?: string): string {
  const path = displayPath ?? d.span.file;
  let out = `${path}:${d.span.line}:${d.span.col}: ${d.severity}[${d.code}]: ${d.message}`;
  if (source !== undefined) {
    // Columns count code points, so the line and the caret are found from the offset.
    const offset = Math.min(d.span.offset, source.length);
    const lineStart = offset === 0 ? 0 : source.lastIndexOf('\n', offset - 1) + 1;
    let lineEnd = source.indexOf('\n', offset);
    if (lineEnd < 0) lineEnd = source.length;
    const text = source.slice(lineStart, lineEnd).replace(/\r$/, '');
    const num = String(d.span.line);
    const pad = ' '.repeat(num.length);
    const width = Math.max(1, [...source.slice(offset, Math.min(d.span.end, lineEnd))].length);
    // A tab stays a tab, so the caret lines up whatever the terminal's tab width.
    const lead = [...source.slice(lineStart, offset)].map((c) => (c === '\t' ? '\t' : ' ')).join('');
    out += `\n ${num} | ${text}\n ${pad} | ${lead}${'^'.repeat(width)}`;
    if (d.hint) out += `\n ${pad} = hint: ${d.hint}`;
  } else if (d.hint) {
    out += `\n  = hint: ${d.hint}`;
  }
  return out;
}

/** Render many diagnostics, looking each file's source up in `sources` (path → text). */
export function renderDiagnostics(
  diags: readonly Diagnostic[],
  sources: ReadonlyMap<string, string> | ((file: string) => string | undefined),
  displayPath?: (file: string) => string,
): string {
  const lookup = typeof sources === 'function' ? sources : (f: string) => sources.get(f);
  return sortDiagnostics(diags)
    .map((d) => renderDiagnostic(d, lookup(d.span.file), displayPath?.(d.span.file)))
    .join('\n');
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diagPrev = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diagPrev + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagPrev = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within a distance proportional to the name's length, if any. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}
