// Every statement the decision log runs against its tables (other than migrations and partition
// maintenance): the batch insert, the outcome insert, get, search, scan and erasure. The same SQL runs
// on PostgreSQL and PGlite. A whole batch travels as ONE jsonb parameter (a JSON array of wire rows,
// see row.ts) that jsonb_to_recordset unpacks server-side: one round trip and one plan per batch,
// no per-row parameters, and the same text as the spool lines.
import type { Queryable } from './db.ts';
import { ident } from './migrate.ts';
import { decisionCode, fromDb, outcomeCode, SELECT_COLUMNS, securityEntryFromDb, ulidToUuid, ulidTime, uuidToUlid } from './row.ts';
import type { Decision, LogRow, Outcome, SecurityLogEntry } from './types.ts';

export interface Sql {
  insertBatch(q: Queryable, wireRows: readonly string[]): Promise<number>;
  setOutcome(q: Queryable, id: string, outcome: Outcome, at: number): Promise<'ok' | 'not_found' | 'already'>;
  get(q: Queryable, id: string): Promise<LogRow | null>;
  search(q: Queryable, p: SearchParams): Promise<LogRow[]>;
  scanPage(q: Queryable, since: number, until: number, after: string | null, limit: number): Promise<LogRow[]>;
  eraseUser(q: Queryable, user: string): Promise<number>;
  /** A user's security-log entries older than `before` (a ULID), newest first; `id` for the cursor. */
  securityLog(q: Queryable, user: string, limit: number, before: string | undefined): Promise<{ id: string; entry: SecurityLogEntry }[]>;
}

