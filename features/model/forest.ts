// The isolation forest as the server holds it (Liu, Ting and Zhou, ICDM 2008; ACM TKDD 2012): the
// flat-array trees read back from a model file, c(n), and the per-feature attribution of a score that
// `explain` reports (docs/model.md "Explain"). onnxruntime computes the score itself; the trees are
// walked here only to explain it. Growing trees belongs to the training code, which builds this same
// structure. Pure.

/**
 * One isolation tree as flat arrays indexed by node id (pre-order, root 0). A leaf has
 * `feature = -1`; an internal node sends x left when x[feature] < threshold (ONNX BRANCH_LT).
 */
export interface ITree {
  readonly feature: Int32Array;
  /** float32 on purpose: the ONNX graph compares float32 inputs with float32 thresholds. */
  readonly threshold: Float32Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** Training points that reached the node (for c(n) in attributions and leaf values). */
  readonly size: Int32Array;
  /** Leaves: the path length h = depth + c(size), rounded to float32 as in the ONNX file; 0 elsewhere. */
  readonly value: Float32Array;
}

export interface IsolationForest {
  readonly trees: readonly ITree[];
  /** ψ: points drawn per tree (min(requested ψ, rows)). */
  readonly sampleSize: number;
  readonly cols: number;
}

const EULER_GAMMA = 0.5772156649015329;

/**
 * c(n): the average path length of an unsuccessful search in a binary search tree of n points
 * (Liu et al. eq. 1), which normalises path lengths and stands in for the subtree a leaf of n > 1
 * points was not grown into.
 */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/**
 * Per-column attribution of x's score (docs/model.md "Explain"). At an internal node of n training
 * points, the expected remaining path length of a typical point is c(n); after the split x sits one
 * level deeper in a child of n' points, expecting 1 + c(n'). The split's column is credited
 * c(n) − 1 − c(n'): positive when the split isolated x faster than average. Along one path the
 * credits telescope to c(ψ) − h(x), so over the forest the attributions sum (up to the float32
 * rounding of leaf values) to
 * (c(ψ) − E[h(x)]) / c(ψ) = 1 + log2 s(x) once divided by c(ψ): positive total ⇔ s(x) > 0.5.
 * Adds into `out` (length cols, zeroed by the caller).
 */
export function attribute(forest: IsolationForest, x: ArrayLike<number>, out: Float64Array, offset = 0): void {
  const trees = forest.trees;
  const norm = 1 / (trees.length * averagePathLength(forest.sampleSize));
  for (let t = 0; t < trees.length; t++) {
    const { feature, threshold, left, right, size } = trees[t]!;
    let node = 0;
    let f = feature[0]!;
    while (f >= 0) {
      const next = x[offset + f]! < threshold[node]! ? left[node]! : right[node]!;
      out[f] = out[f]! + (averagePathLength(size[node]!) - 1 - averagePathLength(size[next]!)) * norm;
      node = next;
      f = feature[node]!;
    }
  }
}
