// One pack-check worker thread (started by engine/packs/checker.ts: from source through
// check-worker.boot.mjs, compiled as dist/engine/packs/check-worker.js): compiles an uploaded pack
// against the feature catalog and runs its tests, one request at a time, and answers the check
// without its closures (compile.ts RemoteCheck). It says `ready` once its modules are loaded, so
// the time cap counts the check alone. Holds nothing between requests but the DSL's regex verdicts.
//
// The thread lowers its own scheduling priority first: on a machine with fewer free cores than
// busy threads, a check competing with the request thread for a core would still slow live
// answers, and a check can wait where an answer cannot. Threads it starts (the ReDoS checker's) and
// processes they spawn inherit the priority.
import { readlinkSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../../common/errors.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { remoteCheck } from './compile.ts';
import type { CheckReply, CheckRequest } from './checker.ts';

const port = parentPort;

/** Linux: this thread's id is the last part of /proc/thread-self, and a nice value is per thread. */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isSafeInteger(tid) && tid > 0) setPriority(tid, constants.priority.PRIORITY_LOW);
  } catch {
    // Elsewhere (or not allowed): the thread keeps the process's priority; the caps still hold.
  }
}

lowerPriority();

port?.on('message', (req: CheckRequest) => {
  let reply: CheckReply;
  try {
    reply = { kind: 'checked', id: req.id, check: remoteCheck(req.files, req.root, VIGIL_SCHEME) };
  } catch (e) {
    reply = { kind: 'failed', id: req.id, message: errorMessage(e) };
  }
  port.postMessage(reply);
});
port?.postMessage({ kind: 'ready' } satisfies CheckReply);
