// The pack manager: owns which compiled pack serves evaluations. It activates packs (API upload,
// VIGIL_RULES directory change, SIGHUP, start), rolls back, follows other instances through the
// repository's pub/sub, and writes one audit line per change. A pack that fails to compile or
// whose tests fail never becomes active, whatever its origin; the old one keeps serving.
//
// The swap is one reference assignment (`active = next`): an evaluation reads `current()` once
// and keeps that object to the end, so a swap never mixes two packs in one decision.
import { errorMessage } from '../../common/errors.ts';
import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import { NoPackError } from '../errors.ts';
import { diffPacks, type PackDiff } from './diff.ts';
import type { ActivePack, PackChangeSource, PackCheck, PackFiles, PackMeta, PackRepository } from './types.ts';

/** Where swaps are reported (api/metrics.ts implements it). */
export interface PackMetricsSink {
  setPack(pack: { name: string; version: number; hash: string } | null): void;
  packChange(action: 'activate' | 'rollback' | 'reload' | 'sync', result: 'ok' | 'rejected' | 'unchanged'): void;
}

export interface PackManagerOptions {
  readonly repo: PackRepository;
  /** Compile files + run tests (`checkPackFiles` with VIGIL_SCHEME in production). */
  readonly compile: (files: PackFiles, root: string) => PackCheck;
  /** Compile a directory or file from disk (`checkPackPath`); needed with `rulesPath`. */
  readonly compilePath?: (path: string) => PackCheck;
  /** VIGIL_RULES: loaded at start, watched, reloaded on `reloadFromPath` (SIGHUP). */
  readonly rulesPath?: string;
  readonly logger: Logger;
  readonly metrics?: PackMetricsSink;
  readonly now?: () => Date;
  /** Re-read the repository head this often, in case a pub/sub message was lost (0: never). */
  readonly pollMs?: number;
  /** Quiet period after the last file event before a directory reload. */
  readonly debounceMs?: number;
}

export type ActivationResult =
  | { readonly status: 'activated'; readonly active: ActivePack; readonly check: PackCheck; readonly diff: PackDiff }
  | { readonly status: 'unchanged'; readonly active: ActivePack; readonly check: PackCheck }
  | { readonly status: 'rejected'; readonly check: PackCheck };

export type RollbackResult =
  | { readonly status: 'rolled_back'; readonly active: ActivePack; readonly from: PackMeta; readonly diff: PackDiff }
  | { readonly status: 'none' }
  | { readonly status: 'conflict' }
  | { readonly status: 'rejected'; readonly check: PackCheck };

export type ReloadResult = ActivationResult | { readonly status: 'unreadable'; readonly error: string };

export interface PackManager {
  /** The pack serving evaluations right now (hot path: a field read). */
  current(): ActivePack | null;
  /** Load the active pack (repository head, or VIGIL_RULES); throws NoPackError when none compiles. */
  start(): Promise<ActivePack>;
  /** Compile and test without activating. */
  check(files: PackFiles, root?: string): PackCheck;
  activate(files: PackFiles, opts: { by: string; source?: PackChangeSource; root?: string }): Promise<ActivationResult>;
  rollback(opts: { by: string }): Promise<RollbackResult>;
  /** The active pack's metadata and the earlier versions, newest first. */
  list(): Promise<{ active: PackMeta | null; history: PackMeta[] }>;
  /** The files of a version (by hash) the history holds, or null (never activated, or pruned). */
  versionFiles(hash: string): Promise<{ files: PackFiles; root: string } | null>;
  /** Reload VIGIL_RULES (directory change, SIGHUP). */
  reloadFromPath(source: 'dir' | 'sighup', by?: string): Promise<ReloadResult>;
  /** Adopt the repository head if it differs from what this instance serves. */
  sync(): Promise<void>;
  /** Start watching VIGIL_RULES (debounced). */
  watch(): void;
  close(): Promise<void>;
}

const UPLOAD_ROOT = 'upload';

