// The signal store's entry point: `createStore(opts)` picks the backend (a Redis URL or comma list of
// Cluster nodes, a caller's ioredis client, or the in-process store when neither is given) and wires
// the hasher, key prefix and limits. Everything the rest of Vigil needs is re-exported here.
import type { Cluster, Redis } from 'ioredis';
import { createHasher, type Hasher } from '../privacy.ts';
import { createSignalStore } from './core.ts';
export { parseEventContext } from './core.ts';
import { DEFAULT_LIMITS, type StoreLimits } from './keys.ts';
import { createMemoryBackend, type MemoryBackend } from './memory.ts';
import { connectRedis, createRedisBackend, duplicateFailFast } from './redis.ts';
import type { SignalStore, StoreLogger } from './types.ts';

export * from './types.ts';
export { parseRedisTarget, connectRedis, clientEndpoint, redisEndpoint, watchRedis, withoutCredentials, type RedisTarget } from './redis.ts';
export { DEFAULT_LIMITS, type StoreLimits } from './keys.ts';

export interface CreateStoreOptions {
  /** `redis://…` (single node) or a comma list of Cluster nodes (`redis://h:7001,redis://h:7002`). */
  readonly redisUrl?: string;
  /** Treat a single `redisUrl` as a Cluster seed node. */
  readonly cluster?: boolean;
  /**
   * A caller's client (e.g. the server's). The store works on a fail-fast duplicate of it (no offline
   * queue) that it owns and closes; with `shareClient` it uses the client itself and never closes it.
   */
  readonly redis?: Redis | Cluster | null;
  readonly shareClient?: boolean;
  /** VIGIL_HASH_SECRET (see features/privacy.ts resolveHashSecret), or a ready hasher. One is required. */
  readonly hashSecret?: string;
  readonly hasher?: Hasher;
  /** Key prefix (default `vigil:`); may not contain `{` or `}` (they would change the hash tags). */
  readonly prefix?: string;
  /** History and rba retention in days (default 180). */
  readonly retentionDays?: number;
  readonly limits?: Partial<StoreLimits>;
  /** Budget of writes (outcomes, decisions) and lookups, ms (default 1000). readEvent takes its own. */
  readonly opTimeoutMs?: number;
  /** Connection timeout at start, ms (default 5000). */
  readonly connectTimeoutMs?: number;
  readonly logger?: StoreLogger;
  /** Wall clock for the in-process store's key expiry (tests). */
  readonly now?: () => number;
}

/** The in-process store plus what tests and a single-node trial use to seed and inspect it. */
export type MemoryStore = SignalStore & Pick<MemoryBackend, 'sadd' | 'dump'>;

function common(opts: CreateStoreOptions): { hasher: Hasher; prefix: string; limits: StoreLimits; opTimeoutMs: number } {
  const hasher = opts.hasher ?? (opts.hashSecret !== undefined ? createHasher(opts.hashSecret) : undefined);
  if (!hasher) throw new Error('createStore: hashSecret or hasher is required');
  const prefix = opts.prefix ?? 'vigil:';
  if (/[{}]/.test(prefix)) throw new Error('createStore: prefix may not contain { or }');
  const limits: StoreLimits = {
    ...DEFAULT_LIMITS,
    ...opts.limits,
    ...(opts.retentionDays !== undefined ? { retentionDays: opts.retentionDays } : {}),
  };
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`createStore: ${k} must be a positive integer`);
  }
  const opTimeoutMs = opts.opTimeoutMs ?? 1000;
  if (!(opTimeoutMs > 0)) throw new Error('createStore: opTimeoutMs must be positive');
  return { hasher, prefix, limits, opTimeoutMs };
}

/** The in-process store (no Redis). */
export function createMemoryStore(opts: Omit<CreateStoreOptions, 'redisUrl' | 'redis'>): MemoryStore {
  const c = common(opts);
  const backend = createMemoryBackend(opts.now);
  const store = createSignalStore({ backend, ...c, ...(opts.logger ? { logger: opts.logger } : {}) });
  return Object.assign(store, { sadd: backend.sadd, dump: backend.dump });
}

/**
 * Create the signal store. With `redisUrl` it connects (rejecting if Redis is not ready within
 * `connectTimeoutMs`); with `redis` it duplicates (or shares) that client; with neither it is the
 * in-process store, for a single-node trial.
 */
export async function createStore(opts: CreateStoreOptions): Promise<SignalStore> {
  const c = common(opts);
  const logger = opts.logger ? { logger: opts.logger } : {};
  if (opts.redisUrl !== undefined && opts.redisUrl !== '') {
    const client = await connectRedis(opts.redisUrl, {
      ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      ...(opts.cluster ? { forceCluster: true } : {}),
      logger: opts.logger,
      name: 'store',
    });
    return createSignalStore({ backend: createRedisBackend({ client, owned: true }), ...c, ...logger });
  }
  if (opts.redis) {
    const client = opts.shareClient ? opts.redis : await duplicateFailFast(opts.redis, opts.connectTimeoutMs, { logger: opts.logger, name: 'store' });
    return createSignalStore({ backend: createRedisBackend({ client, owned: !opts.shareClient }), ...c, ...logger });
  }
  return createMemoryStore(opts);
}
