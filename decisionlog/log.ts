// The decision log itself: append() validates and serializes a row and puts it in a bounded memory
// queue (nothing else happens on the answer's path); one writer loop drains the queue in batches into
// the database, and while the database fails it moves rows to the spool instead and probes with
// backoff; once the database answers again (and at start) the spool is replayed, one file at a time
// between batches so steady traffic cannot starve it. Reads (get, setOutcome, eraseUser) look in
// memory, then the spool, then the table, in the order rows move, so a row is never missed in
// transit. Searches and scans read the table only.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { errorMessage } from '../common/errors.ts';
import { createPgliteDb, createPostgresDb, isDataError, isUnavailable, type Db } from './db.ts';
import { DbAudit } from './audit.ts';
import { DbPackStore } from './packs.ts';
import { DecisionLogError } from './errors.ts';
import { checkSchemaName, migrate } from './migrate.ts';
import { createDays, DAY_MS, dayOf, dropBefore, listDays } from './partitions.ts';
import { fromWire, isOutcome, normalizeUlid, rowProblem, toWire, withOutcome } from './row.ts';
import { Spool, type ReplayRow, type SpoolRow } from './spool.ts';
import { HASH_RE, scanTable, searchTable, securityLogTable, unavailable } from './queries.ts';
import { createSql, type Sql } from './sql.ts';
import type {
  DecisionLog,
  DecisionLogLogger,
  DecisionLogOptions,
  DecisionLogStats,
  LogRow,
  Outcome,
  SearchPage,
  SearchQuery,
  SecurityLogPage,
  SecurityLogQuery,
} from './types.ts';

interface Entry {
  readonly id: string;
  readonly user: string;
  readonly time: number;
  /** Wire JSON without outcome. */
  readonly json: string;
  readonly seq: number;
  outcome: Outcome | null;
  outcomeAt: number | null;
  /** Set while the entry is being written or spooled: readers wait for it, then look again. */
  busy: Promise<void> | null;
}

interface Resolved {
  readonly schema: string;
  readonly retentionDays: number;
  readonly spoolMaxBytes: number;
  readonly queueMax: number;
  readonly batchMax: number;
  readonly flushMs: number;
  readonly aheadDays: number;
  readonly scanPage: number;
  readonly maintainEveryMs: number;
  readonly startReplayMs: number;
  readonly readOnly: boolean;
}

/** Backoff between probes of a database that does not answer. */
const PROBE_MIN_MS = 200;
const PROBE_MAX_MS = 2000;
/** Rows accepted this far ahead of the clock (later ones are a bug upstream, not a decision). */
const FUTURE_MS = 7 * DAY_MS;

