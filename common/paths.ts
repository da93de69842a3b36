// Where the package's own files are at run time, in either layout: the TypeScript sources run by tsx
// or vitest (<root>/common/paths.ts) or the compiled build (<root>/dist/common/paths.js, emitted by
// tsconfig.build.json with rootDir "."). The two differ by one directory, so a runtime file that reads
// a shipped file (the default model, the default pack, package.json) or starts a worker thread
// resolves it here instead of relative to its own import.meta.url.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** True when the code runs as TypeScript source (tsx, vitest); false in the compiled dist/. */
export const FROM_SOURCE: boolean = import.meta.url.endsWith('.ts');

/** The directory holding common/, dsl/, cli/, ...: the package root from source, dist/ when compiled. */
const CODE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE_ROOT = FROM_SOURCE ? CODE_ROOT : dirname(CODE_ROOT);

/** The package root: where package.json, models/, rules/ and node_modules/ are. */
export function packageRoot(): string {
  return PACKAGE_ROOT;
}

/** A shipped file or directory, given relative to the package root (e.g. 'models/iforest-default.onnx'). */
export function assetPath(...segments: readonly string[]): string {
  return join(PACKAGE_ROOT, ...segments);
}

/**
 * The entry of a worker thread, given as its source module without extension, relative to the package
 * root (e.g. 'training/iforest-worker'). Compiled, that is the module's .js in dist/. From source it is
 * `<module>.boot.mjs`, a plain-JavaScript file that registers tsx inside the worker and imports the
 * .ts: tsx's loader hooks do not reach worker threads, and Node cannot start a .ts entry on its own.
 */
export function workerEntry(module: string): URL {
  return pathToFileURL(join(CODE_ROOT, FROM_SOURCE ? `${module}.boot.mjs` : `${module}.js`));
}
