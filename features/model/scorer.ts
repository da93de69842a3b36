// The `model` signal source: serves the ONNX anomaly model (`model.anomaly`, `model.version`) with
// ONE onnxruntime session per process, hot-reloads the model file without dropping requests, and
// explains a score by per-feature attributions read from the same file (docs/model.md "Serving",
// "Explain"). It reads an event's features from the engine's Slots array, through the column → slot
// binding made when a model is loaded. A failure or a timeout makes score() resolve undefined — the
// engine then marks the event degraded — it never throws.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import * as ort from 'onnxruntime-node';
import { errorMessage } from '../../common/errors.ts';
import { assetPath } from '../../common/paths.ts';
import type { Slots } from '../../dsl/types.ts';
import { CATALOG_BY_NAME, VIGIL_SCHEME } from '../catalog.ts';
import { ModelFileError, ModelLoadError } from '../errors.ts';
import { INPUT_NAME, OUTPUT_NAME, readModelFile, type TrainingSummary } from './file.ts';
import { attribute, type IsolationForest } from './forest.ts';
import { createSlotEncoder, slotsFromRecord, type FeatureBag, type SlotEncoder } from './vector.ts';

/** The model shipped with Vigil (models/README.md says how it was built). */
export const DEFAULT_MODEL_PATH = assetPath('models/iforest-default.onnx');

export interface Contribution {
  readonly feature: string;
  /** Share of the path-length deficit due to this feature (docs/model.md "Explain"); > 0 pushes toward anomalous. */
  readonly contribution: number;
}

export interface ModelScore {
  readonly anomaly: number;
  /** The version that produced this score (a reload may swap models between two calls). */
  readonly version: string;
  readonly contributions?: readonly Contribution[];
}

export interface ScoreOptions {
  /** Add the top feature contributions. */
  readonly explain?: boolean;
  /** How many contributions (default 5). */
  readonly topK?: number;
}

export interface ModelScorer {
  readonly version: string;
  /** Catalog names the loaded model reads (add them to the engine's extra features). */
  readonly features: readonly string[];
  readonly path: string;
  readonly summary: TrainingSummary | null;
  /**
   * Scores one event. `slots` is indexed by VIGIL_SCHEME's slots (features/catalog.ts); the slots of
   * `features` must be filled, missing values undefined.
   */
  score(slots: Slots, opts?: ScoreOptions): Promise<ModelScore | undefined>;
  /** Top-k features by |contribution| for the loaded model ([] when the file holds no node sizes). */
  explain(slots: Slots, topK?: number): Contribution[];
  /** Loads `path` (default: the current file) and swaps it in once it has loaded and run; throws if it cannot. */
  reload(path?: string): Promise<void>;
  close(): Promise<void>;
}

export interface ModelLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ModelScorerOptions {
  readonly path: string;
  readonly logger?: ModelLogger;
  /** Budget per score() (default 25 ms, as VIGIL_SIGNAL_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** Reload when the file changes (default true). */
  readonly watch?: boolean;
  /**
   * Run the requests that arrive in the same event-loop turn as one batch (default true): under
   * concurrency one run per batch costs far less per request than one run each, while a lone
   * request waits one more event-loop turn (bench/model.ts; docs/model.md "Serving" has figures).
   */
  readonly batch?: boolean;
  /** Called on each failed or timed-out score (metrics). */
  readonly onFailure?: (reason: 'error' | 'timeout') => void;
  /** Called after a reload swapped models in. */
  readonly onReload?: (version: string) => void;
  /** Opens the runtime session (default: onnxruntime-node); tests inject failures through it. */
  readonly createSession?: SessionFactory;
}

/**
 * What the scorer uses of an onnxruntime InferenceSession (one `run` signature, not the session's
 * overloads, so a test double is a plain object).
 */
export interface ModelSession {
  readonly inputMetadata: ort.InferenceSession['inputMetadata'];
  readonly outputNames: ort.InferenceSession['outputNames'];
  run(feeds: ort.InferenceSession.FeedsType): Promise<ort.InferenceSession.ReturnType>;
  release(): Promise<void>;
}
export type SessionFactory = (bytes: Uint8Array, options: ort.InferenceSession.SessionOptions) => Promise<ModelSession>;

const defaultSessionFactory: SessionFactory = (bytes, options) => ort.InferenceSession.create(bytes, options);

const MAX_BATCH = 64;
const POOL_MAX = 16;
const DEFAULT_TIMEOUT_MS = 25;
const DEFAULT_TOP_K = 5;
const WATCH_DEBOUNCE_MS = 150;
const FAILURE_LOG_INTERVAL_MS = 10_000;

