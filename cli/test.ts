// `vigil test PACK`: run a pack's `test` blocks (dsl.md §6). Each failure is printed with the test's
// name, file:line and every failed expectation; the LAST line of stdout is always `N passed, M failed`
// (also when the pack does not compile: its diagnostics, then `0 passed, 0 failed`, exit 1), so
// scripts can rely on it.
import type { Scheme } from '../dsl/index.ts';
import type { CliIO } from './io.ts';
import { openPack, plural } from './packs.ts';

export interface TestOptions {
  /** Also list the tests that passed. */
  readonly verbose?: boolean;
}

export function runTest(path: string, io: CliIO, scheme: Scheme, opts: TestOptions = {}): number {
  const opened = openPack(path, scheme);
  if (!opened.ok) {
    io.stderr(`vigil test: error: ${opened.message}\n`);
    io.stdout('0 passed, 0 failed\n');
    return 1;
  }
  const p = opened.pack;
  if (p.rendered) io.stdout(`${p.rendered}\n`);
  if (!p.result.pack) {
    io.stderr(`vigil test: error: ${path} has ${plural(p.errors, 'error')}; its tests were not run\n`);
    io.stdout('0 passed, 0 failed\n');
    return 1;
  }
  const report = p.result.runTests();
  for (const r of report.results) {
    const where = `${r.span.file}:${r.span.line}`;
    if (r.passed) {
      if (opts.verbose) io.stdout(`ok   ${JSON.stringify(r.name)} (${where})\n`);
      continue;
    }
    io.stdout(`FAIL ${JSON.stringify(r.name)} (${where})\n`);
    for (const f of r.failures) io.stdout(`  - ${f}\n`);
    if (r.decision) {
      const fired = [...r.decision.rules.map((h) => h.name), ...r.decision.shadow.map((h) => `${h.name} (shadow)`)];
      io.stdout(`    decision ${r.decision.decision}, score ${r.decision.score}, matched: ${fired.join(', ') || 'none'}\n`);
    }
  }
  io.stdout(`${report.passed} passed, ${report.failed} failed\n`);
  return report.failed === 0 ? 0 : 1;
}
