// Benchmark of the anomaly model: µs per inference through onnxruntime-node at batch 1, 8 and 64,
// through the scorer (one request at a time, and 64 concurrent requests with and without
// micro-batching), the TypeScript forest for comparison, explain, encoding one event by name and by
// slot, and training time on one thread and on worker threads. The scorer is fed Slots arrays built
// before timing, as the engine hands it its own. Run: `npx tsx bench/model.ts` (docs/model.md quotes
// its output).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import { createModelScorer, DEFAULT_MODEL_PATH, modelSlots } from '../features/model/index.ts';
import { readModelFile } from '../features/model/file.ts';
import { createEncoder, createSlotEncoder } from '../features/model/vector.ts';
import { DEFAULT_COLUMNS } from '../training/columns.ts';
import { score as forestScore, trainForest } from '../training/iforest.ts';
import { syntheticRows } from '../training/synthetic.ts';
import { fmtNs, median, nsPerOp, nsPerOpAsync } from './lib/timing.ts';

const C = DEFAULT_COLUMNS.length;
const enc = createEncoder(DEFAULT_COLUMNS);
const slotEnc = createSlotEncoder(DEFAULT_COLUMNS, VIGIL_SCHEME);
const bags = [...syntheticRows(900, 101), ...syntheticRows(100, 101, 'takeover')].map((r) => r.features);
const events = bags.map(modelSlots);
const vectors = new Float32Array(bags.length * C);
bags.forEach((b, i) => enc.encode(b, vectors, i * C));

function line(label: string, ns: number, extra = ''): void {
  process.stdout.write(`${label.padEnd(52)} ${fmtNs(ns).padStart(10)}${extra}\n`);
}

async function rawSession(): Promise<void> {
  const bytes = readFileSync(DEFAULT_MODEL_PATH);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  for (const batch of [1, 8, 64]) {
    const feeds = Array.from({ length: Math.floor(bags.length / batch) }, (_, k) => ({
      features: new ort.Tensor('float32', vectors.slice(k * batch * C, (k + 1) * batch * C), [batch, C]),
    }));
    const ns = await nsPerOpAsync((i) => session.run(feeds[i % feeds.length]!), feeds.length, { rounds: 5 });
    line(`onnxruntime run, batch ${batch}`, ns, `  (${fmtNs(ns / batch)} per row)`);
  }
  await session.release();
}

async function scorer(): Promise<void> {
  for (const batch of [false, true]) {
    const s = await createModelScorer({ path: DEFAULT_MODEL_PATH, watch: false, timeoutMs: 10_000, batch });
    const seq = await nsPerOpAsync((i) => s.score(events[i % events.length]!), events.length, { rounds: 5 });
    line(`scorer, one request at a time, batch=${batch}`, seq);
    // 64 requests in flight, as under load: time per request.
    const per: number[] = [];
    for (let round = 0; round < 7; round++) {
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < events.length; k += 64) await Promise.all(events.slice(k, k + 64).map((e) => s.score(e)));
      per.push(Number(process.hrtime.bigint() - t0) / events.length);
    }
    line(`scorer, 64 concurrent requests, batch=${batch}`, median(per.slice(2)), '  per request');
    await s.close();
  }
  const s = await createModelScorer({ path: DEFAULT_MODEL_PATH, watch: false });
  line('explain (top 5, TypeScript attribution)', nsPerOp((i) => s.explain(events[i % events.length]!, 5), events.length, { rounds: 5 }));
  await s.close();
}

function typescriptForest(): void {
  const forest = readModelFile(readFileSync(DEFAULT_MODEL_PATH)).forest!;
  line('TypeScript forest score (same trees), per row', nsPerOp((i) => forestScore(forest, vectors, (i % bags.length) * C), bags.length, { rounds: 5 }));
  const out = new Float32Array(C);
  line('encode one feature record, by name', nsPerOp((i) => enc.encode(bags[i % bags.length]!, out), bags.length, { rounds: 5 }));
  line('encode one Slots array, by slot', nsPerOp((i) => slotEnc.encode(events[i % events.length]!, out), events.length, { rounds: 5 }));
}

async function training(): Promise<void> {
  const rowsN = 100_000;
  const base = syntheticRows(5000, 7);
  const data = new Float32Array(rowsN * C);
  for (let i = 0; i < rowsN; i++) enc.encode(base[i % base.length]!.features, data, i * C);
  const m = { data, rows: rowsN, cols: C };
  for (const threads of [1, availableParallelism()]) {
    const t0 = performance.now();
    const r = await trainForest(m, { trees: 100, seed: 1, threads });
    process.stdout.write(`train 100 trees + score ${rowsN} rows, ${r.threads} thread(s)`.padEnd(53) + `${(performance.now() - t0).toFixed(0).padStart(7)} ms\n`);
  }
}

process.stdout.write(`anomaly model ${readModelFile(readFileSync(DEFAULT_MODEL_PATH)).version}, ${C} columns, node ${process.version}, ${availableParallelism()} cores\n`);
await rawSession();
await scorer();
typescriptForest();
await training();
