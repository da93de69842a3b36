// The signal store's public contract: what the engine hands it for one event (an EventContext built
// by `store.context()`, holding keyed hashes only), what one pipelined read returns (EventSignals),
// and the SignalStore interface implemented over Redis (single node or Cluster) and in process.
// Key layout, costs and failure behaviour: docs/signals.md.
import type { Cluster, Redis } from 'ioredis';
import type { RbaCounts } from '../rba.ts';

export type { RbaCounts } from '../rba.ts';

export type StoreEventType = 'login' | 'recovery' | 'account_change';

/** Raw facts about one attempt, as the engine knows them after IP parsing, GeoIP and UA parsing. */
export interface ContextInput {
  readonly type: StoreEventType;
  readonly userId: string;
  /** Canonical client address (features/ip.ts `parseIp(...).address`). */
  readonly ip: string;
  readonly deviceId?: string;
  /** Event time, ms since the epoch. Every window is computed at this time, never the wall clock. */
  readonly time: number;
  readonly country?: string;
  readonly asn?: number;
  readonly lat?: number;
  readonly lon?: number;
  readonly browser?: string;
  readonly os?: string;
  /** `rbaFields(attempt)` from features/rba.ts; needed for `needs.rba` and for learning rba counts. */
  readonly rbaFields?: readonly string[];
}

/**
 * One attempt as the store sees it: identifiers are keyed hashes (features/privacy.ts), the rest is
 * coarse (country, ASN, city coordinates). Plain JSON: the engine stores it with the decision and
 * hands it back to `recordOutcome` when `/v1/outcome` arrives, possibly on another instance.
 */
export interface EventContext {
  readonly v: 1;
  readonly type: StoreEventType;
  readonly time: number;
  readonly user: string;
  readonly ip: string;
  /** Hash of the /24 or /48 (absent only if the address did not parse). */
  readonly subnet?: string;
  readonly device?: string;
  readonly country?: string;
  readonly asn?: number;
  readonly lat?: number;
  readonly lon?: number;
  /** Hash of the browser/OS pair (absent when the user agent told neither). */
  readonly ua?: string;
  /** Hashed rba fields aligned with `rbaFields()`; null where the field is a placeholder (`asn:?`). */
  readonly rba?: readonly (string | null)[];
}

/**
 * A `list x: T = redis "key"` membership test (key used verbatim, not prefixed): SISMEMBER key
 * value; with `cidr` (an `ip` list) one SMISMEMBER of the address and every range that can hold it
 * (lists.ts ipProbeMembers), so an entry `203.0.113.0/24` matches 203.0.113.7.
 */
export interface ListProbeRequest {
  readonly key: string;
  readonly value: string;
  readonly cidr?: boolean;
}

/** A live list as stored: its set's members and the expiries of those that have one. */
export interface ListContents {
  /** Canonical entries (lists.ts parseListEntry), unordered. */
  readonly members: readonly string[];
  /** ms since the epoch, for the members that expire. */
  readonly expiries: ReadonlyMap<string, number>;
}

export type ListAddResult =
  /** `added` new members; `size` the set's size after the add. */
  | { readonly ok: true; readonly added: number; readonly size: number }
  /** Refused whole (nothing written): the new members would take the list past `maxEntries`. */
  | { readonly ok: false; readonly size: number };

/** Whose velocity and failure counters `clearCounters` deletes (at least one of ip, user). */
export interface CounterTarget {
  /** A raw address (any spelling parseIp accepts); hashed as the events' contexts hash it. */
  readonly ip?: string;
  /** Also the failure counter of the address's /24 (/48), which every address of the range feeds. */
  readonly subnet?: boolean;
  /** A raw user id, hashed likewise. */
  readonly user?: string;
}

/**
 * What one event needs from the store. Groups not asked for send no command. `record` (default
 * true) adds the attempt's recording writes (attempt counters, distinct users per address/device,
 * distinct addresses per user, recovery count) to the same pipeline; turning it off makes readEvent
 * read-only (backtests, explain of a stored event). Structurally compatible with engine/plan.ts
 * `StoreNeeds`.
 */
