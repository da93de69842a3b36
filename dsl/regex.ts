// Safe regular expressions for `matches`: compileSafeRegex proves at compile time that a pattern
// cannot backtrack super-linearly, so no ReDoS reaches evaluation (dsl.md §3).
//
// Semantics (to be copied into docs/dsl.md): JavaScript RegExp syntax, no flags — case-sensitive,
// unanchored search (`s matches "bot"` holds when "bot" occurs anywhere; anchor with ^ and $).
//
// Verdicts, in order:
//  1. `new RegExp(pattern)` throws → invalid (ok:false, unsafe:false).
//  2. Backreferences (`\1`, `\k<name>`) and lookarounds (`(?=`, `(?!`, `(?<=`, `(?<!`) → unsafe,
//     outright: matching with them is not a regular language, and the automaton analysis below does
//     not account for them.
//  3. recheck's automaton checker (https://makenowjust-labs.github.io/recheck/) must answer `safe`;
//     `vulnerable` (exponential or polynomial) → unsafe; `unknown` (timeout, unsupported) → unsafe
//     too, since safety was not proven.
// recheck runs synchronously through its `checkSync` (a worker thread driving the native
// recheck-linux-x64 agent when installed, else the JVM, else its Scala.js build);
// RECHECK_SYNC_BACKEND=pure forces the in-process Scala.js build. Verdicts are cached by pattern.
import { createRequire } from 'node:module';
import type * as Recheck from 'recheck';

export type SafeRegexResult = { ok: true; test: (s: string) => boolean } | { ok: false; reason: string; unsafe: boolean };

/** Longest pattern analysed; longer ones are refused rather than risk a slow analysis. */
export const MAX_PATTERN_LENGTH = 1000;
/** recheck's budget for one pattern, in ms. */
const CHECK_TIMEOUT_MS = 5000;
/** Verdicts kept; packs are re-validated on every upload, so the cache must not grow without bound. */
const CACHE_LIMIT = 2000;

const cache = new Map<string, SafeRegexResult>();

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

export function compileSafeRegex(pattern: string): SafeRegexResult {
  const hit = cache.get(pattern);
  if (hit) return hit;
  const verdict = analyse(pattern);
  if (cache.size >= CACHE_LIMIT) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(pattern, verdict);
  return verdict;
}

function analyse(pattern: string): SafeRegexResult {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e), unsafe: false };
  }
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return { ok: false, reason: `pattern longer than ${MAX_PATTERN_LENGTH} characters`, unsafe: true };
  }
  const feature = nonRegularFeature(pattern);
  if (feature) return { ok: false, reason: `${feature} are not allowed`, unsafe: true };
  let d: Recheck.Diagnostics;
  try {
    d = recheck()(pattern, '', { checker: 'automaton', timeout: CHECK_TIMEOUT_MS });
  } catch (e) {
    return { ok: false, reason: `the ReDoS checker failed: ${e instanceof Error ? e.message : String(e)}`, unsafe: true };
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
 * The first backreference or lookaround outside a character class, named for a message, or null.
 * Escapes are skipped pairwise so `\\1` (a backslash then "1") is not mistaken for `\1`.
 */
function nonRegularFeature(p: string): string | null {
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      const next = p[i + 1] ?? '';
      if (!inClass && next >= '1' && next <= '9') return 'backreferences';
      if (!inClass && next === 'k' && p[i + 2] === '<') return 'backreferences';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(' && p[i + 1] === '?') {
      const a = p[i + 2];
      const b = p[i + 3];
      if (a === '=' || a === '!' || (a === '<' && (b === '=' || b === '!'))) return 'lookarounds';
    }
  }
  return null;
}
