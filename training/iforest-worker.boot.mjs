// Entry of an isolation-forest training worker when Vigil runs from source (tsx, vitest; see
// common/paths.ts workerEntry): tsx's loader hooks do not reach worker threads, so this plain-JavaScript
// file registers tsx in the worker's own thread and then loads the TypeScript worker,
// training/iforest-worker.ts. The compiled build starts dist/training/iforest-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./iforest-worker.ts');
