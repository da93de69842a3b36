// The SignalStore over any Backend (Redis, Cluster, in-process): hashing identifiers into an
// EventContext, running the planned pipelines of commands.ts under a time budget, and turning every
// failure of a read into `null` (degraded), never an exception on the hot path.
import { errorMessage } from '../../common/errors.ts';
import type { Cluster, Redis } from 'ioredis';
import type { Hasher } from '../privacy.ts';
import { isRbaPlaceholder } from '../rba.ts';
import { parseIp, subnetKey } from '../ip.ts';
import { planOutcome, planRead, type Cmd, type CmdName, type PlanEnv } from './commands.ts';
import { Keys, type StoreLimits } from './keys.ts';
import { expiryKey, LIST_ADD_COMMAND, LIST_LIMITS, LIST_REMOVE_COMMAND, LIST_SWEEP_COMMAND } from './lists.ts';
import {
  ListKeyTypeError,
  StoreUnavailableError,
  type CounterTarget,
  type ListAddResult,
  type ListContents,
  type ContextInput,
  type EventContext,
  type EventSignals,
  type Outcome,
  type ReadNeeds,
  type SignalStore,
  type StoreLogger,
  type StoreStats,
} from './types.ts';

/** Where commands run. */
export interface Backend {
  readonly kind: 'redis' | 'cluster' | 'memory';
  /** Run the commands; replies in command order. Rejects if any command fails. */
  exec(cmds: readonly Cmd[]): Promise<unknown[]>;
  /** Connected and able to answer now (a disconnected backend is not even tried). */
  ready(): boolean;
  /** Delete every key whose name starts with `stem` (all share the hash tag `tag`); count deleted. */
  eraseStem(stem: string, tag: string): Promise<number>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
  /**
   * Run `cmds` and, in the same call, the decision writes `carried` (each `SET key value PX ms`),
   * which are stored whether or not a command of `cmds` fails: `replies` settles as `exec` would
   * for `cmds` alone, `carried` once the writes are stored. Only where one call can do both (a
   * single Redis node).
   */
  execCarrying?(cmds: readonly Cmd[], carried: readonly Cmd[]): { replies: Promise<unknown[]>; carried: Promise<void> };
  /** Round trips sent so far (pipelines, including every Cluster slot group). */
  readonly roundTrips: number;
  readonly redis?: Redis | Cluster;
}

export interface CoreOptions {
  readonly backend: Backend;
  readonly hasher: Hasher;
  readonly prefix: string;
  readonly limits: StoreLimits;
  /** Budget of writes, decision lookups and erase (ms). */
  readonly opTimeoutMs: number;
  readonly logger?: StoreLogger;
}

const MAX_COUNTRY = 8;
// HMACs of low-cardinality learned values (country, ASN, browser, OS, device type, user agent) are
// cached: an HMAC costs microseconds and most events repeat the same few values. Addresses are not
// cached (high cardinality; they would only churn the cache).
const FIELD_CACHE_MAX = 4096;
// How long a decision write may wait for the next event's read to carry it (single Redis node).
const DECISION_LINGER_MS = 5;

// Reading or filling a list of up to LIST_LIMITS.maxEntries members takes longer than a counter write.
const LIST_OP_TIMEOUT_MS = 10_000;

function checkListName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('list name must be a non-empty string');
}

function checkMembers(what: string, members: readonly string[]): void {
  if (!Array.isArray(members) || members.length === 0 || members.length > LIST_LIMITS.maxPerRequest) {
    throw new TypeError(`${what}: give 1-${LIST_LIMITS.maxPerRequest} members`);
  }
  for (const m of members) if (typeof m !== 'string' || m.length === 0) throw new TypeError(`${what}: members must be non-empty strings`);
}

const DIGEST = /^[A-Za-z0-9_-]{1,64}$/;
const optDigest = (v: unknown): boolean => v === undefined || (typeof v === 'string' && DIGEST.test(v));
const optFinite = (v: unknown): boolean => v === undefined || (typeof v === 'number' && Number.isFinite(v));

/**
 * Check a context snapshot read back from storage (JSON) before learning from it: the shape of
 * `EventContext`, digests where digests belong. Returns it typed, or null.
 */
