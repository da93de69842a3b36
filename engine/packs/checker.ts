// Checking uploaded packs off the request thread. Compiling a pack and running its tests is
// synchronous work whose cost the uploader chooses (thousands of rules, patterns the ReDoS analysis
// takes long over); on the thread that answers evaluations it would stall every live answer. So a
// small pool of worker threads (engine/packs/check-worker.ts) does it, each under a time cap
// (terminated when a check runs past it) and a memory cap (`resourceLimits`: a check that needs
// more kills only its worker). Either cap, or a worker failing, is a refusal of that pack
// (`PackCheck.aborted`), never a crash; the next check starts a fresh worker.
//
// Compiled closures cannot cross threads: the worker answers the check without them, and only a
// pack that could activate is compiled once more here (compile.ts `adoptCheck`), its tests not run
// again. A refused pack costs this thread the message passing alone.
//
// Waiting checks are bounded (`queue`): past it, `check` throws PackCheckBusyError at once (the API
// answers 503), so a burst of uploads cannot pile up work without end.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { errorMessage } from '../../common/errors.ts';
import { workerEntry } from '../../common/paths.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { PackCheckBusyError } from '../errors.ts';
import { abortedCheck, adoptCheck, type RemoteCheck } from './compile.ts';
import type { PackCheck, PackCheckAbort, PackFiles } from './types.ts';

/** A check of `files` as `root`, sent to a worker. */
export interface CheckRequest {
  readonly id: number;
  readonly files: PackFiles;
  readonly root: string;
}

export type CheckReply =
  | { readonly kind: 'ready' }
  | { readonly kind: 'checked'; readonly id: number; readonly check: RemoteCheck }
  | { readonly kind: 'failed'; readonly id: number; readonly message: string };

export const PACK_CHECK_DEFAULTS = Object.freeze({
  /** How long one check may run in its worker. */
  timeoutMs: 10_000,
  /** The heap (old generation) a worker may grow to. */
  memoryMb: 512,
  /** Worker threads checking at once. */
  workers: 1,
  /** Checks that may wait for a worker; one more is refused as busy. */
  queue: 4,
});

export interface PackCheckerOptions {
  readonly timeoutMs?: number;
  readonly memoryMb?: number;
  readonly workers?: number;
  readonly queue?: number;
  /** A worker's failures (time or memory cap, crash) are logged here. */
  readonly logger?: Logger;
}

export interface PackChecker {
  /**
   * Compile `files` and run their tests in a worker thread. Resolves the check (with `aborted` when
   * a cap stopped it); rejects with PackCheckBusyError when the pool and its queue are full.
   */
  check(files: PackFiles, root: string): Promise<PackCheck>;
  /** Checks running or waiting. */
  pending(): number;
  /** Stop the workers; checks still running or waiting end as refusals. */
  close(): Promise<void>;
}

// Compiled, the worker starts from dist/engine/packs/check-worker.js; from source from the plain
// JavaScript check-worker.boot.mjs, which registers tsx in the worker's own thread.
const WORKER_ENTRY = workerEntry('engine/packs/check-worker');

interface Job {
  readonly files: PackFiles;
  readonly root: string;
  readonly resolve: (c: PackCheck) => void;
  readonly reject: (e: unknown) => void;
}

/** One worker thread and the check it runs. */
interface Slot {
  worker: Worker | null;
  /** Resolves once the worker has loaded its modules. */
  ready: Promise<void> | null;
  /** Settles the check in progress: the worker's reply, or why it stopped. */
  settle: ((r: RemoteCheck | PackCheckAbort) => void) | null;
  /** The id of the check in progress. */
  id: number;
  busy: boolean;
}

function positive(n: number | undefined, dflt: number, what: string): number {
  const v = n ?? dflt;
  if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`${what} must be a positive integer, not ${String(n)}`);
  return v;
}

