// The Redis pack repository when Redis is the only store (no shared PostgreSQL): Redis losing its
// data (a restart without persistence, a flush, a failover to an empty replica) must not roll every
// instance back to the VIGIL_RULES directory pack. This wrapper remembers what this instance last
// saw (the head with its files, the shadow pack, the overrides, the hashes known to be activated)
// and:
//
// - a running instance that finds the history gone re-publishes the pack it serves (a history entry
//   with source `restore`, the shadow pack and overrides with it) and logs it at error level;
// - a starting instance that finds the history empty counts the instances following the change
//   channel. None: a first start (or the whole fleet was down when Redis lost its data; it cannot
//   know), and the manager activates VIGIL_RULES as before. Some: it asks them to re-publish and
//   waits up to `graceMs` for a head, adopting it; when none comes it holds (`held()`): no pack is
//   published, /readyz answers 503 with the reason, and an operator's push or SIGHUP decides.
//
// It subscribes to the channel only once that start decision is made, so instances starting
// together against an empty Redis do not count each other as peers that hold a pack.
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import type { RedisPackRepository } from './redis.ts';
import type { PackFiles, PackMeta, PackRepository, RuleOverride } from './types.ts';

export interface RestoringPackRepositoryOptions {
  readonly inner: RedisPackRepository;
  readonly logger: Logger;
  /** How long a start against an empty Redis waits for a running instance to re-publish. */
  readonly graceMs?: number;
  readonly now?: () => Date;
}

export const DEFAULT_RESTORE_GRACE_MS = 5000;
/** The message that asks running instances to look at the head (they then re-publish what they serve). */
export const RESTORE_REQUEST = 'restore?';

interface Files {
  readonly files: PackFiles;
  readonly root: string;
}

