// The in-process pack repository (no REDIS_URL): the same append-only, capped history as Redis,
// without pub/sub. One process only; nothing survives a restart.
import { PACK_HISTORY_LENGTH, type PackFiles, type PackMeta, type PackRepository, type RollbackOutcome } from './types.ts';

export function createMemoryPackRepository(opts: { maxHistory?: number } = {}): PackRepository {
  const maxHistory = opts.maxHistory ?? PACK_HISTORY_LENGTH;
  let history: PackMeta[] = [];
  const files = new Map<string, { files: PackFiles; root: string }>();
  const seen = new Set<string>();

  function gc(): void {
    const live = new Set(history.map((m) => m.hash));
    for (const h of files.keys()) if (!live.has(h)) files.delete(h);
  }

  return {
    async list(limit) {
      return history.slice(0, limit);
    },
    async files(hash) {
      return files.get(hash) ?? null;
    },
    async push(meta, f, root) {
      const head = history[0];
      if (head && head.hash === meta.hash) return { pushed: false, head };
      const entry: PackMeta = { ...meta, previous_hash: head?.hash ?? null };
      history = [entry, ...history].slice(0, maxHistory);
      files.set(meta.hash, { files: f, root });
      seen.add(meta.hash);
      gc();
      return { pushed: true, head: entry };
    },
    async rollback(headId, entry): Promise<RollbackOutcome> {
      const head = history[0];
      if (!head) return { result: 'none' };
      if (head.id !== headId || !files.has(entry.hash)) return { result: 'conflict' };
      history = [entry, ...history].slice(0, maxHistory);
      gc();
      return { result: 'ok', head: entry };
    },
    async seen(hash) {
      return seen.has(hash);
    },
    async publish() {},
    async subscribe() {},
    async close() {},
  };
}
