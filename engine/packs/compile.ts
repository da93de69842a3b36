// Compile a pack and run its tests, from files (an API upload, a pack stored in Redis) or from a
// path (VIGIL_RULES). Both end as the same PackCheck; a pack read from a path records exactly the
// files it used (its `.rules` files and the `file` lists they name), which is what gets stored.
// Uploaded files are checked off the request thread (engine/packs/checker.ts): the worker thread
// answers a RemoteCheck (everything but the closures, which cannot cross threads), and `adoptCheck`
// compiles an acceptable pack once more on the main thread, without its tests, for the closures.
// `logFields` is what a log line may say about a check: never the uploaded text.
import { basename } from 'node:path';
import {
  compilePack,
  hasErrors,
  loadPackDir,
  PackLoadError,
  packFromFiles,
  recordSafePatterns,
  renderDiagnostics,
  withProvenSafePatterns,
  type PackSource,
  type PackTestReport,
  type Scheme,
} from '../../dsl/index.ts';
import type { PackCheck, PackCheckAbort, PackFiles } from './types.ts';

export type PackCompiler = (files: PackFiles, root: string) => Promise<PackCheck>;

const EMPTY_TESTS: PackTestReport = { passed: 0, failed: 0, results: [] };

/** The files as a pack source, or the refusal of files that cannot be opened as a pack at all. */
function openFiles(files: PackFiles, root: string): { readonly src: PackSource } | { readonly refused: PackCheck } {
  try {
    return { src: packFromFiles(files, root) };
  } catch (err) {
    if (err instanceof PackLoadError) return { refused: unloadable(files, root, err.message) };
    throw err;
  }
}

export function checkPackFiles(files: PackFiles, root: string, scheme: Scheme): PackCheck {
  const opened = openFiles(files, root);
  if ('refused' in opened) return opened.refused;
  return check(opened.src, files, root, scheme);
}

/** A directory or single-file pack, read from disk. Throws PackLoadError when it cannot be opened. */
export function checkPackPath(path: string, scheme: Scheme): PackCheck {
  const src = loadPackDir(path);
  const files: Record<string, string> = {};
  for (const r of src.rules) files[basename(r.path)] = r.text;
  // Record the list files the compiler reads, to store exactly what the pack uses. The source
  // object itself is patched, not wrapped: the DSL tracks reads (for the pack hash) per object.
  const read = src.readFile.bind(src);
  (src as { readFile: PackSource['readFile'] }).readFile = (rel) => {
    const r = read(rel);
    if (r.ok) files[normalizeRel(rel)] = r.text;
    return r;
  };
  return check(src, files, path, scheme);
}

/**
 * A check as it crosses threads: the PackCheck without its compiled pack (closures) and without the
 * files (the caller has them). `compiled`: the pack compiled, so `adoptCheck` may compile it again.
 */
export interface RemoteCheck {
  readonly ok: boolean;
  readonly compiled: boolean;
  readonly hash: string | null;
  readonly diagnostics: PackCheck['diagnostics'];
  readonly tests: PackCheck['tests'];
  readonly loadError: string | null;
  readonly rendered: string;
  /** The `matches` patterns the check proved safe: the second compilation skips their analysis. */
  readonly safePatterns: readonly string[];
}

/** `checkPackFiles` for a worker thread: the same check, in a form structured clone can carry. */
export function remoteCheck(files: PackFiles, root: string, scheme: Scheme): RemoteCheck {
  const { result: c, safe } = recordSafePatterns(() => checkPackFiles(files, root, scheme));
  return {
    ok: c.ok,
    compiled: c.pack !== null,
    hash: c.pack?.hash ?? null,
    diagnostics: c.diagnostics,
    // A test's decision carries nothing the answers use; it is left behind.
    tests: { passed: c.tests.passed, failed: c.tests.failed, results: c.tests.results.map((t) => ({ ...t, decision: null })) },
    loadError: c.loadError,
    rendered: c.rendered,
    safePatterns: safe,
  };
}

/** Only failing tests keep it from activating: what `force` may override. */
function forceable(r: RemoteCheck): boolean {
  return r.compiled && r.loadError === null && !hasErrors(r.diagnostics);
}

/**
 * The PackCheck of a worker's answer. A pack that could activate (ok, or whose only fault is its
 * tests) is compiled again here for its closures: its tests not run again, its patterns' ReDoS
 * analysis taken from the worker. Any other answer costs this thread nothing.
 */
