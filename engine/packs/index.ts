// The rule-pack lifecycle's public API: the manager (active pack, shadow pack, rule overrides), its
// repositories, and the production wiring (`createPackLifecycle`) that compiles against the feature
// catalog, checking packs from the API and the repository in worker threads (checker.ts), and picks
// the repository: PostgreSQL (with Redis announcing changes) when a shared durable store is handed
// in, Redis alone (restoring what it loses), or memory.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { PackStore } from '../../decisionlog/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import type { AuditLog } from '../audit.ts';
import { createPackChecker, type PackCheckerOptions } from './checker.ts';
import { checkPackPath } from './compile.ts';
import { createMemoryPackRepository } from './memory.ts';
import { createPackManager, type PackManager, type PackMetricsSink } from './manager.ts';
import { createRedisPackRepository } from './redis.ts';
import { createDurablePackRepository } from './durable.ts';
import { createRestoringPackRepository } from './restore.ts';

export { createPackChecker, PACK_CHECK_DEFAULTS, type PackChecker, type PackCheckerOptions } from './checker.ts';
export { checkPackFiles, checkPackPath, checkToJson, logFields } from './compile.ts';
export { diffPacks, ruleSources, type PackDiff } from './diff.ts';
export { createMemoryPackRepository } from './memory.ts';
export { createRedisPackRepository, type RedisPackDump, type RedisPackRepository, type RedisPackRepositoryOptions } from './redis.ts';
export { createDurablePackRepository, type DurablePackRepositoryOptions } from './durable.ts';
export { createRestoringPackRepository, DEFAULT_RESTORE_GRACE_MS, RESTORE_REQUEST, type RestoringPackRepositoryOptions } from './restore.ts';
export {
  createPackManager,
  type ActivationResult,
  type ChangeOpts,
  type OverrideResult,
  type OverrideView,
  type PackManager,
  type PackManagerOptions,
  type PackMetricsSink,
  type ReloadResult,
  type RollbackResult,
  type ShadowResult,
  type StoredPack,
} from './manager.ts';
export type * from './types.ts';
export { NoPackError, PackCheckBusyError } from '../errors.ts';

export interface PackLifecycleOptions {
  /** VIGIL_RULES. */
  readonly rulesPath: string;
  readonly logger: Logger;
  readonly metrics?: PackMetricsSink;
  /** Redis for history and pub/sub; null: in-process (one instance, no pub/sub). */
  readonly redis: { readonly client: Redis | Cluster; readonly subscriber: Redis | Cluster; readonly prefix?: string } | null;
  readonly pollMs?: number;
  readonly debounceMs?: number;
  /** Where pack, shadow and override changes are recorded. */
  readonly audit?: AuditLog;
  /**
   * The durable store (the decision log's database) when every instance sharing the Redis shares it
   * too: it then keeps the history, and Redis only announces changes. Null: Redis (or memory) alone.
   */
  readonly store?: PackStore | null;
  /** Redis alone: how long a start against an empty Redis waits for a running instance to re-publish. */
  readonly restoreGraceMs?: number;
  /** The pack checker's caps and pool size (VIGIL_PACK_CHECK_TIMEOUT, VIGIL_PACK_CHECK_MEMORY_MB). */
  readonly check?: Omit<PackCheckerOptions, 'logger'>;
}

/**
 * The production pack manager: PostgreSQL, Redis or in-process history, compiled against
 * VIGIL_SCHEME. Files (uploads, the repository's packs) are checked in worker threads; VIGIL_RULES,
 * the operator's own directory, is read and compiled in process. Closing the manager stops the
 * checker's workers.
 */
export function createPackLifecycle(opts: PackLifecycleOptions): PackManager {
  const redis = opts.redis ? createRedisPackRepository(opts.redis) : null;
  const repo = opts.store
    ? createDurablePackRepository({ store: opts.store, redis, logger: opts.logger })
    : redis
      ? createRestoringPackRepository({ inner: redis, logger: opts.logger, ...(opts.restoreGraceMs !== undefined ? { graceMs: opts.restoreGraceMs } : {}) })
      : createMemoryPackRepository();
  const checker = createPackChecker({ ...opts.check, logger: opts.logger });
  const manager = createPackManager({
    repo,
    compile: (files, root) => checker.check(files, root),
    compilePath: (path) => checkPackPath(path, VIGIL_SCHEME),
    rulesPath: opts.rulesPath,
    logger: opts.logger,
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
    ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
    ...(opts.audit ? { audit: opts.audit } : {}),
  });
  return {
    ...manager,
    async close() {
      try {
        await manager.close();
      } finally {
        await checker.close();
      }
    },
  };
}
