// The model signal source: the shipped model serves, scores equal the TypeScript forest even under
// concurrency (pooled and batched), read from the engine's Slots by slot, explanations add up,
// unusable models are refused at load with a stable code, reloads (explicit and on file change) swap
// without dropping requests, and every failure resolves undefined.
import { renameSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import { VigilError } from '../../../common/errors.ts';
import type { Slots } from '../../../dsl/types.ts';
import { VIGIL_SCHEME } from '../../../features/catalog.ts';
import {
  createEncoder,
  createModelScorer,
  DEFAULT_MODEL_PATH,
  loadAnomalyScorer,
  modelSlots,
  ModelLoadError,
  readModelFile,
  type ColumnSpec,
  type FeatureBag,
  type IsolationForest,
  type ModelScorer,
  type ModelScorerOptions,
  type SessionFactory,
} from '../../../features/model/index.ts';
import { DEFAULT_COLUMNS, MODEL_FEATURES } from '../../../training/columns.ts';
import { score as forestScore } from '../../../training/iforest.ts';
import { syntheticRows } from '../../../training/synthetic.ts';
import { tempDir, writeModel } from '../../training/helpers.ts';

const open: ModelScorer[] = [];
async function scorer(opts: ModelScorerOptions): Promise<ModelScorer> {
  const s = await createModelScorer({ watch: false, timeoutMs: 5_000, ...opts });
  open.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

const enc = createEncoder(DEFAULT_COLUMNS);
function tsScore(forest: IsolationForest, f: FeatureBag): number {
  const x = new Float32Array(DEFAULT_COLUMNS.length);
  enc.encode(f, x);
  return forestScore(forest, x);
}

async function loadError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof ModelLoadError ? e.code : `not a ModelLoadError: ${String(e)}`;
  }
  return 'loaded';
}

const shipped = readModelFile(readFileSync(DEFAULT_MODEL_PATH));
const rows = [...syntheticRows(60, 51), ...syntheticRows(20, 51, 'takeover'), ...syntheticRows(20, 51, 'stuffing')].map((r) => ({
  ...r,
  slots: modelSlots(r.features),
}));

describe('the shipped model', () => {
  it('loads, names its features and scores like the TypeScript forest', async () => {
    const s = await scorer({ path: DEFAULT_MODEL_PATH });
    expect(s.version).toMatch(/^iforest-\d{4}-\d{2}-\d{2}-[0-9a-f]{7}$/);
    expect(s.version).toBe(shipped.version);
    expect(s.features).toEqual(MODEL_FEATURES);
    expect(s.summary?.rows).toBeGreaterThan(1000);
    for (const r of rows) {
      const got = await s.score(r.slots);
      expect(got?.version).toBe(s.version);
      expect(got!.anomaly).toBeGreaterThan(0);
      expect(got!.anomaly).toBeLessThan(1);
      expect(Math.abs(got!.anomaly - tsScore(shipped.forest!, r.features))).toBeLessThan(1e-5);
    }
  });

  it('reads only its own features, each at its Scheme slot', async () => {
    const s = await scorer({ path: DEFAULT_MODEL_PATH });
    const r = rows[70]!;
    // Every other slot holds a value of the wrong type: read by mistake, it would change the score.
    const slots: Slots = new Array(VIGIL_SCHEME.size).fill('noise');
    for (const f of s.features) slots[VIGIL_SCHEME.feature(f)!.slot] = r.slots[VIGIL_SCHEME.feature(f)!.slot];
    expect((await s.score(slots))!.anomaly).toBe((await s.score(r.slots))!.anomaly);
  });

  it('is under 2 MB', () => {
    expect(readFileSync(DEFAULT_MODEL_PATH).length).toBeLessThan(2 * 1024 * 1024);
  });

  it('offers an offline scorer that returns plain numbers', async () => {
    const s = await loadAnomalyScorer();
    expect(s.version).toBe(shipped.version);
    const v = await s.score(rows[0]!.features);
    expect(Math.abs(v! - tsScore(shipped.forest!, rows[0]!.features))).toBeLessThan(1e-5);
    await s.close();
  });
});

describe('concurrent requests', () => {
  it.each([false, true])('each get their own score (batch: %s)', async (batch) => {
    const s = await scorer({ path: DEFAULT_MODEL_PATH, batch });
    const results = await Promise.all(rows.map((r) => s.score(r.slots)));
    results.forEach((got, i) => {
      expect(Math.abs(got!.anomaly - tsScore(shipped.forest!, rows[i]!.features)), `row ${i}`).toBeLessThan(1e-5);
    });
  });
});

