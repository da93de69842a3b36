// The PostgreSQL pack repository: the pack history, files, shadow pack and overrides live in the
// decision log's database (decisionlog/packs.ts, handed in as a PackStore), whose advisory lock
// makes push and rollback atomic across every instance sharing it. Redis only announces changes
// (the Redis repository's channel) and keeps a copy of the head (`{prefix:packs}:head`), so Redis
// losing its data changes nothing about which pack runs: the first instance to notice the copy
// missing re-fills it from PostgreSQL, records a `restore` entry in the history (same pack) and
// logs it. Without Redis (one process, PGlite in VIGIL_DATA_DIR) it is the store alone.
//
// On first use it copies a history an older version kept in Redis into an empty store (a rolling
// upgrade keeps the pack the fleet serves).
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import type { PackEntryJson, PackStore } from '../../decisionlog/index.ts';
import { metaOf, overrideOf, type RedisPackRepository } from './redis.ts';
import { PACK_HISTORY_LENGTH, type PackMeta, type PackRepository, type RollbackOutcome, type RuleOverride } from './types.ts';

export interface DurablePackRepositoryOptions {
  readonly store: PackStore;
  /** Pub/sub and the head's copy; null: this process alone. */
  readonly redis: RedisPackRepository | null;
  readonly logger: Logger;
  readonly maxHistory?: number;
  readonly now?: () => Date;
}

const entryJson = (m: PackMeta | Omit<PackMeta, 'previous_hash'>): PackEntryJson => ({ ...m });
const overrideJson = (o: RuleOverride): Readonly<Record<string, unknown>> & { rule: string } => ({ ...o });

export function createDurablePackRepository(o: DurablePackRepositoryOptions): PackRepository {
  const { store, redis } = o;
  const log = o.logger.child({ component: 'packs' });
  const now = o.now ?? (() => new Date());
  const maxHistory = o.maxHistory ?? PACK_HISTORY_LENGTH;
  let imported: Promise<void> | null = null;
  let copyFailing = false;

  /** Once: an empty store takes what an older version kept in Redis. */
  function importOnce(): Promise<void> {
    imported ??= (async () => {
      if (!redis || (await store.history(1)).length > 0) return;
      const d = await redis.dump();
      if (d.entries.length === 0 && !d.shadow && d.overrides.length === 0) return;
      const done = await store.importIfEmpty({
        entries: d.entries.map(entryJson),
        files: d.files,
        seen: d.seen,
        shadow: d.shadow ? { entry: entryJson(d.shadow.entry), files: d.shadow.files, root: d.shadow.root } : null,
        overrides: d.overrides.map(overrideJson),
      });
      const head = d.entries[0];
      if (done && head) {
        await copyHead(head);
        log.warn({ entries: d.entries.length, hash: head.hash }, 'pack history copied from Redis into PostgreSQL, which keeps it from now on');
      }
    })().catch((err: unknown) => {
      imported = null;
      throw err;
    });
    return imported;
  }

  async function copyHead(m: PackMeta): Promise<void> {
    if (!redis) return;
    try {
      await redis.headCopy.set(m);
      copyFailing = false;
    } catch (err) {
      if (!copyFailing) log.warn({ err }, "cannot write the head's copy in Redis; PostgreSQL keeps the pack history");
      copyFailing = true;
    }
  }

  /**
   * The copy of the head is missing from Redis (its data was lost, or it is a new Redis): re-fill it
   * and record that in the history. SET NX makes one instance of those noticing at once do it.
   */
  async function refill(head: PackMeta): Promise<boolean> {
    if (!redis) return false;
    try {
      if (!(await redis.headCopy.claim(head))) return false;
    } catch {
      // Redis unreachable: nothing to re-fill now; PostgreSQL answers regardless.
      return false;
    }
    const entry: PackMeta = {
      id: ulid(),
      name: head.name,
      version: head.version,
      hash: head.hash,
      activated_at: now().toISOString(),
      by: 'restore',
      source: 'restore',
      action: 'activate',
      previous_hash: head.hash,
      reason: 'Redis had lost its copy of the pack head (its data was lost, or it is a new Redis); re-filled from PostgreSQL, the pack in force is unchanged',
      ...(head.forced === true ? { forced: true } : {}),
    };
    const r = await store.append(head.id, entryJson(entry), maxHistory);
    if (r !== 'ok') return false;
    await copyHead(entry);
    log.error(
      { restore: true, name: head.name, version: head.version, hash: head.hash },
      `Redis had lost its copy of the pack head: re-filled from PostgreSQL (${head.name} v${head.version} ${head.hash}); the pack in force is unchanged`,
    );
    await redis.publish(entry.id).catch(() => undefined);
    return true;
  }

  return {
    async list(limit) {
      let rows: PackMeta[];
      try {
        await importOnce();
        rows = (await store.history(limit)).map(metaOf);
      } catch (err) {
        // At start this stops the start: without the history the instance cannot know its pack.
        throw new Error(`cannot read the pack history from the decision log's database: ${errorMessage(err)}`, { cause: err });
      }
      const head = rows[0];
      if (head && (await refill(head))) rows = (await store.history(limit)).map(metaOf);
      return rows;
    },
    async files(hash) {
      const f = await store.files(hash);
      return f ? { files: f.files, root: f.root } : null;
    },
    async push(meta, files, root) {
      await importOnce();
      const r = await store.push(entryJson(meta), { files, root }, maxHistory);
      const head = metaOf(r.head);
      if (r.pushed) await copyHead(head);
      return { pushed: r.pushed, head };
    },
    async rollback(headId, entry): Promise<RollbackOutcome> {
      const r = await store.append(headId, entryJson(entry), maxHistory);
      if (r !== 'ok') return { result: r };
      await copyHead(entry);
      return { result: 'ok', head: entry };
    },
    seen: (hash) => store.seen(hash),
    async publish(id) {
      await redis?.publish(id);
    },
    async subscribe(onChange) {
      await redis?.subscribe(onChange);
    },
    async shadow() {
      await importOnce();
      const e = await store.shadow();
      return e ? metaOf(e) : null;
    },
    async shadowFiles(id) {
      const f = await store.shadowFiles(id);
      return f ? { files: f.files, root: f.root } : null;
    },
    setShadow: (meta, files, root) => store.setShadow(entryJson(meta), { files, root }),
    async clearShadow() {
      const e = await store.clearShadow();
      return e ? metaOf(e) : null;
    },
    async overrides() {
      await importOnce();
      return (await store.overrides()).map(overrideOf);
    },
    setOverride: (x, expired) => store.setOverride(overrideJson(x), expired),
    async clearOverride(rule) {
      const x = await store.clearOverride(rule);
      return x ? overrideOf(x) : null;
    },
    async close() {
      await redis?.close();
    },
  };
}
