// What the user's security log costs the decision log (decisionlog/migrations/005_security_log.sql):
// the same realistic decisions written through the public API into two schemas, once with the
// security-log fields (city on every row that has a country, a change on account changes, notice
// codes on a few) and once without (the decision row as it was before), spread over 29 days of day
// partitions; the difference in PostgreSQL bytes is the log's per-decision cost. For comparison, the
// same entries copied into a dedicated table with its own (user_h, at, id) index — the design not
// taken. Then the per-user page query (a user's newest 20 entries) timed through securityLog() and
// shown with EXPLAIN (ANALYZE, BUFFERS). Schemas are dropped at the end unless KEEP=1.
//
// Usage: `npm run bench:securitylog [-- postgres://…]` (default postgres://postgres@127.0.0.1:5432/test).
// ROWS (200000) decisions, USERS (20000) users.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createDecisionLog, type LogRow } from '../decisionlog/index.ts';
import { DAY_MS } from '../decisionlog/partitions.ts';
import { logRowFactory, ulidAt } from './lib/logrows.ts';
import { rng } from './lib/random.ts';
import { median } from './lib/timing.ts';

const url = process.argv[2] ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROWS = Number(process.env.ROWS ?? 200_000);
const USERS = Number(process.env.USERS ?? 20_000);
const KEEP = process.env.KEEP === '1';
const DAYS = 29;
const tag = `${process.pid}_${Date.now().toString(36)}`;
const WITH = `bench_sl_with_${tag}`;
const WITHOUT = `bench_sl_without_${tag}`;

// Cities as GeoIP names them (English), weighted towards short and common names like real traffic.
const CITIES = ['London', 'Paris', 'Berlin', 'Madrid', 'New York', 'Los Angeles', 'São Paulo', 'Linköping', 'Frankfurt am Main', 'Tokyo', 'Mumbai', 'Lagos', 'Chicago', 'Amsterdam', 'Warsaw', 'Seoul'];
const CHANGES = ['password', 'email', 'mfa_add', 'mfa_remove', 'recovery_method'];
const NOTICES = ['new_device', 'new_location', 'unusual_travel', 'many_failed_attempts', 'anonymizer', 'recent_recovery', 'session_moved', 'sensitive_change'];

const fmt = (n: number, d = 1): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** The rows of the run, generated once: each with and without its security-log fields. */
function rows(): { full: LogRow[]; bare: LogRow[] } {
  const make = logRowFactory({ seed: 5, users: USERS });
  const r = rng(6);
  const now = Date.now();
  const full: LogRow[] = [];
  const bare: LogRow[] = [];
  for (let i = 0; i < ROWS; i++) {
    const time = now - Math.floor(((ROWS - i) / ROWS) * DAYS * DAY_MS);
    const base = make(time);
    const id = ulidAt(time, r.next);
    const change = r.chance(0.02);
    const row: LogRow = { ...base, id, time, ...(change ? { type: 'account_change' } : {}) };
    bare.push(row);
    const fromGeo = base.features['geo.city'];
    const city = base.country === null ? null : typeof fromGeo === 'string' && fromGeo !== '' ? fromGeo : r.pick(CITIES);
    const notices = r.chance(0.05) ? r.sample(NOTICES, r.int(1, 2)) : [];
    full.push({ ...row, city, ...(change ? { change: r.pick(CHANGES) } : {}), ...(notices.length > 0 ? { notices } : {}) });
  }
  return { full, bare };
}

async function write(schema: string, list: readonly LogRow[], spool: string): Promise<void> {
  const log = await createDecisionLog({ url, schema, spoolDir: spool, maintainEveryMs: 0, retentionDays: 30, requireDb: true });
  for (let i = 0; i < list.length; i++) {
    log.append(list[i]!);
    if (i % 20_000 === 19_999) await log.flush();
  }
  await log.flush();
  const s = log.stats;
  await log.close();
  if (s.written !== list.length) throw new Error(`${schema}: wrote ${s.written} of ${list.length}: ${JSON.stringify(s)}`);
}

/** Heap + TOAST + index bytes of every day partition of `decisions`. */
async function decisionsBytes(c: pg.Client, schema: string): Promise<{ heap: number; indexes: number; total: number }> {
  const r = await c.query<{ heap: string; indexes: string; total: string }>(
    `SELECT sum(pg_relation_size(c.oid))::text AS heap, sum(pg_indexes_size(c.oid))::text AS indexes, sum(pg_total_relation_size(c.oid))::text AS total
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = p.relnamespace
      WHERE n.nspname = $1 AND p.relname = 'decisions'`,
    [schema],
  );
  const x = r.rows[0]!;
  return { heap: Number(x.heap), indexes: Number(x.indexes), total: Number(x.total) };
}

