// Compile a pack and run its tests, from files (an API upload, a pack stored in Redis) or from a
// path (VIGIL_RULES). Both end as the same PackCheck; a pack read from a path records exactly the
// files it used (its `.rules` files and the `file` lists they name), which is what gets stored.
import { basename } from 'node:path';
import {
  compilePack,
  hasErrors,
  loadPackDir,
  PackLoadError,
  packFromFiles,
  renderDiagnostics,
  type PackSource,
  type PackTestReport,
  type Scheme,
} from '../../dsl/index.ts';
import type { PackCheck, PackFiles } from './types.ts';

export type PackCompiler = (files: PackFiles, root: string) => PackCheck;

const EMPTY_TESTS: PackTestReport = { passed: 0, failed: 0, results: [] };

export function checkPackFiles(files: PackFiles, root: string, scheme: Scheme): PackCheck {
  let src: PackSource;
  try {
    src = packFromFiles(files, root);
  } catch (err) {
    if (err instanceof PackLoadError) return unloadable(files, root, err.message);
    throw err;
  }
  return check(src, files, root, scheme);
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
