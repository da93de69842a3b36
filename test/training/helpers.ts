// Shared fixtures for the anomaly-model tests: seeded data matrices, small forests and model files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { TrainingSummary } from '../../features/model/file.ts';
import type { IsolationForest } from '../../features/model/forest.ts';
import { createEncoder, type ColumnSpec } from '../../features/model/vector.ts';
import { DEFAULT_COLUMNS } from '../../training/columns.ts';
import { createRandom, fitForest, type Matrix } from '../../training/iforest.ts';
import { exportOnnx } from '../../training/onnx.ts';
import { syntheticRows } from '../../training/synthetic.ts';

/** `rows` × `cols` uniform values in [0, 1). */
export function uniformMatrix(rows: number, cols: number, seed: number): Matrix {
  const r = createRandom(seed, 999);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = r();
  return { data, rows, cols };
}

/** Synthetic legitimate feature rows encoded with the default columns. */
export function syntheticMatrix(rows: number, seed: number): Matrix {
  const enc = createEncoder(DEFAULT_COLUMNS);
  const cols = DEFAULT_COLUMNS.length;
  const data = new Float32Array(rows * cols);
  syntheticRows(rows, seed).forEach((r, i) => enc.encode(r.features, data, i * cols));
  return { data, rows, cols };
}

export function summaryFor(forest: IsolationForest, rows: number, extra: Partial<TrainingSummary> = {}): TrainingSummary {
  return {
    rows,
    from: '2026-01-05T00:00:00.000Z',
    to: '2026-02-01T00:00:00.000Z',
    trees: forest.trees.length,
    sample_size: forest.sampleSize,
    seed: 1,
    columns: forest.cols,
    trained_at: '2026-02-02T00:00:00.000Z',
    score_quantiles: {},
    ...extra,
  };
}

const tempDirs: string[] = [];
// Registered while the importing test file is collected: its temporary directories go after it.
afterAll(() => {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A new temporary directory, removed after the test file that made it. */
export function tempDir(prefix = 'vigil-model-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

/** A small model trained on synthetic rows, written to `path`; returns its forest and version. */
export function writeModel(
  path: string,
  opts: { seed?: number; trees?: number; columns?: readonly ColumnSpec[]; rows?: number } = {},
): { forest: IsolationForest; version: string } {
  const columns = opts.columns ?? DEFAULT_COLUMNS;
  const rows = opts.rows ?? 2000;
  const enc = createEncoder(columns);
  const data = new Float32Array(rows * columns.length);
  syntheticRows(rows, opts.seed ?? 3).forEach((r, i) => enc.encode(r.features, data, i * columns.length));
  const forest = fitForest({ data, rows, cols: columns.length }, { trees: opts.trees ?? 30, seed: opts.seed ?? 3 });
  const { bytes, version } = exportOnnx({ forest, columns, summary: summaryFor(forest, rows, { seed: opts.seed ?? 3 }) });
  writeFileSync(path, bytes);
  return { forest, version };
}
