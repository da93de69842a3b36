// Day partitions of the log's partitioned tables (decisions, decision_rules, decision_outcomes):
// created by code ahead of time and on demand for the days a batch needs, dropped once a day lies
// wholly past the retention. Names are `<table>_pYYYYMMDD` (UTC days); partitions not named so are
// never touched. Changes take the schema's advisory lock (two instances may maintain at once) and a
// short lock_timeout, so a long query on the table delays maintenance, not inserts queued behind it.
import type { Db } from './db.ts';
import { ident, lockKey } from './migrate.ts';

export const PARTITIONED = ['decisions', 'decision_rules', 'decision_outcomes'] as const;
export const DAY_MS = 86_400_000;

export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

export function dayName(day: number): string {
  return 'p' + new Date(day * DAY_MS).toISOString().slice(0, 10).replace(/-/g, '');
}

function parseDayName(suffix: string): number | null {
  const m = /^p(\d{4})(\d{2})(\d{2})$/.exec(suffix);
  if (!m) return null;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(t) ? dayOf(t) : null;
}

/** Days that have a partition of `decisions` (the other tables follow it). */
export async function listDays(db: Db, schema: string): Promise<number[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = p.relnamespace
      WHERE n.nspname = $1 AND p.relname = 'decisions'`,
    [schema],
  );
  const days: number[] = [];
  for (const r of rows) {
    const d = parseDayName(r.name.slice('decisions_'.length));
    if (d !== null) days.push(d);
  }
  return days.sort((a, b) => a - b);
}

/** Creates the partitions of `days` that are missing (every partitioned table). */
export async function createDays(db: Db, schema: string, days: readonly number[]): Promise<void> {
  if (days.length === 0) return;
  const s = ident(schema);
  await db.tx(async (q) => {
    await q.exec(`SET LOCAL lock_timeout = '2s'`);
    await q.query(`SELECT pg_advisory_xact_lock($1::bigint)`, [lockKey(schema, 'partitions')]);
    for (const day of days) {
      const from = new Date(day * DAY_MS).toISOString();
      const to = new Date((day + 1) * DAY_MS).toISOString();
      for (const t of PARTITIONED) {
        await q.exec(
          `CREATE TABLE IF NOT EXISTS ${s}.${ident(`${t}_${dayName(day)}`)} PARTITION OF ${s}.${ident(t)} FOR VALUES FROM ('${from}') TO ('${to}')`,
        );
      }
    }
  });
}

/** Drops the partitions of days lying wholly before `cutoffMs`; returns the days dropped. */
export async function dropBefore(db: Db, schema: string, cutoffMs: number): Promise<number[]> {
  const s = ident(schema);
  const old = (await listDays(db, schema)).filter((d) => (d + 1) * DAY_MS <= cutoffMs);
  if (old.length === 0) return [];
  await db.tx(async (q) => {
    await q.exec(`SET LOCAL lock_timeout = '2s'`);
    await q.query(`SELECT pg_advisory_xact_lock($1::bigint)`, [lockKey(schema, 'partitions')]);
    for (const day of old) {
      for (const t of PARTITIONED) await q.exec(`DROP TABLE IF EXISTS ${s}.${ident(`${t}_${dayName(day)}`)}`);
    }
  });
  return old;
}
