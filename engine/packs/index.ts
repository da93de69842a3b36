// The rule-pack lifecycle's public API: the manager (active pack, shadow pack, rule overrides), its
// two repositories, and the production wiring (`createPackLifecycle`) that compiles against the
// feature catalog.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import type { AuditLog } from '../audit.ts';
import { checkPackFiles, checkPackPath } from './compile.ts';
import { createMemoryPackRepository } from './memory.ts';
import { createPackManager, type PackManager, type PackMetricsSink } from './manager.ts';
import { createRedisPackRepository } from './redis.ts';

export { checkPackFiles, checkPackPath, checkToJson } from './compile.ts';
export { diffPacks, ruleSources, type PackDiff } from './diff.ts';
export { createMemoryPackRepository } from './memory.ts';
export { createRedisPackRepository, type RedisPackRepositoryOptions } from './redis.ts';
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
export { NoPackError } from '../errors.ts';

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
}

/** The production pack manager: Redis or in-process history, compiled against VIGIL_SCHEME. */
export function createPackLifecycle(opts: PackLifecycleOptions): PackManager {
  const repo = opts.redis ? createRedisPackRepository(opts.redis) : createMemoryPackRepository();
  return createPackManager({
    repo,
    compile: (files, root) => checkPackFiles(files, root, VIGIL_SCHEME),
    compilePath: (path) => checkPackPath(path, VIGIL_SCHEME),
    rulesPath: opts.rulesPath,
    logger: opts.logger,
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
    ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
    ...(opts.audit ? { audit: opts.audit } : {}),
  });
}
