// The rules language's public API, the only module the engine, CLI and API import from `dsl/`:
// load a pack's sources, compile them against a Scheme, run the pack's tests, evaluate a JSON
// feature record. Everything else under dsl/ is internal.
//
// compilePack: resolve the limits (dsl/limits.ts), parse every file (stopping at the first E_SYNTAX,
// dsl.md §5; dsl/parser.ts over dsl/lexer.ts, dsl/grammar.ne and dsl/build.ts), check (the passes of
// dsl/check/), and when there is no error compile (dsl/compiler.ts); runTests runs the pack's `test`
// blocks (dsl/packtest.ts). evaluateRecord converts a JSON feature record to slots (dsl/values.ts).
// What dsl/ throws is in its error registry (dsl/errors.ts); what it finds in a pack is a Diagnostic
// (dsl/diagnostics.ts). explainSlots/explainRecord/explainRule (dsl/explain.ts) trace why a
// compiled pack decided: each condition's sub-expressions with their values.
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.ts';
import type { CompiledPack, Decision } from './compiled.ts';
import type { Scheme, Value } from './types.ts';
import type { SourceFile, Span } from './ast.ts';
import { checkPack, type CheckedPack } from './check/index.ts';
import { resolveLimits, type Limits } from './limits.ts';
import { compileChecked } from './compiler.ts';
import { MemoryListBackend, packHash } from './pack.ts';
import { parseFile } from './parser.ts';
import { runPackTests } from './packtest.ts';
import { recordToSlots, resolveProbes } from './values.ts';

export type { CompiledPack, Decision, RuleHit, ListProbe, RedisListInfo, CompiledRuleInfo, RuleOverrideMode } from './compiled.ts';
export { RULE_MODE } from './compiled.ts';
export { ruleModes } from './compiler.ts';
export type { Diagnostic, DiagnosticCode, Severity } from './diagnostics.ts';
export { NOTICES, NOTICE_CODES, isNoticeCode, noticeOf, type Notice, type NoticeCode } from './notices.ts';
export { renderDiagnostics, renderDiagnostic, hasErrors, DIAGNOSTIC_CODES } from './diagnostics.ts';
export type { Scheme, Type, Value, Slots, FeatureDef } from './types.ts';

/** A pack's sources, from a directory, a single file, or an API upload. */
export interface PackSource {
  /** The `.rules` files in lexical order. `path` is what diagnostics print (e.g. `rules/login_core/main.rules`). */
  readonly rules: readonly { readonly path: string; readonly text: string }[];
  /**
   * Read a file a `file` list names, relative to the pack directory. Returns `{ok:false}` with a
   * reason when it does not exist, cannot be read, or leaves the pack directory.
   */
  readFile(rel: string): { ok: true; text: string } | { ok: false; reason: string };
}

export type { Limits } from './limits.ts';

export interface CompileOptions {
  readonly scheme: Scheme;
  /** Overrides of DEFAULT_LIMITS; an unknown key or a value that is not a positive integer throws LimitsError. */
  readonly limits?: Partial<Limits>;
}

export interface PackTestResult {
  readonly name: string;
  readonly span: Span;
  readonly passed: boolean;
  /** One line per failed expectation, e.g. "expected step_up, got allow". */
  readonly failures: readonly string[];
  readonly decision: Decision | null;
}

export interface PackTestReport {
  readonly passed: number;
  readonly failed: number;
  readonly results: readonly PackTestResult[];
}

export interface CompileResult {
  /** null when any error diagnostic was produced. */
  readonly pack: CompiledPack | null;
  /** Every diagnostic, sorted by file and position. */
  readonly diagnostics: readonly Diagnostic[];
  /** Runs the pack's `test` blocks against the compiled pack (empty report when pack is null). */
  runTests(lists?: RedisListBackend): PackTestReport;
}

/** Live Redis-backed lists; the in-process implementation is `MemoryListBackend`. */
export interface RedisListBackend {
  /** Is `value` in the set at `key`? undefined when the backend cannot say. */
  has(key: string, value: string): boolean | undefined;
}

export { loadPackDir, packFromFiles, MemoryListBackend } from './pack.ts';
export { DSL_ERRORS, InternalError, LimitsError, PackLoadError, type DslErrorCode, type PackLoadErrorCode } from './errors.ts';
export { DEFAULT_LIMITS, resolveLimits } from './limits.ts';
export { recordSafePatterns, withProvenSafePatterns } from './regex.ts';
export { resolveProbes, formatValue, formatDuration, recordToSlotsLenient } from './values.ts';
export { explainRecord, explainRule, explainSlots, type DecisionTrace, type PolicyLineTrace, type PolicyTrace, type RuleTrace, type TraceNode } from './explain.ts';

const EMPTY_REPORT: PackTestReport = { passed: 0, failed: 0, results: [] };

function result(pack: CompiledPack | null, diagnostics: readonly Diagnostic[], checked: CheckedPack | null): CompileResult {
  return {
    pack,
    diagnostics: sortDiagnostics(diagnostics),
    runTests: (lists?: RedisListBackend) =>
      pack && checked ? runPackTests(checked, pack, lists ?? new MemoryListBackend()) : EMPTY_REPORT,
  };
}

/** Parse, check and compile a pack. Throws LimitsError for bad `opts.limits`, never for a bad pack. */
export function compilePack(src: PackSource, opts: CompileOptions): CompileResult {
  const limits = resolveLimits(opts.limits);
  const diagnostics: Diagnostic[] = [];
  const files: SourceFile[] = [];
  // The hash covers the list files this compilation read, whatever kind of source supplied them.
  const readLists = new Map<string, string>();
  const inner = src;
  src = {
    rules: inner.rules,
    readFile(rel) {
      const r = inner.readFile(rel);
      if (r.ok) readLists.set(rel, r.text);
      return r;
    },
  };
  for (const f of src.rules) {
    const parsed = parseFile(f.text, f.path, limits);
    diagnostics.push(...parsed.diagnostics);
    if (!parsed.file || parsed.diagnostics.some((d) => d.code === 'E_SYNTAX')) return result(null, diagnostics, null);
    files.push(parsed.file);
  }
  const { checked, diagnostics: found } = checkPack(files, src, opts.scheme, limits);
  diagnostics.push(...found);
  if (hasErrors(diagnostics)) return result(null, diagnostics, checked);
  const sources = new Map(src.rules.map((f) => [f.path, f.text]));
  return result(compileChecked(checked, opts.scheme, packHash(src, readLists), sources), diagnostics, checked);
}

/**
 * Evaluate one event given feature values as JSON (name → value; durations in seconds; IPs as
 * strings). Unknown names or values of the wrong type are reported in `errors`, not thrown.
 */
export function evaluateRecord(
  pack: CompiledPack,
  eventType: string,
  features: Readonly<Record<string, unknown>>,
  opts: { scheme: Scheme; lists?: RedisListBackend },
): { ok: true; decision: Decision } | { ok: false; errors: string[] } {
  const conv = recordToSlots(pack, eventType, features, opts.scheme);
  if (!conv.ok) return conv;
  resolveProbes(pack, conv.slots, opts.lists ?? new MemoryListBackend());
  return { ok: true, decision: pack.evaluate(eventType, conv.slots) };
}

export type { Value as FeatureValue };
