// The anomaly model as a real ONNX file (docs/model.md "Export"): an ai.onnx.ml TreeEnsembleRegressor
// whose leaves hold each tree's path length h(x), averaged over the trees, then s = 2^(−E[h]/c(ψ))
// in standard ONNX operators, with the encoder's columns and a training summary in the metadata.
// Also reads such a file back (metadata and trees), for serving and for `explain`, so the .onnx
// file is the only artefact: nothing ships beside it.
import { createHash } from 'node:crypto';
import onnxProto from 'onnx-proto';
import { averagePathLength, type ITree, type IsolationForest } from './iforest.ts';
import { featuresOf, parseColumns, type ColumnSpec } from './vector.ts';

const { onnx } = onnxProto;

/** ai.onnx.ml opset 3: TreeEnsembleRegressor with float lists (onnxruntime 1.30 runs opsets 1–4). */
export const ML_OPSET = 3;
/** Default-domain opset for Div / Neg / Pow. */
export const ONNX_OPSET = 17;
/** IR version 8: what onnx-proto (ONNX 1.10) writes, read by every current runtime. */
const IR_VERSION = 8;

export const INPUT_NAME = 'features';
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

export interface ExportInput {
  readonly forest: IsolationForest;
  readonly columns: readonly ColumnSpec[];
  readonly summary: TrainingSummary;
  /** The `YYYY-MM-DD` part of the version (default: the date of `summary.to`, else of trained_at). */
  readonly date?: string;
}

const text = new TextEncoder();
const utf8 = new TextDecoder();

type Attr = InstanceType<typeof onnx.AttributeProto>;
const AT = onnx.AttributeProto.AttributeType;

function ints(name: string, v: ArrayLike<number>): Attr {
  return onnx.AttributeProto.create({ name, type: AT.INTS, ints: Array.from(v) });
}
function floats(name: string, v: ArrayLike<number>): Attr {
  return onnx.AttributeProto.create({ name, type: AT.FLOATS, floats: Array.from(v) });
}
function int(name: string, v: number): Attr {
  return onnx.AttributeProto.create({ name, type: AT.INT, i: v });
}
function str(name: string, v: string): Attr {
  return onnx.AttributeProto.create({ name, type: AT.STRING, s: text.encode(v) });
}
function strs(name: string, v: readonly string[]): Attr {
  const cache = new Map<string, Uint8Array>();
  return onnx.AttributeProto.create({
    name,
    type: AT.STRINGS,
    strings: v.map((s) => {
      let b = cache.get(s);
      if (!b) cache.set(s, (b = text.encode(s)));
      return b;
    }),
  });
}

function scalar(name: string, v: number): InstanceType<typeof onnx.TensorProto> {
  return onnx.TensorProto.create({ name, dataType: onnx.TensorProto.DataType.FLOAT, dims: [], floatData: [v] });
}

function tensorInfo(name: string, dims: readonly (number | string)[]): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

/** The TreeEnsembleRegressor attributes: node lists, leaf targets, and node sizes as hit rates. */
function treeAttributes(forest: IsolationForest): Attr[] {
  const treeIds: number[] = [];
  const nodeIds: number[] = [];
  const featureIds: number[] = [];
  const values: number[] = [];
  const modes: string[] = [];
  const trueIds: number[] = [];
  const falseIds: number[] = [];
  const hitrates: number[] = [];
  const tTree: number[] = [];
  const tNode: number[] = [];
  const tWeight: number[] = [];
  forest.trees.forEach((tree, t) => {
    for (let n = 0; n < tree.feature.length; n++) {
      const leaf = tree.feature[n]! < 0;
      treeIds.push(t);
      nodeIds.push(n);
      featureIds.push(leaf ? 0 : tree.feature[n]!);
      values.push(leaf ? 0 : tree.threshold[n]!);
      modes.push(leaf ? 'LEAF' : 'BRANCH_LT');
      trueIds.push(leaf ? 0 : tree.left[n]!);
      falseIds.push(leaf ? 0 : tree.right[n]!);
      // "Popularity of each node": the training points that reached it. The runtime ignores it;
      // explain reads it back for c(n) (training/iforest.ts `attribute`).
      hitrates.push(tree.size[n]!);
      if (leaf) {
        tTree.push(t);
        tNode.push(n);
        tWeight.push(tree.value[n]!);
      }
    }
  });
  return [
    str('aggregate_function', 'AVERAGE'),
    int('n_targets', 1),
    str('post_transform', 'NONE'),
    ints('nodes_treeids', treeIds),
    ints('nodes_nodeids', nodeIds),
    ints('nodes_featureids', featureIds),
    floats('nodes_values', values),
    strs('nodes_modes', modes),
    ints('nodes_truenodeids', trueIds),
    ints('nodes_falsenodeids', falseIds),
    floats('nodes_hitrates', hitrates),
    ints('target_treeids', tTree),
    ints('target_nodeids', tNode),
    ints('target_ids', new Array<number>(tTree.length).fill(0)),
    floats('target_weights', tWeight),
  ];
}

