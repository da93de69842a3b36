// Loading and compiling a pack from a path for the CLI commands: turns "no such file", "not a pack"
// and read failures into one clear message instead of a stack trace, and renders diagnostics with
// their source lines (dsl.md §5). Every command that takes a PACK goes through `openPack`.
import { statSync } from 'node:fs';
import { errorMessage } from '../common/errors.ts';
import {
  compilePack,
  loadPackDir,
  renderDiagnostics,
  type CompileResult,
  type Diagnostic,
  type PackSource,
  type Scheme,
} from '../dsl/index.ts';

export interface OpenedPack {
  readonly path: string;
  readonly src: PackSource;
  readonly result: CompileResult;
  readonly errors: number;
  readonly warnings: number;
  /** Every diagnostic rendered with its source line and caret, one block each; '' when none. */
  readonly rendered: string;
}

export type OpenResult = { readonly ok: true; readonly pack: OpenedPack } | { readonly ok: false; readonly message: string };

/** Read and compile the pack at `path` (a directory of `.rules` files or one `.rules` file). */
export function openPack(path: string, scheme: Scheme): OpenResult {
  let isDir: boolean;
  try {
    const st = statSync(path);
    if (!st.isDirectory() && !st.isFile()) return { ok: false, message: `${path}: not a directory or a .rules file` };
    isDir = st.isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, message: code === 'ENOENT' ? `${path}: no such pack (file or directory not found)` : `${path}: ${errorMessage(e)}` };
  }
  if (!isDir && !path.endsWith('.rules')) return { ok: false, message: `${path}: a pack is a directory or a .rules file` };
  let src: PackSource;
  try {
    src = loadPackDir(path);
  } catch (e) {
    return { ok: false, message: `${path}: cannot read pack: ${errorMessage(e)}` };
  }
  if (src.rules.length === 0) return { ok: false, message: `${path}: no .rules files in this directory` };
  const result = compilePack(src, { scheme });
  return { ok: true, pack: describe(path, src, result) };
}

function describe(path: string, src: PackSource, result: CompileResult): OpenedPack {
  const sources = new Map(src.rules.map((r) => [r.path, r.text]));
  const count = (sev: Diagnostic['severity']): number => result.diagnostics.filter((d) => d.severity === sev).length;
  return {
    path,
    src,
    result,
    errors: count('error'),
    warnings: count('warning'),
    rendered: result.diagnostics.length > 0 ? renderDiagnostics(result.diagnostics, sources) : '',
  };
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
