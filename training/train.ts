// `vigil train`: recorded feature rows (NDJSON) → encoded vectors → isolation forest (on worker
// threads) → ONNX file (docs/model.md "Training"). Accepts every line format Vigil writes with a
// `features` object: the engine recorder's decision rows (VIGIL_RECORD; its outcome rows are
// skipped), `vigil simulate --features-out` rows and replay's `{"event","features"}` lines.
import { createReadStream } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { errorMessage } from '../common/errors.ts';
import type { TrainingSummary } from '../features/model/file.ts';
import type { IsolationForest } from '../features/model/forest.ts';
import { createEncoder, type ColumnSpec, type FeatureBag } from '../features/model/vector.ts';
import { DEFAULT_COLUMNS } from './columns.ts';
import { DEFAULT_SAMPLE_SIZE, DEFAULT_SEED, DEFAULT_TREES, trainForest } from './iforest.ts';
import { exportOnnx } from './onnx.ts';

export interface TrainOptions {
  /** NDJSON file path, or the lines themselves. */
  readonly events: string | Iterable<string> | AsyncIterable<string>;
  /** Where the .onnx file is written (atomically: a watching server never reads half a file). */
  readonly out: string;
  readonly trees?: number;
  readonly sampleSize?: number;
  readonly seed?: number;
  /** Worker threads (default: os.availableParallelism() for large inputs, else 1). */
  readonly threads?: number;
  readonly columns?: readonly ColumnSpec[];
  /** Skip rows whose `label` is present and not "legit" (labelled simulated traffic). */
  readonly legitOnly?: boolean;
  /** Build time written into the summary (default now). */
  readonly now?: Date;
  /** Called for each line that is not a feature row (1-based line number). */
  readonly onBadLine?: (lineNo: number, reason: string) => void;
}

export interface TrainReport {
  readonly version: string;
  readonly out: string;
  readonly bytes: number;
  readonly rows: number;
  /** Lines that were not feature rows. */
  readonly badLines: number;
  /** Outcome rows and rows left out by legitOnly. */
  readonly skipped: number;
  readonly threads: number;
  readonly summary: TrainingSummary;
  readonly forest: IsolationForest;
  readonly ms: number;
}

/** Training cannot proceed (no usable rows, unreadable input); the CLI exits 1. */
export class TrainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainError';
  }
}

// Below this much work (rows × trees) a worker's start-up (loading tsx in the thread, about a
// second) costs more than it saves: 2 workers lost at 300 000 rows × 100 trees and won at 1 000 000
// (docs/model.md "Training").
const PARALLEL_WORK = 50_000_000;

async function* linesOf(src: TrainOptions['events']): AsyncGenerator<string> {
  if (typeof src !== 'string') {
    yield* src;
    return;
  }
  const stream = createReadStream(src, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (e) {
    throw new TrainError(`cannot read ${src}: ${errorMessage(e)}`);
  }
  yield* createInterface({ input: stream, crlfDelay: Infinity });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A growable row-major Float32Array. */
class Rows {
  data: Float32Array;
  rows = 0;
  constructor(readonly cols: number) {
    this.data = new Float32Array(cols * 1024);
  }
  slot(): number {
    if ((this.rows + 1) * this.cols > this.data.length) {
      const bigger = new Float32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    return this.rows++ * this.cols;
  }
}

const QUANTILES = [0.5, 0.9, 0.99, 0.999] as const;

function quantiles(scores: Float32Array): Record<string, number> {
  const sorted = Float32Array.from(scores).sort();
  const out: Record<string, number> = {};
  for (const q of QUANTILES) {
    const v = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    out[`p${(q * 100).toString().replace('.', '_')}`] = Math.round(v * 1e4) / 1e4;
  }
  out.max = Math.round(sorted[sorted.length - 1]! * 1e4) / 1e4;
  return out;
}

export async function train(opts: TrainOptions): Promise<TrainReport> {
  const t0 = performance.now();
  const columns = opts.columns ?? DEFAULT_COLUMNS;
  const encoder = createEncoder(columns);
  const rows = new Rows(columns.length);
  let badLines = 0;
  let skipped = 0;
  let lineNo = 0;
  let from = Infinity;
  let to = -Infinity;
  const bad = (reason: string): void => {
    badLines++;
    opts.onBadLine?.(lineNo, reason);
  };
  for await (const line of linesOf(opts.events)) {
    lineNo++;
    if (line.trim().length === 0) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      bad('not JSON');
      continue;
    }
    if (!isObject(v)) {
      bad('not a JSON object');
      continue;
    }
    if (v.kind === 'outcome') {
      skipped++;
      continue;
    }
    if (!isObject(v.features)) {
      bad('no "features" object');
      continue;
    }
    if (opts.legitOnly && v.label !== undefined && v.label !== 'legit') {
      skipped++;
      continue;
    }
    if (typeof v.time === 'string') {
      const t = Date.parse(v.time);
      if (!Number.isNaN(t)) {
        if (t < from) from = t;
        if (t > to) to = t;
      }
    }
    // Values of any JSON type are safe: encode maps anything unexpected to the column's missing value.
    encoder.encode(v.features as FeatureBag, rows.data, rows.slot());
  }
  if (rows.rows < 2) throw new TrainError(`need at least 2 feature rows to train, found ${rows.rows}${badLines ? ` (${badLines} bad lines)` : ''}`);

  const trees = opts.trees ?? DEFAULT_TREES;
  const sampleSize = opts.sampleSize ?? DEFAULT_SAMPLE_SIZE;
  const seed = opts.seed ?? DEFAULT_SEED;
  const threads = opts.threads ?? (rows.rows * trees >= PARALLEL_WORK ? undefined : 1);
  const matrix = { data: rows.data, rows: rows.rows, cols: columns.length };
  const trained = await trainForest(matrix, { trees, sampleSize, seed, ...(threads !== undefined ? { threads } : {}) });
  const now = opts.now ?? new Date();
  const summary: TrainingSummary = {
    rows: rows.rows,
    from: Number.isFinite(from) ? new Date(from).toISOString() : null,
    to: Number.isFinite(to) ? new Date(to).toISOString() : null,
    trees,
    sample_size: trained.forest.sampleSize,
    seed,
    columns: columns.length,
    trained_at: now.toISOString(),
    score_quantiles: quantiles(trained.scores),
    ...(typeof opts.events === 'string' ? { source: basename(opts.events) } : {}),
  };
  const { bytes, version } = exportOnnx({ forest: trained.forest, columns, summary });
  const tmp = `${opts.out}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, opts.out);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new TrainError(`cannot write ${opts.out}: ${errorMessage(e)}`);
  }
  return {
    version,
    out: opts.out,
    bytes: bytes.length,
    rows: rows.rows,
    badLines,
    skipped,
    threads: trained.threads,
    summary,
    forest: trained.forest,
    ms: performance.now() - t0,
  };
}
