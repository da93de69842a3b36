#!/usr/bin/env node
// Entry point for `vigil` (`npx vigil`, `npm start`): runs the compiled CLI, dist/cli/main.js, which
// `npm ci` builds (the `prepare` script; `npm run build` by hand). Without dist/ it says how to build
// it and exits 1 rather than falling back to compiling the sources on every start. VIGIL_FROM_SOURCE=1
// runs the TypeScript sources through tsx instead (development: no rebuild after an edit).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const fromSource = process.env.VIGIL_FROM_SOURCE === '1';
const entry = new URL(fromSource ? '../cli/main.ts' : '../dist/cli/main.js', import.meta.url);
if (fromSource) {
  const { register } = await import('tsx/esm/api');
  register();
} else if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('vigil: dist/ is not built; run `npm ci` (or `npm run build`) in the vigil checkout first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
