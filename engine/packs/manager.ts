// The pack manager: owns which compiled pack serves evaluations, and what rides along with it —
// the shadow pack and the emergency rule overrides. It activates packs (API upload, VIGIL_RULES
// directory change, SIGHUP, start), rolls back (to the previous version or to any listed hash; each
// rollback is a new history entry), sets and clears the shadow pack and overrides, follows other
// instances through the repository's pub/sub, and records every change (a log line, and an entry
// in the injected AuditLog). A pack that fails to compile never becomes active or shadow, whatever
// its origin; one whose tests fail only when an operator forces it (`force`, recorded as forced);
// the old one keeps serving.
//
// The swap is one reference assignment (`active = next`): an evaluation reads `current()` once
// and keeps that object to the end, so a swap never mixes two packs in one decision. The object
// carries the override modes of its rules, computed once per change of overrides or pack (an
// override's expiry is a change: a timer recomputes them when it passes, on every instance).
import { errorMessage } from '../../common/errors.ts';
import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { ulid } from 'ulid';
import { hasErrors, ruleModes, type RuleOverrideMode } from '../../dsl/index.ts';
import type { AuditAction, AuditLog } from '../audit.ts';
import { NoPackError } from '../errors.ts';
import { logFields } from './compile.ts';
import { diffPacks, type PackDiff } from './diff.ts';
import {
  PACK_HISTORY_LENGTH,
  type ActivePack,
  type LoadedPack,
  type PackChangeSource,
  type PackCheck,
  type PackFiles,
  type PackMeta,
  type PackRepository,
  type RuleOverride,
} from './types.ts';

/** Where swaps are reported (api/metrics.ts implements it). */
export interface PackMetricsSink {
  setPack(pack: { name: string; version: number; hash: string } | null): void;
  packChange(action: 'activate' | 'rollback' | 'reload' | 'sync', result: 'ok' | 'rejected' | 'unchanged'): void;
}

export interface PackManagerOptions {
  readonly repo: PackRepository;
  /**
   * Compile files + run tests: in production a worker thread (engine/packs/checker.ts), so an
   * upload never stalls evaluations. May reject (PackCheckBusyError when the checker is full).
   */
  readonly compile: (files: PackFiles, root: string) => Promise<PackCheck>;
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
  /** Where every change is recorded for `GET /v1/audit`; absent: audit log lines only. */
  readonly audit?: AuditLog;
}

export type ActivationResult =
  | { readonly status: 'activated'; readonly active: ActivePack; readonly check: PackCheck; readonly diff: PackDiff }
  | { readonly status: 'unchanged'; readonly active: ActivePack; readonly check: PackCheck }
  | { readonly status: 'rejected'; readonly check: PackCheck };

export type RollbackResult =
  | { readonly status: 'rolled_back'; readonly active: ActivePack; readonly from: PackMeta; readonly diff: PackDiff }
  /** No earlier version to go back to. */
  | { readonly status: 'none' }
  /** `to` names no hash in the history. */
  | { readonly status: 'not_found' }
  /** `to` is the hash already active. */
  | { readonly status: 'current' }
  | { readonly status: 'conflict' }
  | { readonly status: 'rejected'; readonly check: PackCheck };

/** Who made a change and why, for the history and the audit log. */
export interface ChangeOpts {
  readonly by: string;
  readonly reason?: string;
}

/** A pack of the history (or the active one) with its files. */
export interface StoredPack {
  readonly meta: PackMeta;
  readonly files: PackFiles;
  readonly root: string;
}

export type ReloadResult = ActivationResult | { readonly status: 'unreadable'; readonly error: string };

export type ShadowResult =
  | { readonly status: 'set' | 'unchanged'; readonly shadow: LoadedPack; readonly check: PackCheck }
  | { readonly status: 'rejected'; readonly check: PackCheck };

export type OverrideResult = { readonly status: 'set'; readonly override: RuleOverride } | { readonly status: 'unknown_rule' };

/** An override as listed: `applies` is false when the active pack has no rule of that name. */
export interface OverrideView extends RuleOverride {
  readonly applies: boolean;
}

