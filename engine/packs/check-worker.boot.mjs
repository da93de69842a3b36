// Entry of a pack-check worker when Vigil runs from source (tsx, vitest; see common/paths.ts
// workerEntry): tsx's loader hooks do not reach worker threads, so this plain-JavaScript file
// registers tsx in the worker's own thread and then loads the TypeScript worker,
// engine/packs/check-worker.ts. The compiled build starts dist/engine/packs/check-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./check-worker.ts');