/** A preallocated input: the runtime reads it when the run actually starts (a later tick). */
interface InputBuffer {
  readonly buf: Float32Array;
  readonly feeds: Record<string, ort.Tensor>;
}

interface Loaded {
  readonly path: string;
  readonly session: ModelSession;
  /** The model's columns bound to VIGIL_SCHEME's slots, once per load. */
  readonly encoder: SlotEncoder;
  readonly cols: number;
  readonly version: string;
  readonly features: readonly string[];
  readonly forest: IsolationForest | null;
  readonly summary: TrainingSummary | null;
  /** Feature name of each column and the distinct names, for aggregating attributions. */
  readonly columnFeature: Int32Array;
  readonly featureNames: readonly string[];
  readonly pool: InputBuffer[];
  inflight: number;
  retired: boolean;
}

function newInput(cols: number, rows = 1): InputBuffer {
  const buf = new Float32Array(cols * rows);
  return { buf, feeds: { [INPUT_NAME]: new ort.Tensor('float32', buf, [rows, cols]) } };
}

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  // One event is a few microseconds of tree walking: threads cost more than they give.
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
};

/** Checks a model file against the catalog and the runtime, and opens its session. */
async function load(path: string, createSession: SessionFactory): Promise<Loaded> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new ModelLoadError('unreadable', `cannot read model ${path}: ${errorMessage(e)}`, { cause: e });
  }
  let file;
  try {
    file = readModelFile(bytes);
  } catch (e) {
    if (e instanceof ModelFileError) throw new ModelLoadError(e.code, `model ${path}: ${e.message}`, { cause: e });
    throw e;
  }
  // A feature the catalog cannot fill would be missing on every event: the model would score every
  // event as if that signal were absent, silently. Refuse it instead.
  const unknown = file.features.filter((f) => {
    const entry = CATALOG_BY_NAME.get(f);
    return entry === undefined || entry.source === 'model' || entry.source === 'engine';
  });
  if (unknown.length > 0) {
    throw new ModelLoadError('unknown_feature', `model ${path} (${file.version}) needs features the catalog cannot fill: ${unknown.join(', ')}`);
  }
  let session: ModelSession;
  try {
    session = await createSession(bytes, SESSION_OPTIONS);
  } catch (e) {
    throw new ModelLoadError('bad_graph', `onnxruntime cannot load model ${path}: ${errorMessage(e)}`, { cause: e });
  }
  const cols = file.columns.length;
  const input = session.inputMetadata.find((m) => m.name === INPUT_NAME);
  const inputOk = input !== undefined && input.isTensor && input.type === 'float32' && input.shape.length === 2 && input.shape[1] === cols;
  if (!inputOk || !session.outputNames.includes(OUTPUT_NAME)) {
    await session.release().catch(() => undefined);
    throw new ModelLoadError('bad_graph', `model ${path}: expected input ${INPUT_NAME} float32[N, ${cols}] and output ${OUTPUT_NAME}`);
  }
  // One real run before the model may serve: a graph that loads but cannot run is refused here,
  // not discovered on the first request.
  const probe = newInput(cols);
  try {
    const out = await session.run(probe.feeds);
    const v = out[OUTPUT_NAME]?.data;
    if (!(v instanceof Float32Array) || v.length !== 1 || !Number.isFinite(v[0])) throw new Error('output is not one finite float');
  } catch (e) {
    await session.release().catch(() => undefined);
    throw new ModelLoadError('bad_graph', `model ${path} does not run: ${errorMessage(e)}`, { cause: e });
  }
  const encoder = createSlotEncoder(file.columns, VIGIL_SCHEME);
  const featureNames = [...new Set(file.columns.map((c) => c.feature))];
  const columnFeature = Int32Array.from(file.columns.map((c) => featureNames.indexOf(c.feature)));
  if (file.forest && file.forest.cols !== cols) throw new ModelLoadError('bad_trees', `model ${path}: trees and columns disagree`);
  return {
    path,
    session,
    encoder,
    cols,
    version: file.version,
    features: Object.freeze([...file.features]),
    forest: file.forest,
    summary: file.summary,
    columnFeature,
    featureNames,
    pool: [probe],
    inflight: 0,
    retired: false,
  };
}

function release(m: Loaded): void {
  m.session.release().catch(() => undefined);
}