describe('explain', () => {
  it('lists the top features by |contribution|, summing to 1 + log2 s over all features', async () => {
    const s = await scorer({ path: DEFAULT_MODEL_PATH });
    const takeover = modelSlots(syntheticRows(1, 61, 'takeover')[0]!.features);
    const got = await s.score(takeover, { explain: true, topK: 3 });
    expect(got!.contributions).toHaveLength(3);
    const c = got!.contributions!;
    expect(Math.abs(c[0]!.contribution)).toBeGreaterThanOrEqual(Math.abs(c[1]!.contribution));
    expect(c[0]!.contribution).toBeGreaterThan(0);
    const all = s.explain(takeover, 100);
    expect(all.map((x) => x.feature).sort()).toEqual([...MODEL_FEATURES].sort());
    const total = all.reduce((a, x) => a + x.contribution, 0);
    expect(total).toBeCloseTo(1 + Math.log2(got!.anomaly), 2);
    // event.hour is two columns (sin, cos) but one feature.
    expect(all.filter((x) => x.feature === 'event.hour')).toHaveLength(1);
    expect((await s.score(takeover))!.contributions).toBeUndefined();
  });
});

describe('refusal at load', () => {
  const dir = tempDir('vigil-serve-');

  it('a model reading a feature the catalog cannot fill', async () => {
    const p = join(dir, 'unknown.onnx');
    const columns: ColumnSpec[] = [...DEFAULT_COLUMNS, { name: 'shoe', feature: 'user.shoe_size', transform: { kind: 'log1p', scale: 1, missing: 0 } }];
    writeModel(p, { columns, trees: 5 });
    await expect(loadError(createModelScorer({ path: p, watch: false }))).resolves.toBe('unknown_feature');
    await expect(createModelScorer({ path: p, watch: false })).rejects.toThrow(/user\.shoe_size/);
    await expect(createModelScorer({ path: p, watch: false })).rejects.toBeInstanceOf(VigilError);
  });

  it('a model reading its own output', async () => {
    const p = join(dir, 'self.onnx');
    const columns: ColumnSpec[] = [...DEFAULT_COLUMNS, { name: 'loop', feature: 'model.anomaly', transform: { kind: 'log1p', scale: 1, missing: 0 } }];
    writeModel(p, { columns, trees: 5 });
    await expect(loadError(createModelScorer({ path: p, watch: false }))).resolves.toBe('unknown_feature');
  });

  it('a missing file, a file that is not ONNX, and a graph that does not run', async () => {
    await expect(loadError(createModelScorer({ path: join(dir, 'none.onnx'), watch: false }))).resolves.toBe('unreadable');
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, 'this is not a model');
    await expect(loadError(createModelScorer({ path: junk, watch: false }))).resolves.toBe('not_onnx');
    const broken: SessionFactory = async (bytes, o) => {
      const real = await ort.InferenceSession.create(bytes, o);
      return { inputMetadata: real.inputMetadata, outputNames: real.outputNames, release: () => real.release(), run: () => Promise.reject(new Error('kernel failed')) };
    };
    await expect(loadError(createModelScorer({ path: DEFAULT_MODEL_PATH, watch: false, createSession: broken }))).resolves.toBe('bad_graph');
  });
});