export interface SearchParams {
  readonly user?: string;
  readonly rule?: string;
  readonly decision?: Decision;
  readonly since?: number;
  readonly until?: number;
  /** The last row of the previous page (a ULID): rows strictly older follow. */
  readonly before?: string;
  /** Rows to fetch. */
  readonly limit: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

// Rows are selected first (ordered, limited) and only then given their outcomes, one key lookup per
// row of the page: the LATERAL ... LIMIT 1 keeps the planner from hashing every outcome partition.
function withOutcomes(schema: string, inner: string, order: 'ASC' | 'DESC'): string {
  return `SELECT ${SELECT_COLUMNS} FROM (${inner}) d
       LEFT JOIN LATERAL (SELECT x.outcome, x.outcome_at FROM ${ident(schema)}.decision_outcomes x
                           WHERE x.at = d.at AND x.id = d.id LIMIT 1) o ON true
      ORDER BY d.at ${order}, d.id ${order}`;
}

/**
 * The statement search() runs (exported so the benchmark EXPLAINs exactly it). A rule without a
 * user is driven by the rule side table's (rule, at, id) index; everything else by the decisions
 * table's (user_h, at, id) or (at, id) index, newest first, keyset-paged on (at, id).
 */
export function buildSearch(schema: string, p: SearchParams): { text: string; params: unknown[] } {
  const s = ident(schema);
  const params: unknown[] = [];
  const arg = (v: unknown, cast: string): string => {
    params.push(v);
    return `$${params.length}::${cast}`;
  };
  const byRule = p.rule !== undefined && p.user === undefined;
  // `t` is the table whose (at, id) drives the order.
  const t = byRule ? 'r' : 'd';
  const where: string[] = [];
  if (byRule) where.push(`r.rule = ${arg(p.rule, 'text')}`);
  if (p.user !== undefined) where.push(`d.user_h = ${arg(p.user, 'text')}`);
  if (p.rule !== undefined && !byRule) {
    // A rule's hits are its enforcing and its shadow matches (the side table holds both).
    const hit = arg(JSON.stringify([{ name: p.rule }]), 'jsonb');
    where.push(`(d.rules @> ${hit} OR d.shadow @> ${hit})`);
  }
  if (p.decision !== undefined) where.push(`d.decision = ${arg(decisionCode(p.decision), 'smallint')}`);
  if (p.since !== undefined) where.push(`${t}.at >= ${arg(iso(p.since), 'timestamptz')}`);
  if (p.until !== undefined) where.push(`${t}.at < ${arg(iso(p.until), 'timestamptz')}`);
  if (p.before !== undefined) {
    where.push(`(${t}.at, ${t}.id) < (${arg(iso(ulidTime(p.before)), 'timestamptz')}, ${arg(ulidToUuid(p.before), 'uuid')})`);
  }
  const from = byRule ? `${s}.decision_rules r JOIN ${s}.decisions d ON d.at = r.at AND d.id = r.id` : `${s}.decisions d`;
  const inner = `SELECT d.* FROM ${from} ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
        ORDER BY ${t}.at DESC, ${t}.id DESC LIMIT ${arg(p.limit, 'int')}`;
  return { text: withOutcomes(schema, inner, 'DESC'), params };
}

export function createSql(schema: string): Sql {
  const s = ident(schema);
  const D = `${s}.decisions`;
  const R = `${s}.decision_rules`;
  const O = `${s}.decision_outcomes`;

  const insert = `WITH src AS (
      SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
        u uuid, at timestamptz, score float8, asn bigint, pack_version int, decision smallint, degraded boolean,
        type text, user_h text, device_h text, ip_h text, prefix cidr, country text, pack_name text, pack_hash text,
        model_version text, rules jsonb, shadow jsonb, overrides jsonb, features jsonb, ctx jsonb, request jsonb,
        city text, change text, notices jsonb, outcome smallint, outcome_at timestamptz)
    ),
    ins AS (
      INSERT INTO ${D} (at, id, score, asn, pack_version, decision, degraded, type, user_h, device_h, ip_h, prefix,
                        country, pack_name, pack_hash, model_version, rules, shadow, overrides, features, ctx, request,
                        city, change, notices)
      SELECT at, u, score, asn, pack_version, decision, degraded, type, user_h, device_h, ip_h, prefix,
             country, pack_name, pack_hash, model_version, rules, shadow, overrides, features, ctx, request,
             city, change, notices
        FROM src
      ON CONFLICT DO NOTHING
      RETURNING at, id, rules, shadow
    ),
    hits AS (
      INSERT INTO ${R} (at, id, rule)
      SELECT DISTINCT ins.at, ins.id, h->>'name' FROM ins, jsonb_array_elements(ins.rules || ins.shadow) h
      ON CONFLICT DO NOTHING
    ),
    outs AS (
      INSERT INTO ${O} (at, id, outcome, outcome_at)
      SELECT at, u, outcome, outcome_at FROM src WHERE outcome IS NOT NULL
      ON CONFLICT DO NOTHING
    )
    SELECT count(*)::int AS n FROM ins`;


  return {
    async insertBatch(q, wireRows) {
      if (wireRows.length === 0) return 0;
      const rows = await q.query<{ n: number }>(insert, ['[' + wireRows.join(',') + ']']);
      return rows[0]?.n ?? 0;
    },

    async setOutcome(q, id, outcome, at) {
      const u = ulidToUuid(id);
      const t = iso(ulidTime(id));
      const ins = await q.query(
        `INSERT INTO ${O} (at, id, outcome, outcome_at)
         SELECT $1::timestamptz, $2::uuid, $3::smallint, $4::timestamptz
          WHERE EXISTS (SELECT 1 FROM ${D} WHERE at = $1::timestamptz AND id = $2::uuid)
         ON CONFLICT DO NOTHING RETURNING 1 AS ok`,
        [t, u, outcomeCode(outcome), iso(at)],
      );
      if (ins.length > 0) return 'ok';
      const seen = await q.query(`SELECT 1 AS ok FROM ${D} WHERE at = $1::timestamptz AND id = $2::uuid`, [t, u]);
      return seen.length > 0 ? 'already' : 'not_found';
    },

    async get(q, id) {
      const rows = await q.query(
        withOutcomes(schema, `SELECT * FROM ${D} WHERE at = $1::timestamptz AND id = $2::uuid`, 'DESC'),
        [iso(ulidTime(id)), ulidToUuid(id)],
      );
      const r = rows[0];
      return r ? fromDb(r) : null;
    },

    async search(q, p) {
      const { text, params } = buildSearch(schema, p);
      return (await q.query(text, params)).map(fromDb);
    },

    async scanPage(q, since, until, after, limit) {
      const params: unknown[] = [iso(since), iso(until), limit];
      let cond = '';
      if (after !== null) {
        params.push(iso(ulidTime(after)), ulidToUuid(after));
        cond = 'AND (at, id) > ($4::timestamptz, $5::uuid)';
      }
      const inner = `SELECT * FROM ${D} WHERE at >= $1::timestamptz AND at < $2::timestamptz ${cond} ORDER BY at, id LIMIT $3::int`;
      return (await q.query(withOutcomes(schema, inner, 'ASC'), params)).map(fromDb);
    },

    async securityLog(q, user, limit, before) {
      const params: unknown[] = [user, limit];
      let cond = '';
      if (before !== undefined) {
        params.push(iso(ulidTime(before)), ulidToUuid(before));
        cond = 'AND (at, id) < ($3::timestamptz, $4::uuid)';
      }
      // The view's columns only: the wide jsonb columns (features, ctx) are never read.
      const rows = await q.query(
        `SELECT id::text AS u, (extract(epoch FROM at) * 1000)::float8 AS ms, type, change, decision::int AS decision,
                country, city, browser, os, notices
           FROM ${s}.security_log WHERE user_h = $1::text ${cond}
          ORDER BY at DESC, id DESC LIMIT $2::int`,
        params,
      );
      return rows.map((r) => ({ id: uuidToUlid(String(r.u)), entry: securityEntryFromDb(r) }));
    },

    async eraseUser(q, user) {
      const rows = await q.query<{ n: number }>(
        `WITH d AS (DELETE FROM ${D} WHERE user_h = $1::text RETURNING at, id, rules, shadow),
         r AS (
           DELETE FROM ${R} x USING (SELECT d.at, d.id, h->>'name' AS rule FROM d, jsonb_array_elements(d.rules || d.shadow) h) e
            WHERE x.rule = e.rule AND x.at = e.at AND x.id = e.id
         ),
         o AS (DELETE FROM ${O} x USING d WHERE x.at = d.at AND x.id = d.id)
         SELECT count(*)::int AS n FROM d`,
        [user],
      );
      return rows[0]?.n ?? 0;
    },
  };
}

