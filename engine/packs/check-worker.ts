// One pack-check worker thread (started by engine/packs/checker.ts: from source through
// check-worker.boot.mjs, compiled as dist/engine/packs/check-worker.js): compiles an uploaded pack
// against the feature catalog and runs its tests, one request at a time, and answers the check
// without its closures (compile.ts RemoteCheck). It says `ready` once its modules are loaded, so
// the time cap counts the check alone. Holds nothing between requests but the DSL's regex verdicts.
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../../common/errors.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { remoteCheck } from './compile.ts';
import type { CheckReply, CheckRequest } from './checker.ts';

const port = parentPort;

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
