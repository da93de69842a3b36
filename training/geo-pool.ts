// Real geography for the traffic simulator (training/simulate.ts): pools of real IPv4 addresses with
// the country, city, location and ASN the engine's own GeoIP (features/geoip.ts) gives them, found
// by sampling addresses and looking them up — residential networks per country and per ASN, and
// hosting/VPN networks per country taken from the bundled ASN ranges. Also the seeded PRNG every
// simulator part draws from (never Math.random: the same seed must give the same bytes).
import { sfc32 } from './rng.ts';
import { readFileSync } from 'node:fs';
import { defaultGeoFiles, type GeoIp } from '../features/geoip.ts';
import type { ParsedIp } from '../features/ip.ts';

// ------------------------------------------------------------------------------------------------
// Seeded randomness
// ------------------------------------------------------------------------------------------------

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  /** Index drawn with probability proportional to `weights[i]` (all ≥ 0, sum > 0). */
  weightedIndex(weights: readonly number[]): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** Exponential with the given mean. */
  exp(mean: number): number;
  /** Poisson-distributed count with the given mean (small means only: the simulator's are < 10). */
  poisson(mean: number): number;
  /** `len` lowercase hex digits. */
  hex(len: number): string;
}

/** cyrb128: four 32-bit words from a string, to seed sfc32 (so seeds like "1/users" work). */
function seedWords(s: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < s.length; i++) {
    const k = s.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/**
 * sfc32 seeded from a string. Independent streams come from independent strings (`"7/users"`,
 * `"7/attack/vpn"`), so adding an attack type does not change the legitimate traffic of a seed.
 */
export function createRng(seed: string): Rng {
  const [a, b, c, d] = seedWords(seed);
  const next = sfc32(a, b, c, d, 15);
  const rng: Rng = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: <T>(xs: readonly T[]): T => {
      if (xs.length === 0) throw new Error('pick from an empty list');
      return xs[Math.floor(next() * xs.length)] as T;
    },
    weightedIndex(weights) {
      let total = 0;
      for (const w of weights) total += w;
      let x = next() * total;
      for (let i = 0; i < weights.length; i++) {
        x -= weights[i] as number;
        if (x < 0) return i;
      }
      return weights.length - 1;
    },
    normal() {
      const u = 1 - next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    exp: (mean) => -Math.log(1 - next()) * mean,
    poisson(mean) {
      const l = Math.exp(-mean);
      let k = 0;
      let p = next();
      while (p > l) {
        k++;
        p *= next();
      }
      return k;
    },
    hex(len) {
      let s = '';
      while (s.length < len) s += Math.floor(next() * 4294967296).toString(16).padStart(8, '0');
      return s.slice(0, len);
    },
  };
  return rng;
}

// ------------------------------------------------------------------------------------------------
// Places
// ------------------------------------------------------------------------------------------------

/** One real address and what GeoIP says about it. */
export interface Place {
  readonly ip: string;
  readonly country: string;
  /** Missing for hosting addresses GeoIP places only at country level. */
  readonly city?: string;
  readonly lat: number;
  readonly lon: number;
  readonly asn: number;
  readonly asnOrg?: string;
}

/**
 * Rough shares of a global consumer service's users by country (about each country's share of the
 * world's internet users, China under-weighted as most Western services are blocked there). Only the
 * countries the GeoIP data has enough residential addresses for are used.
 */
export const HOME_COUNTRY_WEIGHTS: Readonly<Record<string, number>> = {
  US: 12, IN: 9, BR: 6, ID: 4, JP: 4, DE: 4, GB: 4, FR: 3.5, MX: 3.5, RU: 3, TR: 2.5, IT: 2.5,
  ES: 2.5, KR: 2, PH: 2, VN: 2, CA: 2, CN: 2, PL: 1.5, NG: 1.5, AR: 1.5, EG: 1.5, TH: 1.5, ZA: 1,
  AU: 1, NL: 1, CO: 1, UA: 1, SE: 0.6, BE: 0.5, CH: 0.5, AT: 0.4, PT: 0.4, IE: 0.3, NZ: 0.3, SG: 0.3,
};

/** Where people travel (roughly international arrivals). */
export const TRIP_COUNTRY_WEIGHTS: Readonly<Record<string, number>> = {
  FR: 9, ES: 8, US: 8, IT: 6, TR: 5, MX: 4, GB: 4, DE: 4, TH: 3, JP: 3, AT: 3, PT: 2.5, NL: 2.5,
  CA: 2, CH: 1.5, SG: 1.5, AU: 1.5, IN: 1.5, BR: 1, ZA: 1, IE: 1, BE: 1, PL: 1.5, SE: 1, AR: 1,
};

/**
 * Hosting, cloud and VPN-carrier networks (the pack's `hosting_asns` list and the providers commercial
 * VPNs rent from). Residential users are never placed on these.
 */
export const HOSTING_ASNS: ReadonlySet<number> = new Set([
  16509, 14618, 8987, 396982, 15169, 19527, 8075, 14061, 24940, 213230, 16276, 63949, 20473, 45102, 37963,
  132203, 31898, 9009, 60068, 212238, 16265, 60781, 51167, 40021, 36352, 8100, 62240, 202425, 51852,
  9002, 29802, 13335, 54113, 199524, 46475, 55286, 136258, 147049, 133199, 61317, 35913, 7979,
]);

const HOSTING_ORG =
  /host|cloud|server|data ?cent|datacamp|vps|colocation|colocrossing|amazon|google|microsoft|digitalocean|ovh|hetzner|linode|vultr|choopa|alibaba|tencent|oracle|m247|leaseweb|contabo|scaleway|online s\.a\.s|cdn77|psychz|quadranet|g-core|gcore|zenlayer|cloudflare|fastly|kamatera|worldstream|nforce|serverius|i3d|packet|hivelocity|ionos|strato|netcup|aruba|dedi|hostinger|choopa|virtual|internet utilities|servinga|tzulo|xtom|buyvm|frantech|clouvider|performive|sharktech|racknerd|ipxo|vpn/i;

// Networks no one signs in from at home: universities, governments, militaries, banks' own ranges.
const NON_CONSUMER_ORG = /universit|college|school|institute|academ|ministry|department|government|defen[cs]e|army|navy|air force|bank/i;

/** A hosting/cloud/VPN network by number or organisation name. */
export function isHostingNetwork(asn: number | undefined, org: string | undefined): boolean {
  if (asn !== undefined && HOSTING_ASNS.has(asn)) return true;
  return org !== undefined && HOSTING_ORG.test(org);
}

export interface GeoPool {
  /** Home countries in use (weights > 0, enough residential addresses), with their weights. */
  readonly homeCountries: readonly string[];
  readonly homeWeights: readonly number[];
  readonly tripCountries: readonly string[];
  readonly tripWeights: readonly number[];
  /** Residential addresses with a city, in this country (sample order: seeded). */
  residential(country: string): readonly Place[];
  /** Residential addresses in this country and ASN. */
  inAsn(country: string, asn: number): readonly Place[];
  /** Every residential address sampled, worldwide (naive attackers draw from here). */
  readonly world: readonly Place[];
  /** Hosting/VPN addresses in this country (may be empty). */
  hosting(country: string): readonly Place[];
  readonly hostingWorld: readonly Place[];
  /**
   * Another residential address in the same ASN and city as `p`, found by looking up random
   * addresses of p's /16 (undefined when none turns up within the attempts).
   */
  near(p: Place, rng: Rng): Place | undefined;
}

export interface GeoPoolOptions {
  /** Random IPv4 addresses looked up for the residential pools (default 150 000). */
  readonly samples?: number;
  /** Addresses drawn from hosting ranges (default 20 000). */
  readonly hostingSamples?: number;
  /** ip-location-db ASN CSV (IPv4) whose hosting ranges are sampled; default: the bundled file. */
  readonly asnCsvPath?: string;
  /** Fewest residential addresses a home country needs (default 20). */
  readonly minPerCountry?: number;
}

/** Special-purpose IPv4 blocks (first octet) that are never anyone's public address. */
function reservedFirstOctet(o: number): boolean {
  return o === 0 || o === 10 || o === 127 || o >= 224;
}

function reserved(u: number): boolean {
  const o1 = u >>> 24;
  const o2 = (u >>> 16) & 255;
  if (reservedFirstOctet(o1)) return true;
  if (o1 === 100 && o2 >= 64 && o2 < 128) return true;
  if (o1 === 169 && o2 === 254) return true;
  if (o1 === 172 && o2 >= 16 && o2 < 32) return true;
  if (o1 === 192 && o2 === 168) return true;
  if (o1 === 198 && (o2 === 18 || o2 === 19)) return true;
  return false;
}

function v4Text(u: number): string {
  return `${u >>> 24}.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}`;
}

/** Looks up one IPv4 address given as an unsigned 32-bit number. */
function lookupV4(geoip: GeoIp, u: number, bytes: Uint8Array): Place | undefined {
  bytes[0] = u >>> 24;
  bytes[1] = (u >>> 16) & 255;
  bytes[2] = (u >>> 8) & 255;
  bytes[3] = u & 255;
  const address = v4Text(u);
  const parsed: ParsedIp = { family: 4, address, bytes };
  const g = geoip.lookupParsed(parsed);
  if (g.country === undefined || g.asn === undefined || g.lat === undefined || g.lon === undefined) return undefined;
  return {
    ip: address,
    country: g.country,
    ...(g.city !== undefined ? { city: g.city } : {}),
    lat: g.lat,
    lon: g.lon,
    asn: g.asn,
    ...(g.asnOrg !== undefined ? { asnOrg: g.asnOrg } : {}),
  };
}

function ipToU32(ip: string): number {
  const p = ip.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

interface HostingRange {
  readonly start: number;
  readonly size: number;
}

/** IPv4 ranges of hosting networks from the ip-location-db ASN CSV (`start,end,asn,org`). */
function hostingRanges(path: string): HostingRange[] {
  const text = readFileSync(path, 'utf8');
  const out: HostingRange[] = [];
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl);
    pos = nl + 1;
    const c1 = line.indexOf(',');
    const c2 = line.indexOf(',', c1 + 1);
    const c3 = line.indexOf(',', c2 + 1);
    if (c1 < 0 || c2 < 0 || c3 < 0) continue;
    const asn = Number(line.slice(c2 + 1, c3));
    let org = line.slice(c3 + 1).trim();
    if (org.startsWith('"') && org.endsWith('"')) org = org.slice(1, -1);
    if (!isHostingNetwork(Number.isFinite(asn) ? asn : undefined, org)) continue;
    const start = line.slice(0, c1);
    if (start.includes(':')) continue;
    const s = ipToU32(start);
    const e = ipToU32(line.slice(c1 + 1, c2));
    if (!(e >= s)) continue;
    out.push({ start: s, size: e - s + 1 });
  }
  return out;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

const EMPTY: readonly Place[] = Object.freeze([]);

/**
 * Build the pools. Costs about a second (150 000 GeoIP lookups and one pass over the
 * ASN CSV); the result depends only on `rng`'s seed and the databases.
 */
export function buildGeoPool(geoip: GeoIp, rng: Rng, opts: GeoPoolOptions = {}): GeoPool {
  const samples = opts.samples ?? 150_000;
  const hostingSamples = opts.hostingSamples ?? 20_000;
  const minPer = opts.minPerCountry ?? 20;
  const bytes = new Uint8Array(4);

  const byCountry = new Map<string, Place[]>();
  const byAsn = new Map<string, Place[]>();
  const world: Place[] = [];
  for (let i = 0; i < samples; i++) {
    const u = Math.floor(rng.next() * 4294967296) >>> 0;
    if (reserved(u)) continue;
    const p = lookupV4(geoip, u, bytes);
    if (!p || p.city === undefined || isHostingNetwork(p.asn, p.asnOrg)) continue;
    if (p.asnOrg !== undefined && NON_CONSUMER_ORG.test(p.asnOrg)) continue;
    world.push(p);
    push(byCountry, p.country, p);
    push(byAsn, `${p.country}/${p.asn}`, p);
  }

  const hostingByCountry = new Map<string, Place[]>();
  const hostingWorld: Place[] = [];
  if (hostingSamples > 0) {
    const ranges = hostingRanges(opts.asnCsvPath ?? (defaultGeoFiles().asn[0] as string));
    // √size: a /12 of a cloud giant weighs more than a /24 of a small VPN host, but not 4096 times
    // more, so the many small providers VPNs rent from all show up.
    const weights = ranges.map((r) => Math.sqrt(r.size));
    const cumulative = new Float64Array(weights.length);
    let acc = 0;
    for (let i = 0; i < weights.length; i++) cumulative[i] = acc += weights[i] as number;
    for (let i = 0; i < hostingSamples && ranges.length > 0; i++) {
      const x = rng.next() * acc;
      let lo = 0;
      let hi = cumulative.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((cumulative[mid] as number) > x) hi = mid;
        else lo = mid + 1;
      }
      const r = ranges[lo] as HostingRange;
      const u = (r.start + Math.floor(rng.next() * r.size)) >>> 0;
      if (reserved(u)) continue;
      const p = lookupV4(geoip, u, bytes);
      if (!p || !isHostingNetwork(p.asn, p.asnOrg)) continue;
      hostingWorld.push(p);
      push(hostingByCountry, p.country, p);
    }
  }

  const homeCountries: string[] = [];
  const homeWeights: number[] = [];
  for (const [cc, w] of Object.entries(HOME_COUNTRY_WEIGHTS)) {
    if ((byCountry.get(cc)?.length ?? 0) >= minPer) {
      homeCountries.push(cc);
      homeWeights.push(w);
    }
  }
  const tripCountries: string[] = [];
  const tripWeights: number[] = [];
  for (const [cc, w] of Object.entries(TRIP_COUNTRY_WEIGHTS)) {
    if ((byCountry.get(cc)?.length ?? 0) >= minPer) {
      tripCountries.push(cc);
      tripWeights.push(w);
    }
  }
  if (homeCountries.length === 0) throw new Error('geo pool: the GeoIP data yielded no residential addresses');

  return {
    homeCountries,
    homeWeights,
    tripCountries,
    tripWeights,
    residential: (cc) => byCountry.get(cc) ?? EMPTY,
    inAsn: (cc, asn) => byAsn.get(`${cc}/${asn}`) ?? EMPTY,
    world,
    hosting: (cc) => hostingByCountry.get(cc) ?? EMPTY,
    hostingWorld,
    near(p, r) {
      const base = ipToU32(p.ip) & 0xffff0000;
      for (let i = 0; i < 64; i++) {
        const u = (base | Math.floor(r.next() * 65536)) >>> 0;
        if (u === ipToU32(p.ip) || reserved(u)) continue;
        const q = lookupV4(geoip, u, bytes);
        if (q && q.asn === p.asn && q.city === p.city && q.country === p.country) return q;
      }
      return undefined;
    },
  };
}
