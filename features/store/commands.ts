// The Redis commands of one event read (with its recording writes) and of one outcome, and the
// parsing of their replies. Both backends run exactly these commands: Redis over the wire, the
// in-process store by interpreting them (memory.ts), so the two cannot drift apart. Every command
// carries the hash tag of its key so a Cluster backend can group a pipeline by slot.
import { assertNever } from '../../dsl/types.ts';
import {
  DAY,
  H_LAST_COUNTRY,
  H_LAST_LAT,
  H_LAST_LON,
  H_LAST_RECOVERY,
  H_LAST_RECOVERY_CHALLENGED,
  H_LAST_TIME,
  H_LOGINS,
  KNOWN_ASN,
  KNOWN_COUNTRY,
  KNOWN_DEVICE,
  KNOWN_IP,
  KNOWN_SUBNET,
  KNOWN_UA,
  TTL_MARGIN_MS,
  W_DEVICE_USERS,
  W_IP_FAILED,
  W_IP_FAILED_SHORT,
  W_IP_USERS,
  W_SUBNET_FAILED,
  W_USER_FAILED,
  W_USER_CHANGES,
  W_USER_IPS,
  W_USER_RECOVERY,
  type Keys,
  type StoreLimits,
} from './keys.ts';
import { ipProbeMembers } from './lists.ts';
import type {
  EventContext,
  EventSignals,
  HistorySignals,
  Outcome,
  RbaCounts,
  ReadNeeds,
  VelocitySignals,
} from './types.ts';

export type Arg = string | number;

/** The commands the store uses; memory.ts interprets exactly these. */
export type CmdName =
  | 'zadd'
  | 'zremrangebyscore'
  | 'zremrangebyrank'
  | 'zcount'
  | 'zmscore'
  | 'zrange'
  | 'zrem'
  | 'zincrby'
  | 'pexpire'
  | 'pfadd'
  | 'pfcount'
  | 'hmget'
  | 'hget'
  | 'incr'
  | 'get'
  | 'mget'
  | 'set'
  | 'del'
  | 'sismember'
  | 'smismember'
  | 'smembers'
  | 'zrange'
  /** RECORD_LOGIN_LUA, defined as a script command on the client (EVALSHA, EVAL on NOSCRIPT). */
  | 'vigilrecordlogin'
  /** The live-list scripts of lists.ts, defined the same way. */
  | 'vigillistadd'
  | 'vigillistremove'
  | 'vigillistsweep';

/** Commands that are scripts (defined on the client; inlined in the single-node batch). */
export const SCRIPT_COMMANDS: ReadonlySet<CmdName> = new Set<CmdName>(['vigilrecordlogin', 'vigillistadd', 'vigillistremove', 'vigillistsweep']);

export interface Cmd {
  /** Hash tag (or whole key when untagged) of every key the command touches. */
  readonly tag: string;
  readonly argv: readonly [CmdName, ...Arg[]];
}

/**
 * Successful sign-in: count it, and move "last sign-in" forward only if this one is not older than
 * the recorded one (outcomes may arrive out of order); for a completed recovery (ARGV[6] = '1', or
 * '2' when it had to pass a challenge first), move "last recovery" forward the same way and keep
 * with it whether it was challenged. Lua so the compare-and-set is atomic.
 * KEYS[1] history hash. ARGV: time, country ('' = unknown), lat, lon ('' = unknown), ttl ms, recovery flag.
 * Sent as the `vigilrecordlogin` command (ioredis defineCommand: EVALSHA, so the body is not resent).
 */
