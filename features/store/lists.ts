// Live lists: the `list x: T = redis "NAME"` sets that operators and responders change at run time
// (GET/POST/DELETE /v1/lists/:name). This file owns what an entry of each kind may be and its
// canonical text, the candidate members one `ip` probe asks for (so that a CIDR entry matches every
// address inside it in the same single command), the expiry key beside each set, the Lua that adds,
// removes and sweeps entries atomically, and the bounds (LIST_LIMITS, the one place they are set).
// Layout, cost per event and expiry: docs/signals.md § Live lists.
import { isWellFormed, utf8Bytes } from '../../common/text.ts';
import { formatV6Groups } from '../../dsl/iplist.ts';
import { parseIp } from '../ip.ts';
import { DAY } from './keys.ts';

export type ListKind = 'ip' | 'string' | 'number';
export const LIST_KINDS: readonly ListKind[] = ['ip', 'string', 'number'];

export const LIST_LIMITS = Object.freeze({
  /** Entries one list may hold through the API (an add that would pass it is refused whole). */
  maxEntries: 100_000,
  /** Entries one POST or DELETE may carry. */
  maxPerRequest: 1000,
  /** UTF-8 bytes of one `string` entry (the longest feature value, a user agent, is 1024 bytes). */
  maxStringLength: 1024,
  /** A `ttl` shorter than the sweep interval could not be honoured. */
  minTtlMs: 1000,
  maxTtlMs: 365 * DAY,
  /** How often each instance removes expired entries. */
  sweepIntervalMs: 1000,
  /** Expired entries one sweep call removes at most (the sweeper calls again while it is full). */
  sweepBatch: 1000,
});

/** Prefix lengths an IPv4 range entry may have; /32 is stored as the bare address. */
export const IPV4_PREFIXES: readonly number[] = Array.from({ length: 25 }, (_, i) => 32 - i); // 32 … 8
/**
 * Prefix lengths an IPv6 range entry may have: the nibble boundaries from /64 (one LAN) to /16,
 * where providers and registries draw their lines (/64 … /56, /48 sites, /32 providers), plus /128,
 * stored as the bare address. Every length costs one more member in every ip probe, so the set is
 * bounded rather than all 129.
 */
export const IPV6_PREFIXES: readonly number[] = [128, 64, 60, 56, 52, 48, 44, 40, 36, 32, 28, 24, 20, 16];

export type EntryParse = { readonly ok: true; readonly value: string } | { readonly ok: false; readonly reason: string };

const DECIMAL = /^-?(0|[1-9]\d{0,20})(\.\d{1,20})?$/;

/**
 * One entry of a list of `kind`, as its canonical text (what Redis holds and probes ask for), or
 * why it cannot be one. ip: an address or a CIDR range without host bits set, IPv4 /8–/32, IPv6
 * /16–/64 on a nibble boundary or /128; ranges of one address become the address; IPv4-mapped IPv6
 * is IPv4. number: a finite JSON number or a decimal string, as JavaScript prints it (`String(n)`,
 * what a probe of a number feature sends). string: 1 to maxStringLength UTF-8 bytes of well-formed
 * Unicode, as given.
 */
export function parseListEntry(kind: ListKind, raw: unknown): EntryParse {
  switch (kind) {
    case 'string':
      if (typeof raw !== 'string') return { ok: false, reason: 'must be a string' };
      // A lone surrogate cannot be encoded as UTF-8: Redis would hold U+FFFD instead of what was sent.
      if (!isWellFormed(raw)) return { ok: false, reason: 'is not valid Unicode (a lone surrogate)' };
      if (raw.length === 0 || utf8Bytes(raw) > LIST_LIMITS.maxStringLength) {
        return { ok: false, reason: `must be 1-${LIST_LIMITS.maxStringLength} bytes (UTF-8)` };
      }
      return { ok: true, value: raw };
    case 'number': {
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string' && DECIMAL.test(raw)) n = Number(raw);
      else return { ok: false, reason: 'must be a number' };
      if (!Number.isFinite(n)) return { ok: false, reason: 'must be a finite number' };
      return { ok: true, value: String(n) };
    }
    case 'ip':
      if (typeof raw !== 'string') return { ok: false, reason: 'must be an IP address or CIDR range as a string' };
      return parseIpEntry(raw);
    default:
      return { ok: false, reason: `unknown list kind ${String(kind)}` };
  }
}

