// The shadow pack's report (GET /v1/packs/shadow/report): how the shadow pack's decisions compare
// with the live ones, per (active pack, shadow pack) pair — the live → shadow decision matrix, the
// rule hits of each side and, per disagreeing cell, the latest decision ids.
//
// Until the decision log keeps the shadow decision with every decision, the counts live here. An
// event adds to an in-process bucket (no I/O on the answer's path); a timer writes the buckets once
// a second, so the report of every instance trails by about a second. Buckets are per minute and
// kept for `retentionMs` (7 days), so `since` works to the minute. In Redis, under one hash tag:
//   {P:shadow}:<pair>:buckets        ZSET  minute → minute (the buckets that exist)
//   {P:shadow}:<pair>:m:<minute>     HASH  "allow>block" → n (cells), "l:<rule>" / "s:<rule>" → hits
//   {P:shadow}:<pair>:x:<minute>:<c> LIST  decision ids of disagreeing cell c, newest first, ≤ 100
// where <pair> is the first 16 hex digits of each pack hash.
import type { Cluster, Redis } from 'ioredis';
import { errorMessage } from '../common/errors.ts';
import type { Action } from '../dsl/ast.ts';
import type { RuleHit } from '../dsl/index.ts';

const ACTIONS = ['allow', 'step_up', 'block'] as const satisfies readonly Action[];
const SEVERITY: Readonly<Record<Action, number>> = { allow: 0, step_up: 1, block: 2 };
/** Cell index (live severity × 3 + shadow severity) → its name. */
const CELLS: readonly string[] = ACTIONS.flatMap((l) => ACTIONS.map((s) => `${l}>${s}`));
const DISAGREE: readonly number[] = CELLS.map((_, i) => i).filter((i) => Math.floor(i / 3) !== i % 3);

export const SAMPLE_LIMIT = 100;
export const SHADOW_REPORT_RETENTION_MS = 7 * 86_400_000;
const MINUTE = 60_000;

export type DisagreeingCell = 'allow>step_up' | 'allow>block' | 'step_up>allow' | 'step_up>block' | 'block>allow' | 'block>step_up';

export interface ShadowReport {
  readonly active: string;
  readonly shadow: string;
  /** ISO 8601: the start of the minute `since` falls in. */
  readonly since: string;
  readonly events: number;
  /** Live decision → shadow decision → events. */
  readonly matrix: Record<Action, Record<Action, number>>;
  readonly rules: { readonly live: Record<string, number>; readonly shadow: Record<string, number> };
  /** Per disagreeing cell, up to 100 decision ids, newest first. */
  readonly samples: Record<DisagreeingCell, string[]>;
}

export interface ShadowReportStore {
  /**
   * One event compared (the hot path: in-process counts only). `liveRules`/`shadowRules` are each
   * pack's matched enforcing rules.
   */
  add(active: string, shadow: string, live: Action, shadowDecision: Action, liveRules: readonly RuleHit[], shadowRules: readonly RuleHit[], id: string): void;
  /** Write what was added so far (the timer does this every `flushMs`). */
  flush(): Promise<void>;
  /** The report of the pair since `since` (ms), this instance's unwritten counts included. */
  read(active: string, shadow: string, since: number): Promise<ShadowReport>;
  /** Stop the timer and write what is left. */
  close(): Promise<void>;
}

/** One pair's counts for one minute, as kept in memory before a flush and as read back. */
interface Bucket {
  readonly minute: number;
  /** Indexed like CELLS. */
  readonly cells: number[];
  readonly live: Map<string, number>;
  readonly shadow: Map<string, number>;
  /** Indexed like CELLS; newest last (in memory) — the order is fixed when written. */
  readonly samples: (string[] | undefined)[];
}

interface Pending extends Bucket {
  readonly active: string;
  readonly shadowHash: string;
}

/** Where flushed buckets go and are read from. */
interface Backend {
  write(buckets: readonly Pending[], now: number): Promise<void>;
  /** The pair's buckets from `fromMinute` on, newest first; samples newest first. */
  load(active: string, shadow: string, fromMinute: number): Promise<Bucket[]>;
}

export interface ShadowReportOptions {
  /** How often buckets are written (default 1000 ms; 0: only on flush()/read()/close()). */
  readonly flushMs?: number;
  readonly retentionMs?: number;
  /** Wall clock, ms (tests move it). */
  readonly now?: () => number;
  readonly logger?: { warn(obj: object, msg: string): void };
}

function newBucket(minute: number): Bucket {
  return { minute, cells: new Array<number>(9).fill(0), live: new Map(), shadow: new Map(), samples: new Array(9).fill(undefined) };
}

function countHits(into: Map<string, number>, hits: readonly RuleHit[]): void {
  for (let i = 0; i < hits.length; i++) {
    const name = hits[i]!.name;
    into.set(name, (into.get(name) ?? 0) + 1);
  }
}

