// Cleaning up after a benchmark: every Redis key under the run's own prefix, found with SCAN (never
// KEYS, which blocks a shared server) and removed with UNLINK (freed off Redis's main thread).
import type { Redis } from 'ioredis';

export async function deleteKeysUnder(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
