// The in-process pack repository (no REDIS_URL): the same append-only, capped history, shadow pack
// and override semantics as Redis, without pub/sub. One process only; nothing survives a restart.
import { PACK_HISTORY_LENGTH, type PackFiles, type PackMeta, type PackRepository, type RollbackOutcome, type RuleOverride } from './types.ts';

export function createMemoryPackRepository(opts: { maxHistory?: number } = {}): PackRepository {
  const maxHistory = opts.maxHistory ?? PACK_HISTORY_LENGTH;
  let history: PackMeta[] = [];
  const files = new Map<string, { files: PackFiles; root: string }>();
  const seen = new Set<string>();
  let shadow: { meta: PackMeta; files: PackFiles; root: string } | null = null;
  const overrides = new Map<string, RuleOverride>();

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
    async shadow() {
      return shadow?.meta ?? null;
    },
    async shadowFiles(id) {
      return shadow && shadow.meta.id === id ? { files: shadow.files, root: shadow.root } : null;
    },
    async setShadow(meta, f, root) {
      shadow = { meta, files: f, root };
    },
    async clearShadow() {
      const was = shadow?.meta ?? null;
      shadow = null;
      return was;
    },
    async overrides() {
      return [...overrides.values()];
    },
    async setOverride(o, expired) {
      for (const rule of expired) overrides.delete(rule);
      overrides.set(o.rule, o);
    },
    async clearOverride(rule) {
      const was = overrides.get(rule) ?? null;
      overrides.delete(rule);
      return was;
    },
    async close() {},
  };
}
