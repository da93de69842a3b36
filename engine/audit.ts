// The audit log's contract: every admin change (pack, shadow pack, list, override, counters, erasure,
// model reload) is one entry — who (`X-Vigil-Actor`, or `admin`), when, what, the reason, the pack
// hashes involved — kept in the decision log's database under the same retention as decisions, and
// queryable (GET /v1/audit, `vigil audit`). No entry holds a raw user id, device id or address.
// The durable implementation lives with the decision log; `createMemoryAudit` serves tests and tools.

export const AUDIT_ACTIONS = [
  'pack_activate',
  'pack_rollback',
  'pack_shadow_set',
  'pack_shadow_clear',
  'list_add',
  'list_remove',
  'override_set',
  'override_clear',
  'counters_clear',
  'user_erase',
  'model_reload',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  /** ms since the epoch. */
  readonly at: number;
  /** `X-Vigil-Actor` (validated) or `admin`; `startup`, `sighup`, `dir` for changes Vigil makes itself. */
  readonly by: string;
  readonly action: AuditAction;
  readonly reason?: string;
  /** What changed: pack hashes, list name and entry count, rule and mode, counts — never an identifier. */
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditQuery {
  /** ms since the epoch, inclusive. */
  readonly since?: number;
  readonly action?: AuditAction;
  /** Newest first, at most this many (default 100, at most 1000). */
  readonly limit?: number;
}

export interface AuditLog {
  /** Resolves once the entry is kept (or queued durably); rejects only on bad input. */
  record(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  query(q: AuditQuery): Promise<readonly AuditEntry[]>;
}

/** An in-process audit log (tests, tools without a database). */
export function createMemoryAudit(): AuditLog & { readonly entries: readonly AuditEntry[] } {
  const entries: AuditEntry[] = [];
  return {
    entries,
    async record(entry) {
      entries.push(entry);
    },
    async query(q) {
      const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
      // Reversed before the (stable) sort, so entries of one instant come newest first too.
      return [...entries]
        .reverse()
        .filter((e) => (q.since === undefined || e.at >= q.since) && (q.action === undefined || e.action === q.action))
        .sort((a, b) => b.at - a.at)
        .slice(0, limit);
    },
  };
}

/** What a durable store of entries offers (decisionlog's audit table): actions as plain strings. */
export interface AuditStoreLike {
  record(entry: AuditEntry): Promise<void>;
  query(q: AuditQuery): Promise<readonly { readonly at: number; readonly by: string; readonly action: string; readonly reason?: string; readonly details: Readonly<Record<string, unknown>> }[]>;
}

const KNOWN: ReadonlySet<string> = new Set(AUDIT_ACTIONS);

/** The audit log over a durable store; entries of actions this version does not know are left out. */
export function auditLogOn(store: AuditStoreLike): AuditLog {
  return {
    record: (entry) => store.record(entry),
    async query(q) {
      const rows = await store.query(q);
      return rows.filter((r): r is AuditEntry => KNOWN.has(r.action));
    },
  };
}
