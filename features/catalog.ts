// The feature catalog (shared/spec/features.md) as a typed Scheme: every name a rule may read, its
// type, and which signal source computes it. The checker is handed this; the planner uses `source`
// to decide which signal sources an event needs.
import { schemeFrom, type FeatureDef, type Scheme, type Type } from '../dsl/types.ts';

export type FeatureSource =
  | 'event' // the request itself
  | 'ip' // address parsing
  | 'geoip' // MaxMind databases
  | 'ua' // user-agent parsing
  | 'history' // per-user history in the signal store
  | 'velocity' // counters in the signal store
  | 'rba' // Freeman et al. frequencies in the signal store
  | 'model' // the ONNX anomaly model
  | 'engine'; // the engine's own state

export interface CatalogEntry extends FeatureDef {
  readonly source: FeatureSource;
}

function f(name: string, type: Type, source: FeatureSource, doc: string): CatalogEntry {
  return { name, type, source, doc };
}

export const EVENT_TYPES = ['login', 'recovery'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const CATALOG: readonly CatalogEntry[] = [
  f('event.type', 'string', 'event', '`login` or `recovery`'),
  f('event.hour', 'number', 'event', 'UTC hour of the event, 0–23'),
  f('ip.address', 'ip', 'event', 'the client address'),
  f('ip.private', 'bool', 'ip', 'loopback, private, link-local, CGNAT or other non-routable range'),
  f('geo.country', 'string', 'geoip', 'ISO 3166-1 alpha-2 country'),
  f('geo.city', 'string', 'geoip', 'city name, English'),
  f('geo.lat', 'number', 'geoip', 'latitude of the address'),
  f('geo.lon', 'number', 'geoip', 'longitude of the address'),
  f('geo.asn', 'number', 'geoip', 'autonomous system number'),
  f('geo.asn_org', 'string', 'geoip', 'the autonomous system organisation'),
  f('geo.anonymous', 'bool', 'geoip', 'any anonymizer (Anonymous-IP database)'),
  f('geo.vpn', 'bool', 'geoip', 'VPN (Anonymous-IP database)'),
  f('geo.tor', 'bool', 'geoip', 'Tor exit node (Anonymous-IP database)'),
  f('geo.hosting', 'bool', 'geoip', 'hosting provider (Anonymous-IP database)'),
  f('geo.proxy', 'bool', 'geoip', 'public proxy (Anonymous-IP database)'),
  f('user.id', 'string', 'event', 'the account, as the caller sent it'),
  f('user.age', 'duration', 'event', 'time since the account was created'),
  f('user.mfa', 'bool', 'event', 'the account has a second factor'),
  f('device.id', 'string', 'event', "the caller's device identifier"),
  f('device.known', 'bool', 'history', 'this device completed a sign-in for this user before'),
  f('device.users_24h', 'number', 'velocity', 'distinct users attempted from this device in 24 h'),
  f('ua.browser', 'string', 'ua', 'browser name from the user agent'),
  f('ua.os', 'string', 'ua', 'operating system from the user agent'),
  f('ua.device_type', 'string', 'ua', 'device type from the user agent'),
  f('history.logins', 'number', 'history', 'successful sign-ins recorded for this user'),
  f('history.known_country', 'bool', 'history', 'the user signed in from this country before'),
  f('history.known_asn', 'bool', 'history', 'the user signed in from this ASN before'),
  f('history.known_ip', 'bool', 'history', 'the user signed in from this address before'),
  f('history.known_ua', 'bool', 'history', 'the user signed in with this browser and OS before'),
  f('history.since_last_login', 'duration', 'history', 'since the last successful sign-in'),
  f('history.last_country', 'string', 'history', 'country of the last successful sign-in'),
  f('history.travel_kmh', 'number', 'history', 'speed needed from the last sign-in location'),
  f('rba.score', 'number', 'rba', 'Freeman et al. (NDSS 2016) risk score'),
  f('velocity.user_failed_1h', 'number', 'velocity', 'failed sign-ins for this user, last hour'),
  f('velocity.user_ips_24h', 'number', 'velocity', 'distinct addresses that tried this user in 24 h'),
  f('velocity.user_recovery_24h', 'number', 'velocity', 'recovery attempts for this user in 24 h'),
  f('velocity.ip_failed_10m', 'number', 'velocity', 'failed sign-ins from this address, 10 min'),
  f('velocity.ip_failed_1h', 'number', 'velocity', 'failed sign-ins from this address, 1 h'),
  f('velocity.ip_users_1h', 'number', 'velocity', 'distinct users tried from this address in 1 h'),
  f('velocity.subnet_failed_1h', 'number', 'velocity', 'failed sign-ins from this /24 or /48, 1 h'),
  f('model.anomaly', 'number', 'model', 'anomaly score 0..1 from the ONNX model'),
  f('model.version', 'string', 'model', "the loaded model's version"),
  f('engine.degraded', 'bool', 'engine', 'a signal source failed or ran past its budget'),
];

export const CATALOG_BY_NAME: ReadonlyMap<string, CatalogEntry> = new Map(CATALOG.map((e) => [e.name, e]));

export const VIGIL_SCHEME: Scheme = schemeFrom(CATALOG, EVENT_TYPES);
