// features/ip.ts: strict parsing and canonical form, every non-routable range at both of its edges,
// IPv6 special cases (mapped, NAT64, 6to4, the 2001::/23 exceptions), subnet keys, invalid input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GLOBAL_V6_EXCEPTIONS, MAX_IP_TEXT, PRIVATE_V4, isPrivateIp, parseIp, subnetKey } from '../../features/ip.ts';

function priv(s: string): boolean {
  const p = parseIp(s);
  if (!p) throw new Error(`test address does not parse: ${s}`);
  return isPrivateIp(p);
}

describe('parseIp', () => {
  it.each([
    ['1.2.3.4', 4, '1.2.3.4'],
    ['0.0.0.0', 4, '0.0.0.0'],
    ['255.255.255.255', 4, '255.255.255.255'],
    ['2001:DB8::1', 6, '2001:db8::1'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', 6, '2001:db8::1:0:0:1'],
    ['2001:db8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1'],
    ['::', 6, '::'],
    ['::1', 6, '::1'],
    ['fe80::1', 6, 'fe80::1'],
    ['1:2:3:4:5:6:1.2.3.4', 6, '1:2:3:4:5:6:102:304'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255', 6, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    // IPv4-mapped IPv6 is the IPv4 client, in dotted form, whatever the spelling.
    ['::ffff:81.2.69.142', 4, '81.2.69.142'],
    ['::FFFF:5102:458e', 4, '81.2.69.142'],
    ['0:0:0:0:0:ffff:10.0.0.1', 4, '10.0.0.1'],
  ] as const)('%s → IPv%d %s', (text, family, canonical) => {
    const p = parseIp(text);
    expect(p).not.toBeNull();
    expect(p?.family).toBe(family);
    expect(p?.address).toBe(canonical);
    expect(p?.bytes.length).toBe(family === 4 ? 4 : 16);
  });

  it('gives network-order bytes', () => {
    expect(Array.from(parseIp('81.2.69.142')!.bytes)).toEqual([81, 2, 69, 142]);
    expect(Array.from(parseIp('2001:db8::ff')!.bytes)).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff]);
  });

  it('canonical text re-parses to itself', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (s) => {
        const p = parseIp(s);
        expect(p).not.toBeNull();
        expect(parseIp(p!.address)?.address).toBe(p!.address);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    '',
    ' ',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3',
    '127.1',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4', // leading zero: octal to inet_aton, decimal to others
    '0x7f.0.0.1',
    '1.2.3.4/24',
    '1.2.3.4:443',
    '[::1]',
    '[::1]:443',
    'fe80::1%eth0',
    'fe80::1%25eth0',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    ':::',
    '12345::',
    'g::1',
    'localhost',
    'not an ip',
    '1.2.3.4\n',
    '1.2.3.4\u0000',
  ])('rejects %j', (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it('rejects overlong input before parsing it', () => {
    expect(MAX_IP_TEXT).toBe(45);
    expect(parseIp('0'.repeat(46))).toBeNull();
    expect(parseIp('0:'.repeat(50_000) + '1')).toBeNull();
    // one character over the longest valid form
    expect(parseIp('0ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255')).toBeNull();
  });

  it('rejects non-string input from untyped JSON without throwing', () => {
    for (const v of [undefined, null, 42, {}, ['1.2.3.4']]) expect(parseIp(v as unknown as string)).toBeNull();
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const p = parseIp(s);
        if (p) expect(parseIp(p.address)?.address).toBe(p.address);
      }),
      { numRuns: 500 },
    );
  });
});

describe('isPrivateIp: IPv4, both edges of every range', () => {
  // [first, last, just below, just above]; an outside neighbour that is itself private is null.
  const edges: ReadonlyArray<readonly [string, string, string, string | null, string | null]> = [
    ['0.0.0.0/8', '0.0.0.0', '0.255.255.255', null, '1.0.0.0'],
    ['10.0.0.0/8', '10.0.0.0', '10.255.255.255', '9.255.255.255', '11.0.0.0'],
    ['100.64.0.0/10', '100.64.0.0', '100.127.255.255', '100.63.255.255', '100.128.0.0'],
    ['127.0.0.0/8', '127.0.0.0', '127.255.255.255', '126.255.255.255', '128.0.0.0'],
    ['169.254.0.0/16', '169.254.0.0', '169.254.255.255', '169.253.255.255', '169.255.0.0'],
    ['172.16.0.0/12', '172.16.0.0', '172.31.255.255', '172.15.255.255', '172.32.0.0'],
    ['192.0.0.0/24', '192.0.0.0', '192.0.0.255', '191.255.255.255', '192.0.1.0'],
    ['192.0.2.0/24', '192.0.2.0', '192.0.2.255', '192.0.1.255', '192.0.3.0'],
    ['192.168.0.0/16', '192.168.0.0', '192.168.255.255', '192.167.255.255', '192.169.0.0'],
    ['198.18.0.0/15', '198.18.0.0', '198.19.255.255', '198.17.255.255', '198.20.0.0'],
    ['198.51.100.0/24', '198.51.100.0', '198.51.100.255', '198.51.99.255', '198.51.101.0'],
    ['203.0.113.0/24', '203.0.113.0', '203.0.113.255', '203.0.112.255', '203.0.114.0'],
    ['224.0.0.0/4', '224.0.0.0', '239.255.255.255', '223.255.255.255', null],
    ['240.0.0.0/4', '240.0.0.0', '255.255.255.255', null, null],
  ];

  it('covers exactly the documented list', () => {
    expect(edges.map((e) => e[0])).toEqual(PRIVATE_V4);
  });

  it.each(edges)('%s', (_cidr, first, last, below, above) => {
    expect(priv(first)).toBe(true);
    expect(priv(last)).toBe(true);
    if (below) expect(priv(below)).toBe(false);
    if (above) expect(priv(above)).toBe(false);
  });

  it.each(['1.1.1.1', '8.8.8.8', '81.2.69.142', '192.88.99.1', '100.63.0.1', '223.255.255.254'])('public %s', (s) => {
    expect(priv(s)).toBe(false);
  });

  it('limited broadcast 255.255.255.255 is private', () => {
    expect(priv('255.255.255.255')).toBe(true);
  });

  it('judges an IPv4-mapped IPv6 address by its IPv4 address', () => {
    expect(priv('::ffff:10.1.2.3')).toBe(true);
    expect(priv('::ffff:127.0.0.1')).toBe(true);
    expect(priv('::ffff:8.8.8.8')).toBe(false);
  });
});