export interface ReadNeeds {
  readonly history: boolean;
  readonly velocity: boolean;
  readonly rba: boolean;
  readonly record?: boolean;
  readonly probes?: readonly ListProbeRequest[];
  /**
   * A linked sign-in's decision id (`login_decision_id` of an account_change): its session record
   * (`putSession`) is read in the same round trip and answered raw in `EventSignals.session`.
   */
  readonly session?: string;
}

/**
 * The user's history at the event's time. `known*` is undefined when the event itself lacks that
 * attribute (no device id, no GeoIP country, …); derive features with features/history.ts.
 */
export interface HistorySignals {
  /** Successful sign-ins recorded (within retention). */
  readonly logins: number;
  /** Last successful sign-in: time (ms), country, coordinates, when recorded. */
  readonly lastTime?: number;
  readonly lastCountry?: string;
  readonly lastLat?: number;
  readonly lastLon?: number;
  readonly knownDevice?: boolean;
  readonly knownCountry?: boolean;
  readonly knownAsn?: boolean;
  readonly knownIp?: boolean;
  readonly knownUa?: boolean;
  /** Last completed recovery (a recovery decision's successful outcome), ms; absent when none recorded. */
  readonly lastRecovery?: number;
  /** That recovery's outcome was `challenge_passed`; absent when none, or recorded before this was kept. */
  readonly lastRecoveryChallenged?: boolean;
  /** The address's /24 (IPv4) or /48 (IPv6). */
  readonly knownSubnet?: boolean;
}

/**
 * Velocity counters at the event's time. Attempt-based counts (distinct users/addresses, recovery
 * attempts) include the current attempt when it was recorded in the same pipeline; failure counts
 * include only failures already reported through recordOutcome.
 */
export interface VelocitySignals {
  readonly userFailed1h: number;
  readonly userIps24h: number;
  readonly userRecovery24h: number;
  /** account_change attempts for this user in 24 h (this one included when recorded). */
  readonly userChanges24h: number;
  readonly ipFailed10m: number;
  readonly ipFailed1h: number;
  readonly ipUsers1h: number;
  /** Undefined when the address had no subnet (unparsable). */
  readonly subnetFailed1h?: number;
  /** Undefined when the event has no device id. */
  readonly deviceUsers24h?: number;
}

export interface EventSignals {
  readonly history?: HistorySignals;
  readonly velocity?: VelocitySignals;
  /** Counts aligned with the context's rba fields (placeholders count 0). Absent without rba fields. */
  readonly rba?: RbaCounts;
  /** Aligned with `needs.probes`. */
  readonly probes: readonly boolean[];
  /**
   * With `needs.session`: the linked decision's session record as stored (engine/session.ts decodes
   * it), or null when there is none (unknown id, expired, erased).
   */
  readonly session?: string | null;
}

export type Outcome = 'succeeded' | 'failed' | 'challenge_passed' | 'challenge_failed';

/** Operational counters, for metrics and the benchmark. */
export interface StoreStats {
  /** readEvent calls. */
  readonly readCalls: number;
  /** Pipelines sent by any call: one per call on a single node, one per hash-tag group on Cluster. */
  readonly roundTrips: number;
  /** readEvent calls answered null because the budget ran out. */
  readonly timeouts: number;
  /** readEvent calls answered null because Redis refused or was disconnected. */
  readonly failures: number;
}

/**
 * The signal store. Every time-dependent computation uses the time in the EventContext (or the one
 * passed in), so recorded traffic replays faithfully. The wall clock only drives key expiry.
 */