/** Why a change was made, for the audit log. */
export interface ChangeOpts {
  readonly by: string;
  readonly reason?: string;
}

export interface PackManager {
  /** The pack serving evaluations right now (hot path: a field read). */
  current(): ActivePack | null;
  /**
   * Load the active pack (repository head, or VIGIL_RULES); throws NoPackError when none compiles.
   * Resolves null when the repository holds the start (`waiting()` says why): no pack until one is
   * published.
   */
  start(): Promise<ActivePack | null>;
  /** Why no pack is served yet while the repository holds the start, else null. */
  waiting(): string | null;
  /** Compile and test without activating. */
  check(files: PackFiles, root?: string): Promise<PackCheck>;
  /**
   * Compile, test and activate. `force`: activate even though the pack's own tests fail (never
   * with an error diagnostic); the history entry and the audit entry say so.
   */
  activate(
    files: PackFiles,
    opts: ChangeOpts & { source?: PackChangeSource; root?: string; force?: boolean },
  ): Promise<ActivationResult>;
  /**
   * Reactivate `to` (a hash of the history) or, without it, the version active before the current
   * one. Appends a `rollback` entry; nothing leaves the history.
   */
  rollback(opts: ChangeOpts & { to?: string }): Promise<RollbackResult>;
  /** The shadow pack this instance runs, or null. */
  shadow(): LoadedPack | null;
  /** Compile and test a pack (the checks of `activate`) and make it the shadow pack everywhere. */
  setShadow(files: PackFiles, opts: ChangeOpts & { root?: string }): Promise<ShadowResult>;
  /** Stop running the shadow pack everywhere; resolves the entry removed, or null. */
  clearShadow(opts: ChangeOpts): Promise<PackMeta | null>;
  /** The overrides in force (expired ones left out), by rule name, read from the repository. */
  overrides(): Promise<OverrideView[]>;
  /** Override a rule of the active pack everywhere; `ttlMs` absent: until cleared. */
  setOverride(rule: string, opts: ChangeOpts & { mode: RuleOverrideMode; reason: string; ttlMs?: number }): Promise<OverrideResult>;
  /** Lift a rule's override everywhere; resolves it, or null when none was in force. */
  clearOverride(rule: string, opts: ChangeOpts): Promise<RuleOverride | null>;
  /** The active pack's entry and the other entries, newest first. */
  list(): Promise<{ active: PackMeta | null; history: PackMeta[] }>;
  /** The newest entry with this hash and its files (the active pack first), or null. */
  stored(hash: string): Promise<StoredPack | null>;
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
/** More than any repository keeps (PACK_HISTORY_LENGTH by default; a test may configure more). */
const HISTORY_READ = Math.max(100, PACK_HISTORY_LENGTH);

export function createPackManager(opts: PackManagerOptions): PackManager {
  const { repo, compile, logger } = opts;
  const now = opts.now ?? (() => new Date());
  const log = logger.child({ component: 'packs' });
  // What this instance serves: `active` is composed from the other three by compose().
  let active: ActivePack | null = null;
  let base: LoadedPack | null = null;
  let shadowPack: LoadedPack | null = null;
  let overrideList: RuleOverride[] = [];
  let overrideSig = '[]';
  let inForce = new Map<string, RuleOverrideMode>();
  let expiry: NodeJS.Timeout | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  let syncQueued = false;
  let lastFailedId: string | null = null;
  let lastFailedShadowId: string | null = null;
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

  function swap(next: LoadedPack): void {
    base = next;
    compose();
    opts.metrics?.setPack({ name: next.meta.name, version: next.meta.version, hash: next.meta.hash });
  }

  const expiresMs = (o: RuleOverride): number => (o.expires_at === null ? Infinity : Date.parse(o.expires_at));

  /** The served object from the pack, the shadow pack and the overrides not yet expired. */
  function compose(): void {
    if (expiry) clearTimeout(expiry);
    expiry = null;
    if (!base) {
      active = null;
      return;
    }
    const t = now().getTime();
    inForce = new Map<string, RuleOverrideMode>();
    let next = Infinity;
    for (const o of overrideList) {
      const exp = expiresMs(o);
      if (exp <= t) continue;
      inForce.set(o.rule, o.mode);
      if (exp < next) next = exp;
    }
    const modes = ruleModes(base.pack, inForce);
    active = { ...base, ...(modes ? { modes } : {}), ...(shadowPack ? { shadow: shadowPack } : {}) };
    if (next !== Infinity && !closed) {
      // setTimeout's delay is a 32-bit signed number of ms; a longer ttl re-arms on the way.
      expiry = setTimeout(onExpiry, Math.min(Math.max(1, next - t), 2 ** 31 - 1));
      expiry.unref();
    }
  }

  function onExpiry(): void {
    expiry = null;
    const before = inForce;
    compose();
    const gone = [...before.keys()].filter((rule) => !inForce.has(rule));
    if (gone.length > 0) log.info({ rules: gone }, 'overrides expired');
  }

  function setStored(list: RuleOverride[]): boolean {
    const sorted = [...list].sort((a, b) => (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));
    const sig = JSON.stringify(sorted);
    if (sig === overrideSig) return false;
    overrideList = sorted;
    overrideSig = sig;
    return true;
  }

  function audit(fields: Record<string, unknown>, msg: string): void {
    log.info({ audit: true, at: now().toISOString(), ...fields }, msg);
  }

  /**
   * An entry in the injected audit log. The change has happened by then: a log that refuses the
   * entry is logged loudly rather than undoing the change.
   */
  async function record(action: AuditAction, o: ChangeOpts, details: Record<string, unknown>): Promise<void> {
    if (!opts.audit) return;
    try {
      await opts.audit.record({ at: now().getTime(), by: o.by, action, ...(o.reason !== undefined ? { reason: o.reason } : {}), details });
    } catch (err) {
      log.error({ err: errorMessage(err), action, by: o.by }, 'the audit log refused an entry; the change stands');
    }
  }

  function metaFor(
    check: PackCheck,
    by: string,
    source: PackChangeSource,
    extra: { reason?: string; forced?: boolean } = {},
  ): PackMeta {
    const p = check.pack!;
    return {
      id: ulid(),
      name: p.name,
      version: p.version,
      hash: p.hash,
      activated_at: now().toISOString(),
      by,
      source,
      action: 'activate',
      // The repository's push sets it to the head's hash, atomically with the append.
      previous_hash: null,
      ...(extra.reason !== undefined ? { reason: extra.reason } : {}),
      ...(extra.forced === true ? { forced: true } : {}),
    };
  }

  /** Only the pack's own tests fail: what `force` may override, and what a forced entry allows. */
  function testsOnly(check: PackCheck): boolean {
    return check.pack !== null && check.loadError === null && !hasErrors(check.diagnostics);
  }

  function usable(check: PackCheck, meta: PackMeta): boolean {
    return check.pack !== null && (check.ok || (meta.forced === true && testsOnly(check)));
  }

  function refuse(action: 'activate' | 'rollback' | 'reload' | 'shadow', check: PackCheck, by: string, source: string): void {
    if (action !== 'shadow') opts.metrics?.packChange(action, 'rejected');
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
        // Diagnostics without the source lines `rendered` quotes: the uploaded text stays out of logs.
        ...logFields(check),
      },
      `pack refused; ${active ? 'the active pack keeps serving' : 'no pack is active yet'}`,
    );
  }

  async function activateChecked(
    check: PackCheck,
    by: string,
    source: PackChangeSource,
    extra: { force?: boolean; reason?: string } = {},
  ): Promise<ActivationResult> {
    const action = source === 'dir' || source === 'sighup' ? 'reload' : 'activate';
    const forced = extra.force === true && !check.ok && testsOnly(check);
    if ((!check.ok && !forced) || check.pack === null) {
      refuse(action, check, by, source);
      return { status: 'rejected', check };
    }
    const proposed = metaFor(check, by, source, { ...(extra.reason !== undefined ? { reason: extra.reason } : {}), forced });
    const { pushed, head } = await repo.push(proposed, check.files, check.root);
    const before = active;
    const next: LoadedPack = { pack: check.pack, meta: head, files: check.files, root: check.root };
    if (!pushed) {
      if (!before || before.meta.id !== head.id) swap(next);
      opts.metrics?.packChange(action, 'unchanged');
      return { status: 'unchanged', active: next, check };
    }
    const meta = head;
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
        ...(forced ? { forced: true, tests_failed: check.tests.failed } : {}),
      },
      forced ? 'pack activated although its tests fail (forced)' : 'pack activated',
    );
    await record('pack_activate', { by, ...(extra.reason !== undefined ? { reason: extra.reason } : {}) }, {
      source,
      name: meta.name,
      version: meta.version,
      hash: meta.hash,
      previous_hash: before?.meta.hash ?? null,
      forced,
      ...(forced ? { tests_failed: check.tests.failed } : {}),
      diff,
    });
    await publish(meta.id);
    return { status: 'activated', active: next, check, diff };
  }

  async function publish(message: string): Promise<void> {
    await repo.publish(message).catch((err: unknown) => log.warn({ err }, 'change not published; other instances pick it up at their next poll'));
  }

  async function doSync(): Promise<void> {
    await syncHead();
    await syncAlongside();
  }

  async function syncHead(): Promise<void> {
    const [head] = await repo.list(1);
    if (!head || (base && base.meta.id === head.id) || head.id === lastFailedId) return;
    if (base && base.meta.hash === head.hash) {
      swap({ ...base, meta: head });
      return;
    }
    const stored = await repo.files(head.hash);
    if (!stored) {
      log.error({ hash: head.hash }, 'the active pack has no stored files; keeping the current pack');
      lastFailedId = head.id;
      return;
    }
    const check = await compile(stored.files, stored.root);
    if (!usable(check, head) || !check.pack) {
      // A check stopped by a cap (a busy machine, a full checker) is tried again at the next poll.
      if (!check.aborted) lastFailedId = head.id;
      opts.metrics?.packChange('sync', 'rejected');
      log.error(
        { hash: head.hash, by: head.by, result: 'rejected', ...logFields(check) },
        'the pack activated elsewhere does not compile here; keeping the current pack',
      );
      return;
    }
    const before = active;
    const next: LoadedPack = { pack: check.pack, meta: head, files: stored.files, root: stored.root };
    swap(next);
    opts.metrics?.packChange('sync', 'ok');
    log.info(
      { name: head.name, version: head.version, hash: head.hash, previous_hash: before?.meta.hash ?? null, by: head.by },
      'pack changed by another instance; swapped',
    );
  }

  /** Adopt the repository's shadow pack and overrides. */
  async function syncAlongside(): Promise<void> {
    const [meta, list] = await Promise.all([repo.shadow(), repo.overrides()]);
    let changed = setStored(list);
    if ((meta?.id ?? null) !== (shadowPack?.meta.id ?? null) && (meta === null || meta.id !== lastFailedShadowId)) {
      changed = true;
      shadowPack = null;
      if (meta) {
        const files = await repo.shadowFiles(meta.id);
        const check = files ? await compile(files.files, files.root) : null;
        if (files && check?.ok && check.pack) {
          shadowPack = { pack: check.pack, meta, files: files.files, root: files.root };
          log.info({ name: meta.name, version: meta.version, hash: meta.hash, by: meta.by }, 'shadow pack set by another instance; running it');
        } else if (files) {
          // Its files changed since the entry was read (another set): the message for it follows.
          // A check stopped by a cap is tried again at the next poll.
          if (!check?.aborted) lastFailedShadowId = meta.id;
          log.error({ hash: meta.hash, by: meta.by, ...(check ? logFields(check) : {}) }, 'the shadow pack does not compile here; running none');
        }
      }
    }
    if (changed) compose();
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
    waiting: () => (active ? null : (repo.held?.() ?? null)),

    start: () =>
      serial(async () => {
        await repo.subscribe(scheduleSync);
        const fromPath = opts.rulesPath ? checkPath() : null;
        const [head] = await repo.list(1);
        if (typeof fromPath === 'string' && opts.rulesPath) {
          log.error({ path: opts.rulesPath, error: fromPath }, 'cannot read the VIGIL_RULES pack');
        }
        const pathCheck = fromPath !== null && typeof fromPath !== 'string' ? fromPath : null;
        // An empty history the repository cannot vouch for (Redis lost it?) is not a first start.
        const held = head ? null : (repo.held?.() ?? null);
        if (pathCheck && pathCheck.ok && pathCheck.pack && !held && (!head || !(await repo.seen(pathCheck.pack.hash)))) {
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
        await syncAlongside();
        if (!active && !held) {
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

    // The check runs before the change queue, not in it: a slow upload (up to the checker's time
    // cap) never holds back syncs, rollbacks or other changes, and uploads wait in the checker's
    // bounded queue rather than in this unbounded one.
    activate: async (files, { by, reason, source = 'api', root = UPLOAD_ROOT, force = false }) => {
      const check = await compile(files, root);
      return serial(() => activateChecked(check, by, source, { force, ...(reason !== undefined ? { reason } : {}) }));
    },

    rollback: ({ by, reason, to }) =>
      serial(async (): Promise<RollbackResult> => {
        const entries = await repo.list(HISTORY_READ);
        const head = entries[0];
        if (!head) return { status: 'none' };
        let target: PackMeta | undefined;
        if (to === undefined) {
          // The version active before the current one: the first entry under the head with another
          // hash (a `restore` entry repeats the head's).
          target = entries.find((m) => m.hash !== head.hash);
          if (!target) return { status: 'none' };
        } else {
          if (to === head.hash) return { status: 'current' };
          target = entries.find((m) => m.hash === to);
          if (!target) return { status: 'not_found' };
        }
        const stored = await repo.files(target.hash);
        if (!stored) return { status: 'conflict' };
        const check = await compile(stored.files, stored.root);
        if (!usable(check, target) || !check.pack) {
          refuse('rollback', check, by, 'rollback');
          return { status: 'rejected', check };
        }
        const entry: PackMeta = {
          id: ulid(),
          name: target.name,
          version: target.version,
          hash: target.hash,
          activated_at: now().toISOString(),
          by,
          source: 'rollback',
          action: 'rollback',
          previous_hash: head.hash,
          ...(reason !== undefined ? { reason } : {}),
          // Tests that failed when it was forced still fail: the entry stays forced so every
          // instance adopts it.
          ...(target.forced === true && !check.ok ? { forced: true } : {}),
        };
        const r = await repo.rollback(head.id, entry);
        if (r.result !== 'ok') return { status: r.result };
        const before = active;
        const next: LoadedPack = { pack: check.pack, meta: entry, files: stored.files, root: stored.root };
        swap(next);
        const diff = diffPacks(before, next);
        opts.metrics?.packChange('rollback', 'ok');
        audit(
          {
            action: 'rollback',
            result: 'ok',
            by,
            source: 'rollback',
            name: entry.name,
            version: entry.version,
            hash: entry.hash,
            previous_hash: head.hash,
            diff,
          },
          'pack rolled back',
        );
        await record('pack_rollback', { by, ...(reason !== undefined ? { reason } : {}) }, {
          name: entry.name,
          version: entry.version,
          hash: entry.hash,
          previous_hash: head.hash,
          to: to !== undefined ? 'named' : 'previous',
          diff,
        });
        await publish(entry.id);
        return { status: 'rolled_back', active: next, from: head, diff };
      }),

    async list() {
      const history = await repo.list(HISTORY_READ);
      const cur = active?.meta ?? null;
      return { active: cur, history: history.filter((m) => m.id !== cur?.id) };
    },

    versionFiles: (hash) => repo.files(hash),
    async stored(hash) {
      const cur = active;
      if (cur && cur.meta.hash === hash) return { meta: cur.meta, files: cur.files, root: cur.root };
      const meta = (await repo.list(HISTORY_READ)).find((m) => m.hash === hash);
      if (!meta) return null;
      const f = await repo.files(hash);
      return f ? { meta, files: f.files, root: f.root } : null;
    },

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

    shadow: () => shadowPack,

    setShadow: async (files, { by, reason, root = UPLOAD_ROOT }) => {
      // Checked before the change queue, as for activate.
      const check = await compile(files, root);
      return serial(async (): Promise<ShadowResult> => {
        if (!check.ok || !check.pack) {
          refuse('shadow', check, by, 'api');
          return { status: 'rejected', check };
        }
        const current = await repo.shadow();
        if (current && current.hash === check.pack.hash) {
          if (shadowPack?.meta.id !== current.id) {
            shadowPack = { pack: check.pack, meta: current, files: check.files, root: check.root };
            compose();
          }
          return { status: 'unchanged', shadow: shadowPack ?? { pack: check.pack, meta: current, files: check.files, root: check.root }, check };
        }
        const meta = metaFor(check, by, 'api');
        await repo.setShadow(meta, check.files, check.root);
        shadowPack = { pack: check.pack, meta, files: check.files, root: check.root };
        lastFailedShadowId = null;
        compose();
        const details = { name: meta.name, version: meta.version, hash: meta.hash, previous_hash: current?.hash ?? null, active_hash: base?.meta.hash ?? null };
        audit({ action: 'shadow_set', result: 'ok', by, ...details }, 'shadow pack set');
        await record('pack_shadow_set', { by, ...(reason !== undefined ? { reason } : {}) }, details);
        await publish(`shadow:${meta.id}`);
        return { status: 'set', shadow: shadowPack, check };
      });
    },

    clearShadow: ({ by, reason }) =>
      serial(async () => {
        const was = await repo.clearShadow();
        if (shadowPack) {
          shadowPack = null;
          compose();
        }
        if (!was) return null;
        const details = { name: was.name, version: was.version, hash: was.hash, active_hash: base?.meta.hash ?? null };
        audit({ action: 'shadow_clear', result: 'ok', by, ...details }, 'shadow pack cleared');
        await record('pack_shadow_clear', { by, ...(reason !== undefined ? { reason } : {}) }, details);
        await publish(`shadow:-${was.id}`);
        return was;
      }),

    async overrides() {
      const t = now().getTime();
      const names = new Set(base?.pack.rules.map((r) => r.name) ?? []);
      return (await repo.overrides())
        .filter((o) => expiresMs(o) > t)
        .sort((a, b) => (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0))
        .map((o) => ({ ...o, applies: names.has(o.rule) }));
    },

    setOverride: (rule, { by, reason, mode, ttlMs }) =>
      serial(async (): Promise<OverrideResult> => {
        if (!base || !base.pack.rules.some((r) => r.name === rule)) return { status: 'unknown_rule' };
        const t = now();
        const list = await repo.overrides();
        const expired = list.filter((o) => o.rule !== rule && expiresMs(o) <= t.getTime()).map((o) => o.rule);
        const o: RuleOverride = {
          rule,
          mode,
          reason,
          by,
          set_at: t.toISOString(),
          expires_at: ttlMs === undefined ? null : new Date(t.getTime() + ttlMs).toISOString(),
        };
        await repo.setOverride(o, expired);
        setStored([...list.filter((x) => x.rule !== rule && !expired.includes(x.rule)), o]);
        compose();
        const details = { rule, mode, expires_at: o.expires_at, pack_hash: base.meta.hash };
        audit({ action: 'override_set', result: 'ok', by, reason, ...details }, 'rule overridden');
        await record('override_set', { by, reason }, details);
        await publish(`override:${rule}`);
        return { status: 'set', override: o };
      }),

    clearOverride: (rule, { by, reason }) =>
      serial(async () => {
        const was = await repo.clearOverride(rule);
        if (setStored(overrideList.filter((x) => x.rule !== rule))) compose();
        if (!was) return null;
        await publish(`override:${rule}`);
        // An expired override was already lifted: removing its record changes nothing.
        if (expiresMs(was) <= now().getTime()) return null;
        const details = { rule, mode: was.mode, pack_hash: base?.meta.hash ?? null };
        audit({ action: 'override_clear', result: 'ok', by, ...details }, 'rule override lifted');
        await record('override_clear', { by, ...(reason !== undefined ? { reason } : {}) }, details);
        return was;
      }),

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
      if (expiry) clearTimeout(expiry);
      watcher = null;
      await chain;
      await repo.close();
    },
  };
  return manager;
}
