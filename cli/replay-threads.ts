// `vigil replay --workers N`: the main thread and N-1 worker threads (cli/replay-worker.ts) take
// line-aligned chunks of the events file from one shared counter until none is left, each counting
// into its own LineCounter; the counts merge in chunk order (cli/replay-core.ts), so the report is
// the one `--workers 1` prints. Taking chunks one at a time, rather than one range per thread, lets
// the main thread start at once and a worker that is still loading take fewer chunks.
//
// A worker thread does not inherit the TypeScript loader of a process run from source (bin/vigil.js
// through tsx), so a small JavaScript boot script registers it in the thread first; compiled to
// JavaScript, the worker module loads directly.
import { Worker } from 'node:worker_threads';
import type { Chunk, LineCounter, Tally } from './replay-core.ts';
import { ChunkReader, countChunk } from './replay-core.ts';

/** Slots of the shared Int32Array. */
const NEXT = 0;
const STOP = 1;
const EVENTS = 2;
const DONE = 3;
/** From here on, one slot per worker: 1 once it has started taking chunks. */
const ENTERED = 4;

export interface SharedState {
  readonly buffer: SharedArrayBuffer;
  readonly view: Int32Array;
}

export function sharedState(workers: number): SharedState {
  const buffer = new SharedArrayBuffer(4 * (ENTERED + workers));
  return { buffer, view: new Int32Array(buffer) };
}

/** What a worker is given. */
export interface WorkerInput {
  readonly pack: string;
  readonly baseline?: string;
  readonly events: string;
  readonly chunks: readonly Chunk[];
  readonly shared: SharedArrayBuffer;
  /** Index of this worker among the workers (its ENTERED slot). */
  readonly worker: number;
}

export type WorkerReply =
  | { readonly kind: 'done'; readonly tally: Tally }
  /** A chunk held an API request body: the file must be replayed in order on one thread. */
  | { readonly kind: 'body' }
  | { readonly kind: 'failed'; readonly message: string };

/**
 * Take chunks until none is left (true) or some thread met an API request body (false). `onChunk`
 * runs after each chunk this thread finishes.
 */
export function takeChunks(
  counter: LineCounter,
  reader: ChunkReader,
  chunks: readonly Chunk[],
  shared: Int32Array,
  onChunk: () => void = () => undefined,
): boolean {
  for (;;) {
    if (Atomics.load(shared, STOP) !== 0) return false;
    const k = Atomics.add(shared, NEXT, 1);
    if (k >= chunks.length) return true;
    const before = counter.evaluated;
    if (!countChunk(counter, reader.read(chunks[k]!), k)) {
      Atomics.store(shared, STOP, 1);
      return false;
    }
    Atomics.add(shared, EVENTS, counter.evaluated - before);
    Atomics.add(shared, DONE, 1);
    onChunk();
  }
}

/** Marks worker `w` as taking chunks; from then on the main thread waits for its reply. */
export function enter(shared: Int32Array, w: number): void {
  Atomics.store(shared, ENTERED + w, 1);
}

/** Events evaluated and chunks finished by all threads so far. */
export function progressOf(shared: Int32Array): { events: number; chunks: number } {
  return { events: Atomics.load(shared, EVENTS), chunks: Atomics.load(shared, DONE) };
}

export function stopAll(shared: Int32Array): void {
  Atomics.store(shared, STOP, 1);
}

const SELF = import.meta.url;
const RUN_FROM_SOURCE = SELF.endsWith('.ts');
const ENTRY = new URL(`./replay-worker.${RUN_FROM_SOURCE ? 'ts' : 'js'}`, SELF).href;

// Evaluated as CommonJS in the new thread: register the TypeScript loader when running from source,
// then load the worker module.
const BOOT = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.loader) (await import(workerData.loader)).register();
  await import(workerData.entry);
})();
`;

export interface WorkerPool {
  /**
   * Replies of the workers that took part, once every chunk is taken; workers that never started
   * taking chunks are stopped instead. With `all`, waits for every worker (chunks may be left).
   */
  finish(shared: Int32Array, all?: boolean): Promise<WorkerReply[]>;
  terminate(): Promise<void>;
}

export function startWorkers(n: number, input: Omit<WorkerInput, 'worker'>): WorkerPool {
  const loader = RUN_FROM_SOURCE ? import.meta.resolve('tsx/esm/api') : null;
  const workers: Worker[] = [];
  const replies: Promise<WorkerReply>[] = [];
  for (let w = 0; w < n; w++) {
    const data: WorkerInput & { loader: string | null; entry: string } = { ...input, worker: w, loader, entry: ENTRY };
    const worker = new Worker(BOOT, { eval: true, workerData: data });
    workers.push(worker);
    replies.push(
      new Promise<WorkerReply>((resolve) => {
        worker.once('message', (m: WorkerReply) => resolve(m));
        worker.once('error', (e) => resolve({ kind: 'failed', message: e.message }));
        worker.once('exit', (code) => resolve({ kind: 'failed', message: `worker thread exited with code ${code}` }));
      }),
    );
  }
  return {
    async finish(shared, all = false) {
      const out: Promise<WorkerReply>[] = [];
      for (let w = 0; w < n; w++) {
        // Every chunk is taken by now, so a worker that has not started taking chunks never will.
        if (all || Atomics.load(shared, ENTERED + w) === 1) out.push(replies[w]!);
        else void workers[w]!.terminate();
      }
      return Promise.all(out);
    },
    async terminate() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
