// Safe regular expressions for `matches`: compileSafeRegex proves at compile time that a pattern
// cannot backtrack super-linearly, so no ReDoS reaches evaluation (dsl.md §3).
//
// Semantics (dsl.md §3, v1.1; docs/dsl.md §7): JavaScript RegExp syntax in its Unicode mode (the `u`
// flag: `.` and a class match one code point), case-sensitive, an unanchored search (`s matches
// "bot"` holds when "bot" occurs anywhere; anchor with ^ and $). A leading `(?i)` makes the whole
// pattern case-insensitive (the `i` flag, with Unicode case folding); it is the only inline flag.
//
// Verdicts, in order:
//  1. Longer than the pattern-length limit → unsafe (refused rather than risk a slow analysis).
//  2. Backreferences (`\1`, `\k<name>`), lookarounds (`(?=`, `(?!`, `(?<=`, `(?<!`) and inline flags
//     other than a leading `(?i)` → unsafe, outright, with the construct's position: matching with
//     backreferences or lookarounds is not a regular language (the automaton analysis below does not
//     account for them), and JavaScript has no inline flags.
//  3. `new RegExp(pattern, flags)` throws → invalid (ok:false, unsafe:false).
//  4. recheck's automaton checker (https://makenowjust-labs.github.io/recheck/) must answer `safe`;
//     `vulnerable` (exponential or polynomial) → unsafe; `unknown` (timeout, unsupported) → unsafe
//     too, since safety was not proven.
// recheck runs synchronously through its `checkSync` (a worker thread driving the native
// recheck-linux-x64 agent when installed, else the JVM, else its Scala.js build);
// RECHECK_SYNC_BACKEND=pure forces the in-process Scala.js build. Verdicts are cached by pattern.
//
// A pack checked in one thread and compiled again in another (the server checks uploads in a
// worker thread, engine/packs/checker.ts) must not pay for the analysis twice, on the thread that
// can least afford it: `recordSafePatterns` lists the patterns a compilation found safe, and
// `withProvenSafePatterns` lets the second compilation take them as proven (step 4 skipped; the
// cheap steps 1-3 still run). Such verdicts are never cached.
import { createRequire } from 'node:module';
import type * as Recheck from 'recheck';
import { errorMessage } from '../common/errors.ts';
import { DEFAULT_LIMITS } from './limits.ts';

export type SafeRegexResult =
  | { ok: true; test: (s: string) => boolean }
  /** `at`: where in the pattern the refused construct is (`[from, to)`), when there is one place. */
  | { ok: false; reason: string; unsafe: boolean; at?: { from: number; to: number } };

/** The default longest pattern analysed (Limits.maxPatternLength). */
export const MAX_PATTERN_LENGTH = DEFAULT_LIMITS.maxPatternLength;
/** recheck's budget for one pattern, in ms. */
const CHECK_TIMEOUT_MS = 5000;
/** Verdicts kept; packs are re-validated on every upload, so the cache must not grow without bound. */
const CACHE_LIMIT = 2000;
const CASE_INSENSITIVE = '(?i)';

const cache = new Map<string, SafeRegexResult>();
/** Set while `withProvenSafePatterns` runs: patterns another compilation of the same pack proved safe. */
let provenSafe: ReadonlySet<string> | null = null;
/** Set while `recordSafePatterns` runs: the patterns found safe so far. */
let recorded: Set<string> | null = null;

/** Run `fn` (a compilation) and list the `matches` patterns it found safe. */
export function recordSafePatterns<T>(fn: () => T): { result: T; safe: string[] } {
  const outer = recorded;
  const mine = new Set<string>();
  recorded = mine;
  try {
    return { result: fn(), safe: [...mine] };
  } finally {
    recorded = outer;
  }
}

/**
 * Run `fn` (a compilation) taking `patterns` as proven safe by the automaton analysis: what
 * `recordSafePatterns` listed for the same pack in another thread. Only that source may be trusted.
 */
export function withProvenSafePatterns<T>(patterns: Iterable<string>, fn: () => T): T {
  const outer = provenSafe;
  provenSafe = new Set(patterns);
  try {
    return fn();
  } finally {
    provenSafe = outer;
  }
}

