// `vigil check PACK`: parse and type-check a pack; diagnostics (dsl.md §5, with source lines) on
// stdout, a one-line summary on stderr. Exit 0 when there is no error (warnings allowed), else 1.
import type { Scheme } from '../dsl/index.ts';
import type { CliIO } from './io.ts';
import { openPack, plural } from './packs.ts';

export function runCheck(path: string, io: CliIO, scheme: Scheme): number {
  const opened = openPack(path, scheme);
  if (!opened.ok) {
    io.stderr(`vigil check: error: ${opened.message}\n`);
    return 1;
  }
  const p = opened.pack;
  if (p.rendered) io.stdout(`${p.rendered}\n`);
  const counts = `${plural(p.errors, 'error')}, ${plural(p.warnings, 'warning')}`;
  const compiled = p.result.pack;
  const what = compiled
    ? ` (pack ${compiled.name} version ${compiled.version}: ${plural(compiled.rules.length, 'rule')}, ${plural(p.src.rules.length, 'file')})`
    : '';
  io.stderr(`${path}: ${p.errors > 0 ? 'FAILED' : 'ok'}: ${counts}${what}\n`);
  return p.errors > 0 ? 1 : 0;
}
