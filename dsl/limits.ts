// The one set of limits of the rules language (docs/dsl.md §13): what the lexer, the parser and the
// checker refuse as too big, with E_LIMIT (or E_REGEX for a pattern). Every limit lives here, with
// its default; a compilation resolves a partial override once (resolveLimits) and hands the same
// object to every pass, so no pass keeps defaults of its own.
import { LimitsError } from './errors.ts';

export interface Limits {
  /** Max rules in a pack. */
  readonly maxRules: number;
  /**
   * Max nesting depth of an expression; a leaf is depth 1. A chain of one precedence level
   * (`a or b or c`, `a + b - c`) is one level, whatever its length (dsl.md §3, v1.1).
   */
  readonly maxDepth: number;
  /** Max length of a string literal, in code points after decoding escapes. */
  readonly maxStringLength: number;
  /** Max entries in one list (inline or file). */
  readonly maxListEntries: number;
  /** Max size of one source file, in UTF-8 bytes. */
  readonly maxFileBytes: number;
  /** Max length of a `matches` pattern, in UTF-16 code units (longer ones are E_REGEX). */
  readonly maxPatternLength: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxRules: 5000,
  maxDepth: 64,
  maxStringLength: 10_000,
  maxListEntries: 1_000_000,
  maxFileBytes: 4 * 1024 * 1024,
  maxPatternLength: 1000,
});

const KEYS = Object.keys(DEFAULT_LIMITS) as (keyof Limits)[];

/**
 * DEFAULT_LIMITS with `partial`'s values over them. A key given as `undefined` keeps its default
 * (so an embedder can forward optional settings as they are). Throws LimitsError (E_BAD_LIMITS) for
 * anything but an object, an unknown key, or a value that is not a positive safe integer.
 */
export function resolveLimits(partial?: Partial<Limits>): Limits {
  if (partial === undefined) return DEFAULT_LIMITS;
  if (typeof partial !== 'object' || partial === null || Array.isArray(partial)) {
    throw new LimitsError(`limits must be an object of ${KEYS.join(', ')}`);
  }
  const out: Record<keyof Limits, number> = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(partial)) {
    if (!(KEYS as string[]).includes(key)) {
      throw new LimitsError(`unknown limit \`${key}\` (known: ${KEYS.join(', ')})`);
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw new LimitsError(`limit \`${key}\` must be a positive integer, not ${describe(value)}`);
    }
    out[key as keyof Limits] = value;
  }
  return Object.freeze(out);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return typeof v;
}
