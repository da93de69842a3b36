// The ASN lookup built from ip-location-db's CSV ranges (`start,end,asn,organisation`, inclusive,
// sorted by start; the default ASN data, from the npm package @ip-location-db/asn). The table is
// compact: typed arrays of range bounds searched by binary search, and one interned
// (asn, organisation) pair per row, so half a million rows cost a few MB and no per-row objects.
// The loader scans the file's bytes instead of splitting strings: it runs at every start, and
// substrings of one big text would keep that whole text alive behind the interned names.
import ipaddr from 'ipaddr.js';

import { AsnCsvError } from '../errors.ts';

export { AsnCsvError };

export interface AsnTable {
  readonly rows4: number;
  readonly rows6: number;
  /** Distinct (asn, organisation) pairs. */
  readonly pairs: number;
  /**
   * The (asn, organisation) pair of the range holding these network-order bytes (4 or 16), or -1.
   * An index rather than an object so that a lookup allocates nothing.
   */
  find(bytes: Uint8Array): number;
  asnOf(pair: number): number;
  /** undefined when the source has no organisation for the AS. */
  orgOf(pair: number): string | undefined;
}

class Growable {
  data: Uint32Array;
  length = 0;
  constructor(initial: number) {
    this.data = new Uint32Array(Math.max(16, initial));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  done(): Uint32Array {
    return this.data.slice(0, this.length);
  }
}

const COMMA = 44;
const QUOTE = 34;
const DOT = 46;
const COLON = 58;
const LF = 10;
const CR = 13;

/** Strict dotted quad in buf[from, to) → unsigned 32-bit, or -1. */
function v4At(buf: Uint8Array, from: number, to: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let parts = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i] as number;
    if (c === DOT) {
      if (digits === 0 || parts === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      parts++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255) return -1;
      digits++;
    } else return -1;
  }
  if (digits === 0 || parts !== 3) return -1;
  return value * 256 + octet;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * IPv6 text in buf[from, to) → four big-endian 32-bit words in `out`; false when malformed. Handles
 * the plain hex forms the CSV uses; an embedded dotted IPv4 tail falls back to ipaddr.js.
 */
function v6At(buf: Uint8Array, from: number, to: number, out: Uint32Array, groups: Uint16Array): boolean {
  groups.fill(0);
  let head = 0; // groups before '::'
  let tail = 0; // groups after it
  let gap = false;
  let i = from;
  if (to - from >= 2 && buf[i] === COLON && buf[i + 1] === COLON) {
    gap = true;
    i += 2;
  }
  const tailGroups: number[] = [];
  while (i < to) {
    let v = 0;
    let n = 0;
    while (i < to && n < 5) {
      const h = hexVal(buf[i] as number);
      if (h < 0) break;
      v = v * 16 + h;
      n++;
      i++;
    }
    if (i < to && buf[i] === DOT) return v6Fallback(buf, from, to, out);
    if (n === 0 || n > 4) return false;
    if (gap) {
      tailGroups.push(v);
      tail++;
    } else groups[head++] = v;
    if (head + tail > 8) return false;
    if (i === to) break;
    if (buf[i] !== COLON) return false;
    i++;
    if (i < to && buf[i] === COLON) {
      if (gap) return false;
      gap = true;
      i++;
    } else if (i === to) return false; // trailing single ':'
  }
  if (gap ? head + tail > 7 : head !== 8) return false;
  for (let k = 0; k < tail; k++) groups[8 - tail + k] = tailGroups[k] as number;
  for (let k = 0; k < 4; k++) out[k] = (((groups[2 * k] as number) << 16) | (groups[2 * k + 1] as number)) >>> 0;
  return true;
}

function v6Fallback(buf: Uint8Array, from: number, to: number, out: Uint32Array): boolean {
  const s = Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString('latin1');
  if (s.includes('%') || !ipaddr.IPv6.isValid(s)) return false;
  const p = ipaddr.IPv6.parse(s).parts;
  for (let k = 0; k < 4; k++) out[k] = (((p[2 * k] as number) << 16) | (p[2 * k + 1] as number)) >>> 0;
  return true;
}

