// The in-process pack repository (no REDIS_URL): the same history semantics as Redis, without
// pub/sub. One process only; nothing survives a restart.
import type { PackFiles, PackMeta, PackRepository, RollbackOutcome } from './types.ts';

export function createMemoryPackRepository(opts: { maxHistory?: number } = {}): PackRepository {
  const maxHistory = opts.maxHistory ?? 20;
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
      history = [meta, ...history].slice(0, maxHistory);
      files.set(meta.hash, { files: f, root });
      seen.add(meta.hash);
      gc();
      return { pushed: true, head: meta };
    },
    async rollback(headId, prevId, restamped): Promise<RollbackOutcome> {
      const [head, prev] = history;
      if (!head || !prev) return { result: 'none' };
      if (head.id !== headId || prev.id !== prevId) return { result: 'conflict' };
      history = [restamped, ...history.slice(2)];
      gc();
      return { result: 'ok', head: restamped };
    },
    async seen(hash) {
      return seen.has(hash);
    },
    async publish() {},
    async subscribe() {},
    async close() {},
  };
}
