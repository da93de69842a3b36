// vitest global setup: brings dist/ up to date before any test runs (scripts/build.mjs --if-stale, a
// no-op when nothing changed), because the tests that spawn `node bin/vigil.js` run the compiled
// CLI, and a dist/ older than the sources would test code that is no longer there.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/build.mjs', import.meta.url)), '--if-stale'], { stdio: 'inherit' });
}
