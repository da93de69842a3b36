// The engine's public contract: what the API (and CLI replay) hand it and get back. The API validates
// HTTP input into a VigilEvent; the engine never sees HTTP.
import type { Action } from '../dsl/ast.ts';
import type { RuleHit } from '../dsl/compiled.ts';
import type { ChangeKind, EventType } from '../features/catalog.ts';
import type { Notice } from '../dsl/notices.ts';
import type { CounterTarget } from '../features/store/types.ts';
import type { LiveLists } from './lists.ts';
import type { ShadowReport } from './shadowreport.ts';

export interface VigilEvent {
  readonly type: EventType;
  readonly userId: string;
  /** Account creation, ms since epoch. */
  readonly userCreatedAt?: number;
  readonly mfa?: boolean;
  /** A syntactically valid IPv4/IPv6 address (validated by the caller). */
  readonly ip: string;
  readonly deviceId?: string;
  readonly userAgent?: string;
  /** Event time, ms since epoch (defaults to now at the API). */
  readonly time: number;
  /** account_change: the kind of change (required for that type by the API). */
  readonly change?: ChangeKind;
  /** account_change: the decision id of the sign-in that opened the session (session.* features). */
  readonly loginDecisionId?: string;
}

export type Outcome = 'succeeded' | 'failed' | 'challenge_passed' | 'challenge_failed';

export interface PackInfo {
  readonly name: string;
  readonly version: number;
  readonly hash: string;
}

export interface EvaluateResult {
  readonly decision_id: string;
  readonly decision: Action;
  readonly score: number;
  readonly rules: readonly RuleHit[];
  readonly shadow: readonly RuleHit[];
  readonly model: { readonly anomaly: number | null; readonly version: string } | null;
  readonly pack: PackInfo;
  readonly degraded: boolean;
  /**
   * User-safe notices of the matched enforcing rules (dsl.md §7): `{code, message}`, each code once,
   * in declaration order; empty when none.
   */
  readonly notices: readonly Notice[];
  /**
   * The rules of the pack whose condition matched and whose effect an override (PUT
   * /v1/overrides/:rule) changed; absent when none did.
   */
  readonly overrides?: readonly string[] | undefined;
  /** With explain: every feature computed (durations in seconds). */
  readonly features?: Readonly<Record<string, unknown>>;
  /** With explain: the model's top feature contributions. */
  readonly contributions?: readonly { readonly feature: string; readonly contribution: number }[];
  /** With explain: the planner's steps for this pack, in order. */
  readonly plan?: readonly string[];
}

export interface StoredDecision {
  readonly decision_id: string;
  /** The validated request with identifiers as given by the caller are NOT stored: user/device/ip are keyed hashes. */
  readonly request: Readonly<Record<string, unknown>>;
  readonly features: Readonly<Record<string, unknown>>;
  readonly result: EvaluateResult;
  readonly at: string;
  readonly outcome?: Outcome;
}

/** A search of the decision log (GET /v1/decisions). `user` is the raw id; the engine hashes it. */
export interface DecisionQuery {
  readonly user?: string;
  readonly rule?: string;
  readonly decision?: Action;
  /** ms since the epoch, inclusive. */
  readonly since?: number;
  /** ms since the epoch, exclusive. */
  readonly until?: number;
  readonly limit?: number;
  readonly cursor?: string;
}

export interface DecisionPage {
  readonly decisions: readonly StoredDecision[];
  /** Pass back as `cursor` for the next page; null on the last one. */
  readonly cursor: string | null;
}

/** One entry of a user's security log as the API shows it: coarse fields only. */
export interface SecurityLogItem {
  /** ISO time of the event. */
  readonly at: string;
  readonly type: string;
  /** account_change events only. */
  readonly change?: string;
  readonly decision: Action;
  readonly country: string | null;
  readonly city: string | null;
  readonly browser: string | null;
  readonly os: string | null;
  /** Notice codes (dsl.md § 7). */
  readonly notices: readonly string[];
}

export interface SecurityLogView {
  readonly entries: readonly SecurityLogItem[];
  /** Pass back as `cursor` for the next page; null on the last one. */
  readonly cursor: string | null;
}

export interface Engine {
  evaluate(ev: VigilEvent, opts?: { explain?: boolean }): Promise<EvaluateResult>;
  /** 'not_found' for an unknown or expired decision id. */
  outcome(decisionId: string, outcome: Outcome): Promise<'ok' | 'not_found'>;
  getDecision(decisionId: string): Promise<StoredDecision | null>;
  /** Newest first. Without a decision log, an empty page. */
  searchDecisions(q: DecisionQuery): Promise<DecisionPage>;
  /**
   * The user's security log (raw id, hashed here), newest first. Without a decision log, an empty
   * page. `limit` 1-100 (default 20).
   */
  securityLog(userId: string, q?: { readonly limit?: number; readonly cursor?: string }): Promise<SecurityLogView>;
  /** Erase one user: signal-store keys (history, counters, outcome-window records) and decision-log rows. */
  eraseUser(userId: string): Promise<{ readonly keys: number; readonly decisions: number }>;
  /**
   * A false positive's undo: delete the velocity and failure counters of an address (with `subnet`,
   * also its range's failure counter) and/or a user (raw values, hashed by the store). Resolves the
   * number of keys deleted.
   */
  clearCounters(target: CounterTarget): Promise<number>;
  /** The active pack's live (`redis`) lists: read, change, and the sweeper of expired entries. */
  readonly lists: LiveLists;
  /** Readiness: pack loaded and signal store reachable. */
  ready(): Promise<{ readonly ok: boolean; readonly checks: Readonly<Record<string, boolean>> }>;
  /**
   * How the shadow pack `shadow` compared with the live pack `active` since `since` (ms). Absent in
   * engines that run no shadow pack.
   */
  shadowReport?(q: { readonly active: string; readonly shadow: string; readonly since: number }): Promise<ShadowReport>;
  /**
   * The anomaly model's top feature contributions for kept features (name → value), with the
   * model loaded now; null without a model.
   */
  explainModel?(features: Readonly<Record<string, boolean | number | string | null>>): { readonly version: string; readonly contributions: readonly { readonly feature: string; readonly contribution: number }[] } | null;
  /** Reload the anomaly model (from `path`, or its current file) without dropping requests. */
  reloadModel?(path?: string): Promise<{ readonly version: string }>;
  close(): Promise<void>;
}