function buildGraph(forest: IsolationForest, cols: number): InstanceType<typeof onnx.GraphProto> {
  return onnx.GraphProto.create({
    name: 'vigil_isolation_forest',
    input: [tensorInfo(INPUT_NAME, ['N', cols])],
    output: [tensorInfo(OUTPUT_NAME, ['N', 1])],
    initializer: [scalar('c_psi', averagePathLength(forest.sampleSize)), scalar('two', 2)],
    node: [
      onnx.NodeProto.create({
        name: 'isolation_trees',
        opType: 'TreeEnsembleRegressor',
        domain: 'ai.onnx.ml',
        input: [INPUT_NAME],
        output: ['mean_path_length'],
        attribute: treeAttributes(forest),
      }),
      onnx.NodeProto.create({ name: 'normalise', opType: 'Div', input: ['mean_path_length', 'c_psi'], output: ['relative_depth'] }),
      onnx.NodeProto.create({ name: 'negate', opType: 'Neg', input: ['relative_depth'], output: ['exponent'] }),
      onnx.NodeProto.create({ name: 'anomaly_score', opType: 'Pow', input: ['two', 'exponent'], output: [OUTPUT_NAME] }),
    ],
  });
}

/** The model's version: `iforest-YYYY-MM-DD-<first 7 hex of sha256(graph)>`. */
function versionOf(graphBytes: Uint8Array, date: string): string {
  return `iforest-${date}-${createHash('sha256').update(graphBytes).digest('hex').slice(0, 7)}`;
}

/** Serialises the forest as an ONNX model; returns the bytes and the version written into it. */
export function exportOnnx(input: ExportInput): { bytes: Uint8Array; version: string } {
  const { forest, columns, summary } = input;
  if (columns.length !== forest.cols) throw new RangeError(`the forest has ${forest.cols} columns, the column list ${columns.length}`);
  const graph = buildGraph(forest, forest.cols);
  const date = input.date ?? (summary.to ?? summary.trained_at).slice(0, 10);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new RangeError(`version date must be YYYY-MM-DD, got ${date}`);
  const version = versionOf(onnx.GraphProto.encode(graph).finish(), date);
  const meta: [string, string][] = [
    [META.version, version],
    [META.columns, JSON.stringify(columns)],
    [META.features, JSON.stringify(featuresOf(columns))],
    [META.training, JSON.stringify(summary)],
  ];
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'vigil',
    producerVersion: '1',
    domain: 'dev.vigil',
    modelVersion: 1,
    docString: 'Isolation forest (Liu et al. 2008) over Vigil sign-in features; output anomaly in 0..1, higher is stranger.',
    opsetImport: [
      { domain: '', version: ONNX_OPSET },
      { domain: 'ai.onnx.ml', version: ML_OPSET },
    ],
    graph,
    metadataProps: meta.map(([key, value]) => ({ key, value })),
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), version };
}

// ------------------------------------------------------------------------------------------------
// Reading a model file back
// ------------------------------------------------------------------------------------------------

/** A model file that cannot be used; `code` is stable, the message is for people. */
export class ModelFileError extends Error {
  constructor(
    readonly code: 'not_onnx' | 'no_metadata' | 'bad_columns' | 'bad_trees' | 'bad_features',
    message: string,
  ) {
    super(message);
    this.name = 'ModelFileError';
  }
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
    throw new ModelFileError('not_onnx', `not an ONNX model: ${e instanceof Error ? e.message : String(e)}`);
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
  const treeCount = Math.max(...treeIds) + 1;
  const counts = new Array<number>(treeCount).fill(0);
  for (const t of treeIds) {
    if (t < 0) throw new ModelFileError('bad_trees', 'negative tree id');
    counts[t]!++;
  }
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
  const sampleSize = summary?.sample_size ?? trees[0]!.size[0]!;
  return { trees, sampleSize, cols };
}

function inRange(i: number, n: number): boolean {
  return Number.isInteger(i) && i >= 0 && i < n;
}