const NO_LOGGER: DecisionLogLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function positiveInt(name: string, v: number | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min) throw new DecisionLogError('LOG_CONFIG', `${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

class Log implements DecisionLog {
  readonly kind: 'postgres' | 'pglite';
  readonly audit: DbAudit;
  readonly packs: DbPackStore;
  private readonly db: Db;
  private readonly sql: Sql;
  private readonly spool: Spool;
  private readonly o: Resolved;
  private readonly logger: DecisionLogLogger;
  private readonly now: () => number;
  private readonly ownsSpoolDir: boolean;

  private queue: Entry[] = [];
  /** Rows past queueMax, waiting for the spool. */
  private overflow: Entry[] = [];
  private spilling = false;
  /** Every row in memory, oldest first (Map keeps insertion order). */
  private readonly pending = new Map<string, Entry>();
  private seq = 0;
  private flushTarget = 0;

  private up = true;
  private nextProbeAt = 0;
  private backoff = PROBE_MIN_MS;
  private readonly knownDays = new Set<number>();

  private written = 0;
  private dropped = 0;
  private refused = 0;
  private writeErrors = 0;
  private lastError: string | null = null;
  private lastComplaint = 0;
  private quietComplaints = 0;

  private wakeUp: (() => void) | null = null;
  private readonly progress = new Set<() => void>();
  private loop: Promise<void> = Promise.resolve();
  private stopping = false;
  private closed = false;
  private maintainTimer: NodeJS.Timeout | null = null;

  constructor(db: Db, spool: Spool, o: Resolved, logger: DecisionLogLogger, now: () => number, ownsSpoolDir: boolean) {
    this.kind = db.kind;
    this.db = db;
    this.sql = createSql(o.schema);
    this.spool = spool;
    this.o = o;
    this.logger = logger;
    this.now = now;
    this.ownsSpoolDir = ownsSpoolDir;
    this.audit = new DbAudit(db, o.schema, logger, o.readOnly);
    this.packs = new DbPackStore(db, o.schema, o.readOnly);
  }

  // -------------------------------------------------------------------------------------------
  // Start and schema

  /** Migrations and partitions; throws when the database does not answer. */
  async init(): Promise<void> {
    if (this.o.readOnly) {
      await this.db.query('SELECT 1 AS ok');
      return;
    }
    await migrate(this.db, this.o.schema, { logger: this.logger });
    await this.maintain();
  }

  start(initError: unknown): void {
    if (initError !== null) {
      this.markDown(initError);
      this.logger.error({ err: errorMessage(initError), spool: this.spool.dir }, 'decision log: database unreachable at start; rows will be spooled');
    }
    this.loop = this.run().catch((err: unknown) => {
      // The loop catches what it expects; anything else is a bug, reported rather than crashing the host.
      this.lastError = errorMessage(err);
      this.logger.error({ err: this.lastError }, 'decision log: the writer stopped');
    });
    if (this.o.maintainEveryMs > 0 && !this.o.readOnly) {
      this.maintainTimer = setInterval(() => {
        if (this.up) this.maintain().catch((err: unknown) => this.logger.warn({ err: errorMessage(err) }, 'decision log: maintenance failed'));
      }, this.o.maintainEveryMs);
      this.maintainTimer.unref();
    }
  }

  async replayAtStart(): Promise<void> {
    if (!this.up || this.spool.rows === 0) return;
    this.logger.info({ rows: this.spool.rows, dir: this.spool.dir }, 'decision log: replaying the spool');
    const replay = this.replaySpool(Infinity);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([replay, new Promise<void>((r) => (timer = setTimeout(r, this.o.startReplayMs)))]);
    clearTimeout(timer);
  }

  async maintain(now?: number): Promise<void> {
    if (this.o.readOnly) throw new DecisionLogError('LOG_CONFIG', 'the log was opened read-only: no maintenance');
    const t = now ?? this.now();
    const today = dayOf(t);
    const have = new Set(await listDays(this.db, this.o.schema));
    const want: number[] = [];
    for (let d = today; d <= today + this.o.aheadDays; d++) if (!have.has(d)) want.push(d);
    await createDays(this.db, this.o.schema, want);
    const gone = await dropBefore(this.db, this.o.schema, this.cutoff(t));
    // The audit log follows the decisions' retention; entries that waited for the database go now.
    await this.audit.prune(this.cutoff(t));
    await this.audit.flush();
    if (gone.length > 0) this.logger.info({ days: gone.map((d) => new Date(d * DAY_MS).toISOString().slice(0, 10)) }, 'decision log: partitions past the retention dropped');
    this.knownDays.clear();
    for (const d of await listDays(this.db, this.o.schema)) this.knownDays.add(d);
  }

  /** Rows before this instant are past the retention. */
  private cutoff(t: number): number {
    return t - this.o.retentionDays * DAY_MS;
  }

  private async ensureDays(times: Iterable<number>): Promise<void> {
    const missing = new Set<number>();
    for (const t of times) {
      const d = dayOf(t);
      if (!this.knownDays.has(d)) missing.add(d);
    }
    if (missing.size === 0) return;
    const days = [...missing].sort((a, b) => a - b);
    await createDays(this.db, this.o.schema, days);
    for (const d of days) this.knownDays.add(d);
  }

  // -------------------------------------------------------------------------------------------
  // Append

  append(row: LogRow): void {
    try {
      if (this.closed || this.stopping) {
        this.dropped++;
        this.complain('warn', { id: row?.id }, 'decision log: append after close; row dropped');
        return;
      }
      if (this.o.readOnly) return this.refuse(row?.id, 'the log was opened read-only');
      const problem = rowProblem(row);
      const now = this.now();
      const why =
        problem ??
        (row.time < this.cutoff(now) ? 'older than the retention' : row.time > now + FUTURE_MS ? 'more than 7 days in the future' : null);
      if (why) return this.refuse(row?.id, why);
      const id = row.id.toUpperCase();
      if (this.pending.has(id) || this.spool.has(id)) return this.refuse(id, 'duplicate id');
      if (this.pending.size >= 2 * this.o.queueMax) {
        this.dropped++;
        this.complain('error', { id }, 'decision log: memory queue and spool backlog full; row dropped');
        return;
      }
      let json: string;
      try {
        json = toWire(row);
      } catch (err) {
        return this.refuse(id, `not serializable: ${errorMessage(err)}`);
      }
      const e: Entry = { id, user: row.user, time: row.time, json, seq: ++this.seq, outcome: row.outcome, outcomeAt: row.outcomeAt, busy: null };
      this.pending.set(id, e);
      if (this.queue.length < this.o.queueMax) {
        this.queue.push(e);
        if ((this.queue.length === 1 && this.up) || this.queue.length >= this.o.batchMax) this.wake();
      } else {
        // The database keeps up less than traffic arrives: the excess goes to disk, not to memory.
        this.overflow.push(e);
        if (!this.spilling) void this.drainOverflow();
      }
    } catch (err) {
      this.refuse(undefined, `append failed: ${errorMessage(err)}`);
    }
  }

  private refuse(id: unknown, why: string): void {
    this.refused++;
    this.lastError = `row ${typeof id === 'string' ? id : '?'} refused: ${why}`;
    this.complain('warn', { id, why }, 'decision log: row refused');
  }

  /** Logs at most once a second (a broken caller must not flood the log), with how many were folded. */
  private complain(level: 'warn' | 'error', o: object, m: string): void {
    const t = Date.now();
    if (t - this.lastComplaint < 1000) {
      this.quietComplaints++;
      return;
    }
    this.lastComplaint = t;
    const folded = this.quietComplaints;
    this.quietComplaints = 0;
    this.logger[level]({ ...o, similarSinceLast: folded, stats: this.stats }, m);
  }

  private async drainOverflow(): Promise<void> {
    this.spilling = true;
    try {
      while (this.overflow.length > 0) {
        const batch = this.overflow;
        this.overflow = [];
        await this.spill(batch);
        this.notify();
      }
    } finally {
      this.spilling = false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Writer loop

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : null;
      function done(): void {
        if (timer) clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private notify(): void {
    for (const p of [...this.progress]) p();
  }

  private urgent(): boolean {
    if (this.stopping) return true;
    const first = this.pending.values().next();
    return !first.done && first.value.seq <= this.flushTarget;
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.stopping && this.queue.length === 0) return;
      if (!this.up) {
        await this.whileDown();
        continue;
      }
      if (this.queue.length === 0) {
        this.notify();
        if (this.spool.rows > 0 && !this.stopping) {
          await this.replaySpool(1);
          continue;
        }
        await this.sleep(Infinity);
        continue;
      }
      if (this.queue.length < this.o.batchMax && !this.urgent()) await this.sleep(this.o.flushMs);
      if (!this.up) continue;
      const batch = this.queue.splice(0, this.o.batchMax);
      await this.writeEntries(batch);
      this.notify();
      // Under steady traffic the queue never empties: one spool file between batches.
      if (this.up && this.spool.rows > 0 && !this.stopping) await this.replaySpool(1);
    }
  }

  private async whileDown(): Promise<void> {
    if (this.queue.length > 0) await this.spill(this.queue.splice(0));
    this.notify();
    if (this.stopping) return;
    const wait = this.nextProbeAt - Date.now();
    if (wait > 0 && !this.urgent()) {
      await this.sleep(wait);
      return;
    }
    await this.probe();
  }

  private async probe(): Promise<boolean> {
    try {
      await this.init();
      if (!this.up) this.logger.info({ spooled: this.spool.rows }, 'decision log: database reachable again');
      this.up = true;
      this.backoff = PROBE_MIN_MS;
      return true;
    } catch (err) {
      this.lastError = errorMessage(err);
      this.backoff = Math.min(this.backoff * 2, PROBE_MAX_MS);
      this.nextProbeAt = Date.now() + this.backoff;
      return false;
    }
  }

  private markDown(err: unknown): void {
    this.lastError = errorMessage(err);
    if (this.up) this.logger.warn({ err: this.lastError }, 'decision log: database write failed; spooling until it answers');
    this.up = false;
    this.backoff = PROBE_MIN_MS;
    this.nextProbeAt = Date.now() + this.backoff;
  }

  /**
   * Inserts rows; a batch the database refuses for its data is split until the offending rows are
   * alone, and those are refused (counted, logged). Throws when the database itself fails.
   */
  private async insert(rows: readonly { id: string; time: number; json: string }[]): Promise<void> {
    const cut = this.cutoff(this.now());
    const live = rows.filter((r) => r.time >= cut);
    for (const r of rows) if (r.time < cut) this.refuse(r.id, 'older than the retention');
    if (live.length === 0) return;
    try {
      await this.ensureDays(live.map((r) => r.time));
      await this.sql.insertBatch(this.db, live.map((r) => r.json));
    } catch (err) {
      if (!isDataError(err)) throw err;
      const first = live[0];
      if (live.length === 1 && first) {
        this.refuse(first.id, `the database refused it: ${errorMessage(err)}`);
        return;
      }
      const mid = live.length >> 1;
      await this.insert(live.slice(0, mid));
      await this.insert(live.slice(mid));
    }
  }

  private async writeEntries(batch: Entry[]): Promise<void> {
    let release!: () => void;
    const busy = new Promise<void>((r) => (release = r));
    for (const e of batch) e.busy = busy;
    try {
      try {
        await this.insert(batch.map((e) => ({ id: e.id, time: e.time, json: withOutcome(e.json, e.outcome, e.outcomeAt) })));
        this.written += batch.length;
        for (const e of batch) this.pending.delete(e.id);
      } catch (err) {
        this.writeErrors++;
        this.markDown(err);
        await this.spill(batch);
      }
    } finally {
      for (const e of batch) e.busy = null;
      release();
    }
  }

  /** Moves entries from memory to the spool; what the spool cannot take is dropped and counted. */
  private async spill(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    let release!: () => void;
    const busy = new Promise<void>((r) => (release = r));
    const own = entries.filter((e) => e.busy === null);
    for (const e of own) e.busy = busy;
    try {
      const rows: SpoolRow[] = entries.map((e) => ({ id: e.id, user: e.user, json: e.json, outcome: e.outcome, outcomeAt: e.outcomeAt }));
      try {
        const r = await this.spool.append(rows);
        if (r.refused > 0) {
          this.dropped += r.refused;
          this.lastError = `spool full (${this.spool.bytes} bytes): ${r.refused} rows dropped`;
          this.complain('error', { dropped: r.refused }, 'decision log: spool full; rows dropped');
        }
      } catch (err) {
        this.dropped += entries.length;
        this.writeErrors++;
        this.lastError = `spool write failed: ${errorMessage(err)}`;
        this.complain('error', { err: errorMessage(err), dropped: entries.length }, 'decision log: spool write failed; rows dropped');
      }
      for (const e of entries) this.pending.delete(e.id);
    } finally {
      for (const e of own) e.busy = null;
      release();
    }
  }

  private replaying: Promise<void> | null = null;

  /** Replays up to `files` spool files (one replay at a time; callers join a running one). */
  private replaySpool(files: number): Promise<void> {
    if (this.replaying) return this.replaying;
    const run = async (): Promise<void> => {
      try {
        const n = await this.spool.replay((rows: readonly ReplayRow[]) => this.insertChunks(rows), files);
        this.written += n;
      } catch (err) {
        this.writeErrors++;
        this.markDown(err);
      }
    };
    this.replaying = run().finally(() => {
      this.replaying = null;
    });
    return this.replaying;
  }

  private async insertChunks(rows: readonly ReplayRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += this.o.batchMax) await this.insert(rows.slice(i, i + this.o.batchMax));
  }

  // -------------------------------------------------------------------------------------------
  // Flush and close

  async flush(): Promise<void> {
    if (this.closed) return;
    const target = this.seq;
    this.flushTarget = Math.max(this.flushTarget, target);
    this.wake();
    await new Promise<void>((resolve) => {
      const check = (): void => {
        const first = this.pending.values().next();
        if (first.done || first.value.seq > target) {
          this.progress.delete(check);
          resolve();
        }
      };
      this.progress.add(check);
      check();
      // The loop may be asleep with an empty queue while the overflow spiller finishes.
      this.wake();
    });
    if (!this.up) await this.probe();
    if (this.up && this.spool.rows > 0) {
      await this.replaySpool(Infinity);
      // A replay that was already running covered only part of the files: finish the rest.
      if (this.up && this.spool.rows > 0) await this.replaySpool(Infinity);
    }
  }

  async close(): Promise<void> {
    if (this.closed || this.stopping) return;
    this.stopping = true;
    if (this.maintainTimer) clearInterval(this.maintainTimer);
    this.wake();
    await this.loop;
    while (this.spilling) await new Promise((r) => setTimeout(r, 5));
    await this.spill([...this.queue.splice(0), ...this.overflow.splice(0)]);
    await this.replaying;
    this.closed = true;
    this.notify();
    if (this.ownsSpoolDir) await this.spool.destroy();
    else await this.spool.close();
    await this.db.close();
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  private checkOpen(): void {
    if (this.closed) throw new DecisionLogError('LOG_CLOSED');
  }

  async setOutcome(id: string, outcome: Outcome, at: number): Promise<'ok' | 'not_found' | 'already'> {
    this.checkOpen();
    if (!isOutcome(outcome)) throw new DecisionLogError('LOG_BAD_QUERY', `outcome must be one of succeeded, failed, challenge_passed, challenge_failed`);
    if (typeof at !== 'number' || !Number.isFinite(at)) throw new DecisionLogError('LOG_BAD_QUERY', 'outcome time must be a number of ms');
    const key = normalizeUlid(id);
    if (!key) return 'not_found';
    for (;;) {
      const e = this.pending.get(key);
      if (e) {
        if (e.busy) {
          await e.busy;
          continue;
        }
        if (e.outcome !== null) return 'already';
        e.outcome = outcome;
        e.outcomeAt = at;
        return 'ok';
      }
      if (this.spool.has(key)) {
        const r = await this.spool.setOutcome(key, outcome, at);
        if (r !== 'gone') return r;
        continue;
      }
      break;
    }
    try {
      return await this.sql.setOutcome(this.db, key, outcome, at);
    } catch (err) {
      throw unavailable(err);
    }
  }

  async get(id: string): Promise<LogRow | null> {
    this.checkOpen();
    const key = normalizeUlid(id);
    if (!key) return null;
    for (;;) {
      const e = this.pending.get(key);
      if (!e) break;
      if (e.busy) {
        await e.busy;
        continue;
      }
      return fromWire(JSON.parse(e.json) as Record<string, unknown>, e.outcome, e.outcomeAt);
    }
    const spooled = await this.spool.get(key);
    if (spooled) return spooled;
    try {
      return await this.sql.get(this.db, key);
    } catch (err) {
      throw unavailable(err);
    }
  }

  async search(q: SearchQuery): Promise<SearchPage> {
    this.checkOpen();
    return searchTable(this.db, this.sql, q);
  }

  async securityLog(q: SecurityLogQuery): Promise<SecurityLogPage> {
    this.checkOpen();
    return securityLogTable(this.db, this.sql, q);
  }

  scan(q: { since: number; until?: number }): AsyncIterable<LogRow> {
    this.checkOpen();
    return scanTable(this.db, this.sql, q, this.o.scanPage);
  }

  async eraseUser(user: string): Promise<number> {
    this.checkOpen();
    if (typeof user !== 'string' || !HASH_RE.test(user)) throw new DecisionLogError('LOG_BAD_QUERY', 'user must be a keyed hash');
    let n = 0;
    // Rows on their way to the table or the spool are waited for, then found there.
    for (;;) {
      const moving = [...this.pending.values()].filter((e) => e.user === user && e.busy !== null).map((e) => e.busy);
      if (moving.length === 0) break;
      await Promise.all(moving);
    }
    const keep = (e: Entry): boolean => {
      if (e.user !== user) return true;
      this.pending.delete(e.id);
      n++;
      return false;
    };
    this.queue = this.queue.filter(keep);
    this.overflow = this.overflow.filter(keep);
    n += await this.spool.eraseUser(user);
    try {
      n += await this.sql.eraseUser(this.db, user);
    } catch (err) {
      throw new DecisionLogError('LOG_UNAVAILABLE', `erased ${n} queued or spooled rows, but the database did not answer: ${errorMessage(err)}`, { cause: err });
    }
    return n;
  }

  async ping(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.db.query('SELECT 1 AS ok');
      return true;
    } catch {
      return false;
    }
  }

  async partitions(): Promise<string[]> {
    this.checkOpen();
    try {
      return (await listDays(this.db, this.o.schema)).map((d) => new Date(d * DAY_MS).toISOString().slice(0, 10));
    } catch (err) {
      throw unavailable(err);
    }
  }

  get stats(): DecisionLogStats {
    return {
      queued: this.pending.size,
      written: this.written,
      spooled: this.spool.rows,
      spoolBytes: this.spool.bytes,
      dropped: this.dropped,
      writeErrors: this.writeErrors,
      refused: this.refused,
      up: this.up,
      lastError: this.lastError,
    };
  }
}

function defaultSpoolDir(label: string, schema: string): string {
  const h = createHash('sha256').update(label).digest('hex').slice(0, 10);
  return join(tmpdir(), `vigil-decisionlog-${schema}-${h}`);
}

export async function createDecisionLog(opts: DecisionLogOptions): Promise<DecisionLog> {
  const schema = checkSchemaName(opts.schema ?? 'vigil');
  const o: Resolved = {
    schema,
    retentionDays: positiveInt('retentionDays', opts.retentionDays, 30),
    spoolMaxBytes: positiveInt('spoolMaxBytes', opts.spoolMaxBytes, 256 * 1024 * 1024, 0),
    queueMax: positiveInt('queueMax', opts.queueMax, 50_000),
    batchMax: positiveInt('batchMax', opts.batchMax, 1000),
    flushMs: positiveInt('flushMs', opts.flushMs, 50, 0),
    aheadDays: positiveInt('aheadDays', opts.aheadDays, 3, 0),
    scanPage: positiveInt('scanPage', opts.scanPage, 1000),
    maintainEveryMs: positiveInt('maintainEveryMs', opts.maintainEveryMs, 3_600_000, 0),
    startReplayMs: 5000,
    readOnly: opts.readOnly === true,
  };
  const logger = opts.logger ?? NO_LOGGER;
  const now = opts.now ?? Date.now;
  let db: Db;
  if (opts.url !== undefined) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new DecisionLogError('LOG_CONFIG', 'the decision log URL is not a URL');
    }
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
      throw new DecisionLogError('LOG_CONFIG', `the decision log URL must be postgres://…, got ${u.protocol}//…`);
    }
    db = createPostgresDb({
      url: opts.url,
      poolSize: positiveInt('poolSize', opts.poolSize, 4, 2),
      statementTimeoutMs: positiveInt('statementTimeoutMs', opts.statementTimeoutMs, 15_000),
      logger,
    });
  } else {
    db = await createPgliteDb(opts.dataDir);
  }
  let spool: Spool;
  let ownsSpoolDir = false;
  try {
    let dir = o.readOnly ? undefined : opts.spoolDir ?? (opts.dataDir !== undefined ? join(opts.dataDir, 'spool') : undefined);
    if (dir === undefined && (db.kind === 'pglite' || o.readOnly)) {
      // An in-memory database forgets everything at exit, and a read-only log spools nothing:
      // a private directory, removed at close.
      dir = await mkdtemp(join(tmpdir(), 'vigil-decisionlog-mem-'));
      ownsSpoolDir = true;
    }
    spool = await Spool.open({ dir: dir ?? defaultSpoolDir(db.label, schema), maxBytes: o.spoolMaxBytes, logger });
  } catch (err) {
    await db.close();
    throw new DecisionLogError('LOG_CONFIG', `the spool directory cannot be used: ${errorMessage(err)}`, { cause: err });
  }
  const log = new Log(db, spool, o, logger, now, ownsSpoolDir);
  let initError: unknown = null;
  try {
    await log.init();
  } catch (err) {
    if (opts.requireDb || o.readOnly || db.kind === 'pglite' || !isUnavailable(err)) {
      await spool.close();
      await db.close().catch(() => undefined);
      if (err instanceof DecisionLogError) throw err;
      throw new DecisionLogError(isUnavailable(err) ? 'LOG_UNAVAILABLE' : 'LOG_MIGRATION', `the decision log could not start: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    initError = err;
  }
  log.start(initError);
  await log.replayAtStart();
  return log;
}