export function createPackManager(opts: PackManagerOptions): PackManager {
  const { repo, compile, logger } = opts;
  const now = opts.now ?? (() => new Date());
  const log = logger.child({ component: 'packs' });
  let active: ActivePack | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  let syncQueued = false;
  let lastFailedId: string | null = null;
  let watcher: FSWatcher | null = null;
  let debounce: NodeJS.Timeout | null = null;
  let poll: NodeJS.Timeout | null = null;
  let closed = false;

  // One change at a time inside this instance; across instances Redis scripts decide.
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  }

  function swap(next: ActivePack): void {
    active = next;
    opts.metrics?.setPack({ name: next.meta.name, version: next.meta.version, hash: next.meta.hash });
  }

  function audit(fields: Record<string, unknown>, msg: string): void {
    log.info({ audit: true, at: now().toISOString(), ...fields }, msg);
  }

  function metaFor(check: PackCheck, by: string, source: PackChangeSource): PackMeta {
    const p = check.pack!;
    return { id: ulid(), name: p.name, version: p.version, hash: p.hash, activated_at: now().toISOString(), by, source };
  }

  function refuse(action: 'activate' | 'rollback' | 'reload', check: PackCheck, by: string, source: string): void {
    opts.metrics?.packChange(action, 'rejected');
    log.error(
      {
        audit: true,
        at: now().toISOString(),
        action,
        result: 'rejected',
        by,
        source,
        root: check.root,
        hash: check.pack?.hash ?? null,
        errors: check.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.span.file}:${d.span.line}:${d.span.col} ${d.code}`),
        tests_failed: check.tests.failed,
      },
      `pack refused; ${active ? 'the active pack keeps serving' : 'no pack is active yet'}\n${check.rendered}`,
    );
  }

  async function activateChecked(check: PackCheck, by: string, source: PackChangeSource): Promise<ActivationResult> {
    const action = source === 'dir' || source === 'sighup' ? 'reload' : 'activate';
    if (!check.ok || check.pack === null) {
      refuse(action, check, by, source);
      return { status: 'rejected', check };
    }
    const meta = metaFor(check, by, source);
    const { pushed, head } = await repo.push(meta, check.files, check.root);
    const before = active;
    const next: ActivePack = { pack: check.pack, meta: pushed ? meta : head, files: check.files, root: check.root };
    if (!pushed) {
      if (!before || before.meta.id !== head.id) swap(next);
      opts.metrics?.packChange(action, 'unchanged');
      return { status: 'unchanged', active: next, check };
    }
    swap(next);
    const diff = diffPacks(before, next);
    opts.metrics?.packChange(action, 'ok');
    audit(
      {
        action,
        result: 'ok',
        by,
        source,
        name: meta.name,
        version: meta.version,
        hash: meta.hash,
        previous_hash: before?.meta.hash ?? null,
        diff,
      },
      'pack activated',
    );
    await repo.publish(meta.id).catch((err: unknown) => log.warn({ err }, 'pack change not published; other instances pick it up at their next poll'));
    return { status: 'activated', active: next, check, diff };
  }

  async function doSync(): Promise<void> {
    const [head] = await repo.list(1);
    if (!head || (active && active.meta.id === head.id) || head.id === lastFailedId) return;
    if (active && active.meta.hash === head.hash) {
      swap({ ...active, meta: head });
      return;
    }
    const stored = await repo.files(head.hash);
    if (!stored) {
      log.error({ hash: head.hash }, 'the active pack has no stored files; keeping the current pack');
      lastFailedId = head.id;
      return;
    }
    const check = compile(stored.files, stored.root);
    if (!check.ok || !check.pack) {
      lastFailedId = head.id;
      opts.metrics?.packChange('sync', 'rejected');
      log.error(
        { hash: head.hash, by: head.by, result: 'rejected' },
        `the pack activated elsewhere does not compile here; keeping the current pack\n${check.rendered}`,
      );
      return;
    }
    const before = active;
    const next: ActivePack = { pack: check.pack, meta: head, files: stored.files, root: stored.root };
    swap(next);
    opts.metrics?.packChange('sync', 'ok');
    log.info(
      { name: head.name, version: head.version, hash: head.hash, previous_hash: before?.meta.hash ?? null, by: head.by },
      'pack changed by another instance; swapped',
    );
  }

  function scheduleSync(): void {
    if (syncQueued || closed) return;
    syncQueued = true;
    void serial(async () => {
      syncQueued = false;
      await doSync();
    }).catch((err: unknown) => log.warn({ err }, 'pack sync failed; retrying at the next poll'));
  }

  function checkPath(): PackCheck | string {
    if (!opts.rulesPath || !opts.compilePath) return 'no VIGIL_RULES path configured';
    try {
      return opts.compilePath(opts.rulesPath);
    } catch (err) {
      return errorMessage(err);
    }
  }

  const manager: PackManager = {
    current: () => active,

    start: () =>
      serial(async () => {
        await repo.subscribe(scheduleSync);
        const fromPath = opts.rulesPath ? checkPath() : null;
        const [head] = await repo.list(1);
        if (typeof fromPath === 'string' && opts.rulesPath) {
          log.error({ path: opts.rulesPath, error: fromPath }, 'cannot read the VIGIL_RULES pack');
        }
        const pathCheck = fromPath !== null && typeof fromPath !== 'string' ? fromPath : null;
        if (pathCheck && pathCheck.ok && pathCheck.pack && (!head || !(await repo.seen(pathCheck.pack.hash)))) {
          // A pack directory with content never activated before wins at start (a deployment
          // shipped new rules); otherwise the repository head stays (an API push, a rollback).
          await activateChecked(pathCheck, 'startup', 'startup');
        } else if (head) {
          await doSync();
          if (!active && pathCheck?.ok && pathCheck.pack) {
            log.error({ path: opts.rulesPath }, 'the stored active pack does not compile; serving VIGIL_RULES locally');
            swap({ pack: pathCheck.pack, meta: metaFor(pathCheck, 'startup', 'startup'), files: pathCheck.files, root: pathCheck.root });
          }
        }
        if (pathCheck && !pathCheck.ok) refuse('reload', pathCheck, 'startup', 'startup');
        if (!active) {
          throw new NoPackError(
            `no rule pack could be loaded${opts.rulesPath ? ` from ${opts.rulesPath}` : ''}` +
              (pathCheck ? `\n${pathCheck.rendered}` : typeof fromPath === 'string' ? `: ${fromPath}` : ''),
          );
        }
        const pollMs = opts.pollMs ?? 15_000;
        if (pollMs > 0) {
          poll = setInterval(scheduleSync, pollMs);
          poll.unref();
        }
        return active;
      }),

    check: (files, root = UPLOAD_ROOT) => compile(files, root),

    activate: (files, { by, source = 'api', root = UPLOAD_ROOT }) =>
      serial(() => activateChecked(compile(files, root), by, source)),

    rollback: ({ by }) =>
      serial(async (): Promise<RollbackResult> => {
        const [head, prev] = await repo.list(2);
        if (!head || !prev) return { status: 'none' };
        const stored = await repo.files(prev.hash);
        if (!stored) return { status: 'conflict' };
        const check = compile(stored.files, stored.root);
        if (!check.ok || !check.pack) {
          refuse('rollback', check, by, 'rollback');
          return { status: 'rejected', check };
        }
        const restamped: PackMeta = { ...prev, id: ulid(), activated_at: now().toISOString(), by, source: 'rollback' };
        const r = await repo.rollback(head.id, prev.id, restamped);
        if (r.result !== 'ok') return { status: r.result };
        const before = active;
        const next: ActivePack = { pack: check.pack, meta: restamped, files: stored.files, root: stored.root };
        swap(next);
        const diff = diffPacks(before, next);
        opts.metrics?.packChange('rollback', 'ok');
        audit(
          {
            action: 'rollback',
            result: 'ok',
            by,
            source: 'rollback',
            name: restamped.name,
            version: restamped.version,
            hash: restamped.hash,
            previous_hash: head.hash,
            diff,
          },
          'pack rolled back',
        );
        await repo.publish(restamped.id).catch((err: unknown) => log.warn({ err }, 'rollback not published'));
        return { status: 'rolled_back', active: next, from: head, diff };
      }),

    async list() {
      const history = await repo.list(100);
      const cur = active?.meta ?? null;
      return { active: cur, history: history.filter((m) => m.id !== cur?.id) };
    },

    versionFiles: (hash) => repo.files(hash),

    reloadFromPath: (source, by = source === 'sighup' ? 'sighup' : 'file-watch') =>
      serial(async (): Promise<ReloadResult> => {
        const c = checkPath();
        if (typeof c === 'string') {
          log.error({ path: opts.rulesPath, error: c }, 'cannot read the VIGIL_RULES pack; the active pack keeps serving');
          return { status: 'unreadable', error: c };
        }
        return activateChecked(c, by, source);
      }),

    sync: () => serial(doSync),

    watch() {
      const path = opts.rulesPath;
      if (!path || watcher || closed || !existsSync(path)) return;
      const isDir = statSync(path).isDirectory();
      const target = isDir ? path : dirname(path);
      const only = isDir ? null : basename(path);
      const fire = (): void => {
        if (debounce) clearTimeout(debounce);
        debounce = setTimeout(() => {
          debounce = null;
          if (!closed) void manager.reloadFromPath('dir').catch((err: unknown) => log.error({ err }, 'reload failed'));
        }, opts.debounceMs ?? 250);
        debounce.unref();
      };
      try {
        watcher = watch(target, { recursive: isDir, persistent: false }, (_event, file) => {
          if (only === null || file === null || basename(String(file)) === only) fire();
        });
        watcher.on('error', (err) => log.warn({ err, path }, 'VIGIL_RULES watch failed; reload with SIGHUP'));
      } catch (err) {
        log.warn({ err, path }, 'cannot watch VIGIL_RULES; reload with SIGHUP');
      }
    },

    async close() {
      closed = true;
      if (watcher) watcher.close();
      if (debounce) clearTimeout(debounce);
      if (poll) clearInterval(poll);
      watcher = null;
      await chain;
      await repo.close();
    },
  };
  return manager;
}