export interface SignalStore {
  readonly kind: 'redis' | 'cluster' | 'memory';
  /** Hash the event's identifiers; the result is what every other call takes. Pure, no I/O. */
  context(input: ContextInput): EventContext;
  /**
   * ALL reads one event needs plus its recording writes, in one round trip (one pipeline; on Cluster
   * one pipeline per hash-tag group, sent concurrently). Resolves null, never rejects, when the store
   * is unreachable, errors, or does not answer within `budgetMs`: the caller marks engine.degraded.
   * Writes sent before a timeout may still be applied.
   */
  readEvent(ctx: EventContext, needs: ReadNeeds, budgetMs: number): Promise<EventSignals | null>;
  /**
   * Learn from an outcome: failures feed the failure counters; successes feed the user's history and
   * the rba counts. `time` (default ctx.time) timestamps what is learned. One pipeline (per hash-tag
   * group on Cluster). Rejects with StoreUnavailableError when the store cannot take it.
   */
  recordOutcome(ctx: EventContext, outcome: Outcome, time?: number): Promise<void>;
  /**
   * Store a decision's outcome-window record (engine/window.ts) for `ttlSeconds` (fractions allowed).
   * Rejects with StoreUnavailableError.
   */
  putDecision(id: string, json: string, ttlSeconds: number): Promise<void>;
  /** The stored record, or null when unknown or expired. Rejects with StoreUnavailableError. */
  getDecision(id: string): Promise<string | null>;
  /**
   * Store a sign-in decision's session record (engine/session.ts: keyed hashes and coarse facts only)
   * for `ttlSeconds`, read back by a later event's `needs.session`. Written like putDecision (batched,
   * carried by the next read on a single node). Rejects with StoreUnavailableError.
   */
  putSession(id: string, json: string, ttlSeconds: number): Promise<void>;
  /** Delete the records (window and session) of these decisions (erasure); resolves how many existed. */
  deleteDecisions(ids: readonly string[]): Promise<number>;
  /** The keyed hash a user id is stored under (what the decision log is searched by). Pure. */
  userHash(userId: string): string;
  /**
   * Delete every key of the user, and the user from the distinct-user sets of the addresses that
   * tried them (found through the user's own address set) and of `linked` addresses and devices
   * (keyed hashes, e.g. from the decision log). Resolves the number of keys and members removed.
   */
  eraseUser(userId: string, linked?: { readonly ips?: readonly string[]; readonly devices?: readonly string[] }): Promise<number>;
  /**
   * Delete the velocity and failure counters of an address and/or a user (a false positive's undo):
   * the address's failures (`{i}:f`) and distinct users (`{i}:us`), with `subnet` its range's
   * failures (`{n}:f`); the user's failures (`{u}:f`), distinct addresses (`{u}:ips`), recovery
   * attempts (`{u}:rc`) and account changes (`{u}:ch`). History, known values and rba counts stay. Resolves the number of keys
   * deleted; TypeError for a target with neither or an unparsable address.
   */
  clearCounters(target: CounterTarget): Promise<number>;
  /** A live list's members and expiries (lists.ts). Rejects ListKeyTypeError when the key is not a set. */
  readList(name: string): Promise<ListContents>;
  /**
   * Add canonical members, expiring at `expiresAt` (ms) or never; atomic with the bound check
   * (`maxEntries`, default LIST_LIMITS.maxEntries). Rejects ListKeyTypeError, TypeError for a list
   * that has no expiry key (lists.ts expiryKey) given `expiresAt`.
   */
  addToList(name: string, members: readonly string[], opts?: { readonly expiresAt?: number; readonly maxEntries?: number }): Promise<ListAddResult>;
  /** Remove members and their expiries; resolves how many were in the list. */
  removeFromList(name: string, members: readonly string[]): Promise<number>;
  /** Remove the members whose expiry is at or before `now` (ms); resolves how many. */
  sweepList(name: string, now: number): Promise<number>;
  /** True when the store answers. Never rejects. */
  ping(): Promise<boolean>;
  /** Close connections the store opened (never a client handed in by the caller's own use). */
  close(): Promise<void>;
  readonly stats: StoreStats;
  /**
   * The store's Redis client, for other components (pack repository, pub/sub via `duplicate()`);
   * undefined for the in-process store. Calls fail fast while disconnected (no offline queue).
   */
  readonly redis?: Redis | Cluster;
}

export { ListKeyTypeError, StoreUnavailableError } from '../errors.ts';

/** Minimal logger the store reports connection changes to (pino's Logger fits). */
export interface StoreLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}
