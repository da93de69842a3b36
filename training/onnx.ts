// Writing the anomaly model as a real ONNX file (docs/model.md "Export"): an ai.onnx.ml
// TreeEnsembleRegressor whose leaves hold each tree's path length h(x), averaged over the trees,
// then s = 2^(−E[h]/c(ψ)) in standard ONNX operators, with the encoder's columns and a training
// summary in the metadata. The server reads the file back (features/model/file.ts), trees included,
// so the .onnx file is the only artefact: nothing ships beside it.
import { createHash } from 'node:crypto';
import onnxProto from 'onnx-proto';
import { INPUT_NAME, META, OUTPUT_NAME, type TrainingSummary } from '../features/model/file.ts';
import { averagePathLength, type IsolationForest } from '../features/model/forest.ts';
import { featuresOf, type ColumnSpec } from '../features/model/vector.ts';

const { onnx } = onnxProto;

/** ai.onnx.ml opset 3: TreeEnsembleRegressor with float lists (onnxruntime 1.30 runs opsets 1–4). */
export const ML_OPSET = 3;
/** Default-domain opset for Div / Neg / Pow. */
export const ONNX_OPSET = 17;
/** IR version 8: what onnx-proto (ONNX 1.10) writes, read by every current runtime. */
const IR_VERSION = 8;

export interface ExportInput {
  readonly forest: IsolationForest;
  readonly columns: readonly ColumnSpec[];
  readonly summary: TrainingSummary;
  /** The `YYYY-MM-DD` part of the version (default: the date of `summary.to`, else of trained_at). */
  readonly date?: string;
}

const text = new TextEncoder();

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
      // explain reads it back for c(n) (features/model/forest.ts `attribute`).
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
