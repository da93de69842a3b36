// @ts-check
// The build (`npm run build`; `npm ci` runs it as `prepare`): compiles the rules grammar with nearleyc
// into dsl/generated/ (what the sources import under tsx and vitest), compiles the runtime TypeScript
// into dist/ with tsc (tsconfig.build.json), and puts the grammar next to the compiled parser.
// `--if-stale` builds only when a runtime source changed since the last build (`npm start`,
// `npm test` and the vitest global setup use it, so none of them runs an out-of-date dist/).
//
// Plain JavaScript so that it runs before anything is compiled, without tsx.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const STAMP = '.build-stamp';
const GRAMMAR_SRC = join(ROOT, 'dsl/grammar.ne');
const GRAMMAR_OUT = 'dsl/generated/grammar.js';
/** What the compiled output depends on: the runtime folders, listed once, in tsconfig.build.json. */
const SOURCE_DIRS = runtimeDirs();
const SOURCE_FILES = ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs'];
/** Written by this build, so never a reason to rebuild. */
const GENERATED = join(ROOT, 'dsl/generated');

const require = createRequire(import.meta.url);

/** tsconfig.build.json's "include" (its comments are whole `//` lines). */
function runtimeDirs() {
  const text = readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
  /** @type {{ include: string[] }} */
  const cfg = JSON.parse(text);
  return cfg.include;
}

/** @param {string} what @param {string[]} args */
function run(what, args) {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`vigil build: ${what} failed\n`);
    process.exit(r.status ?? 1);
  }
}

/** The newest mtime under `dir`, directories included (a deleted or renamed file changes its directory's). */
function newest(/** @type {string} */ dir) {
  let t = statSync(dir).mtimeMs;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (p === GENERATED) continue;
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Why dist/ must be rebuilt, or undefined when it is up to date. */
function staleReason() {
  const stamp = join(DIST, STAMP);
  if (!existsSync(stamp)) return 'dist/ is missing';
  if (!existsSync(join(ROOT, GRAMMAR_OUT))) return `${GRAMMAR_OUT} is missing`;
  const built = statSync(stamp).mtimeMs;
  for (const d of SOURCE_DIRS) if (newest(join(ROOT, d)) > built) return `${d}/ changed`;
  for (const f of SOURCE_FILES) if (statSync(join(ROOT, f)).mtimeMs > built) return `${f} changed`;
  return undefined;
}

function build() {
  mkdirSync(dirname(join(ROOT, GRAMMAR_OUT)), { recursive: true });
  // The stamp carries the time the build started: a source saved during the build counts as newer.
  // Taken after the mkdir, which changes dsl/'s own mtime the first time.
  const started = new Date();
  run('nearleyc', [require.resolve('nearley/bin/nearleyc.js'), GRAMMAR_SRC, '-o', join(ROOT, GRAMMAR_OUT)]);

  // Into a fresh directory, swapped in at the end: a failed build leaves the previous dist/ whole,
  // and a file deleted from the sources does not linger in dist/.
  const tmp = join(ROOT, `dist.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  run('tsc', [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', tmp]);

  // The generated grammar is plain JavaScript that imports '../lexer.ts'; compiled, that is
  // '../lexer.js' (what rewriteRelativeImportExtensions does for the TypeScript files).
  const grammar = readFileSync(join(ROOT, GRAMMAR_OUT), 'utf8').replace(/(from\s+['"]\.{1,2}\/[^'"]*)\.ts(['"])/g, '$1.js$2');
  if (/from\s+['"]\.{1,2}\/[^'"]*\.ts['"]/.test(grammar)) throw new Error(`${GRAMMAR_OUT}: a .ts import was not rewritten`);
  mkdirSync(join(tmp, 'dsl/generated'), { recursive: true });
  writeFileSync(join(tmp, GRAMMAR_OUT), grammar);

  writeFileSync(join(tmp, STAMP), `${started.toISOString()}\n`);
  utimesSync(join(tmp, STAMP), started, started);

  const old = join(ROOT, `dist.old-${process.pid}`);
  try {
    if (existsSync(DIST)) renameSync(DIST, old);
    renameSync(tmp, DIST);
  } catch (e) {
    // Another build in this checkout swapped its dist/ in first; it is as fresh as this one.
    process.stderr.write(`vigil build: kept the concurrent build's dist/ (${e instanceof Error ? e.message : String(e)})\n`);
    rmSync(tmp, { recursive: true, force: true });
  }
  rmSync(old, { recursive: true, force: true });
}

const ifStale = process.argv.includes('--if-stale');
const reason = ifStale ? staleReason() : 'requested';
if (reason !== undefined) {
  if (ifStale) process.stderr.write(`vigil build: ${reason}; building ${relative(process.cwd(), DIST) || '.'}\n`);
  build();
}
