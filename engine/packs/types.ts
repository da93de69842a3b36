// Types of the rule-pack lifecycle: what a pack check reports, what an activation or a rollback
// records in the (append-only) history, the shadow pack and the rule overrides beside the active
// pack, and the repository all of it lives in (PostgreSQL with Redis announcing changes, Redis alone,
// or memory for a trial).
import type { CompiledPack, Diagnostic, PackTestReport, RuleOverrideMode } from '../../dsl/index.ts';

/** Entries the history keeps (activations and rollbacks alike); older ones and their files go. */
export const PACK_HISTORY_LENGTH = 20;

/** A pack's files: relative path (`main.rules`, `lists/tor.txt`) → text. */
export type PackFiles = Readonly<Record<string, string>>;

/** `restore`: re-published after Redis lost the history, or Redis's copy re-filled from PostgreSQL. */
export type PackChangeSource = 'api' | 'dir' | 'sighup' | 'startup' | 'rollback' | 'restore';

/** What made a history entry: an activation (upload, directory, SIGHUP, start) or a rollback. */
export type PackHistoryAction = 'activate' | 'rollback';

/**
 * One entry of the history, newest first; the head is the active pack. The history is append-only:
 * a rollback adds an entry naming the version it reactivated, and the version rolled away from
 * stays listed below it.
 */
export interface PackMeta {
  /** ULID of this entry. */
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly hash: string;
  readonly activated_at: string;
  readonly by: string;
  readonly source: PackChangeSource;
  readonly action: PackHistoryAction;
  /** The hash active before this entry; null for the first (and for entries older than the field). */
  readonly previous_hash: string | null;
  /** Why, as the operator gave it (`--reason`). */
  readonly reason?: string;
  /** Activated although its own tests failed (`PUT /v1/packs/active?force=1`); never with errors. */
  readonly forced?: boolean;
}

/** An emergency override of one rule of the active pack, shared by every instance. */
export interface RuleOverride {
  readonly rule: string;
  readonly mode: RuleOverrideMode;
  readonly reason: string;
  readonly by: string;
  /** ISO 8601. */
  readonly set_at: string;
  /** ISO 8601; null: until lifted. An expired override applies nowhere, stored or not. */
  readonly expires_at: string | null;
}

/** The result of compiling a pack and running its tests. */
export interface PackCheck {
  /** No error diagnostic and no failing test. */
  readonly ok: boolean;
  readonly pack: CompiledPack | null;
  readonly diagnostics: readonly Diagnostic[];
  readonly tests: PackTestReport;
  readonly files: PackFiles;
  /** Where diagnostics say the files are (a directory, or `upload`). */
  readonly root: string;
  /** Why the files could not be opened as a pack at all (no top-level .rules, a bad name), else null. */
  readonly loadError: string | null;
  /** Diagnostics and test failures, rendered for humans (dsl.md §5 format). */
  readonly rendered: string;
  /** Set when the check was stopped before it finished (engine/packs/checker.ts): a refusal. */
  readonly aborted?: PackCheckAbort;
}

/**
 * Why a pack's check was stopped: it ran past the time cap, past the memory cap, or the thread
 * checking it failed otherwise. The pack is refused, whatever it holds.
 */
export interface PackCheckAbort {
  readonly reason: 'time_limit' | 'memory_limit' | 'worker_failed';
  readonly message: string;
}

/** A compiled pack with its history entry and its files. */
export interface LoadedPack {
  readonly pack: CompiledPack;
  readonly meta: PackMeta;
  readonly files: PackFiles;
  readonly root: string;
}

/**
 * The pack serving evaluations, with what rides along with it: the override modes of its rules and
 * the shadow pack. Replaced whole, never mutated: in-flight work keeps its object.
 */
export interface ActivePack extends LoadedPack {
  /** One RULE_MODE per rule of `pack` (dsl `ruleModes`); undefined when no override applies. */
  readonly modes?: Uint8Array;
  /** The shadow pack: run after the live answer, on the same features; never changes it. */
  readonly shadow?: LoadedPack;
}

export type RollbackOutcome =
  | { readonly result: 'ok'; readonly head: PackMeta }
  | { readonly result: 'none' }
  | { readonly result: 'conflict' };

/**
 * Where the active pack and its history live. Every instance reads the head as the truth and
 * follows changes through `subscribe`; `push` and `rollback` are atomic.
 */
export interface PackRepository {
  /** Newest first; the first entry is the active pack. */
  list(limit: number): Promise<PackMeta[]>;
  files(hash: string): Promise<{ files: PackFiles; root: string } | null>;
  /**
   * Append an activation unless the head already has this hash (then nothing changes); the entry's
   * previous_hash is the head's hash, read atomically with the append. Resolves the head after.
   */
  push(meta: Omit<PackMeta, 'previous_hash'>, files: PackFiles, root: string): Promise<{ pushed: boolean; head: PackMeta }>;
  /**
   * Append `entry` (a rollback to a version whose files are stored) if the head's id is still
   * `headId`: `none` when the history is empty, `conflict` when the head moved or the files of
   * `entry.hash` are gone. Nothing is removed but what the length cap drops.
   */
  rollback(headId: string, entry: PackMeta): Promise<RollbackOutcome>;
  /** Was a pack with this hash ever activated here? */
  seen(hash: string): Promise<boolean>;
  /** Tell every instance the head changed. */
  publish(id: string): Promise<void>;
  /** Call `onChange` when any instance publishes, and after a reconnect (messages may be lost). */
  subscribe(onChange: () => void): Promise<void>;
  /** The shadow pack's entry (`activated_at` = when it was set), or null. */
  shadow(): Promise<PackMeta | null>;
  /** The shadow pack's files, if `id` is still the shadow pack's entry. */
  shadowFiles(id: string): Promise<{ files: PackFiles; root: string } | null>;
  /** Replace the shadow pack (entry and files together). */
  setShadow(meta: PackMeta, files: PackFiles, root: string): Promise<void>;
  /** Remove the shadow pack; resolves the entry removed, or null when there was none. */
  clearShadow(): Promise<PackMeta | null>;
  /** Every stored override, expired ones included (they are pruned by the next set or clear). */
  overrides(): Promise<RuleOverride[]>;
  /** Store `o` (replacing the rule's previous override) and drop the overrides of `expired` rules. */
  setOverride(o: RuleOverride, expired: readonly string[]): Promise<void>;
  /** Remove the rule's override; resolves it, or null when there was none. */
  clearOverride(rule: string): Promise<RuleOverride | null>;
  /**
   * Why this instance must not publish a pack of its own while the history is empty (it may have
   * been lost, and the fleet may serve another pack), or null. Absent: never.
   */
  held?(): string | null;
  close(): Promise<void>;
}
