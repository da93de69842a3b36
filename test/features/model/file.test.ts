// Reading a model file: a file the exporter wrote reads back; bytes that are not ONNX, missing or
// malformed metadata and trees pointing outside their node list are refused with a stable code.
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { VigilError } from '../../../common/errors.ts';
import { ModelFileError } from '../../../features/errors.ts';
import { META, readModelFile } from '../../../features/model/file.ts';
import { DEFAULT_COLUMNS } from '../../../training/columns.ts';
import { fitForest } from '../../../training/iforest.ts';
import { exportOnnx } from '../../../training/onnx.ts';
import { summaryFor, syntheticMatrix } from '../../training/helpers.ts';

const { onnx } = onnxProto;
/** The decoded graph's nodes (the generated types leave every field optional). */
function nodesOf(m: InstanceType<typeof onnx.ModelProto>): onnxProto.onnx.INodeProto[] {
  return m.graph?.node ?? [];
}
const train = syntheticMatrix(1000, 31);
const forest = fitForest(train, { trees: 20, seed: 8 });
const { bytes, version } = exportOnnx({ forest, columns: DEFAULT_COLUMNS, summary: summaryFor(forest, train.rows) });

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof ModelFileError ? e.code : `not a ModelFileError: ${String(e)}`;
  }
  return undefined;
}

describe('readModelFile', () => {
  it('reads what the exporter wrote', () => {
    const file = readModelFile(bytes);
    expect(file.version).toBe(version);
    expect(file.columns).toEqual(DEFAULT_COLUMNS);
    expect(file.forest?.trees).toHaveLength(20);
  });

  it('throws a VigilError whose code is stable', () => {
    try {
      readModelFile(new Uint8Array(0));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(VigilError);
      expect(e).toMatchObject({ name: 'ModelFileError', code: 'not_onnx' });
    }
  });
});

describe('readModelFile refuses', () => {
  function withMeta(edit: (meta: Map<string, string>) => void): Uint8Array {
    const m = onnx.ModelProto.decode(bytes);
    const meta = new Map(m.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
    edit(meta);
    m.metadataProps = [...meta].map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
    return onnx.ModelProto.encode(m).finish();
  }

  it('bytes that are not ONNX', () => {
    expect(codeOf(() => readModelFile(new TextEncoder().encode('definitely not protobuf \u0000\u00ff')))).toBe('not_onnx');
    expect(codeOf(() => readModelFile(new Uint8Array(0)))).toBe('not_onnx');
  });
  it('a model without Vigil metadata', () => {
    expect(codeOf(() => readModelFile(withMeta((m) => m.delete(META.columns))))).toBe('no_metadata');
  });
  it('bad columns', () => {
    expect(codeOf(() => readModelFile(withMeta((m) => m.set(META.columns, '[{"name":1}]'))))).toBe('bad_columns');
  });
  it('a feature list that omits what the columns read', () => {
    expect(codeOf(() => readModelFile(withMeta((m) => m.set(META.features, '["device.known"]'))))).toBe('bad_features');
    expect(codeOf(() => readModelFile(withMeta((m) => m.set(META.features, '{"a":1}'))))).toBe('bad_features');
  });
  it('trees that point outside the node list', () => {
    const m = onnx.ModelProto.decode(bytes);
    const ids = nodesOf(m)[0]?.attribute?.find((a) => a.name === 'nodes_truenodeids');
    expect(ids?.ints?.length).toBeGreaterThan(0);
    ids!.ints![0] = 100_000;
    expect(codeOf(() => readModelFile(onnx.ModelProto.encode(m).finish()))).toBe('bad_trees');
  });

  /** The file with every id of the `nodes_treeids` and `target_treeids` lists mapped by `f`. */
  function withTreeIds(f: (id: number) => number): Uint8Array {
    const m = onnx.ModelProto.decode(bytes);
    for (const name of ['nodes_treeids', 'target_treeids']) {
      const a = nodesOf(m)[0]?.attribute?.find((x) => x.name === name);
      if (!a?.ints?.length) throw new Error(`no ${name} in the exported file`);
      a.ints = a.ints.map((v) => f(Number(v)));
    }
    return onnx.ModelProto.encode(m).finish();
  }

  it('a tree id with no nodes (a gap in the ids), with or without a sample size in the summary', () => {
    expect(codeOf(() => readModelFile(withTreeIds((t) => t + 1)))).toBe('bad_trees');
    const noSummary = onnx.ModelProto.decode(withTreeIds((t) => t + 1));
    noSummary.metadataProps = noSummary.metadataProps.filter((p) => p.key !== META.training);
    expect(codeOf(() => readModelFile(onnx.ModelProto.encode(noSummary).finish()))).toBe('bad_trees');
  });

  it('a tree id far past the node count (no array is sized by it)', () => {
    expect(codeOf(() => readModelFile(withTreeIds((t) => (t === 0 ? 2 ** 40 : t))))).toBe('bad_trees');
  });
});

describe('readModelFile sample size', () => {
  function withSummary(summary: string | null): Uint8Array {
    const m = onnx.ModelProto.decode(bytes);
    m.metadataProps = m.metadataProps.filter((p) => p.key !== META.training);
    if (summary !== null) m.metadataProps.push(onnx.StringStringEntryProto.create({ key: META.training, value: summary }));
    return onnx.ModelProto.encode(m).finish();
  }

  it("is the summary's when it is a usable count", () => {
    expect(readModelFile(bytes).forest?.sampleSize).toBe(forest.sampleSize);
  });

  it("falls back to the first tree's root size when the summary has none or a malformed one", () => {
    const root = forest.trees[0]!.size[0];
    expect(root).toBe(forest.sampleSize);
    for (const s of [null, '{}', '{"sample_size":"256"}', '{"sample_size":0}', '{"sample_size":2.5}', 'not json']) {
      expect(readModelFile(withSummary(s)).forest?.sampleSize, String(s)).toBe(root);
    }
  });
});