function createReport(backend: Backend, opts: ShadowReportOptions): ShadowReportStore {
  const now = opts.now ?? Date.now;
  const retention = opts.retentionMs ?? SHADOW_REPORT_RETENTION_MS;
  let pending = new Map<string, Pending>();
  // Most events fall in the same pair and minute as the one before: no key built for them.
  let last: Pending | null = null;
  let writing: Promise<void> = Promise.resolve();
  const flushMs = opts.flushMs ?? 1000;
  const timer = flushMs > 0 ? setInterval(() => void flush(), flushMs) : null;
  timer?.unref();

  function flush(): Promise<void> {
    if (pending.size === 0) return writing;
    const batch = [...pending.values()];
    pending = new Map();
    last = null;
    // One write at a time, in order: a read after flush() sees everything added before it.
    writing = writing.then(() =>
      backend.write(batch, now()).catch((err: unknown) => {
        opts.logger?.warn({ err: errorMessage(err), buckets: batch.length }, 'shadow report counts not written; they are lost');
      }),
    );
    return writing;
  }

  return {
    add(active, shadow, live, shadowDecision, liveRules, shadowRules, id) {
      const minute = Math.floor(now() / MINUTE);
      let b = last;
      if (b === null || b.minute !== minute || b.active !== active || b.shadowHash !== shadow) {
        const key = `${active}|${shadow}|${minute}`;
        b = pending.get(key) ?? null;
        if (b === null) {
          b = { ...newBucket(minute), active, shadowHash: shadow };
          pending.set(key, b);
        }
        last = b;
      }
      const cell = SEVERITY[live] * 3 + SEVERITY[shadowDecision];
      b.cells[cell]!++;
      countHits(b.live, liveRules);
      countHits(b.shadow, shadowRules);
      if (live !== shadowDecision) {
        const ids = (b.samples[cell] ??= []);
        ids.push(id);
        if (ids.length > SAMPLE_LIMIT) ids.shift();
      }
    },

    flush,

    async read(active, shadow, since) {
      await flush();
      const fromMinute = Math.max(Math.floor(since / MINUTE), Math.floor((now() - retention) / MINUTE));
      const buckets = await backend.load(active, shadow, fromMinute);
      const cells = new Array<number>(9).fill(0);
      const live: Record<string, number> = {};
      const shadowHits: Record<string, number> = {};
      const samples: string[][] = CELLS.map(() => []);
      for (const b of buckets) {
        for (let i = 0; i < 9; i++) cells[i]! += b.cells[i]!;
        for (const [name, n] of b.live) live[name] = (live[name] ?? 0) + n;
        for (const [name, n] of b.shadow) shadowHits[name] = (shadowHits[name] ?? 0) + n;
        for (const i of DISAGREE) {
          const ids = b.samples[i];
          const into = samples[i]!;
          if (ids) for (const id of ids) if (into.length < SAMPLE_LIMIT) into.push(id);
        }
      }
      const matrix = Object.fromEntries(
        ACTIONS.map((l) => [l, Object.fromEntries(ACTIONS.map((s) => [s, cells[SEVERITY[l] * 3 + SEVERITY[s]]!]))]),
      ) as Record<Action, Record<Action, number>>;
      return {
        active,
        shadow,
        since: new Date(Math.floor(since / MINUTE) * MINUTE).toISOString(),
        events: cells.reduce((a, n) => a + n, 0),
        matrix,
        rules: { live: sorted(live), shadow: sorted(shadowHits) },
        samples: Object.fromEntries(DISAGREE.map((i) => [CELLS[i]!, samples[i]!])) as Record<DisagreeingCell, string[]>,
      };
    },

    async close() {
      if (timer) clearInterval(timer);
      await flush();
    },
  };
}

