// IP addresses, CIDR ranges and IpSet, the membership structure behind `ip in list` (inline, `file`
// and CIDR literals). Owns the language's one IP parser: parseIpOrCidr (compile time, literals and
// list entries), canonicalIp (the text form ips compare and are looked up by in Redis) and IpSet.
//
// Choices (to be copied into docs/dsl.md):
//  - IPv4 is strict dotted decimal: four parts, no leading zeros ("010.0.0.1" is ambiguous, octal to
//    some parsers, so it is rejected), no shorthand forms ("10.1", "0x0a.0.0.1").
//  - IPv6 follows RFC 4291 text forms (`::` once, 1-4 hex digits a group, a trailing dotted quad).
//    Zone ids (`fe80::1%eth0`) are rejected: they name an interface of the host, not an address.
//  - Canonical text: IPv4 dotted decimal; IPv6 RFC 5952 (lowercase, no leading zeros, the longest
//    run of two or more zero groups shortened to `::`). An IPv4-mapped IPv6 address
//    (`::ffff:1.2.3.4`, also written `::ffff:102:304`) IS that IPv4 address: its canonical text is
//    `1.2.3.4`, and a mapped CIDR with a prefix of 96 or more is the IPv4 range it maps.
//  - A CIDR with host bits set (`10.1.2.3/8`) parses as its network (`10.0.0.0/8`) with `hostBits`
//    set: the checker refuses it in a pack (dsl.md §3, v1.1: E_LITERAL, E_LIST_SOURCE in a file list),
//    since it usually means a mistyped address or prefix; IpSet.from takes it as the network, as
//    routers and firewalls do. A one-address CIDR (`/32`, `/128`) stays a CIDR (isCidr: true).
//  - An IPv6 range that covers part of ::ffff:0:0/96 (e.g. `::/0`) also contains those IPv4
//    addresses, since they are the same addresses.
//
// IpSet keeps merged, sorted, disjoint inclusive intervals in typed arrays (IPv4 as uint32, IPv6 as
// four uint32 words a bound) and answers `has` by binary search, O(log n). `has` parses its
// argument by hand into module-level scratch words, so a lookup allocates nothing. BigInt is used
// only while building.

const V4_MAPPED_HI = 0xffff; // word 2 of ::ffff:a.b.c.d

/** Scratch output of parseAddr: the IPv4 value, or the four 32-bit words of an IPv6 address. */
let scratchV4 = 0;
const scratchV6 = new Uint32Array(4);
const groups = new Uint16Array(8);

const enum Kind {
  Invalid = 0,
  V4 = 4,
  V6 = 6,
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Strict dotted-quad IPv4 in s[from, to); the address as a uint32 number, or -1. One pass. */
function parseV4(s: string, from: number, to: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let lead = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || digits === 3) return -1;
    if (digits === 0) lead = d;
    else if (lead === 0) return -1; // a leading zero
    octet = octet * 10 + d;
    digits++;
    if (octet > 255) return -1;
  }
  return digits === 0 || dots !== 3 ? -1 : value * 256 + octet;
}

/** IPv6 in s[from, to) into scratchV6; false when malformed. */
function parseV6(s: string, from: number, to: number): boolean {
  let n = 0;
  let gap = -1;
  let i = from;
  if (i < to && s.charCodeAt(i) === 58) {
    if (i + 1 >= to || s.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
  }
  while (i < to) {
    const start = i;
    let g = 0;
    while (i < to && i - start < 5) {
      const h = hexVal(s.charCodeAt(i));
      if (h < 0) break;
      g = g * 16 + h;
      i++;
    }
    if (i < to && s.charCodeAt(i) === 46) {
      // A trailing dotted quad fills the last two groups.
      if (n > 6) return false;
      const v4 = parseV4(s, start, to);
      if (v4 < 0) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      i = to;
      break;
    }
    const len = i - start;
    if (len === 0 || len > 4 || n >= 8) return false;
    groups[n++] = g;
    if (i === to) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < to && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === to) return false; // a trailing single ':'
  }
  if (gap < 0) {
    if (n !== 8) return false;
  } else {
    // `::` stands for at least one zero group.
    if (n > 7) return false;
    const tail = n - gap;
    const zeros = 8 - n;
    for (let k = tail - 1; k >= 0; k--) groups[gap + zeros + k] = groups[gap + k]!;
    for (let k = 0; k < zeros; k++) groups[gap + k] = 0;
  }
  for (let w = 0; w < 4; w++) scratchV6[w] = ((groups[2 * w]! << 16) | groups[2 * w + 1]!) >>> 0;
  return true;
}