function sameBytes(buf: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let i = 0; i < aEnd - a; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

/** Compare row `i`'s four words with `key` (IPv6). */
function cmp6(words: Uint32Array, i: number, key: Uint32Array): number {
  const o = i * 4;
  for (let k = 0; k < 4; k++) {
    const a = words[o + k] as number;
    const b = key[k] as number;
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}

/**
 * Build the table from CSV bytes (or text) holding IPv4 rows, IPv6 rows or both (each row's family
 * is that of its start address). Throws AsnCsvError with the line number on a malformed row, a row
 * whose end precedes its start, or rows out of order (the binary search needs ascending starts;
 * where two ranges overlap, the later, more specific one wins).
 */
export function buildAsnTable(input: Uint8Array | string): AsnTable {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const pairByAsn = new Map<number, number>();
  const pairByKey = new Map<string, number>();
  const pairAsn = new Growable(1 << 12);
  const pairOrg: (string | undefined)[] = [];
  // Where each pair's organisation field first appeared in `buf` (only while building).
  const pairFrom = new Growable(1 << 12);
  const pairTo = new Growable(1 << 12);
  // Identical names under different ASNs share one string.
  const names = new Map<string, string>();

  // A helper closing over `buf` would move it into a heap context and slow the byte scan below.
  const newPair = (src: Uint8Array, asn: number, from: number, to: number, line: number): number => {
    let name: string | undefined;
    if (to > from) {
      const text = Buffer.from(src.buffer, src.byteOffset, src.byteLength);
      if (src[from] === QUOTE) {
        if (to - from < 2 || src[to - 1] !== QUOTE) throw new AsnCsvError('unterminated quoted organisation', line);
        name = text.toString('utf8', from + 1, to - 1).replaceAll('""', '"');
      } else name = text.toString('utf8', from, to);
      const shared = names.get(name);
      if (shared === undefined) names.set(name, name);
      else name = shared;
    }
    pairAsn.push(asn);
    pairOrg.push(name);
    pairFrom.push(from);
    pairTo.push(to);
    return pairOrg.length - 1;
  };

  const s4 = new Growable(1 << 16);
  const e4 = new Growable(1 << 16);
  const p4 = new Growable(1 << 16);
  const s6 = new Growable(1 << 16);
  const e6 = new Growable(1 << 16);
  const p6 = new Growable(1 << 14);
  let last4 = -1;
  const last6 = new Uint32Array(4);
  let have6 = false;
  const a6 = new Uint32Array(4);
  const b6 = new Uint32Array(4);
  const groups = new Uint16Array(8);

  let line = 0;
  let pos = 0;
  const len = buf.length;
  while (pos < len) {
    // One pass over the row finds its end and its first three commas (the organisation may hold more).
    const start = pos;
    let c1 = -1;
    let c2 = -1;
    let c3 = -1;
    let i = pos;
    for (; i < len; i++) {
      const c = buf[i] as number;
      if (c === LF) break;
      if (c === COMMA && c3 < 0) {
        if (c1 < 0) c1 = i;
        else if (c2 < 0) c2 = i;
        else c3 = i;
      }
    }
    let end = i;
    if (end > start && buf[end - 1] === CR) end--;
    pos = i + 1;
    line++;
    if (end === start) continue;
    if (c3 < 0 || c3 >= end) throw new AsnCsvError('expected start,end,asn,organisation', line);

    let asn = 0;
    if (c3 - c2 - 1 < 1 || c3 - c2 - 1 > 10) throw new AsnCsvError('bad AS number', line);
    for (let i = c2 + 1; i < c3; i++) {
      const c = buf[i] as number;
      if (c < 48 || c > 57) throw new AsnCsvError('bad AS number', line);
      asn = asn * 10 + (c - 48);
    }
    if (asn > 0xffffffff) throw new AsnCsvError('bad AS number', line);

    // Most ASNs carry one organisation name throughout the file, so a row is matched to its
    // (asn, organisation) pair by number and a byte comparison with that pair's first row; only
    // new pairs, and ASNs seen with several names, decode strings.
    const orgFrom = c3 + 1;
    let pair = pairByAsn.get(asn);
    if (pair !== undefined && !sameBytes(buf, pairFrom.data[pair] as number, pairTo.data[pair] as number, orgFrom, end)) {
      const key = `${asn}\u0000${buf.toString('latin1', orgFrom, end)}`;
      pair = pairByKey.get(key);
      if (pair === undefined) {
        pair = newPair(buf, asn, orgFrom, end, line);
        pairByKey.set(key, pair);
      }
    }
    if (pair === undefined) {
      pair = newPair(buf, asn, orgFrom, end, line);
      pairByAsn.set(asn, pair);
    }

    let v6 = false;
    for (let i = start; i < c1; i++) if (buf[i] === COLON) v6 = true;
    if (!v6) {
      const a = v4At(buf, start, c1);
      const b = v4At(buf, c1 + 1, c2);
      if (a < 0 || b < 0) throw new AsnCsvError('bad IPv4 range bound', line);
      if (b < a) throw new AsnCsvError('range ends before it starts', line);
      if (a < last4) throw new AsnCsvError('rows are not sorted by start address', line);
      last4 = a;
      s4.push(a);
      e4.push(b);
      p4.push(pair);
    } else {
      if (!v6At(buf, start, c1, a6, groups) || !v6At(buf, c1 + 1, c2, b6, groups)) throw new AsnCsvError('bad IPv6 range bound', line);
      const idx = s6.length / 4;
      for (let k = 0; k < 4; k++) s6.push(a6[k] as number);
      for (let k = 0; k < 4; k++) e6.push(b6[k] as number);
      if (cmp6(e6.data, idx, a6) < 0) throw new AsnCsvError('range ends before it starts', line);
      if (have6 && cmp6(s6.data, idx, last6) < 0) throw new AsnCsvError('rows are not sorted by start address', line);
      last6.set(a6);
      have6 = true;
      p6.push(pair);
    }
  }

  const n4 = p4.length;
  const starts4 = s4.done();
  const ends4 = e4.done();
  const pair4 = p4.done();
  const n6 = p6.length;
  const starts6 = s6.done();
  const ends6 = e6.done();
  const pair6 = p6.done();
  const asns = pairAsn.done();
  const key6 = new Uint32Array(4);

  return {
    rows4: n4,
    rows6: n6,
    pairs: asns.length,
    asnOf: (pair) => asns[pair] as number,
    orgOf: (pair) => pairOrg[pair],
    find(bytes: Uint8Array): number {
      if (bytes.length === 4) {
        const ip = (((bytes[0] as number) << 24) | ((bytes[1] as number) << 16) | ((bytes[2] as number) << 8) | (bytes[3] as number)) >>> 0;
        // the last row whose start <= ip
        let lo = 0;
        let hi = n4 - 1;
        let found = -1;
        while (lo <= hi) {
          const mid = (lo + hi) >>> 1;
          if ((starts4[mid] as number) <= ip) {
            found = mid;
            lo = mid + 1;
          } else hi = mid - 1;
        }
        if (found < 0 || ip > (ends4[found] as number)) return -1;
        return pair4[found] as number;
      }
      if (bytes.length !== 16) return -1;
      for (let k = 0; k < 4; k++) {
        const o = k * 4;
        key6[k] = (((bytes[o] as number) << 24) | ((bytes[o + 1] as number) << 16) | ((bytes[o + 2] as number) << 8) | (bytes[o + 3] as number)) >>> 0;
      }
      let lo = 0;
      let hi = n6 - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (cmp6(starts6, mid, key6) <= 0) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (found < 0 || cmp6(ends6, found, key6) < 0) return -1;
      return pair6[found] as number;
    },
  };
}
