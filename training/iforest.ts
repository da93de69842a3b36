// Growing the isolation forest of Liu, Ting and Zhou (ICDM 2008; ACM TKDD 2012), in this thread or on
// worker_threads, and scoring rows with it in TypeScript, s(x) = 2^(−E[h(x)]/c(ψ)): for the training
// summary's score quantiles and as the reference the ONNX export is checked against. The tree
// structure, c(n) and the attribution `explain` uses are the server's (features/model/forest.ts).
// Training is reproducible: tree t draws from its own PRNG stream seeded by (seed, t), so the forest
// depends on the seed and the data only, never on how many threads built it.
import { workerEntry } from '../common/paths.ts';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { averagePathLength, type ITree, type IsolationForest } from '../features/model/forest.ts';
import { sfc32 } from './rng.ts';

/** Row-major float32 data: `rows` vectors of `cols` columns. */
export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

export interface ForestOptions {
  /** Number of trees (default 100). */
  readonly trees?: number;
  /** ψ (default 256). */
  readonly sampleSize?: number;
  /** Integer seed (default 1). */
  readonly seed?: number;
  /**
   * Worker threads (default os.availableParallelism(), at most one per tree). 1 builds in this
   * thread. The result is identical for every value.
   */
  readonly threads?: number;
}

export const DEFAULT_TREES = 100;
export const DEFAULT_SAMPLE_SIZE = 256;
export const DEFAULT_SEED = 1;

/** ceil(log2 ψ): the height limit, the average height of a tree of ψ points. */
export function heightLimit(sampleSize: number): number {
  return Math.max(1, Math.ceil(Math.log2(Math.max(2, sampleSize))));
}

// ------------------------------------------------------------------------------------------------
// Seeded randomness
// ------------------------------------------------------------------------------------------------

/** splitmix32: spreads (seed, stream) into well-mixed 32-bit words for sfc32. */
function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** sfc32 uniform in [0, 1), one independent stream per (seed, stream). */
export function createRandom(seed: number, stream: number): () => number {
  const mix = splitmix32((Math.imul(seed | 0, 0x27d4eb2d) ^ Math.imul((stream | 0) + 1, 0x165667b1)) >>> 0);
  const a = mix();
  const b = mix();
  const c = mix();
  const d = mix();
  return sfc32(a, b, c, d, 12);
}

// ------------------------------------------------------------------------------------------------
// Building one tree
// ------------------------------------------------------------------------------------------------

/** ψ distinct row indices out of `rows` (Floyd's algorithm: O(ψ) whatever the row count). */
function sampleRows(rows: number, psi: number, rnd: () => number): Int32Array {
  const out = new Int32Array(psi);
  if (psi >= rows) {
    for (let i = 0; i < rows; i++) out[i] = i;
    return out;
  }
  const chosen = new Set<number>();
  let k = 0;
  for (let j = rows - psi; j < rows; j++) {
    const t = Math.floor(rnd() * (j + 1));
    const pick = chosen.has(t) ? j : t;
    chosen.add(pick);
    out[k++] = pick;
  }
  return out;
}

/** Tree `index` of the forest for (data, seed, ψ): the same inputs always give the same tree. */
export function buildTree(m: Matrix, index: number, seed: number, psi: number): ITree {
  const rnd = createRandom(seed, index);
  const idx = sampleRows(m.rows, psi, rnd);
  const limit = heightLimit(psi);
  const { data, cols } = m;
  const feature: number[] = [];
  const threshold: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const size: number[] = [];
  const value: number[] = [];
  const lo = new Float64Array(cols);
  const hi = new Float64Array(cols);
  const candidates = new Int32Array(cols);

  const grow = (from: number, to: number, depth: number): number => {
    const id = feature.length;
    const n = to - from;
    feature.push(-1);
    threshold.push(0);
    left.push(-1);
    right.push(-1);
    size.push(n);
    value.push(0);
    let nc = 0;
    if (depth < limit && n > 1) {
      lo.fill(Infinity);
      hi.fill(-Infinity);
      for (let i = from; i < to; i++) {
        const base = idx[i]! * cols;
        for (let j = 0; j < cols; j++) {
          const v = data[base + j]!;
          if (v < lo[j]!) lo[j] = v;
          if (v > hi[j]!) hi[j] = v;
        }
      }
      // Only a column that varies in this node can split it (as scikit-learn's IsolationForest).
      for (let j = 0; j < cols; j++) if (hi[j]! > lo[j]!) candidates[nc++] = j;
    }
    if (nc === 0) {
      value[id] = Math.fround(depth + averagePathLength(n));
      return id;
    }
    const q = candidates[Math.floor(rnd() * nc)]!;
    const min = lo[q]!;
    const max = hi[q]!;
    let p = Math.fround(min + rnd() * (max - min));
    // Rounding to float32 may land on min, which would send every point right: split at max
    // instead (max is a float32 data value, so min goes left and max goes right).
    if (!(p > min)) p = max;
    // Partition idx[from, to) so that x[q] < p comes first.
    let i = from;
    let j = to - 1;
    while (i <= j) {
      if (data[idx[i]! * cols + q]! < p) i++;
      else {
        const t = idx[i]!;
        idx[i] = idx[j]!;
        idx[j] = t;
        j--;
      }
    }
    feature[id] = q;
    threshold[id] = p;
    left[id] = grow(from, i, depth + 1);
    right[id] = grow(i, to, depth + 1);
    return id;
  };
  grow(0, idx.length, 0);
  return {
    feature: Int32Array.from(feature),
    threshold: Float32Array.from(threshold),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    size: Int32Array.from(size),
    value: Float32Array.from(value),
  };
}

