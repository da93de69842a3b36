// Benchmark of the decision log (decisionlog/): the sustained insert rate through the public API
// (append → queue → batch insert) on PostgreSQL and on PGlite, PostgreSQL bytes per row by table,
// then a 10-million-row log generated server-side (30 days of day partitions) and the latency of the
// two queries the indexes exist for: a user's last 100 decisions and a rule's hits of the last
// hour, each the median and p99 of 50 runs through search(), with EXPLAIN (ANALYZE, BUFFERS), and
// the rule query without the side table for comparison. Everything runs in dedicated schemas, dropped
// at the end unless KEEP=1.
//
// Usage: `npm run bench:decisionlog [-- postgres://…]` (default postgres://postgres@127.0.0.1:5432/test).
// Sizes: ROWS_PG (200000), ROWS_LITE (50000), ROWS_BIG (10000000), USERS_BIG (100000); SKIP_BIG=1
// stops after the insert rates and sizes; SKIP_RATE=1 skips them. BIG_SCHEMA=name reuses the big
// log a KEEP=1 run left (queries only; ROWS_BIG and USERS_BIG must match that run).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createDecisionLog, type DecisionLog, type DecisionLogOptions, type LogRow } from '../decisionlog/index.ts';
import { createDays, DAY_MS, dayOf } from '../decisionlog/partitions.ts';
import { buildSearch } from '../decisionlog/sql.ts';
import { logRowFactory, RULE_NAMES, ulidAt } from './lib/logrows.ts';
import { rng } from './lib/random.ts';
import { median } from './lib/timing.ts';

const url = process.argv[2] ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROWS_PG = Number(process.env.ROWS_PG ?? 200_000);
const ROWS_LITE = Number(process.env.ROWS_LITE ?? 50_000);
const ROWS_BIG = Number(process.env.ROWS_BIG ?? 10_000_000);
const USERS_BIG = Number(process.env.USERS_BIG ?? 100_000);
const KEEP = process.env.KEEP === '1';
const SKIP_BIG = process.env.SKIP_BIG === '1';
const SKIP_RATE = process.env.SKIP_RATE === '1';
const REUSE = process.env.BIG_SCHEMA;
const RUNS = 50;
const HOUR = 3_600_000;
const tag = `${process.pid}_${Date.now().toString(36)}`;
const schemaRate = `bench_dl_rate_${tag}`;
const schemaBig = REUSE ?? `bench_dl_big_${tag}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function p99(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)] ?? NaN;
}

const fmt = (n: number, d = 1): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** A pool of realistic rows; row i is a pool row given a fresh time and id. */
function rowSource(seed: number): (i: number, time: number) => LogRow {
  const make = logRowFactory({ seed, users: 20_000 });
  const pool = Array.from({ length: 5000 }, () => make(Date.now()));
  const r = rng(seed + 1);
  return (i, time) => {
    const t = pool[i % pool.length]!;
    return { ...t, id: ulidAt(time, r.next), time, ctx: { ...t.ctx, time } };
  };
}

interface Rate {
  readonly rows: number;
  readonly seconds: number;
  readonly perSec: number;
  readonly appendUs: number;
  /** CPU of this process (the caller, the writer, a PGlite worker) per row. */
  readonly nodeCpuUs: number;
  /** CPU of the log's PostgreSQL backends per row (local server only; NaN otherwise). */
  readonly pgCpuUs: number;
}

// utime + stime of a process in clock ticks of 1/100 s (USER_HZ on every Linux this runs on).
function procCpuUs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return NaN;
  }
}

async function backendPids(c: pg.Client): Promise<number[]> {
  const r = await c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = 'vigil-decisionlog'`);
  return r.rows.map((x) => x.pid);
}

