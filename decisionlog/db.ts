// The one seam between the decision log and its two back ends: a PostgreSQL pool (`pg`) or an
// embedded PGlite, behind the same three calls (query with parameters, multi-statement exec, a
// transaction). Queries are written so both drivers return the same JS values (times as float8 ms,
// uuids and cidrs as text). Also the one place that decides whether a failure is the data's fault
// (the rows are refused) or the database's (the rows wait in the spool and are written later).
//
// PGlite runs in a worker thread: it is PostgreSQL compiled to WebAssembly and executes on whatever
// thread calls it, so on the main thread every batch insert would stall the event loop (and every
// answer waiting on it) for as long as the insert takes.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { errorMessage, VigilError } from '../common/errors.ts';
import type { DecisionLogLogger } from './types.ts';

export type Row = Record<string, unknown>;

export interface Queryable {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Identifies the database (host:port/db, or the PGlite directory) without credentials. */
  readonly label: string;
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface PostgresDbOptions {
  readonly url: string;
  readonly poolSize: number;
  readonly statementTimeoutMs: number;
  /** Prepare parameterized statements (default true). */
  readonly prepare?: boolean;
  readonly logger?: DecisionLogLogger;
}

export function postgresLabel(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
}

export function createPostgresDb(o: PostgresDbOptions): Db {
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.poolSize,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    // Server-side limit, and a client-side one a little later for a server that stops answering at all
    // (a stopped process, a network partition): either way the write fails and its rows are spooled.
    statement_timeout: o.statementTimeoutMs,
    query_timeout: o.statementTimeoutMs + 2000,
    keepAlive: true,
    application_name: 'vigil-decisionlog',
    // Every statement here is a short indexed read or a batch insert: a parallel worker's start-up or
    // a JIT compilation would cost more than the statement itself.
    options: '-c max_parallel_workers_per_gather=0 -c jit=off',
  });
  // An idle client whose server went away emits here; without a listener that would crash the process.
  pool.on('error', (err) => o.logger?.warn({ err: errorMessage(err) }, 'decision log: idle PostgreSQL connection lost'));
  // Statements with parameters are prepared once per connection and then executed by name: the log
  // runs a handful of statement shapes over and over, and planning one over every day partition
  // costs milliseconds that the execution itself often does not.
  const names = new Map<string, string>();
  const nameOf = (sql: string): string => {
    let n = names.get(sql);
    if (n === undefined) {
      n = 'vdl_' + createHash('sha1').update(sql).digest('hex').slice(0, 24);
      if (names.size < 1000) names.set(sql, n);
    }
    return n;
  };
  const run = async <R extends Row>(c: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]): Promise<R[]> => {
    const r = params && o.prepare !== false ? await c.query<R>({ name: nameOf(sql), text: sql, values: [...params] }) : await c.query<R>(sql, params ? [...params] : undefined);
    return r.rows;
  };
  return {
    kind: 'postgres',
    label: postgresLabel(o.url),
    query: (sql, params) => run(pool, sql, params),
    async exec(sql) {
      await pool.query(sql);
    },
    async tx(fn) {
      const client = await pool.connect();
      let broken: unknown;
      try {
        await client.query('BEGIN');
        const q: Queryable = {
          query: (sql, params) => run(client, sql, params),
          async exec(sql) {
            await client.query(sql);
          },
        };
        const out = await fn(q);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rbErr) {
          broken = rbErr;
        }
        throw err;
      } finally {
        // A client whose ROLLBACK failed is not trusted again: release(err) destroys it.
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
    async close() {
      await pool.end();
    },
  };
}