describe('isPrivateIp: IPv6', () => {
  it.each([
    '::',
    '::1',
    '::2', // outside 2000::/3
    'fc00::',
    'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'fe80::',
    'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'fec0::1', // deprecated site-local
    'ff00::',
    'ff02::1',
    'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    '100::',
    '100::ffff:ffff:ffff:ffff', // discard-only 100::/64, last
    '64:ff9b:1::1', // NAT64 local use
    '5f00::1', // SRv6 SIDs
    '2001:db8::',
    '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
    '3fff::1',
    '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff',
    '2001:2::1', // benchmarking, inside 2001::/23
    '2001:10::1', // deprecated ORCHID
    '2001:1::4',
    '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', // last of 2001::/23
    '64:ff9b::a00:1', // NAT64 of 10.0.0.1
    '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
    '2002:c0a8:101::1', // 6to4 of 192.168.1.1
  ])('private %s', (s) => {
    expect(priv(s)).toBe(true);
  });

  it.each([
    '2000::', // first of 2000::/3
    '2001:200::1',
    '2001:4860:4860::8888',
    '2001:218::',
    '2001:200::', // first after 2001::/23
    '2001:db7:ffff:ffff:ffff:ffff:ffff:ffff',
    '2001:db9::',
    '3ffe::1',
    '3fff:1000::', // first after 3fff::/20
    '2a00:1450::1',
    '2620:4f:8000::1', // AS112 direct delegation
    '64:ff9b::808:808', // NAT64 of 8.8.8.8
    '2002:808:808::1', // 6to4 of 8.8.8.8
  ])('public %s', (s) => {
    expect(priv(s)).toBe(false);
  });

  it('keeps the globally reachable parts of 2001::/23 public', () => {
    expect(GLOBAL_V6_EXCEPTIONS.length).toBe(8);
    for (const s of ['2001::1', '2001:0:ffff:ffff:ffff:ffff:ffff:ffff', '2001:1::1', '2001:1::2', '2001:1::3', '2001:3::1', '2001:4:112::1', '2001:20::1', '2001:2f:ffff::1', '2001:30::1']) {
      expect([s, priv(s)]).toEqual([s, false]);
    }
    // neighbours of the exceptions fall back to the /23
    for (const s of ['2001:1::', '2001:4:111::1', '2001:4:113::1', '2001:40::1']) expect([s, priv(s)]).toEqual([s, true]);
  });
});

describe('subnetKey', () => {
  it.each([
    ['203.0.113.77', '203.0.113.0/24'],
    ['1.2.3.255', '1.2.3.0/24'],
    ['0.0.0.0', '0.0.0.0/24'],
    ['::ffff:81.2.69.142', '81.2.69.0/24'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1::/48'],
    ['2001:db8:0:ffff::1', '2001:db8::/48'],
    ['2a00:1450:4001:82b::200e', '2a00:1450:4001::/48'],
    ['::1', '::/48'],
    ['ffff:ffff:ffff:ffff::', 'ffff:ffff:ffff::/48'],
    ['64:ff9b::808:808', '8.8.8.0/24'],
  ])('%s → %s', (s, key) => {
    expect(subnetKey(parseIp(s)!)).toBe(key);
  });

  it('puts every address of one /24 or /48 under one key and neighbours under others', () => {
    expect(subnetKey(parseIp('198.51.100.1')!)).toBe(subnetKey(parseIp('198.51.100.254')!));
    expect(subnetKey(parseIp('198.51.100.1')!)).not.toBe(subnetKey(parseIp('198.51.101.1')!));
    expect(subnetKey(parseIp('2001:db8:5::1')!)).toBe(subnetKey(parseIp('2001:db8:5:ffff::1')!));
    expect(subnetKey(parseIp('2001:db8:5::1')!)).not.toBe(subnetKey(parseIp('2001:db8:6::1')!));
  });
});
