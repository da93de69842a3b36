// Tests for features/store/lists.ts, the pure part of live lists: entry syntax and canonical text per
// kind, the members an ip probe asks for (checked against a brute-force containment test and against
// the language's own canonical CIDR text, so an entry and a probe always spell a range alike), the
// expiry key's slot rule, and the bounds.
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { IpSet, parseIpOrCidr } from '../../../dsl/iplist.ts';
import {
  expiryKey,
  formatV6,
  ipProbeMembers,
  IPV4_PREFIXES,
  IPV6_PREFIXES,
  LIST_LIMITS,
  parseListEntry,
  ttlAllowed,
} from '../../../features/store/lists.ts';

const ok = (kind: 'ip' | 'string' | 'number', raw: unknown): string => {
  const r = parseListEntry(kind, raw);
  if (!r.ok) throw new Error(`refused ${JSON.stringify(raw)}: ${r.reason}`);
  return r.value;
};
const refused = (kind: 'ip' | 'string' | 'number', raw: unknown): string => {
  const r = parseListEntry(kind, raw);
  if (r.ok) throw new Error(`accepted ${JSON.stringify(raw)} as ${r.value}`);
  return r.reason;
};

describe('parseListEntry', () => {
  it('ip: addresses and ranges in canonical text; one-address ranges are the address', () => {
    expect(ok('ip', '203.0.113.0/24')).toBe('203.0.113.0/24');
    expect(ok('ip', '198.51.100.7')).toBe('198.51.100.7');
    expect(ok('ip', '198.51.100.7/32')).toBe('198.51.100.7');
    expect(ok('ip', '2001:DB8:0:0::/32')).toBe('2001:db8::/32');
    expect(ok('ip', '2001:db8::1/128')).toBe('2001:db8::1');
    expect(ok('ip', '::ffff:203.0.113.0/120')).toBe('203.0.113.0/24');
    expect(ok('ip', '::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(ok('ip', '10.0.0.0/8')).toBe('10.0.0.0/8');
    expect(ok('ip', '2001:db8:1:2::/64')).toBe('2001:db8:1:2::/64');
  });

  it('ip: refuses host bits, prefixes outside the probed set, and anything not an address', () => {
    expect(refused('ip', '203.0.113.7/24')).toMatch(/host bits.*203\.0\.113\.0\/24/);
    expect(refused('ip', '2001:db8::1/64')).toMatch(/host bits.*2001:db8::\/64/);
    expect(refused('ip', '10.0.0.0/7')).toMatch(/\/8 to \/32/);
    expect(refused('ip', '0.0.0.0/0')).toMatch(/\/8 to \/32/);
    expect(refused('ip', '2001:db8::/57')).toMatch(/steps of 4/);
    expect(refused('ip', '2001:db8::/96')).toMatch(/steps of 4/);
    expect(refused('ip', '2000::/12')).toMatch(/steps of 4/);
    expect(refused('ip', '::ffff:1.2.3.0/64')).toMatch(/mapped/);
    for (const bad of ['', 'localhost', '1.2.3', '010.0.0.1', '1.2.3.4/33', '1.2.3.4/', '1.2.3.4/08', '1.2.3.4/24/8', 'fe80::1%eth0', '::/129', ' 1.2.3.4']) {
      expect(parseListEntry('ip', bad).ok).toBe(false);
    }
    expect(refused('ip', 42)).toMatch(/string/);
    expect(refused('ip', 'x'.repeat(500))).toMatch(/\.\.\./);
  });

  it('number: finite numbers and decimal strings, as String(n)', () => {
    expect(ok('number', 16276)).toBe('16276');
    expect(ok('number', '16276')).toBe('16276');
    expect(ok('number', '1.50')).toBe('1.5');
    expect(ok('number', -0)).toBe('0');
    expect(ok('number', 2.5)).toBe('2.5');
    for (const bad of ['', 'AS16276', '1e3', '0x10', ' 1', '01', true, null, {}, [], Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(parseListEntry('number', bad).ok).toBe(false);
    }
  });

  it('string: 1 to maxStringLength UTF-8 bytes of valid Unicode, kept as given', () => {
    expect(ok('string', 'u-123')).toBe('u-123');
    expect(ok('string', ' spaced ')).toBe(' spaced ');
    expect(ok('string', '日本 \u0000 😀')).toBe('日本 \u0000 😀');
    expect(ok('string', 'x'.repeat(LIST_LIMITS.maxStringLength))).toHaveLength(LIST_LIMITS.maxStringLength);
    expect(refused('string', '')).toMatch(/bytes/);
    expect(refused('string', 'x'.repeat(LIST_LIMITS.maxStringLength + 1))).toMatch(/bytes/);
    // A 4-byte emoji is 2 UTF-16 units: the limit counts its 4 bytes.
    const emoji = '😀'.repeat(LIST_LIMITS.maxStringLength / 4);
    expect(ok('string', emoji)).toBe(emoji);
    expect(refused('string', emoji + 'x')).toMatch(/bytes/);
    expect(refused('string', 'é'.repeat(LIST_LIMITS.maxStringLength / 2 + 1))).toMatch(/bytes/);
    expect(refused('string', 'a\uD800b')).toMatch(/Unicode/);
    expect(refused('string', '\uDC00')).toMatch(/Unicode/);
    expect(refused('string', 7)).toMatch(/string/);
  });
});

/** Every address of `cidr` in the brute-force sense, via ipaddr.js. */
function contains(cidr: string, address: string): boolean {
  if (!cidr.includes('/')) return cidr === address;
  const a = ipaddr.parse(address);
  const [net, bits] = ipaddr.parseCIDR(cidr);
  return a.kind() === net.kind() && a.match(net, bits);
}

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
const v6 = fc
  .array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 })
  .filter((g) => !(g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)))
  .map((g) => formatV6(g));

