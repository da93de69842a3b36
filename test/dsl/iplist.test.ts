// Tests for dsl/iplist.ts: address/CIDR parsing and canonical text (checked against node:net and
// ipaddr.js as references), IpSet range edges, merging, IPv4-mapped IPv6, error reporting, and a
// 100k-entry set checked against a brute-force scan.
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpSet, canonicalIp, ipToBigInt, parseIpOrCidr } from '../../dsl/iplist.ts';

const MAPPED = 0xffffn << 32n;

/** Reference: an address as a 128-bit integer via ipaddr.js (IPv4 in the mapped space). */
function refBig(s: string): bigint {
  const a = ipaddr.parse(s);
  const bytes = a.kind() === 'ipv4' ? (a as ipaddr.IPv4).toIPv4MappedAddress().toByteArray() : a.toByteArray();
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

function refRange(entry: string): [bigint, bigint] {
  if (!entry.includes('/')) {
    const v = refBig(entry);
    return [v, v];
  }
  const [addr, bits] = ipaddr.parseCIDR(entry);
  const prefix = addr.kind() === 'ipv4' ? bits + 96 : bits;
  const host = (1n << BigInt(128 - prefix)) - 1n;
  const lo = refBig(addr.toString()) & ~host & ((1n << 128n) - 1n);
  return [lo, lo | host];
}

function v4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function v6(b: bigint): string {
  const groups: string[] = [];
  for (let k = 7; k >= 0; k--) groups.push(((b >> BigInt(16 * k)) & 0xffffn).toString(16));
  return groups.join(':');
}

/** A deterministic PRNG for the large set (fast-check drives the queries). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('parseIpOrCidr and canonicalIp', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4', false],
    ['0.0.0.0', '0.0.0.0', false],
    ['255.255.255.255', '255.255.255.255', false],
    ['::ffff:1.2.3.4', '1.2.3.4', false],
    ['::FFFF:102:304', '1.2.3.4', false],
    ['2001:DB8::0001', '2001:db8::1', false],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', false],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1', false],
    ['1:0:0:0:0:0:0:0', '1::', false],
    ['::', '::', false],
    ['::1.2.3.4', '::102:304', false],
    ['10.0.0.0/8', '10.0.0.0/8', true],
    ['10.1.2.3/8', '10.0.0.0/8', true],
    ['1.2.3.4/32', '1.2.3.4/32', true],
    ['0.0.0.0/0', '0.0.0.0/0', true],
    ['::/0', '::/0', true],
    ['2001:db8::1/128', '2001:db8::1/128', true],
    ['2001:db8:ffff::/32', '2001:db8::/32', true],
    ['::ffff:10.0.0.0/104', '10.0.0.0/8', true],
  ])('%s → %s', (input, canonical, isCidr) => {
    expect(parseIpOrCidr(input)).toMatchObject({ ok: true, canonical, isCidr });
    expect(canonicalIp(input)).toBe(isCidr ? undefined : canonical);
  });

  it.each([
    ['10.1.2.3/8', true],
    ['10.0.0.0/8', false],
    ['1.2.3.4/32', false],
    ['2001:db8:ffff::/32', true],
    ['2001:db8::/32', false],
    ['::ffff:10.1.2.3/104', true],
    ['::ffff:10.0.0.0/104', false],
    ['1.2.3.4', false],
  ])('%s has host bits set: %s', (input, hostBits) => {
    expect(parseIpOrCidr(input)).toMatchObject({ ok: true, hostBits });
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '01.2.3.4',
    '1.2.3.4/33',
    '1.2.3.4/08',
    '1.2.3.4/',
    '::/129',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7::8',
    '1::2::3',
    'fe80::1%eth0',
    ' 1.2.3.4',
    '1.2.3.4 ',
    'gggg::',
    '12345::',
    'localhost',
    '1.2.3.4/8/8',
  ])('rejects %j', (input) => {
    const p = parseIpOrCidr(input);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.reason.length).toBeGreaterThan(0);
    expect(canonicalIp(input)).toBeUndefined();
  });

  it('accepts exactly the addresses node:net accepts (zone ids aside)', () => {
    const ch = fc.constantFrom(...'0123456789abcdefABCDEF:.'.split(''), '::', 'ffff:', '255.', '1.2.3.4');
    fc.assert(
      fc.property(fc.array(ch, { maxLength: 14 }).map((a) => a.join('')), (s) => {
        expect(canonicalIp(s) !== undefined).toBe(net.isIP(s) !== 0);
      }),
      { numRuns: 3000 },
    );
  });

  it('canonical text agrees with ipaddr.js for any spelling of an address', () => {
    const spelling = fc.record({
      words: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }),
      zeroRun: fc.nat(7),
      upper: fc.boolean(),
      pad: fc.boolean(),
    });
    fc.assert(
      fc.property(spelling, ({ words, zeroRun, upper, pad }) => {
        const g = words.map((w, i) => (i >= zeroRun && i < zeroRun + 2 ? 0 : w));
        let text = g.map((w) => (pad ? w.toString(16).padStart(4, '0') : w.toString(16))).join(':');
        if (upper) text = text.toUpperCase();
        const ref = ipaddr.process(text);
        const expected = ref.kind() === 'ipv4' ? ref.toString() : (ref as ipaddr.IPv6).toRFC5952String();
        expect(canonicalIp(text)).toBe(expected);
        expect(ipToBigInt(text)).toBe(refBig(text));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('IpSet', () => {
  it('includes the first and last address of a range and excludes one past', () => {
    const { set, errors } = IpSet.from(['10.0.0.0/8', '2001:db8::/32']);
    expect(errors).toEqual([]);
    expect(set.has('10.0.0.0')).toBe(true);
    expect(set.has('10.255.255.255')).toBe(true);
    expect(set.has('9.255.255.255')).toBe(false);
    expect(set.has('11.0.0.0')).toBe(false);
    expect(set.has('2001:db8::')).toBe(true);
    expect(set.has('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(set.has('2001:db7:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(false);
    expect(set.has('2001:db9::')).toBe(false);
  });

  it('handles /0, /32 and /128', () => {
    const all4 = IpSet.from(['0.0.0.0/0']).set;
    expect(all4.has('0.0.0.0')).toBe(true);
    expect(all4.has('255.255.255.255')).toBe(true);
    expect(all4.has('::ffff:8.8.8.8')).toBe(true);
    expect(all4.has('2001::1')).toBe(false);
    const all6 = IpSet.from(['::/0']).set;
    expect(all6.has('::')).toBe(true);
    expect(all6.has('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    // ::/0 includes ::ffff:0:0/96, which is the IPv4 space.
    expect(all6.has('8.8.8.8')).toBe(true);
    const one = IpSet.from(['1.2.3.4/32', '2001:db8::7/128']).set;
    expect(one.has('1.2.3.4')).toBe(true);
    expect(one.has('1.2.3.3')).toBe(false);
    expect(one.has('1.2.3.5')).toBe(false);
    expect(one.has('2001:db8::7')).toBe(true);
    expect(one.has('2001:db8::6')).toBe(false);
    expect(one.has('2001:db8::8')).toBe(false);
  });

  it('matches IPv4-mapped IPv6 against IPv4 entries and the reverse', () => {
    const { set } = IpSet.from(['192.0.2.0/24', '::ffff:198.51.100.7']);
    expect(set.has('::ffff:192.0.2.9')).toBe(true);
    expect(set.has('::ffff:c000:209')).toBe(true);
    expect(set.has('::ffff:192.0.3.0')).toBe(false);
    expect(set.has('198.51.100.7')).toBe(true);
    expect(set.has('198.51.100.8')).toBe(false);
    // An IPv4-compatible (not mapped) address is a different address.
    expect(set.has('::192.0.2.9')).toBe(false);
  });

  it('merges overlapping and adjacent ranges, not disjoint ones', () => {
    expect(IpSet.from(['10.0.0.0/9', '10.128.0.0/9']).set.size).toBe(1);
    expect(IpSet.from(['10.0.0.0/8', '10.1.0.0/16', '10.2.3.4']).set.size).toBe(1);
    expect(IpSet.from(['1.2.3.4', '1.2.3.5']).set.size).toBe(1);
    expect(IpSet.from(['2001:db8::/33', '2001:db8:8000::/33']).set.size).toBe(1);
    expect(IpSet.from(['2001:db8::1', '2001:db8::2', '2001:db8::1']).set.size).toBe(1);
    const gap = IpSet.from(['1.2.3.4', '1.2.3.6', '2001:db8::1', '2001:db8::3']).set;
    expect(gap.size).toBe(4);
    expect(gap.has('1.2.3.5')).toBe(false);
    expect(gap.has('2001:db8::2')).toBe(false);
    expect(IpSet.from([]).set.size).toBe(0);
    expect(IpSet.from([]).set.has('1.2.3.4')).toBe(false);
  });

  it('reports invalid entries with their index and keeps the valid ones', () => {
    const { set, errors } = IpSet.from(['1.2.3.4', 'nope', '10.0.0.0/33', '::1', '']);
    expect(errors.map((e) => [e.index, e.entry])).toEqual([
      [1, 'nope'],
      [2, '10.0.0.0/33'],
      [4, ''],
    ]);
    for (const e of errors) expect(e.reason.length).toBeGreaterThan(0);
    expect(set.has('1.2.3.4')).toBe(true);
    expect(set.has('::1')).toBe(true);
  });

  it('answers undefined for something that is not an address', () => {
    const { set } = IpSet.from(['0.0.0.0/0', '::/0']);
    for (const bad of ['', 'x', '10.0.0.0/8', '1.2.3.256', 'fe80::1%eth0', ':::']) expect(set.has(bad)).toBeUndefined();
  });

  it('agrees with a brute-force scan on small random sets', () => {
    const v4cidr = fc.tuple(fc.nat(0xffffffff), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${v4(a)}/${p}`);
    const v6cidr = fc
      .tuple(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.integer({ min: 0, max: 128 }))
      .map(([a, p]) => `${v6(a)}/${p}`);
    const entry = fc.oneof(v4cidr, v6cidr, fc.nat(0xffffffff).map(v4));
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), fc.array(fc.nat(0xffffffff), { maxLength: 20 }), (entries, probes) => {
        const { set, errors } = IpSet.from(entries);
        expect(errors).toEqual([]);
        const ranges = entries.map(refRange);
        const queries = probes.map(v4);
        for (const [lo, hi] of ranges) {
          for (const b of [lo - 1n, lo, hi, hi + 1n]) if (b >= 0n && b < 1n << 128n) queries.push(v6(b));
        }
        for (const q of queries) {
          const x = refBig(q);
          expect(set.has(q)).toBe(ranges.some(([lo, hi]) => lo <= x && x <= hi));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('builds a 100k-entry set that agrees with a brute-force scan', () => {
    const rnd = mulberry32(42);
    const entries: string[] = [];
    const ref4: [number, number][] = [];
    const ref6: [bigint, bigint][] = [];
    for (let i = 0; i < 100_000; i++) {
      if (i % 10 < 8) {
        const a = Math.floor(rnd() * 2 ** 32);
        const p = rnd() < 0.5 ? 32 : 16 + Math.floor(rnd() * 17);
        const size = 2 ** (32 - p);
        const lo = Math.floor(a / size) * size;
        entries.push(p === 32 ? v4(a) : `${v4(a)}/${p}`);
        ref4.push([lo, lo + size - 1]);
      } else {
        const a = (BigInt(Math.floor(rnd() * 2 ** 32)) << 96n) | (BigInt(Math.floor(rnd() * 2 ** 32)) << 64n);
        const p = 32 + Math.floor(rnd() * 97);
        const host = (1n << BigInt(128 - p)) - 1n;
        const lo = a & ~host & ((1n << 128n) - 1n);
        entries.push(`${v6(a)}/${p}`);
        ref6.push([lo, lo | host]);
      }
    }
    const { set, errors } = IpSet.from(entries);
    expect(errors).toEqual([]);
    expect(set.size).toBeGreaterThan(50_000);
    expect(set.size).toBeLessThanOrEqual(100_000);
    const edge = fc.nat(ref4.length - 1).chain((i) => fc.constantFrom(ref4[i]![0] - 1, ref4[i]![0], ref4[i]![1], ref4[i]![1] + 1));
    const v4q = fc.oneof(fc.nat(0xffffffff), edge.filter((x) => x >= 0 && x <= 0xffffffff));
    fc.assert(
      fc.property(v4q, (x) => {
        const expected = ref4.some(([lo, hi]) => lo <= x && x <= hi);
        expect(set.has(v4(x))).toBe(expected);
        expect(set.has(`::ffff:${v4(x)}`)).toBe(expected);
      }),
      { numRuns: 300 },
    );
    const edge6 = fc.nat(ref6.length - 1).chain((i) => fc.constantFrom(ref6[i]![0] - 1n, ref6[i]![0], ref6[i]![1], ref6[i]![1] + 1n));
    fc.assert(
      fc.property(edge6.filter((x) => x >= 0n && x < 1n << 128n && (x >> 32n) !== MAPPED >> 32n), (x) => {
        expect(set.has(v6(x))).toBe(ref6.some(([lo, hi]) => lo <= x && x <= hi));
      }),
      { numRuns: 100 },
    );
  });
});
