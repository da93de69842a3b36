// ONNX export: onnxruntime-node runs the exported graph and agrees with the TypeScript forest to
// 1e-5; the file carries Vigil's metadata and the server's reader gets the same trees back.
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { META, readModelFile } from '../../features/model/file.ts';
import { featuresOf } from '../../features/model/vector.ts';
import { DEFAULT_COLUMNS, VECTOR_COLUMNS } from '../../training/columns.ts';
import { createRandom, fitForest, score } from '../../training/iforest.ts';
import { exportOnnx, ML_OPSET, ONNX_OPSET } from '../../training/onnx.ts';
import { summaryFor, syntheticMatrix } from './helpers.ts';

const { onnx } = onnxProto;
/** The decoded graph's nodes (the generated types leave every field optional). */
function nodesOf(m: InstanceType<typeof onnx.ModelProto>): onnxProto.onnx.INodeProto[] {
  return m.graph?.node ?? [];
}
const C = DEFAULT_COLUMNS.length;
const train = syntheticMatrix(3000, 31);
const forest = fitForest(train, { trees: 80, seed: 8 });
const summary = summaryFor(forest, train.rows);
const { bytes, version } = exportOnnx({ forest, columns: DEFAULT_COLUMNS, summary });

describe('exportOnnx', () => {
  it('runs in onnxruntime-node with the same scores as the TypeScript forest (1e-5)', async () => {
    const session = await ort.InferenceSession.create(bytes);
    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(['anomaly']);
    // Random rows over and beyond the training range, plus the training rows themselves.
    const n = 2000;
    const r = createRandom(5, 5);
    const x = new Float32Array(n * C);
    for (let i = 0; i < x.length; i++) x[i] = i < train.data.length / 2 ? train.data[i]! : r() * 14 - 4;
    for (let i = 0; i < 500 * C; i++) x[i] = r() * 14 - 4;
    const out = await session.run({ features: new ort.Tensor('float32', x, [n, C]) });
    const y = out.anomaly!;
    expect(y.dims).toEqual([n, 1]);
    const data = y.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(data[i]! - score(forest, x, i * C)));
    expect(worst).toBeLessThan(1e-5);
    await session.release();
  });

  it('writes a real ONNX model: opsets, the ML tree ensemble and the normalisation ops', () => {
    const m = onnx.ModelProto.decode(bytes);
    const opsets = Object.fromEntries(m.opsetImport.map((o) => [o.domain ?? '', Number(o.version)]));
    expect(opsets).toEqual({ '': ONNX_OPSET, 'ai.onnx.ml': ML_OPSET });
    expect(nodesOf(m).map((n) => `${n.domain ?? ''}:${n.opType}`)).toEqual(['ai.onnx.ml:TreeEnsembleRegressor', ':Div', ':Neg', ':Pow']);
    const agg = nodesOf(m)[0]?.attribute?.find((a) => a.name === 'aggregate_function');
    expect(new TextDecoder().decode(agg?.s ?? new Uint8Array())).toBe('AVERAGE');
  });

  it('stores columns, features, version and the training summary in the metadata', () => {
    const file = readModelFile(bytes);
    expect(file.version).toBe(version);
    expect(version).toMatch(/^iforest-2026-02-01-[0-9a-f]{7}$/);
    expect(file.columns.map((c) => c.name)).toEqual(VECTOR_COLUMNS);
    expect(file.features).toEqual(featuresOf(DEFAULT_COLUMNS));
    expect(file.summary).toEqual(summary);
    expect(Object.keys(file.metadata).sort()).toEqual([META.columns, META.features, META.training, META.version].sort());
  });

  it('reads back the very trees it wrote', () => {
    const back = readModelFile(bytes).forest!;
    expect(back.sampleSize).toBe(forest.sampleSize);
    expect(back.trees.length).toBe(forest.trees.length);
    for (let t = 0; t < forest.trees.length; t++) {
      for (const k of ['feature', 'threshold', 'left', 'right', 'size', 'value'] as const) {
        expect(Array.from(back.trees[t]![k]), `tree ${t} ${k}`).toEqual(Array.from(forest.trees[t]![k]));
      }
    }
  });

  it('gives the same version for the same forest and another for another forest', () => {
    expect(exportOnnx({ forest, columns: DEFAULT_COLUMNS, summary: { ...summary, trained_at: '2030-01-01T00:00:00Z' } }).version).toBe(version);
    const other = fitForest(train, { trees: 80, seed: 9 });
    expect(exportOnnx({ forest: other, columns: DEFAULT_COLUMNS, summary }).version).not.toBe(version);
  });

  it('refuses a column list of the wrong length and a malformed date', () => {
    expect(() => exportOnnx({ forest, columns: DEFAULT_COLUMNS.slice(1), summary })).toThrow(RangeError);
    expect(() => exportOnnx({ forest, columns: DEFAULT_COLUMNS, summary, date: '2026/01/01' })).toThrow(RangeError);
  });
});