/** Appends `n` rows as fast as the log takes them (the queue kept under 20,000) and flushes. */
async function sustained(log: DecisionLog, n: number, seed: number, c: pg.Client | null): Promise<Rate> {
  const src = rowSource(seed);
  const t0 = Date.now() - HOUR;
  let appendMs = 0;
  const pids = c ? await backendPids(c) : [];
  const pgCpu0 = pids.reduce((a, p) => a + procCpuUs(p), 0);
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < n; ) {
    if (log.stats.queued > 20_000) {
      await sleep(1);
      continue;
    }
    const rows: LogRow[] = [];
    for (let k = 0; k < 500 && i < n; k++, i++) rows.push(src(i, t0 + Math.floor(i / 4)));
    const a = performance.now();
    for (const r of rows) log.append(r);
    appendMs += performance.now() - a;
    await sleep(0);
  }
  await log.flush();
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // Backends that connected during the run count from zero.
  const after = c ? await backendPids(c) : [];
  const pgCpu = c ? after.reduce((a, p) => a + procCpuUs(p), 0) - pgCpu0 : NaN;
  const s = log.stats;
  if (s.written !== n || s.dropped || s.refused || s.spooled) throw new Error(`the run lost rows: ${JSON.stringify(s)}`);
  return { rows: n, seconds, perSec: n / seconds, appendUs: (appendMs * 1000) / n, nodeCpuUs: (cpu.user + cpu.system) / n, pgCpuUs: pgCpu / n };
}

interface TableSize {
  readonly table: string;
  readonly heap: number;
  readonly toast: number;
  readonly indexes: number;
  readonly total: number;
  readonly rows: number;
}

async function sizes(c: pg.Client, schema: string): Promise<TableSize[]> {
  const out: TableSize[] = [];
  for (const table of ['decisions', 'decision_rules', 'decision_outcomes']) {
    const r = await c.query<{ heap: string; toast: string; indexes: string; total: string }>(
      `SELECT coalesce(sum(pg_relation_size(c.oid)), 0)::text AS heap,
              coalesce(sum(pg_total_relation_size(c.oid) - pg_relation_size(c.oid) - pg_indexes_size(c.oid)), 0)::text AS toast,
              coalesce(sum(pg_indexes_size(c.oid)), 0)::text AS indexes,
              coalesce(sum(pg_total_relation_size(c.oid)), 0)::text AS total
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         JOIN pg_namespace n ON n.oid = p.relnamespace
        WHERE n.nspname = $1 AND p.relname = $2`,
      [schema, table],
    );
    const rows = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}"."${table}"`);
    const x = r.rows[0]!;
    out.push({ table, heap: Number(x.heap), toast: Number(x.toast), indexes: Number(x.indexes), total: Number(x.total), rows: Number(rows.rows[0]!.n) });
  }
  return out;
}

function printSizes(title: string, s: readonly TableSize[]): number {
  const decisions = s.find((t) => t.table === 'decisions')?.rows ?? 1;
  console.log(`\n${title}`);
  console.log('| table | rows | heap B/decision | toast B/decision | index B/decision | total B/decision |');
  console.log('|---|---:|---:|---:|---:|---:|');
  let total = 0;
  for (const t of s) {
    total += t.total;
    console.log(`| ${t.table} | ${t.rows.toLocaleString('en-US')} | ${fmt(t.heap / decisions, 0)} | ${fmt(t.toast / decisions, 0)} | ${fmt(t.indexes / decisions, 0)} | ${fmt(t.total / decisions, 0)} |`);
  }
  console.log(`| **all** | | | | | **${fmt(total / decisions, 0)}** |`);
  return total / decisions;
}

/**
 * A plan with runs of sibling nodes that differ only in partition names and numbers folded into one
 * line saying how many were folded (a 30-partition Append is otherwise 150 lines of the same).
 * VERBOSE=1 prints plans whole.
 */