const PREFIX_TEXT = /^(0|[1-9]\d{0,2})$/;

function parseIpEntry(s: string): EntryParse {
  const slash = s.indexOf('/');
  const addrText = slash < 0 ? s : s.slice(0, slash);
  const p = parseIp(addrText);
  if (p === null) return { ok: false, reason: `\`${short(s)}\` is not an IPv4 or IPv6 address or CIDR range` };
  if (slash < 0) return { ok: true, value: p.address };
  const lenText = s.slice(slash + 1);
  if (!PREFIX_TEXT.test(lenText)) return { ok: false, reason: `\`${short(s)}\` has a bad prefix length` };
  let len = Number(lenText);
  const writtenV6 = addrText.includes(':');
  if (p.family === 4 && writtenV6) {
    // `::ffff:a.b.c.d/120` is the IPv4 range a.b.c.d/24.
    if (len < 96 || len > 128) return { ok: false, reason: `\`${short(s)}\`: an IPv4-mapped range needs a prefix of /96 to /128` };
    len -= 96;
  }
  const bits = p.family === 4 ? 32 : 128;
  if (len > bits) return { ok: false, reason: `\`${short(s)}\` has a bad prefix length (0-${bits})` };
  const allowed = p.family === 4 ? IPV4_PREFIXES : IPV6_PREFIXES;
  if (!allowed.includes(len)) {
    return {
      ok: false,
      reason:
        p.family === 4
          ? `\`${short(s)}\`: IPv4 ranges may be /8 to /32`
          : `\`${short(s)}\`: IPv6 ranges may be /16 to /64 in steps of 4, or /128`,
    };
  }
  const net = masked(p.bytes, len);
  if (!net.every((b, i) => b === p.bytes[i])) {
    return { ok: false, reason: `\`${short(s)}\` has host bits set (the range is ${format(net, p.family)}/${len})` };
  }
  return { ok: true, value: len === bits ? p.address : `${p.address}/${len}` };
}

const short = (s: string): string => (s.length > 64 ? `${s.slice(0, 61)}...` : s);

function masked(bytes: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, len - 8 * i));
    out[i] = (bytes[i] as number) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

function format(bytes: Uint8Array, family: 4 | 6): string {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const g = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = ((bytes[2 * i] as number) << 8) | (bytes[2 * i + 1] as number);
  return formatV6(g);
}

/** RFC 5952 text of eight 16-bit groups (the language's own spelling, dsl/iplist.ts). */
export const formatV6 = formatV6Groups;

// One event may probe several ip lists with the same address: the members are computed once.
let memoAddress: string | undefined;
let memoMembers: readonly string[] | null = null;

/**
 * The members one `ip` probe asks a list for, all in one SMISMEMBER: the address itself, then every
 * range that can hold it — IPv4: the address as /32 and its networks /31 … /8 (26 members); IPv6:
 * /128 and its networks at IPV6_PREFIXES (15 members). Any hit is a match. null when `address` is
 * not an address (the probe then asks for it verbatim).
 */