export const RECORD_LOGIN_COMMAND = 'vigilrecordlogin';
export const RECORD_LOGIN_LUA = `
redis.call('HINCRBY', KEYS[1], '${H_LOGINS}', 1)
local lt = tonumber(redis.call('HGET', KEYS[1], '${H_LAST_TIME}'))
if lt == nil or tonumber(ARGV[1]) >= lt then
  redis.call('HSET', KEYS[1], '${H_LAST_TIME}', ARGV[1])
  if ARGV[2] == '' then redis.call('HDEL', KEYS[1], '${H_LAST_COUNTRY}') else redis.call('HSET', KEYS[1], '${H_LAST_COUNTRY}', ARGV[2]) end
  if ARGV[3] == '' or ARGV[4] == '' then redis.call('HDEL', KEYS[1], '${H_LAST_LAT}', '${H_LAST_LON}')
  else redis.call('HSET', KEYS[1], '${H_LAST_LAT}', ARGV[3], '${H_LAST_LON}', ARGV[4]) end
end
if ARGV[6] == '1' or ARGV[6] == '2' then
  local lr = tonumber(redis.call('HGET', KEYS[1], '${H_LAST_RECOVERY}'))
  if lr == nil or tonumber(ARGV[1]) >= lr then
    redis.call('HSET', KEYS[1], '${H_LAST_RECOVERY}', ARGV[1], '${H_LAST_RECOVERY_CHALLENGED}', ARGV[6] == '2' and '1' or '0')
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

export interface Plan<T> {
  readonly cmds: Cmd[];
  parse(replies: readonly unknown[]): T;
}

export interface PlanEnv {
  readonly keys: Keys;
  readonly limits: StoreLimits;
  /** A fresh member for a timestamp sorted set (unique across processes). */
  nextMember(t: number): string;
  /**
   * Multi-key commands may span slots (single node, in-process): the global rba counters are read
   * with one MGET instead of one GET each, which a Cluster would refuse (CROSSSLOT).
   */
  readonly crossSlot?: boolean;
}

/** Members of the user's known-values set this event would be matched against. */
export interface KnownMembers {
  readonly device?: string;
  readonly country?: string;
  readonly asn?: string;
  readonly ip: string;
  readonly ua?: string;
  readonly subnet?: string;
}

export function knownMembers(ctx: EventContext): KnownMembers {
  return {
    ip: KNOWN_IP + ctx.ip,
    ...(ctx.device !== undefined ? { device: KNOWN_DEVICE + ctx.device } : {}),
    ...(ctx.country !== undefined ? { country: KNOWN_COUNTRY + ctx.country } : {}),
    ...(ctx.asn !== undefined ? { asn: KNOWN_ASN + String(ctx.asn) } : {}),
    ...(ctx.ua !== undefined ? { ua: KNOWN_UA + ctx.ua } : {}),
    ...(ctx.subnet !== undefined ? { subnet: KNOWN_SUBNET + ctx.subnet } : {}),
  };
}

/** Append the commands of one sliding-window timestamp set: add, trim to the window, cap, expire. */
function pushTimestamp(cmds: Cmd[], env: PlanEnv, tag: string, key: string, t: number, windowMs: number): void {
  cmds.push(
    { tag, argv: ['zadd', key, t, env.nextMember(t)] },
    // Inclusive window [t − W, t]: only entries strictly older than t − W are dropped.
    { tag, argv: ['zremrangebyscore', key, '-inf', `(${t - windowMs}`] },
    { tag, argv: ['zremrangebyrank', key, 0, -(env.limits.maxEvents + 1)] },
    { tag, argv: ['pexpire', key, windowMs + TTL_MARGIN_MS] },
  );
}

/**
 * Append the recording commands of one distinct-count set (member → last time seen): add or move the
 * member forward (GT: an out-of-order event never moves it back; GT still adds a new member), drop
 * members last seen before t − W, keep the `maxDistinct` most recently seen, expire.
 */
function pushDistinct(cmds: Cmd[], env: PlanEnv, tag: string, key: string, member: string, t: number, windowMs: number): void {
  cmds.push(
    { tag, argv: ['zadd', key, 'GT', t, member] },
    { tag, argv: ['zremrangebyscore', key, '-inf', `(${t - windowMs}`] },
    { tag, argv: ['zremrangebyrank', key, 0, -(env.limits.maxDistinct + 1)] },
    { tag, argv: ['pexpire', key, windowMs + TTL_MARGIN_MS] },
  );
}

/**
 * Count of a distinct-count set at time t: members last seen at or after t − W (inclusive, like the
 * timestamp counters). The upper bound is +inf, not t: the set keeps only each member's latest
 * sighting, so for an out-of-order event a member last seen after t (this event's own member
 * included, whose later score GT kept) still counts.
 */
function distinctCount(tag: string, key: string, t: number, windowMs: number): Cmd {
  return { tag, argv: ['zcount', key, t - windowMs, '+inf'] };
}

const num = (v: unknown): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new TypeError(`unexpected store reply ${String(v)}`);
  return n;
};
const optNum = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : num(v));
const optStr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const arr = (v: unknown): readonly unknown[] => {
  if (!Array.isArray(v)) throw new TypeError('unexpected store reply: not an array');
  return v;
};

/** The read (and recording) pipeline of one event. */
export function planRead(env: PlanEnv, ctx: EventContext, needs: ReadNeeds): Plan<EventSignals> {
  const { keys } = env;
  const t = ctx.time;
  const cmds: Cmd[] = [];
  const uTag = keys.userTag(ctx.user);
  const iTag = keys.ipTag(ctx.ip);
  const dTag = ctx.device !== undefined ? keys.deviceTag(ctx.device) : '';

  if (needs.record !== false) {
    pushDistinct(cmds, env, uTag, keys.userIps(ctx.user), ctx.ip, t, W_USER_IPS);
    pushDistinct(cmds, env, iTag, keys.ipUsers(ctx.ip), ctx.user, t, W_IP_USERS);
    if (ctx.device !== undefined) pushDistinct(cmds, env, dTag, keys.deviceUsers(ctx.device), ctx.user, t, W_DEVICE_USERS);
    if (ctx.type === 'recovery') pushTimestamp(cmds, env, uTag, keys.userRecovery(ctx.user), t, W_USER_RECOVERY);
    else if (ctx.type === 'account_change') pushTimestamp(cmds, env, uTag, keys.userChanges(ctx.user), t, W_USER_CHANGES);
  }

  // History: the hash, then one ZMSCORE over the event's learned-value members.
  let iHist = -1;
  let iKnown = -1;
  let known: KnownMembers | undefined;
  let knownOrder: (keyof KnownMembers)[] = [];
  if (needs.history) {
    iHist = cmds.length;
    cmds.push({ tag: uTag, argv: ['hmget', keys.userHistory(ctx.user), H_LOGINS, H_LAST_TIME, H_LAST_COUNTRY, H_LAST_LAT, H_LAST_LON, H_LAST_RECOVERY, H_LAST_RECOVERY_CHALLENGED] });
    known = knownMembers(ctx);
    knownOrder = (['ip', 'device', 'country', 'asn', 'ua', 'subnet'] as const).filter((k) => known?.[k] !== undefined);
    const argv: [CmdName, ...Arg[]] = ['zmscore', keys.userKnown(ctx.user)];
    for (const k of knownOrder) argv.push(known[k] as string);
    iKnown = cmds.length;
    cmds.push({ tag: uTag, argv });
  }

  let iVel = -1;
  let iSubnet = -1;
  let iDevice = -1;
  if (needs.velocity) {
    iVel = cmds.length;
    cmds.push(
      { tag: uTag, argv: ['zcount', keys.userFailed(ctx.user), t - W_USER_FAILED, t] },
      distinctCount(uTag, keys.userIps(ctx.user), t, W_USER_IPS),
      { tag: uTag, argv: ['zcount', keys.userRecovery(ctx.user), t - W_USER_RECOVERY, t] },
      { tag: iTag, argv: ['zcount', keys.ipFailed(ctx.ip), t - W_IP_FAILED_SHORT, t] },
      { tag: iTag, argv: ['zcount', keys.ipFailed(ctx.ip), t - W_IP_FAILED, t] },
      distinctCount(iTag, keys.ipUsers(ctx.ip), t, W_IP_USERS),
      { tag: uTag, argv: ['zcount', keys.userChanges(ctx.user), t - W_USER_CHANGES, t] },
    );
    if (ctx.subnet !== undefined) {
      iSubnet = cmds.length;
      const sub = ctx.subnet;
      cmds.push({ tag: keys.subnetTag(sub), argv: ['zcount', keys.subnetFailed(sub), t - W_SUBNET_FAILED, t] });
    }
    if (ctx.device !== undefined) {
      iDevice = cmds.length;
      cmds.push(distinctCount(dTag, keys.deviceUsers(ctx.device), t, W_DEVICE_USERS));
    }
  }

  // rba: the user's counts (one ZMSCORE), each field's global count (own key, own slot), the global
  // total and distinct users; the user's total is the history hash's login count.
  let iRbaUser = -1;
  let iRbaTotal = -1;
  let iRbaLogins = -1;
  let iRbaMget = -1;
  const rbaGlobalAt: number[] = [];
  const rba = needs.rba ? ctx.rba : undefined;
  if (rba !== undefined) {
    const fields = rba.filter((f): f is string => f !== null);
    if (fields.length > 0) {
      iRbaUser = cmds.length;
      cmds.push({ tag: uTag, argv: ['zmscore', keys.userRba(ctx.user), ...fields] });
    }
    if (env.crossSlot) {
      iRbaMget = cmds.length;
      const argv: [CmdName, ...Arg[]] = ['mget', keys.rbaTotal];
      for (const f of fields) argv.push(keys.rbaField(f));
      cmds.push({ tag: keys.rbaGlobalTag, argv });
    } else {
      for (const f of rba) {
        if (f === null) {
          rbaGlobalAt.push(-1);
          continue;
        }
        rbaGlobalAt.push(cmds.length);
        cmds.push({ tag: keys.rbaFieldTag(f), argv: ['get', keys.rbaField(f)] });
      }
    }
    iRbaTotal = cmds.length;
    if (!env.crossSlot) cmds.push({ tag: keys.rbaGlobalTag, argv: ['get', keys.rbaTotal] });
    cmds.push({ tag: keys.rbaGlobalTag, argv: ['pfcount', keys.rbaUsers] });
    if (iHist < 0) {
      iRbaLogins = cmds.length;
      cmds.push({ tag: uTag, argv: ['hget', keys.userHistory(ctx.user), H_LOGINS] });
    }
  }

  // An ip probe asks, in one SMISMEMBER, for the address and every range that can hold it
  // (lists.ts ipProbeMembers): a CIDR entry matches without a second command or round trip.
  const probes = needs.probes ?? [];
  const iProbes = cmds.length;
  for (const p of probes) {
    const members = p.cidr === true ? ipProbeMembers(p.value) : null;
    cmds.push(members !== null ? { tag: p.key, argv: ['smismember', p.key, ...members] } : { tag: p.key, argv: ['sismember', p.key, p.value] });
  }

  // The linked sign-in's session record: one GET in the same pipeline (its own slot on Cluster).
  let iSession = -1;
  if (needs.session !== undefined) {
    iSession = cmds.length;
    cmds.push({ tag: keys.decisionTag(needs.session), argv: ['get', keys.session(needs.session)] });
  }

  const retentionFloor = t - env.limits.retentionDays * DAY;

  return {
    cmds,
    parse(r) {
      let history: HistorySignals | undefined;
      if (iHist >= 0 && known !== undefined) {
        const h = arr(r[iHist]);
        const scores = arr(r[iKnown]);
        const isKnown = (k: keyof KnownMembers): boolean | undefined => {
          const at = knownOrder.indexOf(k);
          if (at < 0) return undefined;
          const s = optNum(scores[at]);
          return s !== undefined && s >= retentionFloor;
        };
        const lat = optNum(h[3]);
        const lon = optNum(h[4]);
        const lastTime = optNum(h[1]);
        const lastCountry = optStr(h[2]);
        const lastRecovery = optNum(h[5]);
        // Absent for a recovery recorded before the flag existed: not known either way.
        const rc = optStr(h[6]);
        const lastRecoveryChallenged = lastRecovery === undefined || rc === undefined ? undefined : rc === '1';
        history = {
          logins: optNum(h[0]) ?? 0,
          ...(lastTime !== undefined ? { lastTime } : {}),
          ...(lastCountry !== undefined ? { lastCountry } : {}),
          ...(lastRecovery !== undefined ? { lastRecovery } : {}),
          ...(lastRecoveryChallenged !== undefined ? { lastRecoveryChallenged } : {}),
          ...(lat !== undefined && lon !== undefined ? { lastLat: lat, lastLon: lon } : {}),
          ...opt('knownIp', isKnown('ip')),
          ...opt('knownDevice', isKnown('device')),
          ...opt('knownCountry', isKnown('country')),
          ...opt('knownAsn', isKnown('asn')),
          ...opt('knownUa', isKnown('ua')),
          ...opt('knownSubnet', isKnown('subnet')),
        };
      }
      let velocity: VelocitySignals | undefined;
      if (iVel >= 0) {
        velocity = {
          userFailed1h: num(r[iVel]),
          userIps24h: num(r[iVel + 1]),
          userRecovery24h: num(r[iVel + 2]),
          ipFailed10m: num(r[iVel + 3]),
          ipFailed1h: num(r[iVel + 4]),
          ipUsers1h: num(r[iVel + 5]),
          userChanges24h: num(r[iVel + 6]),
          ...(iSubnet >= 0 ? { subnetFailed1h: num(r[iSubnet]) } : {}),
          ...(iDevice >= 0 ? { deviceUsers24h: num(r[iDevice]) } : {}),
        };
      }
      let rbaCounts: RbaCounts | undefined;
      if (rba !== undefined) {
        const userScores = iRbaUser >= 0 ? arr(r[iRbaUser]) : [];
        // With MGET: [total, field…]; otherwise one GET per field, then GET total, PFCOUNT users.
        const mget = iRbaMget >= 0 ? arr(r[iRbaMget]) : undefined;
        const user: number[] = [];
        const global: number[] = [];
        let j = 0;
        for (let i = 0; i < rba.length; i++) {
          if (rba[i] === null) {
            user.push(0);
            global.push(0);
            continue;
          }
          user.push(optNum(userScores[j]) ?? 0);
          global.push(optNum(mget ? mget[j + 1] : r[rbaGlobalAt[i] as number]) ?? 0);
          j++;
        }
        const logins = iHist >= 0 ? arr(r[iHist])[0] : r[iRbaLogins];
        rbaCounts = {
          userTotal: optNum(logins) ?? 0,
          globalTotal: optNum(mget ? mget[0] : r[iRbaTotal]) ?? 0,
          users: num(r[mget ? iRbaTotal : iRbaTotal + 1]),
          user,
          global,
        };
      }
      const answers: boolean[] = [];
      for (let i = 0; i < probes.length; i++) {
        const a = r[iProbes + i];
        answers.push(Array.isArray(a) ? a.some((hit) => num(hit) === 1) : num(a) === 1);
      }
      return {
        ...(history ? { history } : {}),
        ...(velocity ? { velocity } : {}),
        ...(rbaCounts ? { rba: rbaCounts } : {}),
        probes: answers,
        ...(iSession >= 0 ? { session: optStr(r[iSession]) ?? null } : {}),
      };
    },
  };
}

function opt<K extends string>(k: K, v: boolean | undefined): { [P in K]?: boolean } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: boolean };
}

export function isSuccess(outcome: Outcome): boolean {
  switch (outcome) {
    case 'succeeded':
    case 'challenge_passed':
      return true;
    case 'failed':
    case 'challenge_failed':
      return false;
    default:
      return assertNever(outcome, 'outcome');
  }
}

/** The writes of one outcome. */
export function planOutcome(env: PlanEnv, ctx: EventContext, outcome: Outcome, t: number): Cmd[] {
  const { keys, limits } = env;
  const cmds: Cmd[] = [];
  // An account change is not a sign-in: its outcome teaches neither the failure counters nor the
  // history (the change was counted when it was attempted; velocity.user_changes_24h).
  if (ctx.type === 'account_change') return cmds;
  const uTag = keys.userTag(ctx.user);
  if (!isSuccess(outcome)) {
    pushTimestamp(cmds, env, uTag, keys.userFailed(ctx.user), t, W_USER_FAILED);
    pushTimestamp(cmds, env, keys.ipTag(ctx.ip), keys.ipFailed(ctx.ip), t, W_IP_FAILED);
    if (ctx.subnet !== undefined) {
      pushTimestamp(cmds, env, keys.subnetTag(ctx.subnet), keys.subnetFailed(ctx.subnet), t, W_SUBNET_FAILED);
    }
    return cmds;
  }
  const retentionMs = limits.retentionDays * DAY;
  const hasPlace = ctx.lat !== undefined && ctx.lon !== undefined;
  cmds.push({
    tag: uTag,
    argv: [
      RECORD_LOGIN_COMMAND,
      keys.userHistory(ctx.user),
      t,
      ctx.country ?? '',
      hasPlace ? String(ctx.lat) : '',
      hasPlace ? String(ctx.lon) : '',
      retentionMs,
      ctx.type === 'recovery' ? (outcome === 'challenge_passed' ? '2' : '1') : '0',
    ],
  });
  const known = knownMembers(ctx);
  const kKey = keys.userKnown(ctx.user);
  // GT: a late outcome never moves a value's last-seen time backwards.
  const zadd: [CmdName, ...Arg[]] = ['zadd', kKey, 'GT'];
  for (const k of ['ip', 'device', 'country', 'asn', 'ua', 'subnet'] as const) {
    const m = known[k];
    if (m !== undefined) zadd.push(t, m);
  }
  cmds.push(
    { tag: uTag, argv: zadd },
    { tag: uTag, argv: ['zremrangebyscore', kKey, '-inf', `(${t - retentionMs}`] },
    { tag: uTag, argv: ['zremrangebyrank', kKey, 0, -(limits.maxKnown + 1)] },
    { tag: uTag, argv: ['pexpire', kKey, retentionMs] },
  );
  const fields = ctx.rba?.filter((f): f is string => f !== null) ?? [];
  if (fields.length > 0) {
    const rKey = keys.userRba(ctx.user);
    for (const f of fields) {
      cmds.push(
        { tag: uTag, argv: ['zincrby', rKey, 1, f] },
        { tag: keys.rbaFieldTag(f), argv: ['incr', keys.rbaField(f)] },
        { tag: keys.rbaFieldTag(f), argv: ['pexpire', keys.rbaField(f), retentionMs] },
      );
    }
    // Dropping the lowest counts first: a value the user rarely used barely moves the score.
    cmds.push(
      { tag: uTag, argv: ['zremrangebyrank', rKey, 0, -(limits.maxRbaFields + 1)] },
      { tag: uTag, argv: ['pexpire', rKey, retentionMs] },
    );
  }
  const g = keys.rbaGlobalTag;
  cmds.push(
    { tag: g, argv: ['incr', keys.rbaTotal] },
    { tag: g, argv: ['pexpire', keys.rbaTotal, retentionMs] },
    { tag: g, argv: ['pfadd', keys.rbaUsers, ctx.user] },
    { tag: g, argv: ['pexpire', keys.rbaUsers, retentionMs] },
  );
  return cmds;
}