export function abridge(plan: readonly string[]): string[] {
  const out: string[] = [];
  const indent = (l: string): number => l.search(/\S/);
  const isNode = (l: string): boolean => /^\s*->  /.test(l);
  const blockEnd = (i: number): number => {
    const k = indent(plan[i]!);
    let j = i + 1;
    while (j < plan.length && indent(plan[j]!) > k) j++;
    return j;
  };
  const norm = (ls: readonly string[]): string =>
    ls.map((l) => l.replace(/_p\d{8}/g, '_p#').replace(/\b([a-z])_\d+\b/g, '$1_#').replace(/\d+(\.\d+)?/g, '#')).join('\n');
  const emit = (lo: number, hi: number): void => {
    let prev: string | null = null;
    let run = 0;
    let runIndent = '';
    const flush = (): void => {
      if (run > 0) out.push(`${runIndent}->  (… ${run} more partition${run > 1 ? 's' : ''} with the same plan shape …)`);
      run = 0;
    };
    for (let i = lo; i < hi; ) {
      const line = plan[i]!;
      if (!isNode(line)) {
        flush();
        prev = null;
        out.push(line);
        i++;
        continue;
      }
      const e = blockEnd(i);
      const n = norm(plan.slice(i, e));
      if (n === prev) {
        run++;
        i = e;
        continue;
      }
      flush();
      out.push(line);
      emit(i + 1, e);
      prev = n;
      runIndent = ' '.repeat(indent(line));
      i = e;
    }
    flush();
  };
  emit(0, plan.length);
  return out;
}

async function explain(c: pg.Client, title: string, text: string, params: readonly unknown[]): Promise<void> {
  const r = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, [...params]);
  const plan = r.rows.map((x) => x['QUERY PLAN']);
  const shown = process.env.VERBOSE === '1' ? plan : abridge(plan);
  console.log(`\n${title}\n\`\`\`\n${shown.join('\n')}\n\`\`\``);
}

async function timeRuns(fn: (i: number) => Promise<unknown>): Promise<{ median: number; p99: number; max: number }> {
  await fn(-1);
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn(i);
    ms.push(performance.now() - t);
  }
  return { median: median(ms), p99: p99(ms), max: Math.max(...ms) };
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