async function main(): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const spoolBase = await mkdtemp(join(tmpdir(), 'vigil-bench-sl-'));
  try {
    const { full, bare } = rows();
    await write(WITH, full, join(spoolBase, 'with'));
    await write(WITHOUT, bare, join(spoolBase, 'without'));
    for (const s of [WITH, WITHOUT]) await c.query(`VACUUM (ANALYZE) "${s}".decisions`);
    const w = await decisionsBytes(c, WITH);
    const wo = await decisionsBytes(c, WITHOUT);
    const cols = (
      await c.query<{ city: string; change: string; notices: string; n: string }>(
        `SELECT avg(coalesce(pg_column_size(city), 0))::numeric(6,2)::text AS city, avg(coalesce(pg_column_size(change), 0))::numeric(6,2)::text AS change,
                avg(coalesce(pg_column_size(notices), 0))::numeric(6,2)::text AS notices, count(*)::text AS n FROM "${WITH}".decisions`,
      )
    ).rows[0]!;
    console.log(`\n${ROWS.toLocaleString('en-US')} decisions, ${USERS.toLocaleString('en-US')} users, ${DAYS} day partitions (PostgreSQL ${(await c.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version})`);
    console.log('| decisions table | heap B/decision | index B/decision | total B/decision |');
    console.log('|---|---:|---:|---:|');
    console.log(`| without the security-log columns | ${fmt(wo.heap / ROWS, 1)} | ${fmt(wo.indexes / ROWS, 1)} | ${fmt(wo.total / ROWS, 1)} |`);
    console.log(`| with them (005_security_log) | ${fmt(w.heap / ROWS, 1)} | ${fmt(w.indexes / ROWS, 1)} | ${fmt(w.total / ROWS, 1)} |`);
    console.log(`| **cost of the security log** | ${fmt((w.heap - wo.heap) / ROWS, 1)} | ${fmt((w.indexes - wo.indexes) / ROWS, 1)} | **${fmt((w.total - wo.total) / ROWS, 1)}** |`);
    console.log(`  average column bytes per row: city ${cols.city}, change ${cols.change}, notices ${cols.notices}`);

    // The design not taken: a table of its own, written beside each decision, with its own index.
    await c.query(
      `CREATE TABLE "${WITH}".security_log_table AS SELECT user_h, at, id, type, change, decision, country, city, browser, os, notices FROM "${WITH}".security_log`,
    );
    await c.query(`CREATE INDEX ON "${WITH}".security_log_table (user_h, at, id)`);
    await c.query(`VACUUM (ANALYZE) "${WITH}".security_log_table`);
    const sep = (
      await c.query<{ heap: string; indexes: string; total: string }>(
        `SELECT pg_relation_size(t)::text AS heap, pg_indexes_size(t)::text AS indexes, pg_total_relation_size(t)::text AS total FROM (SELECT '"${WITH}".security_log_table'::regclass AS t) x`,
      )
    ).rows[0]!;
    console.log(
      `  a separate table instead (same entries, own (user_h, at, id) index): heap ${fmt(Number(sep.heap) / ROWS, 1)} + index ${fmt(Number(sep.indexes) / ROWS, 1)} = ${fmt(Number(sep.total) / ROWS, 1)} B/decision`,
    );
    for (const perDay of [10_000_000, 50_000_000]) {
      console.log(
        `  at ${perDay.toLocaleString('en-US')} decisions/day × 30 days: columns ${fmt((perDay * 30 * (w.total - wo.total)) / ROWS / 1e9, 1)} GB, separate table ${fmt((perDay * 30 * Number(sep.total)) / ROWS / 1e9, 1)} GB`,
      );
    }

    // The per-user page: a user's newest 20 entries through securityLog().
    const log = await createDecisionLog({ url, schema: WITH, spoolDir: join(spoolBase, 'q'), maintainEveryMs: 0, retentionDays: 30 });
    const users = (await c.query<{ u: string }>(`SELECT DISTINCT user_h AS u FROM "${WITH}".decisions LIMIT 101`)).rows.map((x) => x.u);
    const times: number[] = [];
    for (const u of users) {
      const t = performance.now();
      const page = await log.securityLog({ user: u, limit: 20 });
      times.push(performance.now() - t);
      if (page.entries.length === 0) throw new Error('a user without entries');
    }
    await log.close();
    const sorted = [...times.slice(1)].sort((a, b) => a - b);
    console.log(`\na user's newest 20 entries, ${sorted.length} users (first time asked): median ${fmt(median(sorted), 2)} ms, p99 ${fmt(sorted[Math.ceil(sorted.length * 0.99) - 1]!, 2)} ms`);
    const plan = await c.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id::text AS u, type, change, decision, country, city, browser, os, notices
         FROM "${WITH}".security_log WHERE user_h = $1 ORDER BY at DESC, id DESC LIMIT 21`,
      [users[0]],
    );
    console.log("\nEXPLAIN (ANALYZE, BUFFERS) — a user's newest 20 entries (first lines)");
    for (const l of plan.rows.slice(0, 8)) console.log('  ' + l['QUERY PLAN']);
    console.log(`  … ${plan.rows.length} lines`);
    for (const l of plan.rows.slice(-3)) console.log('  ' + l['QUERY PLAN']);
  } finally {
    if (!KEEP) for (const s of [WITH, WITHOUT]) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await c.end();
    await rm(spoolBase, { recursive: true, force: true });
  }
}

await main();