export function ipProbeMembers(address: string): readonly string[] | null {
  if (address === memoAddress) return memoMembers;
  const p = parseIp(address);
  let out: string[] | null = null;
  if (p !== null) {
    out = [p.address];
    const b = p.bytes;
    if (p.family === 4) {
      const v = (((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) >>> 0;
      for (const len of IPV4_PREFIXES) {
        const n = len === 32 ? v : (v & (0xffffffff << (32 - len))) >>> 0;
        out.push(`${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}/${len}`);
      }
    } else {
      const g = new Array<number>(8);
      for (const len of IPV6_PREFIXES) {
        for (let i = 0; i < 8; i++) {
          const keep = Math.max(0, Math.min(16, len - 16 * i));
          const word = ((b[2 * i] as number) << 8) | (b[2 * i + 1] as number);
          g[i] = keep === 16 ? word : keep === 0 ? 0 : word & ((0xffff << (16 - keep)) & 0xffff);
        }
        out.push(`${formatV6(g)}/${len}`);
      }
    }
  }
  memoAddress = address;
  memoMembers = out;
  return out;
}

/** Suffix of the sorted set of expiries kept beside a list's set. */
export const EXPIRY_SUFFIX = ':expires';

/**
 * The key of the sorted set (member → expiry ms) beside list `name`, in the same Redis Cluster slot
 * so one script can change both: `NAME:expires` when NAME has a hash tag (the tag is kept),
 * otherwise `{NAME}:expires` (a tag of the whole name hashes as the name does). null for a name
 * holding a `}` outside a hash tag (`a}b`, `a{}b`): no key can share its slot by construction, so
 * such a list takes only entries without a ttl.
 */
export function expiryKey(name: string): string | null {
  const open = name.indexOf('{');
  if (open >= 0) {
    const close = name.indexOf('}', open + 1);
    if (close > open + 1) return name + EXPIRY_SUFFIX;
  }
  if (name.includes('}')) return null;
  return `{${name}}${EXPIRY_SUFFIX}`;
}

/**
 * Add members (distinct, canonical). KEYS[1] the set, KEYS[2] its expiry set (KEYS[1] again when the
 * list has none). ARGV[1] the entry bound, ARGV[2] the expiry ms or '' (permanent: the last add
 * decides an entry's expiry), ARGV[3…] members. Refused whole, nothing written, when new members
 * would take the set past the bound. Answers {added, size}, or {-1, size} when refused.
 */
export const LIST_ADD_COMMAND = 'vigillistadd';
export const LIST_ADD_LUA = `
local size = redis.call('SCARD', KEYS[1])
local fresh = 0
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 0 then fresh = fresh + 1 end
end
if fresh > 0 and size + fresh > tonumber(ARGV[1]) then return { -1, size } end
for i = 3, #ARGV do
  redis.call('SADD', KEYS[1], ARGV[i])
  if ARGV[2] ~= '' then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[i])
  elseif KEYS[2] ~= KEYS[1] then redis.call('ZREM', KEYS[2], ARGV[i]) end
end
return { fresh, size + fresh }
`;

/** Remove members from the set and their expiries. KEYS as LIST_ADD. Answers how many were in the set. */
export const LIST_REMOVE_COMMAND = 'vigillistremove';
export const LIST_REMOVE_LUA = `
local n = 0
for i = 1, #ARGV do
  n = n + redis.call('SREM', KEYS[1], ARGV[i])
  if KEYS[2] ~= KEYS[1] then redis.call('ZREM', KEYS[2], ARGV[i]) end
end
return n
`;

/**
 * Remove the members whose expiry is at or before ARGV[1] (ms), at most ARGV[2] of them, from the
 * set and the expiry set, atomically: an entry re-added meanwhile (new expiry, or none) is never
 * swept by an old one. KEYS[1] the set, KEYS[2] the expiry set. Answers how many were due.
 */
export const LIST_SWEEP_COMMAND = 'vigillistsweep';
export const LIST_SWEEP_LUA = `
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due do
  redis.call('SREM', KEYS[1], due[i])
  redis.call('ZREM', KEYS[2], due[i])
end
return #due
`;

/** The list scripts with their key counts, for the backends that define or inline them. */
export const LIST_SCRIPTS: readonly { readonly name: string; readonly lua: string; readonly keys: number }[] = [
  { name: LIST_ADD_COMMAND, lua: LIST_ADD_LUA, keys: 2 },
  { name: LIST_REMOVE_COMMAND, lua: LIST_REMOVE_LUA, keys: 2 },
  { name: LIST_SWEEP_COMMAND, lua: LIST_SWEEP_LUA, keys: 2 },
];

/** A `ttl` a client may ask for, in ms, within LIST_LIMITS. */
export function ttlAllowed(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= LIST_LIMITS.minTtlMs && ms <= LIST_LIMITS.maxTtlMs;
}