/**
 * Parse an address in s[from, to). IPv4 (and IPv4-mapped IPv6) → Kind.V4 with scratchV4 set; other
 * IPv6 → Kind.V6 with scratchV6 set.
 */
function parseAddr(s: string, from: number, to: number): Kind {
  // The first ':' or '.' decides the family: it is within the first five characters of either form.
  for (let i = from; i < to && i < from + 5; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      const v = parseV4(s, from, to);
      if (v < 0) return Kind.Invalid;
      scratchV4 = v;
      return Kind.V4;
    }
    if (c === 58) break;
  }
  if (!parseV6(s, from, to)) return Kind.Invalid;
  if (scratchV6[0] === 0 && scratchV6[1] === 0 && scratchV6[2] === V4_MAPPED_HI) {
    scratchV4 = scratchV6[3]!;
    return Kind.V4;
  }
  return Kind.V6;
}

function formatV4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** RFC 5952 text of an IPv6 address given as four 32-bit words. */
function formatV6(w: ArrayLike<number>): string {
  const g: number[] = [];
  for (let k = 0; k < 4; k++) g.push(w[k]! >>> 16, w[k]! & 0xffff);
  return formatV6Groups(g);
}

/**
 * RFC 5952 text of eight 16-bit groups: lowercase, no leading zeros, the longest run (≥ 2) of zero
 * groups as `::`. Shared with the signal store's live lists, so a range is spelt one way everywhere.
 */