function resolveOptions(m: Matrix, opts: ForestOptions): { trees: number; psi: number; seed: number } {
  const trees = opts.trees ?? DEFAULT_TREES;
  const psi = opts.sampleSize ?? DEFAULT_SAMPLE_SIZE;
  const seed = opts.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(trees) || trees < 1) throw new RangeError(`trees must be a positive integer, got ${trees}`);
  if (!Number.isInteger(psi) || psi < 2) throw new RangeError(`sample size must be an integer ≥ 2, got ${psi}`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (m.rows < 2) throw new RangeError(`an isolation forest needs at least 2 rows, got ${m.rows}`);
  if (m.cols < 1 || m.data.length < m.rows * m.cols) throw new RangeError('data is shorter than rows × cols');
  return { trees, psi: Math.min(psi, m.rows), seed };
}

/** Trains in this thread. */
export function fitForest(m: Matrix, opts: ForestOptions = {}): IsolationForest {
  const { trees, psi, seed } = resolveOptions(m, opts);
  const out: ITree[] = [];
  for (let t = 0; t < trees; t++) out.push(buildTree(m, t, seed, psi));
  return { trees: out, sampleSize: psi, cols: m.cols };
}

// ------------------------------------------------------------------------------------------------
// Scoring
// ------------------------------------------------------------------------------------------------

/** h(x) in one tree: depth of x's leaf plus c(leaf size). */
export function pathLength(tree: ITree, x: ArrayLike<number>, offset = 0): number {
  const { feature, threshold, left, right } = tree;
  let node = 0;
  let f = feature[0]!;
  while (f >= 0) {
    node = x[offset + f]! < threshold[node]! ? left[node]! : right[node]!;
    f = feature[node]!;
  }
  return tree.value[node]!;
}

/** E[h(x)] over the forest. */
export function meanPathLength(forest: IsolationForest, x: ArrayLike<number>, offset = 0): number {
  const trees = forest.trees;
  let sum = 0;
  for (let t = 0; t < trees.length; t++) sum += pathLength(trees[t]!, x, offset);
  return sum / trees.length;
}

/** s(x) = 2^(−E[h(x)]/c(ψ)) in (0, 1]: near 1 anomalous, well below 0.5 normal. */
export function score(forest: IsolationForest, x: ArrayLike<number>, offset = 0): number {
  return Math.pow(2, -meanPathLength(forest, x, offset) / averagePathLength(forest.sampleSize));
}

/** Scores of rows [from, to) of `m` into `out[from…to)` (a shared buffer when run on workers). */
export function scoreRange(forest: IsolationForest, m: Matrix, from: number, to: number, out: Float32Array): void {
  const c = averagePathLength(forest.sampleSize);
  for (let r = from; r < to; r++) out[r] = Math.pow(2, -meanPathLength(forest, m.data, r * m.cols) / c);
}

// ------------------------------------------------------------------------------------------------
// Training on worker_threads
// ------------------------------------------------------------------------------------------------

/** A tree as it crosses the worker boundary (typed arrays are structured-cloned). */
export type TreeMessage = ITree;

export type WorkerRequest =
  | { readonly kind: 'build'; readonly seed: number; readonly psi: number; readonly from: number; readonly to: number }
  | {
      readonly kind: 'score';
      readonly trees: readonly TreeMessage[];
      readonly psi: number;
      readonly from: number;
      readonly to: number;
      readonly out: SharedArrayBuffer;
    };

export type WorkerReply =
  | { readonly kind: 'built'; readonly first: number; readonly trees: readonly TreeMessage[] }
  | { readonly kind: 'scored' }
  | { readonly kind: 'error'; readonly message: string };

export interface WorkerInit {
  readonly data: SharedArrayBuffer;
  readonly rows: number;
  readonly cols: number;
}

