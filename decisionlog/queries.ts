// The decision log's reads of the table alone — searches, the user's security log, scans — with
// what they share: the checks of a query (a keyed hash, a rule name, a time), the opaque keyset
// cursor, one page of `limit` rows fetched as `limit + 1` to know whether another follows, and the
// mapping of a database failure to LOG_UNAVAILABLE. Reads that must also see rows still in memory
// or in the spool (get, setOutcome, eraseUser) stay with the writer in log.ts.
import { errorMessage } from '../common/errors.ts';
import type { Db } from './db.ts';
import { DecisionLogError } from './errors.ts';
import { isDecision, normalizeUlid } from './row.ts';
import type { Sql } from './sql.ts';
import type { LogRow, SearchPage, SearchQuery, SecurityLogPage, SecurityLogQuery } from './types.ts';

export const HASH_RE = /^[A-Za-z0-9_-]{8,128}$/;
const RULE_RE = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;
const CURSOR_PREFIX = 'v1:';
/** A security-log page: 20 entries unless asked, at most 100 (it is shown to a person). */
export const SECURITY_LOG_LIMIT = 20;
export const SECURITY_LOG_MAX = 100;
/** Latest `until` of an open-ended scan (a date both PostgreSQL and JS print as ISO). */
const END_OF_TIME = Date.UTC(9999, 0, 1);

function encodeCursor(id: string): string {
  return Buffer.from(CURSOR_PREFIX + id, 'utf8').toString('base64url');
}

function decodeCursor(c: string): string {
  const text = /^[A-Za-z0-9_-]{1,64}$/.test(c) ? Buffer.from(c, 'base64url').toString('utf8') : '';
  const id = text.startsWith(CURSOR_PREFIX) ? normalizeUlid(text.slice(CURSOR_PREFIX.length)) : null;
  if (!id) throw new DecisionLogError('LOG_BAD_QUERY', 'cursor is not one this log returned');
  return id;
}

export function unavailable(err: unknown): Error {
  if (err instanceof DecisionLogError) return err;
  return new DecisionLogError('LOG_UNAVAILABLE', `the decision log database did not answer: ${errorMessage(err)}`, { cause: err });
}

function checkLimit(limit: number, max: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new DecisionLogError('LOG_BAD_QUERY', `limit must be an integer from 1 to ${max}`);
}

function checkUser(user: unknown): void {
  if (typeof user !== 'string' || !HASH_RE.test(user)) throw new DecisionLogError('LOG_BAD_QUERY', 'user must be a keyed hash');
}

/** One page from `limit + 1` rows read after the cursor: the rows, and the cursor of the next page. */
async function page<T extends { readonly id: string }>(limit: number, read: (fetch: number) => Promise<T[]>): Promise<{ rows: T[]; next: string | null }> {
  let rows: T[];
  try {
    rows = await read(limit + 1);
  } catch (err) {
    throw unavailable(err);
  }
  const more = rows.length > limit;
  if (more) rows = rows.slice(0, limit);
  const last = rows[rows.length - 1];
  return { rows, next: more && last ? encodeCursor(last.id) : null };
}

export async function searchTable(db: Db, sql: Sql, q: SearchQuery): Promise<SearchPage> {
  const limit = q.limit ?? 50;
  checkLimit(limit, 1000);
  if (q.user !== undefined) checkUser(q.user);
  if (q.rule !== undefined && (typeof q.rule !== 'string' || !RULE_RE.test(q.rule))) throw new DecisionLogError('LOG_BAD_QUERY', 'rule is not a rule name');
  if (q.decision !== undefined && !isDecision(q.decision)) throw new DecisionLogError('LOG_BAD_QUERY', 'decision must be allow, step_up or block');
  for (const [k, v] of [['since', q.since], ['until', q.until]] as const) {
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > END_OF_TIME)) {
      throw new DecisionLogError('LOG_BAD_QUERY', `${k} must be a time in ms`);
    }
  }
  const before = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
  const { rows, next } = await page(limit, (fetch) =>
    sql.search(db, {
      ...(q.user !== undefined ? { user: q.user } : {}),
      ...(q.rule !== undefined ? { rule: q.rule } : {}),
      ...(q.decision !== undefined ? { decision: q.decision } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
      ...(before !== undefined ? { before } : {}),
      limit: fetch,
    }),
  );
  return { rows, nextCursor: next };
}

export async function securityLogTable(db: Db, sql: Sql, q: SecurityLogQuery): Promise<SecurityLogPage> {
  const limit = q.limit ?? SECURITY_LOG_LIMIT;
  checkLimit(limit, SECURITY_LOG_MAX);
  checkUser(q.user);
  const before = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
  const { rows, next } = await page(limit, (fetch) => sql.securityLog(db, q.user, fetch, before));
  return { entries: rows.map((r) => r.entry), nextCursor: next };
}

/** Every row of [since, until), oldest first, read `pageSize` rows at a time. */
export function scanTable(db: Db, sql: Sql, q: { since: number; until?: number }, pageSize: number): AsyncIterable<LogRow> {
  const since = q.since;
  const until = q.until ?? END_OF_TIME;
  if (typeof since !== 'number' || !Number.isFinite(since) || typeof until !== 'number' || !Number.isFinite(until) || until > END_OF_TIME || since < 0) {
    throw new DecisionLogError('LOG_BAD_QUERY', 'scan needs since (and until) as times in ms');
  }
  return {
    async *[Symbol.asyncIterator]() {
      let after: string | null = null;
      for (;;) {
        let rows: LogRow[];
        try {
          rows = await sql.scanPage(db, since, until, after, pageSize);
        } catch (err) {
          throw unavailable(err);
        }
        for (const r of rows) yield r;
        const last = rows[rows.length - 1];
        if (rows.length < pageSize || !last) return;
        after = last.id;
      }
    },
  };
}