export function adoptCheck(files: PackFiles, root: string, scheme: Scheme, remote: RemoteCheck): PackCheck {
  const base = { diagnostics: remote.diagnostics, tests: remote.tests, files: { ...files }, root, loadError: remote.loadError, rendered: remote.rendered };
  if (!forceable(remote)) return { ok: false, pack: null, ...base };
  const opened = openFiles(files, root);
  if ('refused' in opened) return opened.refused;
  const src = opened.src;
  // The patterns' ReDoS analysis, the slow part of a check, was done by the worker.
  const compiled = withProvenSafePatterns(remote.safePatterns, () => compilePack(src, { scheme }));
  if (compiled.pack === null || compiled.pack.hash !== remote.hash) {
    // Never expected (the same code on the same files); refused rather than checked again here.
    const message = 'the pack compiled differently in the pack checker and in the server; refused';
    return { ok: false, pack: null, ...base, diagnostics: compiled.diagnostics, loadError: message, rendered: `error: ${message}` };
  }
  return { ok: remote.ok, pack: compiled.pack, ...base };
}

/** A check the worker did not finish (time or memory cap, or the worker failing): a refusal. */
export function abortedCheck(files: PackFiles, root: string, aborted: PackCheckAbort): PackCheck {
  return { ...unloadable(files, root, aborted.message), aborted };
}

/**
 * What a log line says about a check: each diagnostic's code, severity and place, and where the
 * failing tests are; never the source nor a diagnostic's message, which quotes it (a literal, a
 * name, a pattern — text the uploader wrote, which can hold a user id or an address).
 */
export function logFields(c: PackCheck): {
  diagnostics: { code: string; severity: string; at: string }[];
  tests_failed: number;
  failing_tests: string[];
  load_error?: string;
  aborted?: string;
} {
  return {
    diagnostics: c.diagnostics.map((d) => ({ code: d.code, severity: d.severity, at: `${d.span.file}:${d.span.line}:${d.span.col}` })),
    tests_failed: c.tests.failed,
    failing_tests: c.tests.results.filter((t) => !t.passed).map((t) => `${t.span.file}:${t.span.line}:${t.span.col}`),
    ...(c.loadError !== null ? { load_error: c.loadError } : {}),
    ...(c.aborted ? { aborted: c.aborted.reason } : {}),
  };
}

function unloadable(files: PackFiles, root: string, message: string): PackCheck {
  return { ok: false, pack: null, diagnostics: [], tests: EMPTY_TESTS, files, root, loadError: message, rendered: `error: ${message}` };
}

function normalizeRel(rel: string): string {
  return rel
    .split(/[\\/]+/)
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

function check(src: PackSource, files: Record<string, string> | PackFiles, root: string, scheme: Scheme): PackCheck {
  const compiled = compilePack(src, { scheme });
  const tests = compiled.pack ? compiled.runTests() : EMPTY_TESTS;
  const ok = compiled.pack !== null && !hasErrors(compiled.diagnostics) && tests.failed === 0;
  const sources = new Map(src.rules.map((r) => [r.path, r.text]));
  const lookup = (file: string): string | undefined => {
    if (sources.has(file)) return sources.get(file);
    for (const [rel, text] of Object.entries(files)) if (file === rel || file.endsWith(`/${rel}`)) return text;
    return undefined;
  };
  const lines: string[] = [];
  if (compiled.diagnostics.length > 0) lines.push(renderDiagnostics(compiled.diagnostics, lookup));
  for (const t of tests.results) {
    if (t.passed) continue;
    for (const f of t.failures) lines.push(`${t.span.file}:${t.span.line}:${t.span.col}: test "${t.name}" failed: ${f}`);
  }
  return { ok, pack: compiled.pack, diagnostics: compiled.diagnostics, tests, files: { ...files }, root, loadError: null, rendered: lines.join('\n') };
}

/** The JSON shape of a check in API answers and audit lines. */
export function checkToJson(c: PackCheck): {
  ok: boolean;
  error: string | null;
  diagnostics: {
    code: string;
    severity: string;
    message: string;
    file: string;
    line: number;
    col: number;
    /** Offsets into the file's text (UTF-16 code units), so a client can draw the caret under the span. */
    offset: number;
    end: number;
    hint?: string;
  }[];
  tests: { passed: number; failed: number; failures: { name: string; file: string; line: number; col: number; failures: readonly string[] }[] };
  rendered: string;
} {
  return {
    ok: c.ok,
    error: c.loadError,
    diagnostics: c.diagnostics.map((d) => ({
      code: d.code,
      severity: d.severity,
      message: d.message,
      file: d.span.file,
      line: d.span.line,
      col: d.span.col,
      offset: d.span.offset,
      end: d.span.end,
      ...(d.hint !== undefined ? { hint: d.hint } : {}),
    })),
    tests: {
      passed: c.tests.passed,
      failed: c.tests.failed,
      failures: c.tests.results
        .filter((t) => !t.passed)
        .map((t) => ({ name: t.name, file: t.span.file, line: t.span.line, col: t.span.col, failures: t.failures })),
    },
    rendered: c.rendered,
  };
}