export function parseEventContext(x: unknown): EventContext | null {
  if (typeof x !== 'object' || x === null) return null;
  const c = x as Record<string, unknown>;
  if (c.v !== 1 || (c.type !== 'login' && c.type !== 'recovery' && c.type !== 'account_change')) return null;
  if (typeof c.time !== 'number' || !Number.isFinite(c.time)) return null;
  if (typeof c.user !== 'string' || !DIGEST.test(c.user) || typeof c.ip !== 'string' || !DIGEST.test(c.ip)) return null;
  if (!optDigest(c.subnet) || !optDigest(c.device) || !optDigest(c.ua)) return null;
  if (c.country !== undefined && (typeof c.country !== 'string' || c.country.length === 0 || c.country.length > MAX_COUNTRY)) return null;
  if (c.asn !== undefined && !(typeof c.asn === 'number' && Number.isSafeInteger(c.asn) && c.asn >= 0)) return null;
  if (!optFinite(c.lat) || !optFinite(c.lon) || (c.lat === undefined) !== (c.lon === undefined)) return null;
  if (c.rba !== undefined && !(Array.isArray(c.rba) && c.rba.every((f) => f === null || (typeof f === 'string' && DIGEST.test(f))))) return null;
  return c as unknown as EventContext;
}

export function createSignalStore(opts: CoreOptions): SignalStore {
  const { backend, hasher, limits, logger } = opts;
  const keys = new Keys(opts.prefix);
  // Members of timestamp sets must be unique: event time, a per-instance random part, a counter.
  const instance = Math.floor(Math.random() * 36 ** 6).toString(36);
  let seq = 0;
  const env: PlanEnv = {
    keys,
    limits,
    crossSlot: backend.kind !== 'cluster',
    nextMember: (t) => `${t}:${instance}:${(seq = (seq + 1) % 0x7fffffff).toString(36)}`,
  };
  const fieldCache = new Map<string, string>();
  const cachedField = (v: string): string => {
    let h = fieldCache.get(v);
    if (h === undefined) {
      h = hasher.field(v);
      if (fieldCache.size >= FIELD_CACHE_MAX) fieldCache.clear();
      fieldCache.set(v, h);
    }
    return h;
  };
  const rbaField = (f: string): string | null =>
    isRbaPlaceholder(f) ? null : f.startsWith('ip:') ? hasher.field(f) : cachedField(f);
  let readCalls = 0;
  let timeouts = 0;
  let failures = 0;
  // Log transitions only: a down Redis must not log once per event.
  let healthy = true;
  const markFailed = (err: unknown, what: string): void => {
    if (healthy) {
      healthy = false;
      logger?.warn({ err: errorMessage(err), op: what }, 'signal store unavailable');
    }
  };
  const markOk = (): void => {
    if (!healthy) {
      healthy = true;
      logger?.info({}, 'signal store available again');
    }
  };

  /** Run with a deadline; rejects StoreUnavailableError on failure or timeout. */
  async function withDeadline<T>(what: string, ms: number, work: () => Promise<T>): Promise<T> {
    if (!backend.ready()) {
      const err = new StoreUnavailableError(`signal store not connected (${what})`);
      markFailed(err, what);
      throw err;
    }
    let timer: NodeJS.Timeout | undefined;
    const p = work();
    try {
      const result = await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new StoreUnavailableError(`signal store timed out after ${ms} ms (${what})`)), ms);
        }),
      ]);
      markOk();
      return result;
    } catch (err) {
      p.catch(() => undefined);
      markFailed(err, what);
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(`signal store failed (${what}): ${errorMessage(err)}`, { cause: err });
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  // Decision documents are written in batches, not one call each. On a single Redis node a batch
  // waits up to DECISION_LINGER_MS for the next event's read and rides in that read's call, after
  // its commands: at a steady rate a request then costs one Redis round trip instead of two
  // (docs/operations.md § Performance); with no read coming, the timer sends the batch alone. Other
  // backends (Cluster, where one call cannot span slots; in-process) send a turn's batch once its
  // I/O callbacks are done. A lookup through this instance always finds the decision: until its
  // batch is sent it is answered from the batch (read-your-writes, also for in-process callers such
  // as replay), and after that Redis runs one connection's commands in order. Another instance may
  // miss it for up to the linger plus a round trip.
  interface DecisionBatch {
    cmds: Cmd[];
    byId: Map<string, string>;
    /** Session records (putSession) not yet sent, by decision id. */
    sessions: Map<string, string>;
    settle: { resolve: () => void; reject: (err: unknown) => void }[];
    timer: NodeJS.Timeout | undefined;
  }
  const carrier = backend.execCarrying?.bind(backend);
  let decisions: DecisionBatch | null = null;
  function takeDecisions(): DecisionBatch | null {
    const batch = decisions;
    decisions = null;
    if (batch?.timer !== undefined) clearTimeout(batch.timer);
    return batch;
  }
  /** Settle a batch's writers when `send` (the call that carries its SETs) is done. */
  function settleDecisions(batch: DecisionBatch, send: () => Promise<unknown>): Promise<void> {
    return withDeadline('putDecision', opts.opTimeoutMs, send).then(
      () => {
        for (const s of batch.settle) s.resolve();
      },
      (err: unknown) => {
        for (const s of batch.settle) s.reject(err);
      },
    );
  }
  /** Queue one record's SET into the decision batch (sent after a linger, or carried by a read). */
  function queueRecord(what: string, id: string, key: string, json: string, ttlSeconds: number, session: boolean): Promise<void> {
    if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) {
      return Promise.reject(new TypeError(`${what}: ttlSeconds must be a positive number`));
    }
    const cmd: Cmd = { tag: keys.decisionTag(id), argv: ['set', key, json, 'PX', Math.max(1, Math.ceil(ttlSeconds * 1000))] };
    let batch = decisions;
    if (batch === null) {
      batch = decisions = { cmds: [], byId: new Map(), sessions: new Map(), settle: [], timer: undefined };
      if (carrier !== undefined) batch.timer = setTimeout(() => void flushDecisions(), DECISION_LINGER_MS);
      else setImmediate(() => void flushDecisions());
    }
    batch.cmds.push(cmd);
    (session ? batch.sessions : batch.byId).set(id, json);
    const settle = batch.settle;
    return new Promise<void>((resolve, reject) => settle.push({ resolve, reject }));
  }
  function flushDecisions(): Promise<void> {
    const batch = takeDecisions();
    if (batch === null) return Promise.resolve();
    return settleDecisions(batch, () => {
      if (carrier === undefined) return backend.exec(batch.cmds);
      const r = carrier([], batch.cmds);
      r.replies.catch(() => undefined);
      return r.carried;
    });
  }

  /**
   * A live-list operation: Redis refusing a key of the wrong type is the operator's key, not the
   * store failing, so it is ListKeyTypeError (and does not mark the store unavailable).
   */
  async function listOp(what: string, name: string, cmds: readonly Cmd[]): Promise<unknown[]> {
    const wrongType = Symbol('wrong type');
    const r = await withDeadline(what, Math.max(opts.opTimeoutMs, LIST_OP_TIMEOUT_MS), () =>
      backend.exec(cmds).catch((err: unknown) => {
        if (/WRONGTYPE/.test(errorMessage(err))) return wrongType;
        throw err;
      }),
    );
    if (r === wrongType) throw new ListKeyTypeError(name);
    return r as unknown[];
  }

  const store: SignalStore = {
    kind: backend.kind,
    get redis() {
      return backend.redis;
    },
    get stats(): StoreStats {
      return { readCalls, roundTrips: backend.roundTrips, timeouts, failures };
    },

    context(input: ContextInput): EventContext {
      if (typeof input.userId !== 'string' || input.userId.length === 0) throw new TypeError('context: userId must be a non-empty string');
      if (typeof input.ip !== 'string' || input.ip.length === 0) throw new TypeError('context: ip must be a non-empty string');
      if (!Number.isFinite(input.time)) throw new TypeError('context: time must be a finite number of ms');
      if (input.type !== 'login' && input.type !== 'recovery' && input.type !== 'account_change') {
        throw new TypeError('context: type must be login, recovery or account_change');
      }
      const parsed = parseIp(input.ip);
      const address = parsed ? parsed.address : input.ip;
      const hasPlace = Number.isFinite(input.lat) && Number.isFinite(input.lon);
      const country =
        typeof input.country === 'string' && input.country.length > 0 && input.country.length <= MAX_COUNTRY ? input.country : undefined;
      const asn = typeof input.asn === 'number' && Number.isSafeInteger(input.asn) && input.asn >= 0 ? input.asn : undefined;
      const hasUa = (typeof input.browser === 'string' && input.browser !== '') || (typeof input.os === 'string' && input.os !== '');
      const ip = hasher.ip(address);
      // The rba field of this event's own address is named by the address digest already made (the
      // `ip` prefix keeps it apart from every other field's 22-character digest): one HMAC less.
      const ownIpField = 'ip:' + address;
      const field = (f: string): string | null => (f === ownIpField ? 'ip' + ip : rbaField(f));
      // Built by assignment, not conditional spreads (per request); absent fields stay absent, so the
      // stored JSON carries only what is known.
      const ctx: { -readonly [K in keyof EventContext]: EventContext[K] } = {
        v: 1,
        type: input.type,
        time: input.time,
        user: hasher.user(input.userId),
        ip,
      };
      if (parsed) ctx.subnet = hasher.subnet(subnetKey(parsed));
      if (typeof input.deviceId === 'string' && input.deviceId !== '') ctx.device = hasher.device(input.deviceId);
      if (country !== undefined) ctx.country = country;
      if (asn !== undefined) ctx.asn = asn;
      if (hasPlace) {
        ctx.lat = input.lat as number;
        ctx.lon = input.lon as number;
      }
      if (hasUa) ctx.ua = cachedField(`ua\0${input.browser ?? ''}\0${input.os ?? ''}`);
      if (input.rbaFields) ctx.rba = input.rbaFields.map(field);
      return ctx;
    },

    async readEvent(ctx: EventContext, needs: ReadNeeds, budgetMs: number): Promise<EventSignals | null> {
      readCalls++;
      if (!backend.ready()) {
        failures++;
        markFailed(new Error('not connected'), 'readEvent');
        return null;
      }
      let plan;
      try {
        plan = planRead(env, ctx, needs);
      } catch (err) {
        failures++;
        logger?.warn({ err: errorMessage(err) }, 'signal store: bad event context');
        return null;
      }
      if (plan.cmds.length === 0) return plan.parse([]);
      // A session record still in the unsent batch (read-your-writes on this instance): a carried
      // batch is stored before the read's commands run, any other is answered from here.
      const unsentSession = needs.session !== undefined ? decisions?.sessions.get(needs.session) : undefined;
      let timer: NodeJS.Timeout | undefined;
      const carried = carrier !== undefined ? takeDecisions() : null;
      let work: Promise<unknown[]>;
      if (carrier !== undefined && carried !== null) {
        const r = carrier(plan.cmds, carried.cmds);
        work = r.replies;
        void settleDecisions(carried, () => r.carried);
      } else {
        work = backend.exec(plan.cmds);
      }
      try {
        const replies = await Promise.race([
          work,
          new Promise<null>((resolve) => {
            timer = setTimeout(resolve, Math.max(0, budgetMs), null);
          }),
        ]);
        if (replies === null) {
          timeouts++;
          work.catch(() => undefined);
          markFailed(new Error(`no answer within ${budgetMs} ms`), 'readEvent');
          return null;
        }
        const parsed = plan.parse(replies);
        const signals = unsentSession !== undefined && parsed.session === null ? { ...parsed, session: unsentSession } : parsed;
        markOk();
        return signals;
      } catch (err) {
        failures++;
        markFailed(err, 'readEvent');
        return null;
      } finally {
        if (timer) clearTimeout(timer);
      }
    },

    async recordOutcome(ctx: EventContext, outcome: Outcome, time?: number): Promise<void> {
      const t = time ?? ctx.time;
      if (!Number.isFinite(t)) throw new TypeError('recordOutcome: time must be a finite number of ms');
      if (parseEventContext(ctx) === null) throw new TypeError('recordOutcome: not an EventContext (see store.context())');
      const cmds = planOutcome(env, ctx, outcome, t);
      if (cmds.length === 0) return;
      await withDeadline('recordOutcome', opts.opTimeoutMs, () => backend.exec(cmds));
    },

    putDecision(id: string, json: string, ttlSeconds: number): Promise<void> {
      return queueRecord('putDecision', id, keys.decision(id), json, ttlSeconds, false);
    },

    putSession(id: string, json: string, ttlSeconds: number): Promise<void> {
      return queueRecord('putSession', id, keys.session(id), json, ttlSeconds, true);
    },

    async getDecision(id: string): Promise<string | null> {
      const unsent = decisions?.byId.get(id);
      if (unsent !== undefined) return unsent;
      const key = keys.decision(id);
      const tag = keys.decisionTag(id);
      const [v] = await withDeadline('getDecision', opts.opTimeoutMs, () => backend.exec([{ tag, argv: ['get', key] }]));
      return typeof v === 'string' ? v : null;
    },

    async deleteDecisions(ids: readonly string[]): Promise<number> {
      // Records still waiting to ride with a read are written first, so the DEL below finds them.
      await flushDecisions();
      let n = 0;
      // One DEL per key: on Cluster every decision key has its own slot.
      for (let i = 0; i < ids.length; i += 500) {
        const cmds: Cmd[] = ids
          .slice(i, i + 500)
          .flatMap((id): Cmd[] => [
            { tag: keys.decisionTag(id), argv: ['del', keys.decision(id)] },
            { tag: keys.decisionTag(id), argv: ['del', keys.session(id)] },
          ]);
        const res = await withDeadline('deleteDecisions', Math.max(opts.opTimeoutMs, 30_000), () => backend.exec(cmds));
        for (const r of res) if (typeof r === 'number') n += r;
      }
      return n;
    },

    userHash(userId: string): string {
      return hasher.user(userId);
    },

    async eraseUser(userId: string, linked: { readonly ips?: readonly string[]; readonly devices?: readonly string[] } = {}): Promise<number> {
      const u = hasher.user(userId);
      // Erase scans; give it far more time than a hot-path operation.
      const budget = Math.max(opts.opTimeoutMs, 30_000);
      // The user's hash is also a member of other keys: the distinct-user sets of every address and
      // device that tried them. The user's own address set names the addresses; the caller adds
      // what else it knows.
      const [tried] = await withDeadline('eraseUser', budget, () => backend.exec([{ tag: keys.userTag(u), argv: ['zrange', keys.userIps(u), 0, -1] }]));
      const ips = new Set<string>(linked.ips ?? []);
      if (Array.isArray(tried)) for (const i of tried) if (typeof i === 'string') ips.add(i);
      const cmds: Cmd[] = [
        ...[...ips].map((i): Cmd => ({ tag: keys.ipTag(i), argv: ['zrem', keys.ipUsers(i), u] })),
        ...[...new Set(linked.devices ?? [])].map((d): Cmd => ({ tag: keys.deviceTag(d), argv: ['zrem', keys.deviceUsers(d), u] })),
      ];
      let removed = 0;
      for (let i = 0; i < cmds.length; i += 500) {
        const res = await withDeadline('eraseUser', budget, () => backend.exec(cmds.slice(i, i + 500)));
        for (const r of res) if (typeof r === 'number') removed += r;
      }
      return removed + (await withDeadline('eraseUser', budget, () => backend.eraseStem(keys.userStem(u), keys.userTag(u))));
    },

    async clearCounters(target: CounterTarget): Promise<number> {
      if (target.ip === undefined && target.user === undefined) throw new TypeError('clearCounters: give ip, user or both');
      const cmds: Cmd[] = [];
      if (target.user !== undefined) {
        if (typeof target.user !== 'string' || target.user.length === 0) throw new TypeError('clearCounters: user must be a non-empty string');
        const u = hasher.user(target.user);
        const tag = keys.userTag(u);
        for (const key of [keys.userFailed(u), keys.userIps(u), keys.userRecovery(u), keys.userChanges(u)]) cmds.push({ tag, argv: ['del', key] });
      }
      if (target.ip !== undefined) {
        const parsed = typeof target.ip === 'string' ? parseIp(target.ip) : null;
        if (parsed === null) throw new TypeError('clearCounters: ip must be an IPv4 or IPv6 address');
        // Hashed exactly as context() hashes an event's address, so these are the event's keys.
        const i = hasher.ip(parsed.address);
        const tag = keys.ipTag(i);
        cmds.push({ tag, argv: ['del', keys.ipFailed(i)] }, { tag, argv: ['del', keys.ipUsers(i)] });
        if (target.subnet === true) {
          const n = hasher.subnet(subnetKey(parsed));
          cmds.push({ tag: keys.subnetTag(n), argv: ['del', keys.subnetFailed(n)] });
        }
      }
      const replies = await withDeadline('clearCounters', opts.opTimeoutMs, () => backend.exec(cmds));
      let n = 0;
      for (const r of replies) if (typeof r === 'number') n += r;
      return n;
    },

    async readList(name: string): Promise<ListContents> {
      checkListName(name);
      const exp = expiryKey(name);
      const cmds: Cmd[] = [{ tag: name, argv: ['smembers', name] }];
      if (exp !== null) cmds.push({ tag: name, argv: ['zrange', exp, 0, -1, 'WITHSCORES'] });
      const replies = await listOp('readList', name, cmds);
      const members = replies[0];
      if (!Array.isArray(members)) throw new StoreUnavailableError('readList: unexpected reply');
      const expiries = new Map<string, number>();
      const flat = replies[1];
      if (Array.isArray(flat)) {
        for (let i = 0; i + 1 < flat.length; i += 2) expiries.set(String(flat[i]), Number(flat[i + 1]));
      }
      return { members: members.map(String), expiries };
    },

    async addToList(name, members, o = {}): Promise<ListAddResult> {
      checkListName(name);
      checkMembers('addToList', members);
      const exp = expiryKey(name);
      if (o.expiresAt !== undefined) {
        if (!Number.isSafeInteger(o.expiresAt)) throw new TypeError('addToList: expiresAt must be an integer of ms');
        if (exp === null) throw new TypeError(`addToList: the list ${JSON.stringify(name)} cannot hold expiring entries`);
      }
      const max = o.maxEntries ?? LIST_LIMITS.maxEntries;
      const argv: [CmdName, ...(string | number)[]] = [LIST_ADD_COMMAND, name, exp ?? name, max, o.expiresAt ?? ''];
      // Distinct: the script counts new members before adding any.
      for (const m of new Set(members)) argv.push(m);
      const [reply] = await listOp('addToList', name, [{ tag: name, argv }]);
      if (!Array.isArray(reply) || reply.length !== 2) throw new StoreUnavailableError('addToList: unexpected reply');
      const added = Number(reply[0]);
      const size = Number(reply[1]);
      return added < 0 ? { ok: false, size } : { ok: true, added, size };
    },

    async removeFromList(name, members): Promise<number> {
      checkListName(name);
      checkMembers('removeFromList', members);
      const [reply] = await listOp('removeFromList', name, [{ tag: name, argv: [LIST_REMOVE_COMMAND, name, expiryKey(name) ?? name, ...new Set(members)] }]);
      return Number(reply);
    },

    async sweepList(name: string, now: number): Promise<number> {
      checkListName(name);
      if (!Number.isFinite(now)) throw new TypeError('sweepList: now must be a finite number of ms');
      const exp = expiryKey(name);
      if (exp === null) return 0;
      let swept = 0;
      // One call removes at most sweepBatch entries, so that no call holds Redis for long.
      for (;;) {
        const [reply] = await listOp('sweepList', name, [{ tag: name, argv: [LIST_SWEEP_COMMAND, name, exp, Math.floor(now), LIST_LIMITS.sweepBatch] }]);
        const n = Number(reply);
        swept += n;
        if (n < LIST_LIMITS.sweepBatch) return swept;
      }
    },

    async ping(): Promise<boolean> {
      if (!backend.ready()) return false;
      return backend.ping().catch(() => false);
    },

    async close() {
      // Decisions still waiting for a read to carry them go now.
      await flushDecisions();
      await backend.close();
    },
  };
  return store;
}
