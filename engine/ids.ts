// Identifiers: ULIDs for decisions and requests, drawn from a pooled cryptographic random buffer.
// ulid's default PRNG asks the OS for one byte per character (16 calls per id); at thousands of
// decisions a second that was the single largest CPU cost of an evaluation, so bytes are fetched
// 4 KiB at a time instead. Ids stay unpredictable (crypto random), sortable and ULID-valid.
import { randomFillSync } from 'node:crypto';
import { monotonicFactory, ulid, type PRNG } from 'ulid';

const POOL = new Uint8Array(4096);
let pos = POOL.length;

/** A uniform number in [0, 1) from the pool (ulid maps it onto its 32-character alphabet). */
export const pooledPrng: PRNG = () => {
  if (pos >= POOL.length) {
    randomFillSync(POOL);
    pos = 0;
  }
  return POOL[pos++]! / 256;
};

/**
 * Monotonic within one process for times that do not go back (ids minted in the same millisecond
 * still sort in order). An id's time part is always its event's time, even for an event older than
 * the last one (a replay, a backfill): the decision log finds a decision's day partition from it.
 */
export function createIdFactory(): (seedTime?: number) => string {
  const mono = monotonicFactory(pooledPrng);
  let last = -Infinity;
  return (seedTime = Date.now()) => {
    if (seedTime >= last) {
      last = seedTime;
      return mono(seedTime);
    }
    return ulid(seedTime, pooledPrng);
  };
}

/** A one-off ULID (request ids). */
export function newId(): string {
  return ulid(undefined, pooledPrng);
}