/** Top-k contributions of one event under model `m`. */
function explainWith(m: Loaded, slots: Slots, topK: number): Contribution[] {
  if (!m.forest) return [];
  const x = new Float32Array(m.cols);
  m.encoder.encode(slots, x);
  const perColumn = new Float64Array(m.cols);
  attribute(m.forest, x, perColumn);
  const perFeature = new Float64Array(m.featureNames.length);
  // columnFeature[j] is an index into featureNames (load() builds both from the same columns).
  for (let j = 0; j < m.cols; j++) perFeature[m.columnFeature[j]!]! += perColumn[j]!;
  const out: Contribution[] = m.featureNames.map((feature, i) => ({ feature, contribution: Math.round(perFeature[i]! * 1e4) / 1e4 }));
  out.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || (a.feature < b.feature ? -1 : 1));
  return out.slice(0, Math.max(0, topK));
}

/** A batch that did not answer within the scorer's budget. */
const TIMED_OUT = 'timeout';

interface Pending {
  readonly resolve: (v: number | undefined | typeof TIMED_OUT) => void;
}

/**
 * Collects the requests of one event-loop turn into one [B, C] run. Rows are encoded straight into
 * the batch's buffer; a flushed batch's buffer is not reused before its run has finished.
 */
class Batcher {
  private buf: InputBuffer;
  private waiting: Pending[] = [];
  private scheduled = false;
  private readonly spare: InputBuffer[] = [];

  constructor(
    private readonly m: Loaded,
    private readonly timeoutMs: number,
  ) {
    this.buf = newInput(m.cols, MAX_BATCH);
  }

  push(slots: Slots): Promise<number | undefined | typeof TIMED_OUT> {
    return new Promise<number | undefined | typeof TIMED_OUT>((resolve) => {
      this.m.encoder.encode(slots, this.buf.buf, this.waiting.length * this.m.cols);
      // Counted from now, not from the flush: a reload in between must not release the session
      // this request is queued for.
      this.m.inflight++;
      this.waiting.push({ resolve });
      if (this.waiting.length >= MAX_BATCH) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.waiting;
    if (batch.length === 0) return;
    const input = this.buf;
    this.waiting = [];
    this.buf = this.spare.pop() ?? newInput(this.m.cols, MAX_BATCH);
    const m = this.m;
    const n = batch.length;
    const feeds = n === MAX_BATCH ? input.feeds : { [INPUT_NAME]: new ort.Tensor('float32', input.buf.subarray(0, n * m.cols), [n, m.cols]) };
    // One deadline for the whole batch (not a timer per request): past it every request of the batch
    // answers "timeout", and a late result is dropped.
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      for (const p of batch) p.resolve(TIMED_OUT);
    }, this.timeoutMs);
    m.session
      .run(feeds)
      .then(
        (out) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const data = out[OUTPUT_NAME]?.data;
          for (let i = 0; i < n; i++) {
            const v = data instanceof Float32Array ? data[i] : undefined;
            batch[i]!.resolve(v !== undefined && Number.isFinite(v) ? v : undefined);
          }
        },
        () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          for (const p of batch) p.resolve(undefined);
        },
      )
      .finally(() => {
        if (this.spare.length < 2) this.spare.push(input);
        done(m, n);
      });
  }
}

function done(m: Loaded, runs = 1): void {
  m.inflight -= runs;
  if (m.retired && m.inflight === 0) release(m);
}