/** The data in shared memory, so every worker reads it without a copy. */
function shared(m: Matrix): { buf: SharedArrayBuffer; matrix: Matrix } {
  if (m.data.buffer instanceof SharedArrayBuffer && m.data.byteOffset === 0) {
    return { buf: m.data.buffer, matrix: m };
  }
  const buf = new SharedArrayBuffer(m.rows * m.cols * 4);
  const data = new Float32Array(buf);
  data.set(m.data.subarray(0, m.rows * m.cols));
  return { buf, matrix: { data, rows: m.rows, cols: m.cols } };
}

// Compiled, a worker starts from dist/training/iforest-worker.js. From source it starts from the
// plain-JavaScript iforest-worker.boot.mjs, which registers tsx in its own thread: tsx's loader hooks
// do not reach worker threads (neither `execArgv: ['--import', 'tsx']` nor a registration in the
// parent does on Node 20).
const WORKER_ENTRY = workerEntry('training/iforest-worker');

interface Pool {
  readonly workers: Worker[];
  request(w: number, msg: WorkerRequest): Promise<WorkerReply>;
  close(): Promise<void>;
}

function startPool(n: number, init: WorkerInit): Pool {
  const workers: Worker[] = [];
  const waiting = new Map<Worker, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  for (let i = 0; i < n; i++) {
    // execArgv [] : the parent's flags (--input-type, --import tsx, a test runner's own) are not
    // for the worker, and some of them stop its plain-JavaScript entry from loading.
    const w = new Worker(WORKER_ENTRY, { workerData: init, execArgv: [] });
    w.on('message', (r: WorkerReply) => {
      const p = waiting.get(w);
      waiting.delete(w);
      p?.resolve(r);
    });
    const fail = (e: Error): void => {
      const p = waiting.get(w);
      waiting.delete(w);
      p?.reject(e);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`isolation forest worker exited with code ${code}`)));
    workers.push(w);
  }
  return {
    workers,
    request(i, msg) {
      const w = workers[i]!;
      return new Promise<WorkerReply>((resolve, reject) => {
        waiting.set(w, { resolve, reject });
        w.postMessage(msg);
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

function unwrap<K extends WorkerReply['kind']>(r: WorkerReply, kind: K): Extract<WorkerReply, { kind: K }> {
  if (r.kind === 'error') throw new Error(`isolation forest worker: ${r.message}`);
  if (r.kind !== kind) throw new Error(`isolation forest worker answered ${r.kind}, expected ${kind}`);
  return r as Extract<WorkerReply, { kind: K }>;
}

/** Splits [0, n) into k contiguous ranges of near-equal length. */
function ranges(n: number, k: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < k; i++) out.push([Math.floor((n * i) / k), Math.floor((n * (i + 1)) / k)]);
  return out;
}

export interface TrainResult {
  readonly forest: IsolationForest;
  /** s(x) of every training row (for the score quantiles in the model's summary). */
  readonly scores: Float32Array;
  readonly threads: number;
}

/**
 * Trains the forest and scores every training row, on `threads` worker threads (each builds a
 * contiguous share of the trees, then scores a share of the rows). With threads = 1 everything runs
 * in this thread. The forest is identical either way.
 */
export async function trainForest(m: Matrix, opts: ForestOptions = {}): Promise<TrainResult> {
  const { trees, psi, seed } = resolveOptions(m, opts);
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), trees));
  if (threads === 1) {
    const forest = fitForest(m, { trees, sampleSize: psi, seed });
    const scores = new Float32Array(m.rows);
    scoreRange(forest, m, 0, m.rows, scores);
    return { forest, scores, threads };
  }
  const { buf, matrix } = shared(m);
  const pool = startPool(threads, { data: buf, rows: matrix.rows, cols: matrix.cols });
  try {
    const built = await Promise.all(
      ranges(trees, threads).map(async ([from, to], w) => unwrap(await pool.request(w, { kind: 'build', seed, psi, from, to }), 'built')),
    );
    const all: ITree[] = new Array<ITree>(trees);
    for (const b of built) b.trees.forEach((t, i) => (all[b.first + i] = t));
    // The forest is assembled from the workers' replies: a hole would be skipped by forEach (the
    // ONNX export) and crash the scoring walk. Each index once, here, instead of a check per row.
    for (let t = 0; t < trees; t++) if (all[t] === undefined) throw new Error(`isolation forest workers returned no tree ${t} of ${trees}`);
    if (all.length !== trees) throw new Error(`isolation forest workers returned ${all.length} trees, expected ${trees}`);
    const forest: IsolationForest = { trees: all, sampleSize: psi, cols: m.cols };
    const outBuf = new SharedArrayBuffer(m.rows * 4);
    await Promise.all(
      ranges(m.rows, threads).map(async ([from, to], w) =>
        unwrap(await pool.request(w, { kind: 'score', trees: all, psi, from, to, out: outBuf }), 'scored'),
      ),
    );
    return { forest, scores: new Float32Array(outBuf), threads };
  } finally {
    await pool.close();
  }
}