function note(pattern: string, verdict: SafeRegexResult): SafeRegexResult {
  if (verdict.ok) recorded?.add(pattern);
  return verdict;
}

// recheck is CommonJS; `createRequire` loads it lazily, so importing the DSL does not start its
// worker until the first `matches` is checked.
let checkSync: typeof Recheck.checkSync | null = null;
function recheck(): typeof Recheck.checkSync {
  if (checkSync === null) {
    const req = createRequire(import.meta.url);
    checkSync = (req('recheck') as typeof Recheck).checkSync;
  }
  return checkSync;
}

export function compileSafeRegex(pattern: string, maxLength = MAX_PATTERN_LENGTH): SafeRegexResult {
  // The length check comes first and outside the cache: the verdict of the analysis does not depend
  // on the limit, whether it runs does.
  if (pattern.length > maxLength) {
    return { ok: false, reason: `pattern longer than ${maxLength} characters`, unsafe: true };
  }
  const hit = cache.get(pattern);
  if (hit) return note(pattern, hit);
  if (provenSafe?.has(pattern) === true) return note(pattern, analyse(pattern, true));
  const verdict = analyse(pattern, false);
  if (cache.size >= CACHE_LIMIT) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(pattern, verdict);
  return note(pattern, verdict);
}

/** `proven`: the automaton analysis already answered `safe` for this pattern (see above). */
function analyse(pattern: string, proven: boolean): SafeRegexResult {
  const insensitive = pattern.startsWith(CASE_INSENSITIVE);
  const offset = insensitive ? CASE_INSENSITIVE.length : 0;
  const body = pattern.slice(offset);
  const flags = insensitive ? 'iu' : 'u';
  const refused = refusedConstruct(body);
  if (refused) {
    return { ok: false, reason: `${refused.what} are not allowed`, unsafe: true, at: { from: refused.from + offset, to: refused.to + offset } };
  }
  let re: RegExp;
  try {
    re = new RegExp(body, flags);
  } catch (e) {
    return { ok: false, reason: errorMessage(e), unsafe: false };
  }
  if (proven) return { ok: true, test: (s: string) => re.test(s) };
  let d: Recheck.Diagnostics;
  try {
    d = recheck()(body, flags, { checker: 'automaton', timeout: CHECK_TIMEOUT_MS });
  } catch (e) {
    return { ok: false, reason: `the ReDoS checker failed: ${errorMessage(e)}`, unsafe: true };
  }
  switch (d.status) {
    case 'safe':
      // RegExp#test on a non-global, non-sticky regex keeps no state, so one instance is shared.
      return { ok: true, test: (s: string) => re.test(s) };
    case 'vulnerable':
      return {
        ok: false,
        reason: `can backtrack in ${d.complexity.type} time (${d.complexity.summary}); e.g. on ${JSON.stringify(d.attack.pattern)}`,
        unsafe: true,
      };
    case 'unknown': {
      const err = d.error;
      const why = err.kind === 'timeout' || err.kind === 'cancel' ? err.kind : `${err.kind}: ${err.message}`;
      return { ok: false, reason: `could not be proven safe (${why})`, unsafe: true };
    }
  }
}

/**
 * The first backreference, lookaround or inline flag group outside a character class, named for a
 * message with its place, or null. Escapes are skipped pairwise so `\\1` (a backslash then "1") is
 * not mistaken for `\1`.
 */
function refusedConstruct(p: string): { what: string; from: number; to: number } | null {
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      const next = p[i + 1] ?? '';
      if (!inClass && next >= '1' && next <= '9') return { what: 'backreferences', from: i, to: i + 2 };
      if (!inClass && next === 'k' && p[i + 2] === '<') return { what: 'backreferences', from: i, to: i + 2 };
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(' && p[i + 1] === '?') {
      const a = p[i + 2] ?? '';
      const b = p[i + 3];
      if (a === '=' || a === '!') return { what: 'lookarounds', from: i, to: i + 3 };
      if (a === '<' && (b === '=' || b === '!')) return { what: 'lookarounds', from: i, to: i + 4 };
      if (/^[a-zA-Z-]$/.test(a)) {
        const close = p.indexOf(')', i);
        return { what: 'inline flags (only a leading `(?i)`)', from: i, to: close < 0 ? i + 3 : close + 1 };
      }
    }
  }
  return null;
}
