// common/paths.ts in both layouts: from source (this process, as tsx and vitest run it) and compiled
// (dist/common/paths.js in a child process) it names the same package root, shipped files that
// exist, and a worker entry that exists. Also guards the rule that runtime code finds shipped files
// through common/paths.ts, not relative to its own import.meta.url (one directory off in dist/).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assetPath, FROM_SOURCE, packageRoot, workerEntry } from '../../common/paths.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

describe('common/paths', () => {
  it('from source: the package root, its files, and the tsx boot entry of a worker', () => {
    expect(FROM_SOURCE).toBe(true);
    expect(packageRoot()).toBe(ROOT);
    expect(existsSync(assetPath('models/iforest-default.onnx'))).toBe(true);
    expect(existsSync(assetPath('rules/login_core'))).toBe(true);
    // The console's static files ship as they are, beside the code, never in dist/.
    for (const f of ['index.html', 'console.js', 'console.css']) expect(existsSync(assetPath('console', f))).toBe(true);
    const w = fileURLToPath(workerEntry('training/iforest-worker'));
    expect(w).toBe(join(ROOT, 'training/iforest-worker.boot.mjs'));
    expect(existsSync(w)).toBe(true);
  });

  it('compiled: the same package root, and the compiled worker', () => {
    const script = [
      `const p = await import(${JSON.stringify(join(ROOT, 'dist/common/paths.js'))});`,
      "const { fileURLToPath } = await import('node:url');",
      "console.log(JSON.stringify({ fromSource: p.FROM_SOURCE, root: p.packageRoot(), worker: fileURLToPath(p.workerEntry('training/iforest-worker')) }));",
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    const got = JSON.parse(r.stdout) as { fromSource: boolean; root: string; worker: string };
    expect(got).toEqual({ fromSource: false, root: ROOT, worker: join(ROOT, 'dist/training/iforest-worker.js') });
    expect(existsSync(got.worker)).toBe(true);
  });
});

// Runtime folders (tsconfig.build.json "include"). A file here that builds a path or URL from its own
// import.meta.url breaks in dist/. Allowed: common/paths.ts itself; createRequire(import.meta.url)
// (package resolution walks up to node_modules from either layout); the "am I the main module" check.
const RUNTIME_DIRS: string[] = (JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as { include: string[] }).include;
const RELATIVE_TO_SELF = /new URL\([^)]*import\.meta\.url\)|fileURLToPath\(import\.meta\.url\)/;
function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : /\.m?[jt]s$/.test(e.name) && !p.startsWith('dsl/generated') ? [p] : [];
  });
}

describe('runtime files resolve shipped files through common/paths.ts', () => {
  const offenders = RUNTIME_DIRS.flatMap(tsFiles)
    .filter((f) => f !== 'common/paths.ts')
    .filter((f) => RELATIVE_TO_SELF.test(readFileSync(join(ROOT, f), 'utf8')));

  it('no runtime file builds a path from its own import.meta.url', () => {
    expect(offenders).toEqual([]);
  });
});
