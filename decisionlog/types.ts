// The decision log's public types: one stored decision (LogRow), the search and scan queries, the
// counters an operator watches, and the DecisionLog contract both back ends (PostgreSQL, PGlite)
// implement. Re-exported by decisionlog/index.ts; nothing here does any work.
import type { AuditStore } from './audit.ts';
import type { PackStore } from './packs.ts';

export type Decision = 'allow' | 'step_up' | 'block';
export type Outcome = 'succeeded' | 'failed' | 'challenge_passed' | 'challenge_failed';

export interface RuleHitRow {
  readonly name: string;
  readonly action: Decision | null;
  readonly score: number;
  readonly tags: readonly string[];
}

export type FeatureValue = boolean | number | string | null;

export interface LogRow {
  /** ULID; its timestamp part equals `time` (ms), which is how an id finds its partition. */
  readonly id: string;
  /** Event time, ms since the epoch. */
  readonly time: number;
  /** 'login' | 'recovery' | 'account_change' (any short lower-case word is stored). */
  readonly type: string;
  /** Keyed hash (base64url). */
  readonly user: string;
  readonly device: string | null;
  readonly ip: string;
  /** Coarse address prefix: an IPv4 network of /24 or wider, an IPv6 network of /48 or wider. */
  readonly prefix: string | null;
  readonly country: string | null;
  readonly asn: number | null;
  readonly decision: Decision;
  readonly score: number;
  readonly degraded: boolean;
  readonly rules: readonly RuleHitRow[];
  readonly shadow: readonly RuleHitRow[];
  /** Rules whose effect an override changed for this decision (absent or empty: none). */
  readonly overrides?: readonly string[];
  readonly pack: { readonly name: string; readonly version: number; readonly hash: string };
  readonly modelVersion: string | null;
  /** As evaluated; `user.id`, `device.id` and `ip.address` are removed before storage. */
  readonly features: Readonly<Record<string, FeatureValue>>;
  /** The signal store's EventContext (hashes only), opaque JSON: needed to apply a late outcome. */
  readonly ctx: Readonly<Record<string, unknown>>;
  /** Non-identifying request extras (created_at, mfa, browser, os). */
  readonly request: Readonly<Record<string, unknown>>;
  /** GeoIP city name in English (absent or null: unknown). Shown in the user's security log. */
  readonly city?: string | null;
  /** account_change events: what changed (`password`, `email`, …). */
  readonly change?: string | null;
  /** Notice codes of the answer (dsl.md § 7), in its order; absent or empty: none. */
  readonly notices?: readonly string[];
  readonly outcome: Outcome | null;
  readonly outcomeAt: number | null;
}

