// Reading an anomaly model file (docs/model.md "Export"): the ONNX bytes decoded into the Vigil
// metadata (version, columns, required features, training summary) and, when the file holds node
// sizes, the isolation trees that `explain` walks. The file is untrusted input: everything is
// validated, and a defect is a ModelFileError with a stable code. Writing such a file is the training
// code's ONNX exporter, which imports the names and keys below so both sides agree on the format.
import onnxProto from 'onnx-proto';
import { errorMessage } from '../../common/errors.ts';
import { ModelFileError } from '../errors.ts';
import type { ITree, IsolationForest } from './forest.ts';
import { featuresOf, parseColumns, type ColumnSpec } from './vector.ts';

const { onnx } = onnxProto;

const utf8 = new TextDecoder();

/** The graph's input, float32[N, columns]: what the server feeds. */
export const INPUT_NAME = 'features';
/** The graph's output, float32[N, 1]: the anomaly score the server reads. */
export const OUTPUT_NAME = 'anomaly';

/** Metadata keys (docs/model.md "Export"). */
export const META = {
  version: 'version',
  columns: 'vigil.columns',
  features: 'vigil.features',
  training: 'vigil.training',
} as const;

/** What the model was trained on (metadata `vigil.training`, JSON). */
export interface TrainingSummary {
  readonly rows: number;
  /** Earliest and latest `time` of the training rows (ISO), when the rows had one. */
  readonly from: string | null;
  readonly to: string | null;
  readonly trees: number;
  readonly sample_size: number;
  readonly seed: number;
  readonly columns: number;
  /** When the model was built (ISO). */
  readonly trained_at: string;
  /** Anomaly score quantiles over the training rows: where to put a rule's threshold. */
  readonly score_quantiles: Readonly<Record<string, number>>;
  /** Where the rows came from (file name), free text. */
  readonly source?: string;
}

export interface ModelFile {
  readonly version: string;
  readonly columns: readonly ColumnSpec[];
  /** Catalog names the model needs (`vigil.features`). */
  readonly features: readonly string[];
  readonly summary: TrainingSummary | null;
  /** The trees, when the file holds a Vigil isolation forest with node sizes (explain needs them). */
  readonly forest: IsolationForest | null;
  readonly metadata: Readonly<Record<string, string>>;
}

type Int64 = number | { toNumber(): number };
function n64(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** Parses an ONNX file's bytes: metadata (required) and, when present, the isolation trees. */
export function readModelFile(bytes: Uint8Array): ModelFile {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelFileError('not_onnx', `not an ONNX model: ${errorMessage(e)}`);
  }
  if (!model.graph) throw new ModelFileError('not_onnx', 'not an ONNX model: no graph');
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps) metadata[p.key ?? ''] = p.value ?? '';
  const version = metadata[META.version];
  const columnsJson = metadata[META.columns];
  const featuresJson = metadata[META.features];
  if (!version || !columnsJson || !featuresJson) {
    throw new ModelFileError('no_metadata', `the model lacks Vigil metadata (${META.version}, ${META.columns}, ${META.features})`);
  }
  const columns = parseColumns(columnsJson);
  if (typeof columns === 'string') throw new ModelFileError('bad_columns', columns);
  let features: unknown;
  try {
    features = JSON.parse(featuresJson);
  } catch {
    throw new ModelFileError('bad_features', `${META.features} is not JSON`);
  }
  if (!Array.isArray(features) || !features.every((f): f is string => typeof f === 'string')) {
    throw new ModelFileError('bad_features', `${META.features} must be a JSON array of feature names`);
  }
  const fromColumns = new Set(featuresOf(columns));
  const missing = [...fromColumns].filter((f) => !features.includes(f));
  if (missing.length > 0) throw new ModelFileError('bad_features', `${META.features} omits features its columns read: ${missing.join(', ')}`);
  let summary: TrainingSummary | null = null;
  try {
    const s: unknown = JSON.parse(metadata[META.training] ?? 'null');
    if (typeof s === 'object' && s !== null) summary = s as TrainingSummary;
  } catch {
    summary = null;
  }
  const forest = readForest(model.graph, columns.length, summary);
  return { version, columns, features, summary, forest, metadata };
}

function attrMap(node: onnxProto.onnx.INodeProto): Map<string, onnxProto.onnx.IAttributeProto> {
  return new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
}