export function createRestoringPackRepository(o: RestoringPackRepositoryOptions): PackRepository {
  const { inner } = o;
  const log = o.logger.child({ component: 'packs' });
  const now = o.now ?? (() => new Date());
  const graceMs = o.graceMs ?? DEFAULT_RESTORE_GRACE_MS;
  // What this instance last saw of the head, and the files of recent hashes (a hash names its files).
  let head: PackMeta | null = null;
  const filesOf = new Map<string, Files>();
  let shadowSeen: (Files & { meta: PackMeta }) | null = null;
  let overridesSeen: RuleOverride[] = [];
  const seenHashes = new Set<string>();
  let decided = false;
  let hold: string | null = null;
  let onChange: (() => void) | null = null;
  let subscribed: Promise<void> | null = null;
  let restoring: Promise<boolean> | null = null;

  function keepFiles(hash: string, f: Files): void {
    filesOf.delete(hash);
    filesOf.set(hash, f);
    // The head's and a few recent ones (a rollback target is read just before the rollback).
    for (const k of filesOf.keys()) {
      if (filesOf.size <= 4) break;
      if (k !== head?.hash) filesOf.delete(k);
    }
  }

  function noteHead(m: PackMeta): void {
    head = m;
    seenHashes.add(m.hash);
    hold = null;
  }

  async function subscribeNow(): Promise<void> {
    if (!onChange) return;
    const cb = onChange;
    subscribed ??= inner.subscribe(cb).then(() => cb());
    await subscribed;
  }

  /** Re-publish what this instance saw after the history vanished; true when the history is back. */
  function restore(): Promise<boolean> {
    restoring ??= (async () => {
      const was = head;
      const f = was ? filesOf.get(was.hash) : undefined;
      if (!was || !f) {
        if (was) log.error({ hash: was.hash }, 'Redis lost the pack history, and this instance does not hold the files of its pack: nothing re-published');
        return false;
      }
      const entry: Omit<PackMeta, 'previous_hash'> = {
        id: ulid(),
        name: was.name,
        version: was.version,
        hash: was.hash,
        activated_at: now().toISOString(),
        by: 'restore',
        source: 'restore',
        action: 'activate',
        reason: `Redis lost the pack history; re-published by an instance serving it (entry ${was.id}: ${was.source} by ${was.by} at ${was.activated_at})`,
        ...(was.forced === true ? { forced: true } : {}),
      };
      const r = await inner.push(entry, f.files, f.root);
      if (!r.pushed) {
        // Another instance was first (with the same pack): nothing to add.
        noteHead(r.head);
        return true;
      }
      noteHead(r.head);
      await inner.markSeen([...seenHashes]);
      let shadow = false;
      if (shadowSeen && !(await inner.shadow())) {
        await inner.setShadow(shadowSeen.meta, shadowSeen.files, shadowSeen.root);
        shadow = true;
      }
      const t = now().getTime();
      const live = overridesSeen.filter((x) => x.expires_at === null || Date.parse(x.expires_at) > t);
      let overrides = 0;
      if (live.length > 0 && (await inner.overrides()).length === 0) {
        for (const x of live) await inner.setOverride(x, []);
        overrides = live.length;
      }
      log.error(
        { restore: true, name: was.name, version: was.version, hash: was.hash, was: was.id, shadow, overrides },
        `Redis lost the pack history: re-published the pack this instance serves (${was.name} v${was.version} ${was.hash}` +
          `${shadow ? ', the shadow pack' : ''}${overrides > 0 ? `, ${overrides} rule override(s)` : ''}); ` +
          'the history before it is gone (see `vigil pack history`)',
      );
      await inner.publish(r.head.id).catch((err: unknown) => log.warn({ err }, 'restore not announced; other instances pick it up at their next poll'));
      return true;
    })().finally(() => {
      restoring = null;
    });
    return restoring;
  }

  /** The first read at start found no history: wait for a running instance, or decide alone. */
  async function startEmpty(limit: number): Promise<PackMeta[]> {
    const peers = await inner.peers();
    if (peers === 0) {
      log.warn('Redis holds no pack history and no other instance follows it: treating this as a first start');
      return [];
    }
    log.warn({ peers, grace_ms: graceMs }, 'Redis holds no pack history but other instances follow it: asking them to re-publish the pack they serve');
    await inner.publish(RESTORE_REQUEST);
    const deadline = Date.now() + graceMs;
    for (;;) {
      const rows = await inner.list(limit);
      if (rows[0]) {
        log.warn({ name: rows[0].name, version: rows[0].version, hash: rows[0].hash, by: rows[0].by }, 'another instance re-published its pack; adopting it');
        return rows;
      }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, deadline - Date.now()))));
    }
    hold =
      `Redis holds no pack history (it lost its data?) and none of the ${peers} connection(s) following it re-published a pack within ` +
      `${Math.round(graceMs / 100) / 10}s, so this instance cannot tell which pack the fleet serves: it serves none. Push the pack that ` +
      'should run (`vigil pack push PACK`), or send SIGHUP to an instance to activate its VIGIL_RULES for every instance';
    log.error({ peers, grace_ms: graceMs }, hold);
    return [];
  }

  return {
    async list(limit) {
      let rows = await inner.list(limit);
      if (rows[0]) {
        noteHead(rows[0]);
      } else if (head) {
        if (await restore()) rows = await inner.list(limit);
      } else if (!decided) {
        try {
          rows = await startEmpty(limit);
        } finally {
          decided = true;
          await subscribeNow();
        }
        if (rows[0]) noteHead(rows[0]);
      }
      if (rows[0] && !decided) {
        decided = true;
        await subscribeNow();
      }
      return rows;
    },
    async files(hash) {
      const f = await inner.files(hash);
      if (f) keepFiles(hash, f);
      return f;
    },
    async push(meta, files, root) {
      const r = await inner.push(meta, files, root);
      keepFiles(r.head.hash, { files, root });
      noteHead(r.head);
      return r;
    },
    async rollback(headId, entry) {
      const r = await inner.rollback(headId, entry);
      if (r.result === 'ok') noteHead(r.head);
      return r;
    },
    async seen(hash) {
      const s = await inner.seen(hash);
      if (s) seenHashes.add(hash);
      return s;
    },
    publish: (id) => inner.publish(id),
    async subscribe(cb) {
      onChange = cb;
      if (decided) await subscribeNow();
    },
    async shadow() {
      const m = await inner.shadow();
      // A missing shadow pack is a clear, unless the whole history vanished with it (then restore).
      if (m === null && shadowSeen && !(await inner.list(1))[0]) return shadowSeen.meta;
      if (m === null) shadowSeen = null;
      else if (m.id !== shadowSeen?.meta.id) shadowSeen = null;
      return m;
    },
    async shadowFiles(id) {
      const f = await inner.shadowFiles(id);
      const m = f ? await inner.shadow() : null;
      if (f && m && m.id === id) shadowSeen = { meta: m, ...f };
      if (!f && shadowSeen?.meta.id === id && !(await inner.list(1))[0]) return { files: shadowSeen.files, root: shadowSeen.root };
      return f;
    },
    async setShadow(meta, files, root) {
      await inner.setShadow(meta, files, root);
      shadowSeen = { meta, files, root };
    },
    async clearShadow() {
      const was = await inner.clearShadow();
      shadowSeen = null;
      return was;
    },
    async overrides() {
      const list = await inner.overrides();
      if (list.length === 0 && overridesSeen.length > 0 && !(await inner.list(1))[0]) return overridesSeen;
      overridesSeen = list;
      return list;
    },
    async setOverride(x, expired) {
      await inner.setOverride(x, expired);
      overridesSeen = [...overridesSeen.filter((y) => y.rule !== x.rule && !expired.includes(y.rule)), x];
    },
    async clearOverride(rule) {
      const was = await inner.clearOverride(rule);
      overridesSeen = overridesSeen.filter((y) => y.rule !== rule);
      return was;
    },
    held: () => (head ? null : hold),
    close: () => inner.close(),
  };
}