export async function createModelScorer(opts: ModelScorerOptions): Promise<ModelScorer> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const log = opts.logger;
  const createSession = opts.createSession ?? defaultSessionFactory;
  let current = await load(resolvePath(opts.path), createSession);
  const batching = opts.batch ?? true;
  let batcher: Batcher | null = batching ? new Batcher(current, timeoutMs) : null;
  let closed = false;
  let watcher: FSWatcher | null = null;
  let debounce: NodeJS.Timeout | null = null;
  let reloading: Promise<void> = Promise.resolve();
  let lastFailureLog = 0;

  const failed = (reason: 'error' | 'timeout', err?: unknown): undefined => {
    opts.onFailure?.(reason);
    const now = Date.now();
    // One line per interval: a broken model must not flood the log at request rate.
    if (log && now - lastFailureLog >= FAILURE_LOG_INTERVAL_MS) {
      lastFailureLog = now;
      log.warn({ reason, version: current.version, ...(err !== undefined ? { err: errorMessage(err) } : {}) }, 'anomaly model score failed');
    }
    return undefined;
  };

  function runOne(m: Loaded, slots: Slots): Promise<number | undefined> {
    // Copy-on-busy: a buffer whose run has not started yet must not be overwritten, so concurrent
    // calls take their own buffer (allocated only when the pool is empty).
    const input = m.pool.pop() ?? newInput(m.cols);
    try {
      m.encoder.encode(slots, input.buf);
    } catch (e) {
      m.pool.push(input);
      throw e;
    }
    m.inflight++;
    return m.session
      .run(input.feeds)
      .then((out) => {
        const data = out[OUTPUT_NAME]?.data;
        const v = data instanceof Float32Array ? data[0] : undefined;
        return v !== undefined && Number.isFinite(v) ? v : undefined;
      })
      .finally(() => {
        if (m.pool.length < POOL_MAX) m.pool.push(input);
        done(m);
      });
  }

  async function score(slots: Slots, sopts: ScoreOptions = {}): Promise<ModelScore | undefined> {
    if (closed) return undefined;
    const m = current;
    let timer: NodeJS.Timeout | undefined;
    try {
      // A batch keeps its own deadline; a single run races a timer of its own.
      const v = batcher
        ? await batcher.push(slots)
        : await Promise.race([
            runOne(m, slots),
            new Promise<typeof TIMED_OUT>((resolve) => {
              timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
            }),
          ]);
      if (v === TIMED_OUT) return failed('timeout');
      if (v === undefined) return failed('error');
      if (!sopts.explain) return { anomaly: v, version: m.version };
      return { anomaly: v, version: m.version, contributions: explainWith(m, slots, sopts.topK ?? DEFAULT_TOP_K) };
    } catch (e) {
      return failed('error', e);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  function startWatch(path: string): void {
    watcher?.close();
    watcher = null;
    if (opts.watch === false) return;
    const name = basename(path);
    try {
      // The directory, not the file: `vigil train` replaces the file by renaming over it, and a
      // watch on the old inode would never fire again.
      watcher = watch(dirname(path), (_event, file) => {
        if (file !== null && file.toString() !== name) return;
        if (debounce) clearTimeout(debounce);
        debounce = setTimeout(() => {
          debounce = null;
          reload().catch((e: unknown) => {
            log?.warn({ err: errorMessage(e), path }, 'model file changed but cannot be loaded; the previous model keeps serving');
          });
        }, WATCH_DEBOUNCE_MS);
        debounce.unref();
      });
      watcher.on('error', () => undefined);
      // Watching never keeps a process alive on its own (a CLI run ends when its work does).
      watcher.unref();
    } catch (e) {
      log?.warn({ err: errorMessage(e), path }, 'cannot watch the model file; reload only on request');
    }
  }

  function reload(path?: string): Promise<void> {
    const target = path !== undefined ? resolvePath(path) : current.path;
    // Reloads run one at a time, in order: the last requested file wins.
    const next = reloading.then(async () => {
      if (closed) return;
      const fresh = await load(target, createSession);
      if (closed) {
        release(fresh);
        return;
      }
      const old = current;
      current = fresh;
      batcher = batching ? new Batcher(fresh, timeoutMs) : null;
      old.retired = true;
      if (old.inflight === 0) release(old);
      if (target !== old.path) startWatch(target);
      log?.info({ version: fresh.version, previous: old.version, path: target }, 'anomaly model loaded');
      opts.onReload?.(fresh.version);
    });
    reloading = next.catch(() => undefined);
    return next;
  }

  startWatch(current.path);
  log?.info({ version: current.version, path: current.path, features: current.features.length }, 'anomaly model loaded');

  return {
    get version() {
      return current.version;
    },
    get features() {
      return current.features;
    },
    get path() {
      return current.path;
    },
    get summary() {
      return current.summary;
    },
    score,
    explain: (slots, topK = DEFAULT_TOP_K) => explainWith(current, slots, topK),
    reload,
    async close() {
      if (closed) return;
      closed = true;
      watcher?.close();
      watcher = null;
      if (debounce) clearTimeout(debounce);
      await reloading;
      current.retired = true;
      if (current.inflight === 0) release(current);
    },
  };
}

/** A record keyed by feature name (a training row, a recorded event) as the scorer's Slots. */
export function modelSlots(features: FeatureBag): Slots {
  return slotsFromRecord(features, VIGIL_SCHEME);
}

/**
 * The scorer for offline use (evaluation and replay tools): no file watch, a generous time budget,
 * features by name, the score as a plain number (null when it failed).
 */
export async function loadAnomalyScorer(
  path: string = DEFAULT_MODEL_PATH,
): Promise<{ readonly version: string; score(features: FeatureBag): Promise<number | null>; close(): Promise<void> }> {
  const s = await createModelScorer({ path, watch: false, timeoutMs: 10_000 });
  return {
    version: s.version,
    score: async (features) => (await s.score(modelSlots(features)))?.anomaly ?? null,
    close: () => s.close(),
  };
}
