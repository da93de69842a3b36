// Which database schemas Vigil reads, and how each maps onto a GeoRecord. A database is recognised
// by its own metadata.databaseType, never by its file name: MaxMind's GeoIP2/GeoLite2 City, Country
// and Enterprise (nested `country.iso_code`, `city.names.en`, `location`), ASN and ISP
// (`autonomous_system_number`/`_organization`), Anonymous-IP (`is_*` flags), and the flat
// `city ipv4`/`city ipv6` schema of ip-location-db's GeoLite2 rebuild (the bundled default).

import { assertNever } from '../../dsl/types.ts';

/** What one address resolves to. A field is absent when no configured database knows it. */
export interface GeoRecord {
  country?: string;
  city?: string;
  lat?: number;
  lon?: number;
  asn?: number;
  asnOrg?: string;
  anonymous?: boolean;
  vpn?: boolean;
  tor?: boolean;
  hosting?: boolean;
  proxy?: boolean;
}

/** The three kinds of database, one per configuration variable. */
export type GeoRole = 'city' | 'asn' | 'anon';

/** Copies what a database record says into `into`. Records are untrusted: every field is type-checked. */
export type Adapter = (record: object, into: GeoRecord) => void;

export interface AdapterChoice {
  /** A short name for logs and `sources`: `maxmind-city`, `flat-city`, `maxmind-asn`, `maxmind-anon`. */
  readonly schema: string;
  readonly adapt: Adapter;
}

function prop(o: unknown, key: string): unknown {
  return typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function setLocation(into: GeoRecord, lat: number | undefined, lon: number | undefined): void {
  // One without the other is no location; travel speed would be computed from half a point.
  if (lat === undefined || lon === undefined || Math.abs(lat) > 90 || Math.abs(lon) > 180) return;
  into.lat = lat;
  into.lon = lon;
}

/** GeoIP2/GeoLite2 City, Country and Enterprise (Country has no city or location). */
const maxmindCity: Adapter = (r, into) => {
  const country = str(prop(prop(r, 'country'), 'iso_code'));
  if (country !== undefined) into.country = country;
  const city = str(prop(prop(prop(r, 'city'), 'names'), 'en'));
  if (city !== undefined) into.city = city;
  const loc = prop(r, 'location');
  setLocation(into, num(prop(loc, 'latitude')), num(prop(loc, 'longitude')));
};

/** Coordinates in the flat files are float32; four decimals (~11 m) is what MaxMind publishes. */
function round4(v: number | undefined): number | undefined {
  return v === undefined ? undefined : Math.round(v * 1e4) / 1e4;
}

/** ip-location-db's rebuild: `{country_code, city, latitude, longitude, …}`, "" for unknown. */
const flatCity: Adapter = (r, into) => {
  const country = str(prop(r, 'country_code'));
  if (country !== undefined) into.country = country;
  const city = str(prop(r, 'city'));
  if (city !== undefined) into.city = city;
  setLocation(into, round4(num(prop(r, 'latitude'))), round4(num(prop(r, 'longitude'))));
};

const maxmindAsn: Adapter = (r, into) => {
  const asn = num(prop(r, 'autonomous_system_number'));
  if (asn === undefined) return;
  into.asn = asn;
  const org = str(prop(r, 'autonomous_system_organization'));
  if (org !== undefined) into.asnOrg = org;
};

const maxmindAnon: Adapter = (r, into) => {
  into.anonymous = prop(r, 'is_anonymous') === true;
  into.vpn = prop(r, 'is_anonymous_vpn') === true;
  into.tor = prop(r, 'is_tor_exit_node') === true;
  into.hosting = prop(r, 'is_hosting_provider') === true;
  into.proxy = prop(r, 'is_public_proxy') === true;
};

/** The Anonymous-IP answer for an address the database has no record of. */
export function noAnonRecord(into: GeoRecord): void {
  into.anonymous = false;
  into.vpn = false;
  into.tor = false;
  into.hosting = false;
  into.proxy = false;
}

const FLAT_CITY = /^(city|country) ipv[46]$/;
const MAXMIND_CITY = /(City|Country|Enterprise)/;
const ASN = /(ASN|ISP)/i;
const ANON = /Anonymous-(IP|Plus)/;

/**
 * The adapter for a database of this type in this role, or an error message saying what the role
 * expects (a City database handed to VIGIL_GEOIP_ASN is a configuration mistake, not a blank answer).
 */
export function adapterFor(role: GeoRole, databaseType: string): AdapterChoice | string {
  switch (role) {
    case 'city':
      if (FLAT_CITY.test(databaseType)) return { schema: 'flat-city', adapt: flatCity };
      if (MAXMIND_CITY.test(databaseType)) return { schema: 'maxmind-city', adapt: maxmindCity };
      return `database type ${JSON.stringify(databaseType)} is not a City or Country database (expected e.g. GeoIP2-City, GeoLite2-City, GeoIP2-Country)`;
    case 'asn':
      if (ASN.test(databaseType)) return { schema: 'maxmind-asn', adapt: maxmindAsn };
      return `database type ${JSON.stringify(databaseType)} is not an ASN database (expected e.g. GeoLite2-ASN, GeoIP2-ISP)`;
    case 'anon':
      if (ANON.test(databaseType)) return { schema: 'maxmind-anon', adapt: maxmindAnon };
      return `database type ${JSON.stringify(databaseType)} is not an Anonymous-IP database (expected GeoIP2-Anonymous-IP)`;
    default:
      return assertNever(role, 'database role');
  }
}