describe('reload', () => {
  it('swaps to a new file without dropping requests in flight', async () => {
    const dir = tempDir('vigil-reload-');
    const a = writeModel(join(dir, 'a.onnx'), { seed: 1 });
    const b = writeModel(join(dir, 'b.onnx'), { seed: 2 });
    expect(a.version).not.toBe(b.version);
    const reloaded: string[] = [];
    const s = await scorer({ path: join(dir, 'a.onnx'), onReload: (v) => reloaded.push(v) });
    expect(s.version).toBe(a.version);
    const inflight = rows.map((r) => s.score(r.slots));
    const swap = s.reload(join(dir, 'b.onnx'));
    const during = rows.map((r) => s.score(r.slots));
    await swap;
    const results = await Promise.all([...inflight, ...during]);
    for (const r of results) expect(r).toBeDefined();
    // Requests started before the swap were scored by the model that was current then.
    for (const r of results.slice(0, rows.length)) expect(r!.version).toBe(a.version);
    expect(s.version).toBe(b.version);
    expect(reloaded).toEqual([b.version]);
    const after = await s.score(rows[0]!.slots);
    expect(after!.version).toBe(b.version);
    expect(Math.abs(after!.anomaly - tsScore(b.forest, rows[0]!.features))).toBeLessThan(1e-5);
  });

  it('binds the new model\'s columns to their slots at reload', async () => {
    const dir = tempDir('vigil-reload-');
    writeModel(join(dir, 'a.onnx'), { seed: 1 });
    // Same features, columns in another order: a binding kept from the old model would misread it.
    const reversed = [...DEFAULT_COLUMNS].reverse();
    const b = writeModel(join(dir, 'b.onnx'), { seed: 2, columns: reversed });
    const s = await scorer({ path: join(dir, 'a.onnx') });
    await s.reload(join(dir, 'b.onnx'));
    const encB = createEncoder(reversed);
    for (const r of rows.slice(0, 20)) {
      const x = new Float32Array(reversed.length);
      encB.encode(r.features, x);
      expect(Math.abs((await s.score(r.slots))!.anomaly - forestScore(b.forest, x))).toBeLessThan(1e-5);
    }
  });

  it.each([false, true])('lets requests already queued finish when the model is closed (batch: %s)', async (batch) => {
    const s = await createModelScorer({ path: DEFAULT_MODEL_PATH, watch: false, timeoutMs: 5_000, batch });
    const queued = rows.slice(0, 5).map((r) => s.score(r.slots));
    await s.close();
    const results = await Promise.all(queued);
    results.forEach((r, i) => expect(Math.abs(r!.anomaly - tsScore(shipped.forest!, rows[i]!.features))).toBeLessThan(1e-5));
  });

  it('keeps serving the old model when the new file is bad', async () => {
    const dir = tempDir('vigil-reload-');
    const a = writeModel(join(dir, 'a.onnx'));
    writeFileSync(join(dir, 'bad.onnx'), 'garbage');
    const s = await scorer({ path: join(dir, 'a.onnx') });
    await expect(loadError(s.reload(join(dir, 'bad.onnx')))).resolves.toBe('not_onnx');
    expect(s.version).toBe(a.version);
    expect((await s.score(rows[0]!.slots))!.version).toBe(a.version);
  });

  it('follows the file when it is replaced on disk', async () => {
    const dir = tempDir('vigil-watch-');
    const path = join(dir, 'model.onnx');
    writeModel(path, { seed: 1 });
    const reloaded: string[] = [];
    const s = await scorer({ path, watch: true, onReload: (v) => reloaded.push(v) });
    const b = writeModel(join(dir, 'next.tmp'), { seed: 2 });
    renameSync(join(dir, 'next.tmp'), path);
    const deadline = Date.now() + 10_000;
    while (s.version !== b.version && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(s.version).toBe(b.version);
    expect(reloaded).toEqual([b.version]);
  });
});

describe('failures resolve undefined', () => {
  type Mode = 'ok' | 'reject' | 'hang';
  function faulty(): { factory: SessionFactory; set(m: Mode): void } {
    let mode: Mode = 'ok';
    const factory: SessionFactory = async (bytes, o) => {
      const real = await ort.InferenceSession.create(bytes, o);
      return {
        inputMetadata: real.inputMetadata,
        outputNames: real.outputNames,
        release: () => real.release(),
        run: (feeds) => (mode === 'ok' ? real.run(feeds) : mode === 'reject' ? Promise.reject(new Error('boom')) : new Promise(() => undefined)),
      };
    };
    return { factory, set: (m) => void (mode = m) };
  }

  it('a runtime error, a timeout, throwing slots, a closed scorer', async () => {
    const f = faulty();
    const failures: string[] = [];
    const warnings: string[] = [];
    const s = await scorer({
      path: DEFAULT_MODEL_PATH,
      createSession: f.factory,
      timeoutMs: 50,
      onFailure: (r) => failures.push(r),
      logger: { info: () => undefined, warn: (_o, msg) => warnings.push(msg) },
    });
    expect(await s.score(rows[0]!.slots)).toBeDefined();
    f.set('reject');
    expect(await s.score(rows[0]!.slots)).toBeUndefined();
    f.set('hang');
    expect(await s.score(rows[0]!.slots)).toBeUndefined();
    f.set('ok');
    const hostile = new Proxy<Slots>([], {
      get() {
        throw new Error('getter exploded');
      },
    });
    expect(await s.score(hostile)).toBeUndefined();
    expect(failures).toEqual(['error', 'timeout', 'error']);
    // Logged once per interval, not once per failure.
    expect(warnings).toEqual(['anomaly model score failed']);
    expect(await s.score(rows[0]!.slots)).toBeDefined();
    await s.close();
    expect(await s.score(rows[0]!.slots)).toBeUndefined();
  });

  it('a batched run that fails resolves every request in it undefined', async () => {
    const f = faulty();
    const s = await scorer({ path: DEFAULT_MODEL_PATH, createSession: f.factory, batch: true });
    f.set('reject');
    const results = await Promise.all(rows.slice(0, 10).map((r) => s.score(r.slots)));
    expect(results).toEqual(new Array(10).fill(undefined));
  });
});