export function formatV6Groups(g: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (g[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && g[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  const hex = (a: number, b: number): string =>
    g
      .slice(a, b)
      .map((x) => x.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

function parsePrefix(s: string, from: number, to: number, max: number): number {
  const len = to - from;
  if (len === 0 || len > 3 || (len > 1 && s.charCodeAt(from) === 48)) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c)) return -1;
    v = v * 10 + (c - 48);
  }
  return v <= max ? v : -1;
}

const MASK128 = (1n << 128n) - 1n;

function wordsToBig(w: ArrayLike<number>): bigint {
  return (BigInt(w[0]!) << 96n) | (BigInt(w[1]!) << 64n) | (BigInt(w[2]!) << 32n) | BigInt(w[3]!);
}

function bigToWords(v: bigint, out: Uint32Array, at: number): void {
  out[at] = Number((v >> 96n) & 0xffffffffn);
  out[at + 1] = Number((v >> 64n) & 0xffffffffn);
  out[at + 2] = Number((v >> 32n) & 0xffffffffn);
  out[at + 3] = Number(v & 0xffffffffn);
}

/** A parsed entry as an inclusive interval of its family. */
type Interval = { v6: false; lo: number; hi: number } | { v6: true; lo: bigint; hi: bigint };

type ParsedEntry = { ok: true; canonical: string; isCidr: boolean; hostBits: boolean; range: Interval } | { ok: false; reason: string };

function parseEntry(s: string): ParsedEntry {
  if (typeof s !== 'string' || s.length === 0) return { ok: false, reason: 'empty' };
  if (s.length > 64) return { ok: false, reason: 'too long for an IP address or CIDR range' };
  if (s.indexOf('%') >= 0) return { ok: false, reason: 'zone ids (`%…`) are not allowed' };
  const slash = s.indexOf('/');
  const end = slash < 0 ? s.length : slash;
  const kind = parseAddr(s, 0, end);
  if (kind === Kind.Invalid) return { ok: false, reason: 'not an IPv4 or IPv6 address' };
  // Whether the text was written as IPv6 matters for a mapped CIDR's prefix length.
  const writtenV6 = s.lastIndexOf(':', end) >= 0;
  if (slash < 0) {
    if (kind === Kind.V4) {
      return { ok: true, canonical: formatV4(scratchV4), isCidr: false, hostBits: false, range: { v6: false, lo: scratchV4, hi: scratchV4 } };
    }
    const v = wordsToBig(scratchV6);
    return { ok: true, canonical: formatV6(scratchV6), isCidr: false, hostBits: false, range: { v6: true, lo: v, hi: v } };
  }
  const prefix = parsePrefix(s, slash + 1, s.length, writtenV6 ? 128 : 32);
  if (prefix < 0) return { ok: false, reason: `bad prefix length (0-${writtenV6 ? 128 : 32})` };
  if (kind === Kind.V4 && (!writtenV6 || prefix >= 96)) {
    const p = writtenV6 ? prefix - 96 : prefix;
    const size = 2 ** (32 - p);
    const lo = Math.floor(scratchV4 / size) * size;
    return { ok: true, canonical: `${formatV4(lo)}/${p}`, isCidr: true, hostBits: lo !== scratchV4, range: { v6: false, lo, hi: lo + size - 1 } };
  }
  // An IPv6 range (possibly a short-prefix range that covers the mapped block).
  const addr = kind === Kind.V4 ? (0xffffn << 32n) | BigInt(scratchV4) : wordsToBig(scratchV6);
  const hostBits = BigInt(128 - prefix);
  const hostMask = (1n << hostBits) - 1n;
  const lo = addr & (MASK128 ^ hostMask);
  const words = new Uint32Array(4);
  bigToWords(lo, words, 0);
  return { ok: true, canonical: `${formatV6(words)}/${prefix}`, isCidr: true, hostBits: lo !== addr, range: { v6: true, lo, hi: lo | hostMask } };
}

/**
 * Parse an address or CIDR range (literals, list entries). `canonical` is the normalized text
 * (see the header); `isCidr` is true when the text had a prefix length, `hostBits` when that range
 * was written with host bits set (`canonical` is then its network).
 */
export function parseIpOrCidr(
  s: string,
): { ok: true; canonical: string; isCidr: boolean; hostBits: boolean } | { ok: false; reason: string } {
  const p = parseEntry(s);
  return p.ok ? { ok: true, canonical: p.canonical, isCidr: p.isCidr, hostBits: p.hostBits } : p;
}

/** The canonical text of a single address (not a range), or undefined when `s` is not one. */
export function canonicalIp(s: string): string | undefined {
  if (typeof s !== 'string' || s.length === 0 || s.length > 64) return undefined;
  const kind = parseAddr(s, 0, s.length);
  if (kind === Kind.V4) return formatV4(scratchV4);
  if (kind === Kind.V6) return formatV6(scratchV6);
  return undefined;
}

const MAPPED_LO = 0xffffn << 32n;
const MAPPED_HI = MAPPED_LO | 0xffffffffn;

/** A set of IPv4 and IPv6 addresses and ranges, built once, queried per event. */
export class IpSet {
  /** Merged disjoint IPv4 intervals, sorted, inclusive. */
  private readonly v4lo: Uint32Array;
  private readonly v4hi: Uint32Array;
  /** Merged disjoint IPv6 intervals, four words a bound. */
  private readonly v6lo: Uint32Array;
  private readonly v6hi: Uint32Array;
  /** The number of disjoint ranges after merging overlapping and adjacent entries (IPv4 + IPv6). */
  readonly size: number;

  private constructor(v4: readonly [number, number][], v6: readonly [bigint, bigint][]) {
    this.v4lo = Uint32Array.from(v4, (r) => r[0]);
    this.v4hi = Uint32Array.from(v4, (r) => r[1]);
    this.v6lo = new Uint32Array(v6.length * 4);
    this.v6hi = new Uint32Array(v6.length * 4);
    v6.forEach((r, i) => {
      bigToWords(r[0], this.v6lo, i * 4);
      bigToWords(r[1], this.v6hi, i * 4);
    });
    this.size = v4.length + v6.length;
  }

  /** Build a set; invalid entries are skipped and reported with their index. */
  static from(entries: readonly string[]): { set: IpSet; errors: { index: number; entry: string; reason: string }[] } {
    const errors: { index: number; entry: string; reason: string }[] = [];
    const v4: [number, number][] = [];
    const v6: [bigint, bigint][] = [];
    entries.forEach((entry, index) => {
      const p = parseEntry(entry);
      if (!p.ok) {
        errors.push({ index, entry: String(entry), reason: p.reason });
        return;
      }
      const r = p.range;
      if (!r.v6) {
        v4.push([r.lo, r.hi]);
        return;
      }
      v6.push([r.lo, r.hi]);
      // The part of an IPv6 range inside ::ffff:0:0/96 is those IPv4 addresses.
      const lo = r.lo > MAPPED_LO ? r.lo : MAPPED_LO;
      const hi = r.hi < MAPPED_HI ? r.hi : MAPPED_HI;
      if (lo <= hi) v4.push([Number(lo & 0xffffffffn), Number(hi & 0xffffffffn)]);
    });
    return { set: new IpSet(mergeNumbers(v4), mergeBig(v6)), errors };
  }

  /** Is `ip` in the set? undefined when `ip` is not a valid address (a CIDR is not an address). */
  has(ip: string): boolean | undefined {
    if (typeof ip !== 'string' || ip.length === 0 || ip.length > 64) return undefined;
    const kind = parseAddr(ip, 0, ip.length);
    if (kind === Kind.V4) return this.hasV4(scratchV4);
    if (kind === Kind.V6) return this.hasV6();
    return undefined;
  }

  private hasV4(x: number): boolean {
    const lo = this.v4lo;
    // The last interval whose start is <= x.
    let a = 0;
    let b = lo.length - 1;
    let found = -1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      if (lo[m]! <= x) {
        found = m;
        a = m + 1;
      } else b = m - 1;
    }
    return found >= 0 && x <= this.v4hi[found]!;
  }

  private hasV6(): boolean {
    const lo = this.v6lo;
    let a = 0;
    let b = lo.length / 4 - 1;
    let found = -1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      if (cmpWords(lo, m * 4) <= 0) {
        found = m;
        a = m + 1;
      } else b = m - 1;
    }
    return found >= 0 && cmpWords(this.v6hi, found * 4) >= 0;
  }
}

