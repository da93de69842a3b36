// The live lists of the active pack (`list x: T = redis "NAME"`, addressed by NAME): which exist
// and of what kind, reading and changing them through the signal store, and the sweeper that every
// instance runs so an expired entry stops matching within about a second without anyone acting.
// Entry syntax, keys and scripts are features/store/lists.ts; HTTP is api/routes/lists.ts.
import { errorMessage } from '../common/errors.ts';
import { expiryKey, LIST_KINDS, LIST_LIMITS, type ListKind } from '../features/store/lists.ts';
import type { ListAddResult, SignalStore } from '../features/store/index.ts';
import type { ActivePackRef } from './index.ts';

export interface DeclaredList {
  /** The Redis key, verbatim (the pack's `redis "NAME"`). */
  readonly name: string;
  readonly kind: ListKind;
  /** False for a name no expiry key can share a slot with (features/store/lists.ts expiryKey). */
  readonly expires: boolean;
}

export type ListLookup =
  | { readonly found: true; readonly list: DeclaredList }
  /** `undeclared`: no such redis list in the active pack; `unsupported`: a bool or duration list,
   *  or one name declared with two kinds (the message says which). */
  | { readonly found: false; readonly why: 'undeclared' | 'unsupported'; readonly message: string };

export interface ListEntry {
  readonly value: string;
  /** ISO 8601, for an entry added with a ttl. */
  readonly expires_at?: string;
}

/** GET /v1/lists/:name's answer. */
export interface ListView {
  readonly name: string;
  readonly kind: ListKind;
  readonly entries: readonly ListEntry[];
}

export interface LiveLists {
  /** The active pack's redis list whose key is `name`. */
  find(name: string): ListLookup;
  /** Every manageable redis list of the active pack. */
  declared(): readonly DeclaredList[];
  /** The entries, sorted, those past their expiry left out (the sweeper removes them within a second). */
  read(list: DeclaredList): Promise<ListView>;
  /** Add canonical entries (features/store/lists.ts parseListEntry), expiring after `ttlMs` or never. */
  add(list: DeclaredList, values: readonly string[], ttlMs?: number): Promise<ListAddResult>;
  /** Remove entries; resolves how many were in the list. */
  remove(list: DeclaredList, values: readonly string[]): Promise<number>;
  /** Remove expired entries from every declared list now; resolves how many. */
  sweep(): Promise<number>;
  /** Stop the sweeper. */
  close(): void;
}

export interface LiveListsOptions {
  readonly store: SignalStore;
  readonly packs: () => ActivePackRef | null;
  readonly logger?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
  /** Wall clock, ms (expiry is wall-clock time, not event time). */
  readonly now?: () => number;
  /** Sweep interval; 0 turns the sweeper off (default LIST_LIMITS.sweepIntervalMs). */
  readonly sweepMs?: number;
}

const isKind = (t: string): t is ListKind => (LIST_KINDS as readonly string[]).includes(t);

export function createLiveLists(opts: LiveListsOptions): LiveLists {
  const { store, packs, logger } = opts;
  const now = opts.now ?? Date.now;

  function find(name: string): ListLookup {
    const decls = packs()?.pack.redisLists.filter((l) => l.key === name) ?? [];
    if (decls.length === 0) return { found: false, why: 'undeclared', message: `the active pack declares no redis list ${JSON.stringify(name)}` };
    const kinds = [...new Set(decls.map((d) => String(d.elemType)))];
    const kind = kinds[0] as string;
    if (kinds.length > 1) {
      return { found: false, why: 'unsupported', message: `the active pack declares ${JSON.stringify(name)} with two kinds (${kinds.join(', ')})` };
    }
    if (!isKind(kind)) {
      return { found: false, why: 'unsupported', message: `${JSON.stringify(name)} holds ${kind} values: only ip, string and number lists are managed here` };
    }
    return { found: true, list: { name, kind, expires: expiryKey(name) !== null } };
  }

  function declared(): DeclaredList[] {
    const seen = new Set<string>();
    const out: DeclaredList[] = [];
    for (const l of packs()?.pack.redisLists ?? []) {
      if (seen.has(l.key)) continue;
      seen.add(l.key);
      const f = find(l.key);
      if (f.found) out.push(f.list);
    }
    return out;
  }

  let sweeping: Promise<number> | null = null;
  // Log transitions only: a down Redis must not log once a second per list.
  let sweepFailing = false;
  async function sweepAll(): Promise<number> {
    const t = now();
    let n = 0;
    for (const l of declared()) if (l.expires) n += await store.sweepList(l.name, t);
    return n;
  }
  function sweep(): Promise<number> {
    // One sweep at a time: a slow Redis must not pile them up.
    sweeping ??= sweepAll().finally(() => {
      sweeping = null;
    });
    return sweeping;
  }

  const every = opts.sweepMs ?? LIST_LIMITS.sweepIntervalMs;
  const timer =
    every > 0
      ? setInterval(() => {
          if (sweeping) return;
          sweep().then(
            () => {
              if (sweepFailing) logger?.info?.({}, 'live-list sweeper works again');
              sweepFailing = false;
            },
            (err: unknown) => {
              if (!sweepFailing) logger?.warn({ err: errorMessage(err) }, 'live-list sweeper failed; expired entries stay until it works again');
              sweepFailing = true;
            },
          );
        }, every)
      : undefined;
  timer?.unref();

  return {
    find,
    declared,
    async read(list) {
      const { members, expiries } = await store.readList(list.name);
      const t = now();
      const entries: ListEntry[] = [];
      for (const value of [...members].sort()) {
        const exp = expiries.get(value);
        if (exp === undefined) entries.push({ value });
        else if (exp > t) entries.push({ value, expires_at: new Date(exp).toISOString() });
      }
      return { name: list.name, kind: list.kind, entries };
    },
    add(list, values, ttlMs) {
      return store.addToList(list.name, values, ttlMs === undefined ? {} : { expiresAt: Math.ceil(now() + ttlMs) });
    },
    remove(list, values) {
      return store.removeFromList(list.name, values);
    },
    sweep,
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