/** The 10M-row log: a template of realistic rows, copied server-side with new times, ids and hashes. */
async function generateBig(c: pg.Client, now: number, spoolDir: string): Promise<void> {
  const s = `"${schemaBig}"`;
  const span = 30 * DAY_MS - HOUR;
  const t0 = now - span;
  const stepMs = span / ROWS_BIG;
  // Opening a log runs the migrations; the 30 days of partitions are created below.
  await (await createDecisionLog({ url, schema: schemaBig, retentionDays: 45, maintainEveryMs: 0, spoolDir })).close();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const days: number[] = [];
  for (let d = dayOf(t0); d <= dayOf(now); d++) days.push(d);
  await createDaysVia(pool, days);
  await c.query(`CREATE TABLE ${s}.tpl AS SELECT (row_number() OVER () - 1)::int AS k, d.* FROM "${schemaRate}".decisions d LIMIT 10000`);
  await c.query(`CREATE UNIQUE INDEX ON ${s}.tpl (k)`);
  const tplN = Number((await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${s}.tpl`)).rows[0]!.n);
  const chunk = 500_000;
  const start = performance.now();
  for (let from = 0; from < ROWS_BIG; from += chunk) {
    const to = Math.min(ROWS_BIG, from + chunk) - 1;
    await c.query(
      `INSERT INTO ${s}.decisions (at, id, score, asn, pack_version, decision, degraded, type, user_h, device_h, ip_h, prefix,
                                   country, pack_name, pack_hash, model_version, rules, shadow, features, ctx, request)
       SELECT g.at,
              (lpad(to_hex((extract(epoch FROM g.at) * 1000)::bigint), 12, '0') || substr(md5(g.n::text), 1, 20))::uuid,
              t.score, t.asn, t.pack_version, t.decision, t.degraded, t.type,
              substr(md5('u' || (g.n % $3)), 1, 22), substr(md5('d' || (g.n % ($3 * 3))), 1, 22), substr(md5('i' || (g.n % ($3 * 2))), 1, 22),
              t.prefix, t.country, t.pack_name, t.pack_hash, t.model_version, t.rules, t.shadow, t.features, t.ctx, t.request
         FROM (SELECT n, to_timestamp(($4::float8 + n * $5::float8) / 1000) AS at FROM generate_series($1::bigint, $2::bigint) n) g
         JOIN ${s}.tpl t ON t.k = (g.n % $6)::int`,
      [from, to, USERS_BIG, t0, stepMs, tplN],
    );
    const done = to + 1;
    const el = (performance.now() - start) / 1000;
    process.stdout.write(`\r  generated ${done.toLocaleString('en-US')} decisions (${fmt(done / el, 0)} rows/s)   `);
  }
  process.stdout.write('\n');
  console.log('  rule hits and outcomes (80% of decisions), per day partition …');
  for (const d of days) {
    const part = `${s}."decisions_p${new Date(d * DAY_MS).toISOString().slice(0, 10).replace(/-/g, '')}"`;
    await c.query(`INSERT INTO ${s}.decision_rules (at, id, rule) SELECT DISTINCT d.at, d.id, h->>'name' FROM ${part} d, jsonb_array_elements(d.rules) h`);
    await c.query(
      `INSERT INTO ${s}.decision_outcomes (at, id, outcome, outcome_at)
       SELECT at, id, (get_byte(uuid_send(id), 15) % 4)::smallint, at + interval '5 seconds' FROM ${part} WHERE get_byte(uuid_send(id), 14) % 5 <> 0`,
    );
  }
  console.log('  VACUUM ANALYZE …');
  await c.query(`VACUUM (ANALYZE) ${s}.decisions, ${s}.decision_rules, ${s}.decision_outcomes`);
  await pool.end();
  console.log(`  done in ${fmt((performance.now() - start) / 1000, 0)} s`);
}

/** createDays needs the Db seam; a tiny adapter over a pg pool. */
async function createDaysVia(pool: pg.Pool, days: readonly number[]): Promise<void> {
  await createDays(
    {
      kind: 'postgres',
      label: 'bench',
      query: async (sql, params) => (await pool.query(sql, params ? [...params] : undefined)).rows,
      exec: async (sql) => void (await pool.query(sql)),
      tx: async (fn) => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const out = await fn({
            query: async (sql, params) => (await client.query(sql, params ? [...params] : undefined)).rows,
            exec: async (sql) => void (await client.query(sql)),
          });
          await client.query('COMMIT');
          return out;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          client.release();
        }
      },
      close: async () => undefined,
    },
    schemaBig,
    days,
  );
}

async function main(): Promise<void> {
  // The same session settings as the log's own connections (decisionlog/db.ts), so EXPLAIN shows
  // the plans search() gets.
  const c = new pg.Client({ connectionString: url, options: '-c max_parallel_workers_per_gather=0 -c jit=off' });
  await c.connect();
  const v = (await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]!.v;
  const sb = (await c.query<{ v: string }>(`SELECT current_setting('shared_buffers') AS v`)).rows[0]!.v;
  console.log(`decision log benchmark — PostgreSQL ${v} (shared_buffers ${sb}) at ${url.replace(/\/\/[^@]*@/, '//')}, node ${process.version}`);
  const spoolBase = await mkdtemp(join(tmpdir(), 'vigil-bench-dl-'));
  try {
    if (!SKIP_RATE && !REUSE) {
      // 1. Sustained insert rate through the API.
      const pgOpts: DecisionLogOptions = { url, schema: schemaRate, spoolDir: join(spoolBase, 'pg'), maintainEveryMs: 0 };
      const pgLog = await createDecisionLog(pgOpts);
      const pgRate = await sustained(pgLog, ROWS_PG, 1, c);
      await pgLog.close();
      console.log(`\nload average before the run: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} CPUs`);
      console.log(
        `sustained insert, PostgreSQL: ${pgRate.rows.toLocaleString('en-US')} rows in ${fmt(pgRate.seconds)} s = ${fmt(pgRate.perSec, 0)} rows/s ` +
          `(append() ${fmt(pgRate.appendUs, 2)} µs/row on the caller; CPU per row: ${fmt(pgRate.nodeCpuUs, 1)} µs in Node, ${fmt(pgRate.pgCpuUs, 1)} µs in the PostgreSQL backends)`,
      );

      const liteDir = join(spoolBase, 'pglite');
      const liteLog = await createDecisionLog({ dataDir: liteDir, schema: 'bench', maintainEveryMs: 0 });
      const liteRate = await sustained(liteLog, ROWS_LITE, 2, null);
      await liteLog.close();
      const memLog = await createDecisionLog({ schema: 'bench', maintainEveryMs: 0 });
      const memRate = await sustained(memLog, ROWS_LITE, 3, null);
      await memLog.close();
      console.log(`sustained insert, PGlite (data directory): ${liteRate.rows.toLocaleString('en-US')} rows in ${fmt(liteRate.seconds)} s = ${fmt(liteRate.perSec, 0)} rows/s (CPU per row in Node, PGlite worker included: ${fmt(liteRate.nodeCpuUs, 1)} µs)`);
      console.log(`sustained insert, PGlite (in memory): ${memRate.rows.toLocaleString('en-US')} rows in ${fmt(memRate.seconds)} s = ${fmt(memRate.perSec, 0)} rows/s (CPU per row: ${fmt(memRate.nodeCpuUs, 1)} µs)`);

      // 2. Bytes per row of what the API wrote.
      await c.query(`VACUUM (ANALYZE) "${schemaRate}".decisions, "${schemaRate}".decision_rules`);
      const avgJson = (await c.query<{ f: string; ctx: string; row: string }>(
        `SELECT avg(pg_column_size(features))::int::text AS f, avg(pg_column_size(ctx))::int::text AS ctx, avg(pg_column_size(d.*))::int::text AS row FROM "${schemaRate}".decisions d`,
      )).rows[0]!;
      printSizes(`PostgreSQL bytes per decision (${ROWS_PG.toLocaleString('en-US')} API-written rows, no outcomes; avg row ${avgJson.row} B of which features ${avgJson.f} B, ctx ${avgJson.ctx} B)`, await sizes(c, schemaRate));
    }

    if (SKIP_BIG) return;

    // 3. Ten million rows, and the two queries.
    let now = Date.now();
    if (REUSE) {
      // The newest generated row is the run's "now".
      const r = await c.query<{ t: number }>(`SELECT (extract(epoch FROM max(at)) * 1000)::float8 AS t FROM "${schemaBig}".decisions`);
      now = r.rows[0]!.t;
      console.log(`\nreusing ${schemaBig} (newest row ${new Date(now).toISOString()})`);
    } else {
      console.log(`\ngenerating ${ROWS_BIG.toLocaleString('en-US')} decisions over 30 days (${USERS_BIG.toLocaleString('en-US')} users) in ${schemaBig} …`);
      await generateBig(c, now, join(spoolBase, 'gen'));
    }
    const perDecision = printSizes(`PostgreSQL bytes per decision at ${ROWS_BIG.toLocaleString('en-US')} rows (80% with an outcome)`, await sizes(c, schemaBig));
    for (const perDay of [10_000_000, 50_000_000]) {
      console.log(`  at ${perDay.toLocaleString('en-US')} decisions/day: ${fmt((perDay * perDecision) / 1e9, 1)} GB/day, ${fmt((perDay * perDecision * 30) / 1e12, 2)} TB for 30 days`);
    }

    const log = await createDecisionLog({ url, schema: schemaBig, retentionDays: 45, maintainEveryMs: 0, spoolDir: join(spoolBase, 'big') });
    const r = rng(99);
    const userHash = (u: number): string => md5(`u${u}`).slice(0, 22);
    // Fifty random users, each asked twice: the first pass reads their rows from wherever they are
    // (a user's 100 rows lie on ~100 pages across 30 partitions), the second from memory.
    const picked = Array.from({ length: RUNS + 1 }, () => userHash(r.int(0, USERS_BIG - 1)));
    const userRun = async (i: number): Promise<void> => {
      const page = await log.search({ user: picked[i + 1]!, limit: 100 });
      if (page.rows.length !== 100) throw new Error(`a user has ${page.rows.length} decisions, expected 100`);
    };
    const users = await timeRuns(userRun);
    const usersWarm = await timeRuns(userRun);
    const hour = now - HOUR;
    const hits: Record<string, number> = {};
    for (const rule of RULE_NAMES) {
      hits[rule] = Number((await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${schemaBig}".decision_rules WHERE rule = $1 AND at >= $2`, [rule, new Date(hour)])).rows[0]!.n);
    }
    const rules = await timeRuns(async (i) => {
      await log.search({ rule: RULE_NAMES[(i + RULE_NAMES.length) % RULE_NAMES.length]!, since: hour, limit: 100 });
    });
    const counts = await timeRuns(async (i) => {
      await c.query(`SELECT count(*) FROM "${schemaBig}".decision_rules WHERE rule = $1 AND at >= $2`, [RULE_NAMES[(i + RULE_NAMES.length) % RULE_NAMES.length]!, new Date(hour)]);
    });
    const noSide = (rule: string): { text: string; params: unknown[] } => ({
      text: `SELECT d.* FROM "${schemaBig}".decisions d WHERE d.rules @> $1::jsonb AND d.at >= $2::timestamptz ORDER BY d.at DESC, d.id DESC LIMIT 101`,
      params: [JSON.stringify([{ name: rule }]), new Date(hour).toISOString()],
    });
    const filtered = await timeRuns(async (i) => {
      const q = noSide(RULE_NAMES[(i + RULE_NAMES.length) % RULE_NAMES.length]!);
      await c.query(q.text, q.params);
    });
    await log.close();
    console.log(`\nqueries at ${ROWS_BIG.toLocaleString('en-US')} rows, ${RUNS} runs each, through search() (pg, one connection, rows decoded):`);
    console.log(`  a user's last 100 decisions (random user each run, first time asked): median ${fmt(users.median, 2)} ms, p99 ${fmt(users.p99, 2)} ms, max ${fmt(users.max, 2)} ms`);
    console.log(`  a user's last 100 decisions (the same users again, pages in memory): median ${fmt(usersWarm.median, 2)} ms, p99 ${fmt(usersWarm.p99, 2)} ms, max ${fmt(usersWarm.max, 2)} ms`);
    console.log(`  a rule's hits of the last hour (limit 100; 12 rules in turn): median ${fmt(rules.median, 2)} ms, p99 ${fmt(rules.p99, 2)} ms, max ${fmt(rules.max, 2)} ms`);
    console.log(`  count of a rule's hits of the last hour: median ${fmt(counts.median, 2)} ms, p99 ${fmt(counts.p99, 2)} ms`);
    console.log(`  the same rule query without the side table (decisions (at, id) + jsonb filter): median ${fmt(filtered.median, 2)} ms, p99 ${fmt(filtered.p99, 2)} ms, max ${fmt(filtered.max, 2)} ms`);
    console.log(`  hits in the last hour per rule: ${Object.entries(hits).map(([k, n]) => `${k} ${n}`).join(', ')}`);

    const u = buildSearch(schemaBig, { user: userHash(12345), limit: 101 });
    await explain(c, "EXPLAIN (ANALYZE, BUFFERS) — a user's last 100 decisions", u.text, u.params);
    const common = buildSearch(schemaBig, { rule: 'new_asn', since: hour, limit: 101 });
    await explain(c, "EXPLAIN (ANALYZE, BUFFERS) — a rule's hits of the last hour (new_asn)", common.text, common.params);
    const rare = buildSearch(schemaBig, { rule: 'bad_reputation_ip', since: hour, limit: 101 });
    await explain(c, "EXPLAIN (ANALYZE, BUFFERS) — a rare rule's hits of the last hour (bad_reputation_ip)", rare.text, rare.params);
    const alt = noSide('bad_reputation_ip');
    await explain(c, 'EXPLAIN (ANALYZE, BUFFERS) — the rare rule without the side table', alt.text, alt.params);
  } finally {
    await c.query(`DROP SCHEMA IF EXISTS "${schemaRate}" CASCADE`);
    if (!KEEP && !REUSE) {
      await c.query(`DROP SCHEMA IF EXISTS "${schemaBig}" CASCADE`);
    } else {
      console.log(`\n${schemaBig} kept (BIG_SCHEMA=${schemaBig} reruns the queries on it)`);
    }
    await c.end();
    await rm(spoolBase, { recursive: true, force: true });
  }
}

await main();
