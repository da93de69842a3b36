// The in-process signal store backend (REDIS_URL unset: a single-node trial, and fast tests): a tiny
// interpreter of exactly the Redis commands commands.ts emits, over a Map with wall-clock expiry.
// Running the same commands as Redis keeps both stores behaviourally identical (one contract suite
// runs against both). Sorted sets follow Redis exactly where the store relies on it: ZADD GT (adds new
// members, never lowers a score), score bounds `-inf`/`+inf`/`(x`, rank ranges with negative indexes,
// ties ordered by member. The one HyperLogLog (`{rg}:u`, single-key PFCOUNT) is an exact set here.
import { assertNever } from '../../dsl/types.ts';
import type { Arg, CmdName } from './commands.ts';
import type { Backend } from './core.ts';

type Entry =
  | { kind: 'zset'; m: Map<string, number>; exp: number }
  | { kind: 'hash'; m: Map<string, string>; exp: number }
  | { kind: 'string'; v: string; exp: number }
  | { kind: 'hll'; s: Set<string>; exp: number }
  | { kind: 'set'; s: Set<string>; exp: number };

class WrongType extends Error {
  constructor() {
    super('WRONGTYPE Operation against a key holding the wrong kind of value');
  }
}

// Sweep expired keys every this many commands, so a long trial does not keep dead keys forever.
const SWEEP_EVERY = 10_000;

export interface MemoryBackend extends Backend {
  /** Add members to a set (what an operator does with SADD for `list x = redis "key"`). */
  sadd(key: string, ...members: string[]): void;
  /** Every live key and a text rendering of its value (tests scan it for raw identifiers). */
  dump(): Array<{ key: string; value: string }>;
}