describe('ipProbeMembers', () => {
  it('asks for the address, its /32 and its networks /31 … /8: 26 members', () => {
    const m = ipProbeMembers('203.0.113.77');
    expect(m).toHaveLength(26);
    expect(m?.slice(0, 4)).toEqual(['203.0.113.77', '203.0.113.77/32', '203.0.113.76/31', '203.0.113.76/30']);
    expect(m).toContain('203.0.113.0/24');
    expect(m?.at(-1)).toBe('203.0.0.0/8');
  });

  it('asks for an IPv6 address, its /128 and its networks on nibble boundaries /64 … /16: 15 members', () => {
    const m = ipProbeMembers('2001:db8:1:2:3:4:5:6');
    expect(m).toHaveLength(2 + IPV6_PREFIXES.length - 1);
    expect(m).toContain('2001:db8:1:2::/64');
    expect(m).toContain('2001:db8:1::/48');
    expect(m).toContain('2001:db8::/32');
    expect(m?.at(-1)).toBe('2001::/16');
  });

  it('is null for something that is not an address', () => {
    expect(ipProbeMembers('not an ip')).toBeNull();
    expect(ipProbeMembers('10.0.0.0/8')).toBeNull();
  });

  it('names every accepted range that holds the address, and no other (IPv4 and IPv6)', () => {
    const allowed = (family: 4 | 6): readonly number[] => (family === 4 ? IPV4_PREFIXES : IPV6_PREFIXES);
    const pair = fc.oneof(
      fc.tuple(v4, v4).map(([a, b]) => [a, b, 4] as const),
      fc.tuple(v6, v6).map(([a, b]) => [a, b, 6] as const),
    );
    fc.assert(
      fc.property(pair, fc.nat(), fc.nat(3), ([addr, other, family], pick, near) => {
        const lens = allowed(family);
        const len = lens[pick % lens.length] as number;
        const entry = ok('ip', `${network(addr, len, family)}/${len}`);
        expect(ipProbeMembers(addr)).toContain(entry);
        // Another address, often inside the same wide range: named exactly when the range holds it.
        const probe = near === 0 ? other : swapLowBits(addr, other, family);
        const range = entry.includes('/') ? entry : `${entry}/${family === 4 ? 32 : 128}`;
        expect((ipProbeMembers(probe) ?? []).includes(entry)).toBe(contains(range, probe));
      }),
      { numRuns: 3000 },
    );
  });

  it('spells every range as the language does (dsl/iplist.ts) and as ipaddr.js does (RFC 5952)', () => {
    fc.assert(
      fc.property(fc.oneof(v4, v6), (addr) => {
        const members = ipProbeMembers(addr) ?? [];
        for (const m of members) {
          const d = parseIpOrCidr(m);
          expect(d.ok && !d.hostBits ? d.canonical : null).toBe(m);
          const a = ipaddr.parse(m.split('/')[0] as string);
          expect(a.kind() === 'ipv6' ? (a as ipaddr.IPv6).toRFC5952String() : a.toString()).toBe(m.split('/')[0]);
        }
        expect(IpSet.from(members.slice(1)).set.has(addr)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('matches a brute-force containment test against a random list of entries', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(v4, fc.constantFrom(...IPV4_PREFIXES)), { minLength: 1, maxLength: 20 }), v4, (raw, addr) => {
        const entries = raw.map(([a, len]) => ok('ip', `${network(a, len, 4)}/${len}`));
        const members = new Set(ipProbeMembers(addr));
        expect(entries.some((e) => members.has(e))).toBe(entries.some((e) => contains(e.includes('/') ? e : `${e}/32`, addr)));
      }),
      { numRuns: 1000 },
    );
  });
});

function network(addr: string, len: number, family: 4 | 6): string {
  return family === 4
    ? ipaddr.IPv4.networkAddressFromCIDR(`${addr}/${len}`).toString()
    : ipaddr.IPv6.networkAddressFromCIDR(`${addr}/${len}`).toRFC5952String();
}

/** `addr`'s first bytes with `other`'s last ones: an address sharing a random-length prefix with `addr`. */
function swapLowBits(addr: string, other: string, family: 4 | 6): string {
  const a = ipaddr.parse(addr).toByteArray();
  const b = ipaddr.parse(other).toByteArray();
  const keep = (b[0] as number) % a.length;
  const out = a.map((x, i) => (i < keep ? x : (b[i] as number)));
  const r = ipaddr.fromByteArray(out);
  return family === 4 ? r.toString() : (r as ipaddr.IPv6).toRFC5952String();
}

describe('expiryKey', () => {
  it('keeps a hash tag, makes one of an untagged name, and gives up on a stray }', () => {
    expect(expiryKey('blocked_ips')).toBe('{blocked_ips}:expires');
    expect(expiryKey('vigil:blocked_users')).toBe('{vigil:blocked_users}:expires');
    expect(expiryKey('lists:{blk}:ips')).toBe('lists:{blk}:ips:expires');
    expect(expiryKey('a{b')).toBe('{a{b}:expires');
    expect(expiryKey('a}b')).toBeNull();
    expect(expiryKey('a{}b')).toBeNull();
    expect(expiryKey('a{}b{c}')).toBeNull();
  });
});

describe('ttl bounds', () => {
  it('allows 1 s to 365 d', () => {
    expect(ttlAllowed(1000)).toBe(true);
    expect(ttlAllowed(365 * 86_400_000)).toBe(true);
    expect(ttlAllowed(999)).toBe(false);
    expect(ttlAllowed(365 * 86_400_000 + 1)).toBe(false);
  });
});