export interface SearchQuery {
  /** A user's keyed hash. */
  user?: string;
  /** A live rule that matched (shadow hits are not indexed). */
  rule?: string;
  decision?: Decision;
  /** Inclusive, ms. */
  since?: number;
  /** Exclusive, ms. */
  until?: number;
  /** Default 50, at most 1000. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface SearchPage {
  rows: LogRow[];
  nextCursor: string | null;
}

/** A page of a user's security log (GET /v1/users/:id/security-log). */
export interface SecurityLogQuery {
  /** The user's keyed hash. */
  readonly user: string;
  /** Default 20, at most 100. */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
}

/** One entry: coarse fields only (no address, prefix, device or rule). */
export interface SecurityLogEntry {
  /** Event time, ms since the epoch. */
  readonly time: number;
  readonly type: string;
  readonly change: string | null;
  readonly decision: Decision;
  readonly country: string | null;
  readonly city: string | null;
  readonly browser: string | null;
  readonly os: string | null;
  readonly notices: readonly string[];
}

export interface SecurityLogPage {
  entries: SecurityLogEntry[];
  nextCursor: string | null;
}

export interface DecisionLogStats {
  /** Rows held in memory (queued, being written or being spooled). */
  queued: number;
  /** Rows the database has accepted since start (replayed spool rows included). */
  written: number;
  /** Rows in the spool now. */
  spooled: number;
  spoolBytes: number;
  /** Rows lost: the spool was full (or could not be written) when they had to go there. */
  dropped: number;
  /** Failed writes: database batches or spool writes that did not succeed (rows were retried or spooled). */
  writeErrors: number;
  /** Rows refused as invalid (at append, or by the database), never retried. */
  refused: number;
  /** Whether the last write or probe reached the database. */
  up: boolean;
  lastError: string | null;
}

export interface DecisionLog {
  readonly kind: 'postgres' | 'pglite';
  /** Never throws, never awaits the database: bounded queue → batch insert; DB down → spool; spool full → drop + count. */
  append(row: LogRow): void;
  /** Finds the row in the queue, spool or table; the first outcome wins (idempotent). */
  setOutcome(id: string, outcome: Outcome, at: number): Promise<'ok' | 'not_found' | 'already'>;
  /** Also finds rows still queued or spooled. */
  get(id: string): Promise<LogRow | null>;
  /** Newest first, opaque cursor; the table only (rows appear once written, within ~flushMs). */
  search(q: SearchQuery): Promise<SearchPage>;
  /** A user's security log, newest first, from the table (a projection of its decisions). */
  securityLog(q: SecurityLogQuery): Promise<SecurityLogPage>;
  /** Rows removed from table + queue + spool. */
  eraseUser(user: string): Promise<number>;
  /** Oldest first, in pages: replay and training from the log. */
  scan(q: { since: number; until?: number }): AsyncIterable<LogRow>;
  /** Writes everything queued (and spooled, if the database answers). */
  flush(): Promise<void>;
  /** Creates partitions ahead, drops partitions older than the retention. */
  maintain(now?: number): Promise<void>;
  ping(): Promise<boolean>;
  /** UTC days (YYYY-MM-DD) that have a partition, oldest first. */
  partitions(): Promise<string[]>;
  readonly stats: DecisionLogStats;
  /** The audit log, kept in the same database under the same retention (decisionlog/audit.ts). */
  readonly audit: AuditStore;
  /** The rule packs' history, files, shadow pack and overrides, in the same database (decisionlog/packs.ts). */
  readonly packs: PackStore;
  /** Flushes what it can, spools the rest, releases connections. */
  close(): Promise<void>;
}

export interface DecisionLogLogger {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

export interface DecisionLogOptions {
  /** postgres://… ; absent → PGlite. */
  readonly url?: string;
  /** PGlite data directory (absent → in memory); also the default spool directory's parent. */
  readonly dataDir?: string;
  /** Default 'vigil'. */
  readonly schema?: string;
  /** Default 30. */
  readonly retentionDays?: number;
  /** Default <dataDir>/spool, else a directory under os.tmpdir() named after the database and schema. */
  readonly spoolDir?: string;
  /** Default 256 MiB. */
  readonly spoolMaxBytes?: number;
  /** Default 50,000 rows. */
  readonly queueMax?: number;
  /** Default 1,000 rows. */
  readonly batchMax?: number;
  /** Default 50 ms linger. */
  readonly flushMs?: number;
  /** Days of partitions created ahead of today (default 3). */
  readonly aheadDays?: number;
  /** Rows per page of scan() (default 1,000). */
  readonly scanPage?: number;
  /** How often the log runs maintain() itself (default 1 h; 0 turns it off). */
  readonly maintainEveryMs?: number;
  /** PostgreSQL connections (default 4: one writer, the rest for queries). */
  readonly poolSize?: number;
  /** Per-statement limit on PostgreSQL (default 15,000 ms); a write that hits it is spooled. */
  readonly statementTimeoutMs?: number;
  /**
   * When false (default) an unreachable PostgreSQL at start is not fatal: rows spool and the schema
   * is set up when it answers. When true, createDecisionLog throws instead (tools like replay).
   */
  readonly requireDb?: boolean;
  /**
   * For tools reading the log (replay/train from the log) next to a running server: no migrations,
   * no maintenance, no spool of the server's (a private temporary one), append() refused.
   */
  readonly readOnly?: boolean;
  readonly logger?: DecisionLogLogger;
  readonly now?: () => number;
}