// The worker's whole program. Plain JavaScript evaluated by the worker (eval: true), so it needs no
// TypeScript loader whichever way the parent was started (tsx, vitest, a build); PGlite's module
// URL comes from the parent, so resolution does not depend on the working directory.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const txs = new Map();
function fail(id, e) {
  parentPort.postMessage({ id, error: { message: e && e.message ? e.message : String(e), code: e && e.code } });
}
(async () => {
  const { PGlite } = await import(workerData.module);
  const db = await PGlite.create(workerData.dataDir);
  parentPort.on('message', async (m) => {
    try {
      if (m.op === 'query' || m.op === 'exec') {
        const t = m.tx ? txs.get(m.tx) : null;
        const target = t ? t.tx : db;
        if (m.op === 'query') {
          const r = await target.query(m.sql, m.params);
          parentPort.postMessage({ id: m.id, rows: r.rows });
        } else {
          await target.exec(m.sql);
          parentPort.postMessage({ id: m.id, rows: [] });
        }
      } else if (m.op === 'begin') {
        let opened;
        const ready = new Promise((r) => { opened = r; });
        const t = { tx: null, finish: null };
        const done = db.transaction((tx) => {
          t.tx = tx;
          opened();
          return new Promise((resolve, reject) => { t.finish = (commit) => (commit ? resolve() : reject(new Error('rollback'))); });
        });
        txs.set(m.id, t);
        t.done = done.then(() => null, (e) => e);
        await ready;
        parentPort.postMessage({ id: m.id, rows: [] });
      } else if (m.op === 'end') {
        const t = txs.get(m.tx);
        txs.delete(m.tx);
        t.finish(m.commit);
        const err = await t.done;
        if (err && m.commit) fail(m.id, err);
        else parentPort.postMessage({ id: m.id, rows: [] });
      } else if (m.op === 'close') {
        if (!db.closed) await db.close();
        parentPort.postMessage({ id: m.id, rows: [] });
      }
    } catch (e) {
      fail(m.id, e);
    }
  });
  parentPort.postMessage({ ready: true });
})().catch((e) => parentPort.postMessage({ fatal: e && e.message ? e.message : String(e) }));
`;

/** An error the PGlite worker reported, with its SQLSTATE. */
class PgliteError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.code = code;
  }
}

interface WorkerReply {
  readonly id?: number;
  readonly rows?: Row[];
  readonly error?: { readonly message: string; readonly code?: string };
  readonly ready?: boolean;
  readonly fatal?: string;
}

export async function createPgliteDb(dataDir: string | undefined): Promise<Db> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { module: import.meta.resolve('@electric-sql/pglite'), dataDir },
  });
  const pending = new Map<number, { resolve: (rows: Row[]) => void; reject: (err: Error) => void }>();
  let seq = 0;
  let dead: Error | null = null;
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m: WorkerReply) => (m.ready ? resolve() : reject(new Error(`PGlite did not start: ${m.fatal ?? 'unknown'}`))));
    worker.once('error', reject);
  });
  const failAll = (err: Error): void => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (m: WorkerReply) => {
    if (m.id === undefined) return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) worker.unref();
    if (m.error) p.reject(new PgliteError(m.error.message, m.error.code));
    else p.resolve(m.rows ?? []);
  });
  worker.on('error', (err) => failAll(err));
  worker.on('exit', (code) => failAll(new Error(`the PGlite worker exited (${code})`)));
  // Referenced only while a call is pending: an idle database must not keep the process alive, an
  // awaited query must.
  worker.unref();

  const call = (msg: Record<string, unknown>): Promise<Row[]> =>
    new Promise((resolve, reject) => {
      if (dead) return reject(dead);
      const id = ++seq;
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...msg, id });
    });
  const on = (tx: number | null): Queryable => ({
    query: <R extends Row>(sql: string, params?: readonly unknown[]) =>
      call({ op: 'query', tx, sql, params: params ? [...params] : undefined }) as Promise<R[]>,
    async exec(sql) {
      await call({ op: 'exec', tx, sql });
    },
  });
  return {
    kind: 'pglite',
    label: dataDir ?? 'memory',
    ...on(null),
    async tx(fn) {
      const id = ++seq;
      await new Promise<void>((resolve, reject) => {
        if (dead) return reject(dead);
        pending.set(id, { resolve: () => resolve(), reject });
        worker.ref();
        worker.postMessage({ op: 'begin', id });
      });
      let out;
      try {
        out = await fn(on(id));
      } catch (err) {
        await call({ op: 'end', tx: id, commit: false }).catch(() => undefined);
        throw err;
      }
      await call({ op: 'end', tx: id, commit: true });
      return out;
    },
    async close() {
      if (dead) return;
      try {
        await call({ op: 'close' });
      } finally {
        await worker.terminate();
      }
    },
  };
}

/** The SQLSTATE of a database error, when it has one. */
export function sqlState(err: unknown): string | null {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

/**
 * True when the rows themselves were refused (data exception, integrity violation, program limit):
 * retrying them cannot help, so the batch is split to find and refuse the culprits. Anything else
 * (no connection, a timeout, a shutdown, a missing table) is the database's state and worth retrying.
 */
export function isDataError(err: unknown): boolean {
  const s = sqlState(err);
  return s !== null && (s.startsWith('22') || s.startsWith('23') || s.startsWith('54'));
}

/**
 * True when the database could not be reached or is going away (socket errors, timeouts, connection
 * exceptions, shutdowns, resource exhaustion): the one kind of start-up failure that is not fatal.
 */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof VigilError && err.cause === undefined) return false;
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  const s = sqlState(cause);
  if (s === null || s === 'EPIPE') return true;
  return /^(08|53|57|58)/.test(s);
}