function sorted(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The counts in this process only (no REDIS_URL, tests). */
export function createMemoryShadowReport(opts: ShadowReportOptions = {}): ShadowReportStore {
  const kept = new Map<string, Map<number, Bucket>>();
  const retention = opts.retentionMs ?? SHADOW_REPORT_RETENTION_MS;
  return createReport(
    {
      async write(batch, now) {
        const oldest = Math.floor((now - retention) / MINUTE);
        for (const p of batch) {
          const pair = `${p.active}|${p.shadowHash}`;
          let byMinute = kept.get(pair);
          if (!byMinute) kept.set(pair, (byMinute = new Map()));
          for (const m of byMinute.keys()) if (m < oldest) byMinute.delete(m);
          let b = byMinute.get(p.minute);
          if (!b) byMinute.set(p.minute, (b = newBucket(p.minute)));
          for (let i = 0; i < 9; i++) b.cells[i]! += p.cells[i]!;
          for (const [n, c] of p.live) b.live.set(n, (b.live.get(n) ?? 0) + c);
          for (const [n, c] of p.shadow) b.shadow.set(n, (b.shadow.get(n) ?? 0) + c);
          for (const i of DISAGREE) {
            const ids = p.samples[i];
            if (!ids) continue;
            // Kept newest first, as Redis keeps them.
            b.samples[i] = [...ids].reverse().concat(b.samples[i] ?? []).slice(0, SAMPLE_LIMIT);
          }
        }
      },
      async load(active, shadow, fromMinute) {
        const byMinute = kept.get(`${active}|${shadow}`);
        if (!byMinute) return [];
        return [...byMinute.values()].filter((b) => b.minute >= fromMinute).sort((a, b) => b.minute - a.minute);
      },
    },
    opts,
  );
}

export interface RedisShadowReportOptions extends ShadowReportOptions {
  /** Not closed by the report (the server shares it). */
  readonly client: Redis | Cluster;
  /** Key prefix (default `vigil`), as the pack keys'. */
  readonly prefix?: string;
}

/** The counts in Redis, shared by every instance. */
export function createRedisShadowReport(opts: RedisShadowReportOptions): ShadowReportStore {
  const { client } = opts;
  const tag = `{${opts.prefix ?? 'vigil'}:shadow}`;
  const retention = opts.retentionMs ?? SHADOW_REPORT_RETENTION_MS;
  const short = (hash: string): string => hash.replace(/^sha256:/, '').slice(0, 16);
  const pairKey = (active: string, shadow: string): string => `${tag}:${short(active)}:${short(shadow)}`;
  return createReport(
    {
      async write(batch, now) {
        const ttl = retention + 2 * MINUTE;
        const oldest = Math.floor((now - retention) / MINUTE);
        const p = client.pipeline();
        const indexes = new Set<string>();
        for (const b of batch) {
          const pair = pairKey(b.active, b.shadowHash);
          const k = `${pair}:m:${b.minute}`;
          for (let i = 0; i < 9; i++) if (b.cells[i]! > 0) p.hincrby(k, CELLS[i]!, b.cells[i]!);
          for (const [n, c] of b.live) p.hincrby(k, `l:${n}`, c);
          for (const [n, c] of b.shadow) p.hincrby(k, `s:${n}`, c);
          p.pexpire(k, ttl);
          for (const i of DISAGREE) {
            const ids = b.samples[i];
            if (!ids) continue;
            const sk = `${pair}:x:${b.minute}:${i}`;
            p.lpush(sk, ...ids);
            p.ltrim(sk, 0, SAMPLE_LIMIT - 1);
            p.pexpire(sk, ttl);
          }
          p.zadd(`${pair}:buckets`, b.minute, String(b.minute));
          indexes.add(`${pair}:buckets`);
        }
        for (const idx of indexes) {
          p.zremrangebyscore(idx, '-inf', `(${oldest}`);
          p.pexpire(idx, ttl);
        }
        const replies = await p.exec();
        const failed = replies?.find(([err]) => err !== null);
        if (failed?.[0]) throw failed[0];
      },
      async load(active, shadow, fromMinute) {
        const pair = pairKey(active, shadow);
        const minutes = (await client.zrangebyscore(`${pair}:buckets`, fromMinute, '+inf')).map(Number).sort((a, b) => b - a);
        if (minutes.length === 0) return [];
        const p = client.pipeline();
        for (const m of minutes) p.hgetall(`${pair}:m:${m}`);
        const hashes = ((await p.exec()) ?? []).map(([err, v]) => {
          if (err) throw err;
          return (v ?? {}) as Record<string, string>;
        });
        const buckets = minutes.map((minute, j) => {
          const b = newBucket(minute);
          for (const [field, raw] of Object.entries(hashes[j] ?? {})) {
            const n = Number(raw);
            if (field.startsWith('l:')) b.live.set(field.slice(2), n);
            else if (field.startsWith('s:')) b.shadow.set(field.slice(2), n);
            else {
              const i = CELLS.indexOf(field);
              if (i >= 0) b.cells[i] = n;
            }
          }
          return b;
        });
        // Sample lists only where a disagreeing cell counted, newest bucket first, until each
        // cell has its 100.
        const wanted: { b: Bucket; i: number }[] = [];
        const have = new Array<number>(9).fill(0);
        for (const b of buckets) {
          for (const i of DISAGREE) {
            if (b.cells[i]! > 0 && have[i]! < SAMPLE_LIMIT) {
              wanted.push({ b, i });
              have[i]! += Math.min(b.cells[i]!, SAMPLE_LIMIT);
            }
          }
        }
        if (wanted.length > 0) {
          const q = client.pipeline();
          for (const { b, i } of wanted) q.lrange(`${pair}:x:${b.minute}:${i}`, 0, SAMPLE_LIMIT - 1);
          const lists = (await q.exec()) ?? [];
          wanted.forEach(({ b, i }, j) => {
            const [err, v] = lists[j] ?? [null, []];
            if (err) throw err;
            b.samples[i] = v as string[];
          });
        }
        return buckets;
      },
    },
    opts,
  );
}