/** Compare arr[at..at+4) with scratchV6: negative when the array bound is smaller. */
function cmpWords(arr: Uint32Array, at: number): number {
  for (let k = 0; k < 4; k++) {
    const d = arr[at + k]! - scratchV6[k]!;
    if (d !== 0) return d;
  }
  return 0;
}

function mergeNumbers(rs: [number, number][]): [number, number][] {
  rs.sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const r of rs) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) {
      if (r[1] > last[1]) last[1] = r[1];
    } else out.push([r[0], r[1]]);
  }
  return out;
}

function mergeBig(rs: [bigint, bigint][]): [bigint, bigint][] {
  rs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const out: [bigint, bigint][] = [];
  for (const r of rs) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1n) {
      if (r[1] > last[1]) last[1] = r[1];
    } else out.push([r[0], r[1]]);
  }
  return out;
}

// Exported for tests that compare against a reference: an address as a 128-bit integer in the
// IPv4-mapped space (IPv4 a.b.c.d ↦ ::ffff:a.b.c.d), or undefined.
export function ipToBigInt(s: string): bigint | undefined {
  const kind = parseAddr(s, 0, s.length);
  if (kind === Kind.V4) return MAPPED_LO | BigInt(scratchV4);
  if (kind === Kind.V6) return wordsToBig(scratchV6);
  return undefined;
}