export function createPackChecker(opts: PackCheckerOptions = {}): PackChecker {
  const timeoutMs = positive(opts.timeoutMs, PACK_CHECK_DEFAULTS.timeoutMs, 'timeoutMs');
  const memoryMb = positive(opts.memoryMb, PACK_CHECK_DEFAULTS.memoryMb, 'memoryMb');
  const maxQueue = opts.queue ?? PACK_CHECK_DEFAULTS.queue;
  if (!Number.isSafeInteger(maxQueue) || maxQueue < 0) throw new RangeError(`queue must be a non-negative integer, not ${String(opts.queue)}`);
  const slots: Slot[] = Array.from({ length: positive(opts.workers, PACK_CHECK_DEFAULTS.workers, 'workers') }, () => ({
    worker: null,
    ready: null,
    settle: null,
    id: 0,
    busy: false,
  }));
  const queue: Job[] = [];
  const log = opts.logger?.child({ component: 'pack-checker' });
  let seq = 0;
  let closed = false;

  function spawn(slot: Slot): Promise<void> {
    // execArgv []: the parent's flags (a test runner's, --import tsx) are not for the worker.
    const w = new Worker(WORKER_ENTRY, {
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: memoryMb },
    });
    // An idle checker never keeps the process alive.
    w.unref();
    slot.worker = w;
    const ready = new Promise<void>((resolve, reject) => {
      // A worker already stopped (time cap) may still report: that is no longer this slot's check.
      const mine = (): boolean => slot.worker === w;
      const onMessage = (m: CheckReply): void => {
        if (m.kind === 'ready') return resolve();
        if (!mine() || m.id !== slot.id) return;
        if (m.kind === 'checked') slot.settle?.(m.check);
        else slot.settle?.({ reason: 'worker_failed', message: `the pack check failed: ${m.message}` });
      };
      w.on('message', onMessage);
      w.on('error', (err: Error & { code?: string }) => {
        const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
        const abort: PackCheckAbort = oom
          ? { reason: 'memory_limit', message: `the pack check needed more than ${memoryMb} MB and was stopped` }
          : { reason: 'worker_failed', message: `the pack check stopped: ${errorMessage(err)}` };
        log?.warn({ reason: abort.reason, err: errorMessage(err) }, 'pack-check worker failed; the next check starts a new one');
        reject(new Error(abort.message));
        if (mine()) slot.settle?.(abort);
      });
      w.on('exit', (code) => {
        reject(new Error(`the pack-check worker exited with code ${code}`));
        if (!mine()) return;
        slot.settle?.({ reason: 'worker_failed', message: `the pack-check worker exited with code ${code}` });
        slot.worker = null;
        slot.ready = null;
      });
    });
    // Rejections are read by run(); this one only keeps an unawaited rejection quiet.
    ready.catch(() => undefined);
    slot.ready = ready;
    return ready;
  }

  function stop(slot: Slot): void {
    const w = slot.worker;
    slot.worker = null;
    slot.ready = null;
    if (w) void w.terminate().catch(() => undefined);
  }

  async function run(slot: Slot, job: Job): Promise<PackCheck> {
    try {
      await (slot.ready ?? spawn(slot));
    } catch (err) {
      stop(slot);
      return abortedCheck(job.files, job.root, { reason: 'worker_failed', message: `the pack checker could not start: ${errorMessage(err)}` });
    }
    const w = slot.worker;
    if (!w || closed) return abortedCheck(job.files, job.root, { reason: 'worker_failed', message: 'the pack checker is closing' });
    const answer = await new Promise<RemoteCheck | PackCheckAbort>((resolve) => {
      // The cap runs from the moment the worker holds the files, so loading it never counts.
      const timer = setTimeout(() => {
        log?.warn({ timeout_ms: timeoutMs }, 'pack check ran past its time cap; its worker is stopped');
        stop(slot);
        done({ reason: 'time_limit', message: `the pack check took longer than ${timeoutMs} ms and was stopped` });
      }, timeoutMs);
      const done = (r: RemoteCheck | PackCheckAbort): void => {
        clearTimeout(timer);
        slot.settle = null;
        resolve(r);
      };
      slot.settle = done;
      slot.id = ++seq;
      w.postMessage({ id: slot.id, files: job.files, root: job.root } satisfies CheckRequest);
    });
    if ('reason' in answer) {
      // A worker that failed mid-check is not reused; a fresh one takes the next check.
      if (answer.reason !== 'time_limit') stop(slot);
      return abortedCheck(job.files, job.root, answer);
    }
    return adoptCheck(job.files, job.root, VIGIL_SCHEME, answer);
  }

  function pump(): void {
    for (const slot of slots) {
      if (slot.busy) continue;
      const job = queue.shift();
      if (!job) return;
      slot.busy = true;
      const free = (): void => {
        slot.busy = false;
        pump();
      };
      run(slot, job).then(
        (c) => {
          free();
          job.resolve(c);
        },
        (err: unknown) => {
          free();
          job.reject(err);
        },
      );
    }
  }

  return {
    check(files, root) {
      if (closed) return Promise.reject(new PackCheckBusyError('the pack checker is closed'));
      const idle = slots.some((s) => !s.busy);
      if (!idle && queue.length >= maxQueue) return Promise.reject(new PackCheckBusyError());
      return new Promise<PackCheck>((resolve, reject) => {
        queue.push({ files, root, resolve, reject });
        pump();
      });
    },
    pending: () => queue.length + slots.filter((s) => s.busy).length,
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.resolve(abortedCheck(job.files, job.root, { reason: 'worker_failed', message: 'the pack checker is closing' }));
      const workers = slots.map((s) => s.worker).filter((w): w is Worker => w !== null);
      for (const s of slots) {
        s.worker = null;
        s.ready = null;
      }
      await Promise.all(workers.map((w) => w.terminate().catch(() => undefined)));
    },
  };
}
