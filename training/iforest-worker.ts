// One isolation-forest training worker (started by training/iforest.ts `trainForest`: from source
// through iforest-worker.boot.mjs, compiled as dist/training/iforest-worker.js): reads the training
// data from shared memory, builds the trees it is asked for and scores the rows it is asked for.
// Holds no state between requests but the data.
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../common/errors.ts';
import { assertNever } from '../dsl/ast.ts';
import type { ITree } from '../features/model/forest.ts';
import { buildTree, scoreRange, type Matrix, type WorkerInit, type WorkerReply, type WorkerRequest } from './iforest.ts';

const init = workerData as WorkerInit;
const matrix: Matrix = { data: new Float32Array(init.data), rows: init.rows, cols: init.cols };
const port = parentPort;

function handle(req: WorkerRequest): WorkerReply {
  switch (req.kind) {
    case 'build': {
      const trees: ITree[] = [];
      for (let t = req.from; t < req.to; t++) trees.push(buildTree(matrix, t, req.seed, req.psi));
      return { kind: 'built', first: req.from, trees };
    }
    case 'score':
      scoreRange({ trees: req.trees, sampleSize: req.psi, cols: matrix.cols }, matrix, req.from, req.to, new Float32Array(req.out));
      return { kind: 'scored' };
    default:
      return assertNever(req, 'worker request');
  }
}

port?.on('message', (req: WorkerRequest) => {
  try {
    port.postMessage(handle(req));
  } catch (e) {
    port.postMessage({ kind: 'error', message: errorMessage(e) } satisfies WorkerReply);
  }
});
