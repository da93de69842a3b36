// Entry of an isolation-forest training worker (training/iforest.ts): tsx's loader hooks do not reach
// worker threads, so this plain-JavaScript file registers tsx in the worker's own thread and then
// loads the TypeScript worker, training/iforest-worker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./iforest-worker.ts');
