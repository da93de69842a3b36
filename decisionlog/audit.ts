// The durable audit log (engine/audit.ts's contract), in the decision log's database: an entry is
// inserted at once; while the database is away entries wait in a bounded memory queue (served by
// queries too) and are written when it answers, so an admin change made during an outage is still
// on record. Rows past the retention go at the log's maintenance.
import { errorMessage } from '../common/errors.ts';
import type { Db } from './db.ts';
import { DecisionLogError } from './errors.ts';
import { ident } from './migrate.ts';
import type { DecisionLogLogger } from './types.ts';

export interface AuditRecord {
  readonly at: number;
  readonly by: string;
  readonly action: string;
  readonly reason?: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditStore {
  record(entry: AuditRecord): Promise<void>;
  query(q: { readonly since?: number; readonly action?: string; readonly limit?: number }): Promise<readonly AuditRecord[]>;
}

/** Entries kept in memory while the database is away; past it the oldest are dropped and logged. */
const MAX_WAITING = 10_000;
const MAX_TEXT = 1024;

export class DbAudit implements AuditStore {
  private readonly waiting: AuditRecord[] = [];
  private dropped = 0;

  constructor(
    private readonly db: Db,
    private readonly schema: string,
    private readonly logger: DecisionLogLogger,
    private readonly readOnly: boolean,
  ) {}

  async record(entry: AuditRecord): Promise<void> {
    if (this.readOnly) throw new DecisionLogError('LOG_CONFIG', 'the log was opened read-only: no audit entries');
    const problem = auditProblem(entry);
    if (problem) throw new DecisionLogError('LOG_INPUT', `audit entry refused: ${problem}`);
    this.waiting.push(entry);
    if (this.waiting.length > MAX_WAITING) {
      this.waiting.shift();
      this.dropped++;
      this.logger.error({ dropped: this.dropped }, 'audit log: database away too long; oldest waiting entry dropped');
    }
    await this.flush();
  }

  /** Write what waits; true when nothing is left waiting. Never throws. */
  async flush(): Promise<boolean> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.slice(0, 500);
      try {
        await this.db.query(
          `INSERT INTO ${ident(this.schema)}.audit (at, by, action, reason, details)
           SELECT to_timestamp((e->>'at')::float8 / 1000), e->>'by', e->>'action', e->>'reason', e->'details'
             FROM jsonb_array_elements($1::jsonb) e`,
          [JSON.stringify(batch)],
        );
        this.waiting.splice(0, batch.length);
      } catch (err) {
        this.logger.warn({ err: errorMessage(err), waiting: this.waiting.length }, 'audit log: write failed; the entries wait for the database');
        return false;
      }
    }
    return true;
  }

  async query(q: { readonly since?: number; readonly action?: string; readonly limit?: number }): Promise<readonly AuditRecord[]> {
    const limit = Math.min(Math.max(Math.trunc(q.limit ?? 100), 1), 1000);
    const params: unknown[] = [];
    const where: string[] = [];
    if (q.since !== undefined) {
      params.push(new Date(q.since).toISOString());
      where.push(`at >= $${params.length}::timestamptz`);
    }
    if (q.action !== undefined) {
      params.push(q.action);
      where.push(`action = $${params.length}::text`);
    }
    params.push(limit);
    const rows = await this.db.query<{ at: Date | string; by: string; action: string; reason: string | null; details: unknown }>(
      `SELECT at, by, action, reason, details FROM ${ident(this.schema)}.audit
        ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY at DESC, seq DESC LIMIT $${params.length}::int`,
      params,
    );
    const kept: AuditRecord[] = rows.map((r) => ({
      at: new Date(r.at).getTime(),
      by: r.by,
      action: r.action,
      ...(r.reason !== null ? { reason: r.reason } : {}),
      details: typeof r.details === 'object' && r.details !== null ? (r.details as Record<string, unknown>) : {},
    }));
    // Entries still waiting for the database are on record too.
    const waiting = this.waiting.filter((e) => (q.since === undefined || e.at >= q.since) && (q.action === undefined || e.action === q.action));
    return [...waiting, ...kept].sort((a, b) => b.at - a.at).slice(0, limit);
  }

  /** Delete entries older than `cutoff` (ms); resolves how many. */
  async prune(cutoff: number): Promise<number> {
    const rows = await this.db.query<{ n: number }>(
      `WITH d AS (DELETE FROM ${ident(this.schema)}.audit WHERE at < $1::timestamptz RETURNING 1) SELECT count(*)::int AS n FROM d`,
      [new Date(cutoff).toISOString()],
    );
    return rows[0]?.n ?? 0;
  }
}

function auditProblem(e: AuditRecord): string | null {
  if (typeof e !== 'object' || e === null) return 'not an object';
  if (!Number.isFinite(e.at)) return 'at must be a time in ms';
  if (typeof e.by !== 'string' || e.by.length === 0 || e.by.length > 64) return 'by must be 1-64 characters';
  if (typeof e.action !== 'string' || !/^[a-z_]{1,64}$/.test(e.action)) return 'action must be a lower-case word';
  if (e.reason !== undefined && (typeof e.reason !== 'string' || e.reason.length > MAX_TEXT)) return `reason must be at most ${MAX_TEXT} characters`;
  if (typeof e.details !== 'object' || e.details === null || Array.isArray(e.details)) return 'details must be an object';
  if (JSON.stringify(e.details).length > 16 * MAX_TEXT) return 'details are too large';
  return null;
}
