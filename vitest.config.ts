// Test runner configuration: real Redis and real files, so tests run with generous timeouts.
import { configDefaults, defineConfig } from 'vitest/config';

// `*.alone.test.ts` files measure latency claims (a p99 within 2× of another): run beside the other
// files they measure the other files' load instead, so `npm test` runs them in a second phase, one
// at a time, with VIGIL_TEST_PHASE=alone (which selects them and nothing else).
const alone = process.env.VIGIL_TEST_PHASE === 'alone';

export default defineConfig({
  test: {
    include: alone ? ['test/**/*.alone.test.ts'] : ['test/**/*.test.ts'],
    exclude: alone ? configDefaults.exclude : [...configDefaults.exclude, 'test/**/*.alone.test.ts'],
    fileParallelism: !alone,
    // Tests that spawn bin/vigil.js run dist/: rebuild it first if a source is newer.
    globalSetup: ['test/helpers/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
