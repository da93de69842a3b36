// A worker thread of `vigil replay --workers N` (cli/replay-threads.ts): compiles the same packs,
// takes chunks of the events file from the shared counter until none is left, and posts its counts
// back. Started by replay-threads.ts only; it has no command line of its own.
import { parentPort, workerData } from 'node:worker_threads';
import type { CompiledPack } from '../dsl/index.ts';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import { errorMessage } from '../common/errors.ts';
import { openPack } from './packs.ts';
import { ChunkReader, LineCounter } from './replay-core.ts';
import { enter, takeChunks, type WorkerInput, type WorkerReply } from './replay-threads.ts';

function compiled(path: string): CompiledPack {
  const opened = openPack(path, VIGIL_SCHEME);
  if (!opened.ok) throw new Error(opened.message);
  if (!opened.pack.result.pack) throw new Error(`${path} does not compile`);
  return opened.pack.result.pack;
}

function run(input: WorkerInput): WorkerReply {
  const pack = compiled(input.pack);
  const baseline = input.baseline === undefined ? undefined : compiled(input.baseline);
  const counter = new LineCounter({ pack, ...(baseline ? { baseline } : {}), scheme: VIGIL_SCHEME });
  const shared = new Int32Array(input.shared);
  const reader = new ChunkReader(input.events);
  try {
    enter(shared, input.worker);
    return takeChunks(counter, reader, input.chunks, shared) ? { kind: 'done', tally: counter.tally() } : { kind: 'body' };
  } finally {
    reader.close();
  }
}

let reply: WorkerReply;
try {
  reply = run(workerData as WorkerInput);
} catch (e) {
  reply = { kind: 'failed', message: errorMessage(e) };
}
parentPort?.postMessage(reply);