export function createMemoryBackend(now: () => number = Date.now): MemoryBackend {
  const data = new Map<string, Entry>();
  let ops = 0;
  let closed = false;

  function live(key: string): Entry | undefined {
    const e = data.get(key);
    if (e === undefined) return undefined;
    if (e.exp !== 0 && e.exp <= now()) {
      data.delete(key);
      return undefined;
    }
    return e;
  }
  function zset(key: string, create: boolean): Map<string, number> | undefined {
    const e = live(key);
    if (e === undefined) {
      if (!create) return undefined;
      const m = new Map<string, number>();
      data.set(key, { kind: 'zset', m, exp: 0 });
      return m;
    }
    if (e.kind !== 'zset') throw new WrongType();
    return e.m;
  }
  function hash(key: string): Map<string, string> | undefined {
    const e = live(key);
    if (e === undefined) return undefined;
    if (e.kind !== 'hash') throw new WrongType();
    return e.m;
  }
  function hashCreate(key: string): Map<string, string> {
    const h = hash(key);
    if (h) return h;
    const m = new Map<string, string>();
    data.set(key, { kind: 'hash', m, exp: 0 });
    return m;
  }
  function hll(key: string, create: boolean): Set<string> | undefined {
    const e = live(key);
    if (e === undefined) {
      if (!create) return undefined;
      const s = new Set<string>();
      data.set(key, { kind: 'hll', s, exp: 0 });
      return s;
    }
    if (e.kind !== 'hll') throw new WrongType();
    return e.s;
  }
  function str(key: string): string | undefined {
    const e = live(key);
    if (e === undefined) return undefined;
    if (e.kind !== 'string') throw new WrongType();
    return e.v;
  }
  function pexpire(key: string, ms: number): number {
    const e = live(key);
    if (e === undefined) return 0;
    e.exp = now() + ms;
    return 1;
  }
  /** Members sorted by (score, member), as Redis orders a sorted set. */
  function ranked(m: Map<string, number>): [string, number][] {
    return [...m.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
  function zremrangebyrank(m: Map<string, number>, start: number, stop: number): number {
    const n = m.size;
    const s = start < 0 ? Math.max(0, n + start) : start;
    const e = stop < 0 ? n + stop : Math.min(stop, n - 1);
    if (s > e || s >= n) return 0;
    const all = ranked(m);
    for (let i = s; i <= e; i++) m.delete((all[i] as [string, number])[0]);
    return e - s + 1;
  }
  function sweep(): void {
    const t = now();
    for (const [k, e] of data) if (e.exp !== 0 && e.exp <= t) data.delete(k);
  }

  function run(argv: readonly [CmdName, ...Arg[]]): unknown {
    const [name, ...rest] = argv;
    const a = rest.map(String);
    const key = a[0] as string;
    switch (name) {
      case 'zadd': {
        const gt = a[1] === 'GT';
        const m = zset(key, true) as Map<string, number>;
        let added = 0;
        for (let i = gt ? 2 : 1; i + 1 < a.length; i += 2) {
          const score = Number(a[i]);
          const member = a[i + 1] as string;
          const old = m.get(member);
          if (old === undefined) added++;
          if (old === undefined || !gt || score > old) m.set(member, score);
        }
        return added;
      }
      case 'zremrangebyscore': {
        const m = zset(key, false);
        if (!m) return 0;
        const [lo, hi] = [bound(a[1] as string, 'min'), bound(a[2] as string, 'max')];
        let n = 0;
        for (const [member, s] of m) if (lo(s) && hi(s)) (m.delete(member), n++);
        dropIfEmpty(key, m);
        return n;
      }
      case 'zremrangebyrank': {
        const m = zset(key, false);
        if (!m) return 0;
        const n = zremrangebyrank(m, Number(a[1]), Number(a[2]));
        dropIfEmpty(key, m);
        return n;
      }
      case 'zcount': {
        const m = zset(key, false);
        if (!m) return 0;
        const [lo, hi] = [bound(a[1] as string, 'min'), bound(a[2] as string, 'max')];
        let n = 0;
        for (const s of m.values()) if (lo(s) && hi(s)) n++;
        return n;
      }
      case 'zrem': {
        const m = zset(key, false);
        let n = 0;
        for (const member of a.slice(1)) if (m?.delete(member as string)) n++;
        return n;
      }
      case 'zmscore': {
        const m = zset(key, false);
        return a.slice(1).map((member) => {
          const s = m?.get(member);
          return s === undefined ? null : String(s);
        });
      }
      case 'zincrby': {
        const m = zset(key, true) as Map<string, number>;
        const member = a[2] as string;
        const v = (m.get(member) ?? 0) + Number(a[1]);
        m.set(member, v);
        return String(v);
      }
      case 'pexpire':
        return pexpire(key, Number(a[1]));
      case 'pfadd': {
        const s = hll(key, true) as Set<string>;
        const before = s.size;
        for (const member of a.slice(1)) s.add(member);
        return s.size > before ? 1 : 0;
      }
      case 'pfcount':
        // Single key only (the store never merges HyperLogLogs).
        if (a.length !== 1) throw new Error('pfcount: the in-process store supports one key');
        return hll(key, false)?.size ?? 0;
      case 'hmget': {
        const h = hash(key);
        return a.slice(1).map((f) => h?.get(f) ?? null);
      }
      case 'hget':
        return hash(key)?.get(a[1] as string) ?? null;
      case 'incr': {
        const cur = str(key);
        const v = (cur === undefined ? 0 : Number(cur)) + 1;
        const e = live(key);
        data.set(key, { kind: 'string', v: String(v), exp: e?.exp ?? 0 });
        return v;
      }
      case 'get':
        return str(key) ?? null;
      case 'mget':
        return a.map((k) => {
          const e = live(k);
          return e?.kind === 'string' ? e.v : null;
        });
      case 'set': {
        // SET key value PX ms (the only form used).
        const ms = a[2] === 'PX' ? Number(a[3]) : 0;
        data.set(key, { kind: 'string', v: a[1] as string, exp: ms > 0 ? now() + ms : 0 });
        return 'OK';
      }
      case 'del':
        return live(key) !== undefined && data.delete(key) ? 1 : 0;
      case 'sismember':
        return set(key, false)?.has(a[1] as string) ? 1 : 0;
      case 'smismember': {
        const m = set(key, false);
        return a.slice(1).map((member) => (m?.has(member) ? 1 : 0));
      }
      case 'smembers':
        return [...(set(key, false) ?? [])];
      case 'zrange': {
        // ZRANGE key start stop WITHSCORES, ranks only (the form lists read with).
        const m = zset(key, false);
        if (!m) return [];
        const all = ranked(m);
        const n = all.length;
        const start = Number(a[1]);
        const stop = Number(a[2]);
        const s0 = start < 0 ? Math.max(0, n + start) : start;
        const e0 = stop < 0 ? n + stop : Math.min(stop, n - 1);
        const out: string[] = [];
        for (let i = s0; i <= e0 && i < n; i++) {
          const [member, score] = all[i] as [string, number];
          out.push(member);
          if (a[3] === 'WITHSCORES') out.push(String(score));
        }
        return out;
      }
      case 'vigilrecordlogin':
        return recordLogin(a);
      case 'vigillistadd':
        return listAdd(a);
      case 'vigillistremove':
        return listRemove(a);
      case 'vigillistsweep':
        return listSweep(a);
      default:
        return assertNever(name, 'command');
    }
  }

  function dropIfEmpty(key: string, m: Map<string, number> | Set<string>): void {
    if (m.size === 0) data.delete(key);
  }

  function set(key: string, create: boolean): Set<string> | undefined {
    const e = live(key);
    if (e === undefined) {
      if (!create) return undefined;
      const s = new Set<string>();
      data.set(key, { kind: 'set', s, exp: 0 });
      return s;
    }
    if (e.kind !== 'set') throw new WrongType();
    return e.s;
  }

  // lists.ts LIST_ADD_LUA, in JavaScript. Types are checked before anything is written, as Redis
  // would fail the script at its first command on a key of the wrong type.
  function listAdd(a: string[]): [number, number] {
    const [setKey, expKey, max, expiresAt, ...members] = a as [string, string, string, string, ...string[]];
    const s = set(setKey, false);
    const z = expKey !== setKey ? zset(expKey, false) : undefined;
    const size = s?.size ?? 0;
    let fresh = 0;
    for (const m of members) if (!s?.has(m)) fresh++;
    if (fresh > 0 && size + fresh > Number(max)) return [-1, size];
    const target = s ?? (set(setKey, true) as Set<string>);
    const expiries = expiresAt !== '' ? (z ?? (zset(expKey, true) as Map<string, number>)) : z;
    for (const m of members) {
      target.add(m);
      if (expiresAt !== '') expiries?.set(m, Number(expiresAt));
      else if (expKey !== setKey) expiries?.delete(m);
    }
    if (expiries && expKey !== setKey) dropIfEmpty(expKey, expiries);
    return [fresh, size + fresh];
  }

  // lists.ts LIST_REMOVE_LUA, in JavaScript.
  function listRemove(a: string[]): number {
    const [setKey, expKey, ...members] = a as [string, string, ...string[]];
    const s = set(setKey, false);
    const z = expKey !== setKey ? zset(expKey, false) : undefined;
    let n = 0;
    for (const m of members) {
      if (s?.delete(m)) n++;
      z?.delete(m);
    }
    if (s) dropIfEmpty(setKey, s);
    if (z) dropIfEmpty(expKey, z);
    return n;
  }

  // lists.ts LIST_SWEEP_LUA, in JavaScript.
  function listSweep(a: string[]): number {
    const [setKey, expKey, now, limit] = a as [string, string, string, string];
    const z = zset(expKey, false);
    if (!z) return 0;
    const due = ranked(z)
      .filter(([, score]) => score <= Number(now))
      .slice(0, Number(limit));
    const s = due.length > 0 ? set(setKey, false) : undefined;
    for (const [m] of due) {
      s?.delete(m);
      z.delete(m);
    }
    if (s) dropIfEmpty(setKey, s);
    dropIfEmpty(expKey, z);
    return due.length;
  }

  // commands.ts RECORD_LOGIN_LUA, in JavaScript.
  function recordLogin(a: string[]): number {
    const [key, t, country, lat, lon, ttl, recovery] = a as [string, string, string, string, string, string, string | undefined];
    const h = hashCreate(key);
    h.set('n', String(Number(h.get('n') ?? '0') + 1));
    const lt = h.get('lt');
    if (lt === undefined || Number(t) >= Number(lt)) {
      h.set('lt', t);
      if (country === '') h.delete('lc');
      else h.set('lc', country);
      if (lat === '' || lon === '') (h.delete('la'), h.delete('lo'));
      else (h.set('la', lat), h.set('lo', lon));
    }
    if (recovery === '1' || recovery === '2') {
      const lr = h.get('lr');
      if (lr === undefined || Number(t) >= Number(lr)) {
        h.set('lr', t);
        h.set('rc', recovery === '2' ? '1' : '0');
      }
    }
    pexpire(key, Number(ttl));
    return 1;
  }

  let roundTrips = 0;
  const backend: MemoryBackend = {
    kind: 'memory',
    get roundTrips() {
      return roundTrips;
    },
    async exec(cmds) {
      if (closed) throw new Error('store closed');
      roundTrips++;
      // Like a pipeline: every command runs; the first error fails the whole call.
      const out: unknown[] = [];
      let firstErr: unknown;
      for (const c of cmds) {
        try {
          out.push(run(c.argv));
        } catch (err) {
          firstErr ??= err;
          out.push(null);
        }
      }
      ops += cmds.length;
      if (ops >= SWEEP_EVERY) {
        ops = 0;
        sweep();
      }
      if (firstErr !== undefined) throw firstErr;
      return out;
    },
    ready: () => !closed,
    async eraseStem(stem) {
      let n = 0;
      for (const k of [...data.keys()]) {
        if (k.startsWith(stem) && live(k) !== undefined) {
          data.delete(k);
          n++;
        }
      }
      return n;
    },
    async ping() {
      return !closed;
    },
    async close() {
      closed = true;
      data.clear();
    },
    sadd(key, ...members) {
      const e = live(key);
      if (e !== undefined && e.kind !== 'set') throw new WrongType();
      const s = e?.s ?? new Set<string>();
      for (const m of members) s.add(m);
      if (e === undefined) data.set(key, { kind: 'set', s, exp: 0 });
    },
    dump() {
      const out: Array<{ key: string; value: string }> = [];
      for (const [key] of data) {
        const e = live(key);
        if (e === undefined) continue;
        out.push({ key, value: render(e) });
      }
      return out;
    },
  };
  return backend;
}

function render(e: Entry): string {
  switch (e.kind) {
    case 'zset':
    case 'hash':
      return JSON.stringify([...e.m.entries()]);
    case 'string':
      return e.v;
    case 'hll':
    case 'set':
      return JSON.stringify([...e.s]);
    default:
      return assertNever(e, 'entry');
  }
}

/** A ZCOUNT/ZREMRANGEBYSCORE bound: `-inf`, `+inf`, `x` (inclusive) or `(x` (exclusive). */
function bound(s: string, side: 'min' | 'max'): (score: number) => boolean {
  if (s === '-inf') return side === 'min' ? () => true : () => false;
  if (s === '+inf') return side === 'max' ? () => true : () => false;
  const exclusive = s.startsWith('(');
  const v = Number(exclusive ? s.slice(1) : s);
  if (side === 'min') return exclusive ? (x) => x > v : (x) => x >= v;
  return exclusive ? (x) => x < v : (x) => x <= v;
}