/** The forest back from the TreeEnsembleRegressor's attributes (null when no node sizes). */
function readForest(graph: onnxProto.onnx.IGraphProto, cols: number, summary: TrainingSummary | null): IsolationForest | null {
  const node = (graph.node ?? []).find((n) => n.opType === 'TreeEnsembleRegressor');
  if (!node) throw new ModelFileError('bad_trees', 'the graph has no TreeEnsembleRegressor');
  const a = attrMap(node);
  const I = (k: string): number[] => (a.get(k)?.ints ?? []).map((v) => n64(v as Int64));
  const F = (k: string): number[] => a.get(k)?.floats ?? [];
  const treeIds = I('nodes_treeids');
  const nodeIds = I('nodes_nodeids');
  const featureIds = I('nodes_featureids');
  const values = F('nodes_values');
  const modes = (a.get('nodes_modes')?.strings ?? []).map((b) => utf8.decode(b));
  const trueIds = I('nodes_truenodeids');
  const falseIds = I('nodes_falsenodeids');
  const hitrates = F('nodes_hitrates');
  const tTree = I('target_treeids');
  const tNode = I('target_nodeids');
  const tWeight = F('target_weights');
  const n = treeIds.length;
  if (n === 0) throw new ModelFileError('bad_trees', 'the tree ensemble has no nodes');
  for (const [k, v] of [['nodes_nodeids', nodeIds], ['nodes_featureids', featureIds], ['nodes_values', values], ['nodes_modes', modes], ['nodes_truenodeids', trueIds], ['nodes_falsenodeids', falseIds]] as const) {
    if (v.length !== n) throw new ModelFileError('bad_trees', `${k} has ${v.length} entries, nodes_treeids ${n}`);
  }
  if (hitrates.length !== n) return null;
  if (tTree.length !== tNode.length || tTree.length !== tWeight.length) throw new ModelFileError('bad_trees', 'target_* lists differ in length');
  // Tree ids number the trees 0..k-1, each with at least one node: more trees than nodes means a
  // gap (and would size the arrays below by an id from the file, not by its node count).
  let maxTree = -1;
  for (const t of treeIds) {
    if (t < 0) throw new ModelFileError('bad_trees', 'negative tree id');
    if (t > maxTree) maxTree = t;
  }
  const treeCount = maxTree + 1;
  if (treeCount > n) throw new ModelFileError('bad_trees', `tree ids go up to ${maxTree} for ${n} nodes`);
  const counts = new Array<number>(treeCount).fill(0);
  for (const t of treeIds) counts[t]!++;
  const empty = counts.indexOf(0);
  if (empty >= 0) throw new ModelFileError('bad_trees', `tree ${empty} has no nodes`);
  const trees: ITree[] = counts.map((c) => ({
    feature: new Int32Array(c).fill(-2),
    threshold: new Float32Array(c),
    left: new Int32Array(c).fill(-1),
    right: new Int32Array(c).fill(-1),
    size: new Int32Array(c),
    value: new Float32Array(c),
  }));
  for (let i = 0; i < n; i++) {
    const tree = trees[treeIds[i]!]!;
    const id = nodeIds[i]!;
    const size = tree.feature.length;
    if (id < 0 || id >= size) throw new ModelFileError('bad_trees', `tree ${treeIds[i]}: node id ${id} out of range`);
    const leaf = modes[i] === 'LEAF';
    if (!leaf && modes[i] !== 'BRANCH_LT') throw new ModelFileError('bad_trees', `unsupported node mode ${modes[i]}`);
    if (!leaf && (featureIds[i]! < 0 || featureIds[i]! >= cols)) throw new ModelFileError('bad_trees', `feature id ${featureIds[i]} outside the ${cols} columns`);
    if (!leaf && !(inRange(trueIds[i]!, size) && inRange(falseIds[i]!, size))) throw new ModelFileError('bad_trees', `tree ${treeIds[i]}: child id out of range`);
    tree.feature[id] = leaf ? -1 : featureIds[i]!;
    tree.threshold[id] = values[i]!;
    tree.left[id] = leaf ? -1 : trueIds[i]!;
    tree.right[id] = leaf ? -1 : falseIds[i]!;
    tree.size[id] = hitrates[i]!;
  }
  for (let i = 0; i < tTree.length; i++) {
    const tree = trees[tTree[i]!];
    if (!tree || !inRange(tNode[i]!, tree.value.length)) throw new ModelFileError('bad_trees', 'target refers to an unknown node');
    tree.value[tNode[i]!] = tWeight[i]!;
  }
  for (const t of trees) {
    if (t.feature.some((f) => f === -2)) throw new ModelFileError('bad_trees', 'a tree has node ids missing');
    // Children must come after their parent (pre-order), which also rules out cycles.
    for (let i = 0; i < t.feature.length; i++) {
      if (t.feature[i]! >= 0 && (t.left[i]! <= i || t.right[i]! <= i)) throw new ModelFileError('bad_trees', 'tree nodes are not in pre-order');
    }
  }
  // Every tree has a node 0 (checked above); its size is ψ, the fallback when the summary (free
  // JSON) has no usable sample size.
  const recorded = summary?.sample_size;
  const sampleSize = typeof recorded === 'number' && Number.isInteger(recorded) && recorded >= 2 ? recorded : trees[0]!.size[0]!;
  return { trees, sampleSize, cols };
}

function inRange(i: number, n: number): boolean {
  return Number.isInteger(i) && i >= 0 && i < n;
}
