// The feature registry: every feature a rule or the model may read (shared/spec/features.md), declared
// once — name, type, the signal source that produces it, what it costs, what it means, and how its
// value is read from that source's output. Everything else is derived from this one list: the typed
// Scheme the checker is handed (a feature's slot is its index here), the planner's choice of sources,
// the engine's extractors, and the feature table in docs/signals.md (`npm run docs:features`).
import { schemeFrom, type FeatureDef, type MaybeValue, type Scheme, type Type } from '../dsl/types.ts';
import type { GeoRecord } from './geoip/adapters.ts';
import type { HistoryFeatures } from './history.ts';
import { isPrivateIp, type ParsedIp } from './ip.ts';
import type { UserAgentInfo } from './useragent.ts';
import type { VelocityFeatures } from './velocity.ts';
import type { SessionFeatures } from './session.ts';
import { EVENT_TYPES, type ChangeKind, type EventType } from './event-types.ts';

/**
 * The signal sources, in the order an event's features become known: the request and what is
 * computed in process first (their values also key the store round trip and list probes), then the
 * one store round trip, then the model (which reads the others), then the engine's own state.
 */
export const FEATURE_SOURCES = ['event', 'ip', 'geoip', 'ua', 'history', 'velocity', 'session', 'rba', 'model', 'engine'] as const;
export type FeatureSource = (typeof FEATURE_SOURCES)[number];

/** When a source's features can be extracted (the engine's stages fill slots phase by phase). */
export type FeaturePhase = 'local' | 'store' | 'model' | 'engine';

export const SOURCE_PHASE: Readonly<Record<FeatureSource, FeaturePhase>> = Object.freeze({
  event: 'local',
  ip: 'local',
  geoip: 'local',
  ua: 'local',
  history: 'store',
  velocity: 'store',
  session: 'store',
  rba: 'store',
  model: 'model',
  engine: 'engine',
});

/**
 * What a feature costs per event, for the planner's explain steps and the docs. `free`: a field of
 * the request; `cpu`: in-process work (parsing, a memory-mapped database read, a memoised parse);
 * `store`: a share of the one Redis round trip; `model`: an ONNX inference.
 */
export type FeatureCost = 'free' | 'cpu' | 'store' | 'model';

const SOURCE_COST: Readonly<Record<FeatureSource, FeatureCost>> = Object.freeze({
  event: 'free',
  ip: 'cpu',
  geoip: 'cpu',
  ua: 'cpu',
  history: 'store',
  velocity: 'store',
  session: 'store',
  rba: 'store',
  model: 'model',
  engine: 'free',
});

export { CHANGE_KINDS, EVENT_TYPES, type ChangeKind, type EventType } from './event-types.ts';

/** The request's own facts, as the extract stage hands them over (engine's VigilEvent fits). */
export interface EventFacts {
  readonly type: EventType;
  readonly userId: string;
  /** Account creation, ms since the epoch. */
  readonly userCreatedAt?: number;
  readonly mfa?: boolean;
  readonly deviceId?: string;
  /** Event time, ms since the epoch. */
  readonly time: number;
  /** The kind of change of an account_change. */
  readonly change?: ChangeKind;
}

/**
 * Every source's output for one event, filled by the engine's stages in phase order; the extractors
 * read from it. Absent values are undefined fields (never conditional shapes: one hidden class).
 */
export interface FeatureInput {
  event: EventFacts;
  ip: ParsedIp | null;
  geo: GeoRecord;
  ua: UserAgentInfo;
  history: HistoryFeatures;
  velocity: VelocityFeatures;
  session: SessionFeatures;
  rba: number | undefined;
  anomaly: number | undefined;
  modelVersion: string | undefined;
  degraded: boolean;
}

export interface CatalogEntry extends FeatureDef {
  readonly source: FeatureSource;
  readonly phase: FeaturePhase;
  readonly cost: FeatureCost;
  /** Index in the registry: the feature's slot in every pack's execution context. */
  readonly slot: number;
  /** This feature's value for one event, from its source's output; undefined = missing. */
  readonly read: (input: FeatureInput) => MaybeValue;
}

type Decl = Omit<CatalogEntry, 'slot' | 'phase' | 'cost'>;

function f(name: string, type: Type, source: FeatureSource, doc: string, read: (input: FeatureInput) => MaybeValue): Decl {
  return { name, type, source, doc, read };
}

const DECLARED: readonly Decl[] = [
  f('event.type', 'string', 'event', '`login`, `recovery` or `account_change`', (i) => i.event.type),
  f('event.hour', 'number', 'event', 'UTC hour of the event, 0–23', (i) => new Date(i.event.time).getUTCHours()),
  f('ip.address', 'ip', 'event', 'the client address', (i) => i.ip?.address),
  f('ip.private', 'bool', 'ip', 'loopback, private, link-local, CGNAT or other non-routable range', (i) => (i.ip ? isPrivateIp(i.ip) : undefined)),
  f('geo.country', 'string', 'geoip', 'ISO 3166-1 alpha-2 country', (i) => i.geo.country),
  f('geo.city', 'string', 'geoip', 'city name, English', (i) => i.geo.city),
  f('geo.lat', 'number', 'geoip', 'latitude of the address', (i) => i.geo.lat),
  f('geo.lon', 'number', 'geoip', 'longitude of the address', (i) => i.geo.lon),
  f('geo.asn', 'number', 'geoip', 'autonomous system number', (i) => i.geo.asn),
  f('geo.asn_org', 'string', 'geoip', 'the autonomous system organisation', (i) => i.geo.asnOrg),
  f('geo.anonymous', 'bool', 'geoip', 'any anonymizer (Anonymous-IP database)', (i) => i.geo.anonymous),
  f('geo.vpn', 'bool', 'geoip', 'VPN (Anonymous-IP database)', (i) => i.geo.vpn),
  f('geo.tor', 'bool', 'geoip', 'Tor exit node (Anonymous-IP database)', (i) => i.geo.tor),
  f('geo.hosting', 'bool', 'geoip', 'hosting provider (Anonymous-IP database)', (i) => i.geo.hosting),
  f('geo.proxy', 'bool', 'geoip', 'public proxy (Anonymous-IP database)', (i) => i.geo.proxy),
  f('user.id', 'string', 'event', 'the account, as the caller sent it', (i) => i.event.userId),
  f('user.age', 'duration', 'event', 'time since the account was created', (i) => {
    const created = i.event.userCreatedAt;
    return created !== undefined && i.event.time >= created ? (i.event.time - created) / 1000 : undefined;
  }),
  f('user.mfa', 'bool', 'event', 'the account has a second factor', (i) => i.event.mfa),
  f('device.id', 'string', 'event', "the caller's device identifier", (i) => i.event.deviceId),
  f('device.known', 'bool', 'history', 'this device completed a sign-in for this user before', (i) => i.history['device.known']),
  f('device.users_24h', 'number', 'velocity', 'distinct users attempted from this device in 24 h', (i) => i.velocity['device.users_24h']),
  f('ua.browser', 'string', 'ua', 'browser name from the user agent', (i) => i.ua.browser),
  f('ua.os', 'string', 'ua', 'operating system from the user agent', (i) => i.ua.os),
  f('ua.device_type', 'string', 'ua', 'device type from the user agent', (i) => i.ua.deviceType),
  f('history.logins', 'number', 'history', 'successful sign-ins recorded for this user', (i) => i.history['history.logins']),
  f('history.known_country', 'bool', 'history', 'the user signed in from this country before', (i) => i.history['history.known_country']),
  f('history.known_asn', 'bool', 'history', 'the user signed in from this ASN before', (i) => i.history['history.known_asn']),
  f('history.known_ip', 'bool', 'history', 'the user signed in from this address before', (i) => i.history['history.known_ip']),
  f('history.known_ua', 'bool', 'history', 'the user signed in with this browser and OS before', (i) => i.history['history.known_ua']),
  f('history.known_subnet', 'bool', 'history', 'the user signed in from this /24 (IPv4) or /48 (IPv6) before', (i) => i.history['history.known_subnet']),
  f('history.since_last_login', 'duration', 'history', 'since the last successful sign-in', (i) => i.history['history.since_last_login']),
  f('history.last_country', 'string', 'history', 'country of the last successful sign-in', (i) => i.history['history.last_country']),
  f('history.travel_kmh', 'number', 'history', 'speed needed from the last sign-in location', (i) => i.history['history.travel_kmh']),
  f('rba.score', 'number', 'rba', 'Freeman et al. (NDSS 2016) risk score', (i) => i.rba),
  f('velocity.user_failed_1h', 'number', 'velocity', 'failed sign-ins for this user, last hour', (i) => i.velocity['velocity.user_failed_1h']),
  f('velocity.user_ips_24h', 'number', 'velocity', 'distinct addresses that tried this user in 24 h', (i) => i.velocity['velocity.user_ips_24h']),
  f('velocity.user_recovery_24h', 'number', 'velocity', 'recovery attempts for this user in 24 h', (i) => i.velocity['velocity.user_recovery_24h']),
  f('velocity.ip_failed_10m', 'number', 'velocity', 'failed sign-ins from this address, 10 min', (i) => i.velocity['velocity.ip_failed_10m']),
  f('velocity.ip_failed_1h', 'number', 'velocity', 'failed sign-ins from this address, 1 h', (i) => i.velocity['velocity.ip_failed_1h']),
  f('velocity.ip_users_1h', 'number', 'velocity', 'distinct users tried from this address in 1 h', (i) => i.velocity['velocity.ip_users_1h']),
  f('velocity.subnet_failed_1h', 'number', 'velocity', 'failed sign-ins from this /24 or /48, 1 h', (i) => i.velocity['velocity.subnet_failed_1h']),
  f('event.change', 'string', 'event', 'the kind of change (`account_change` only): `password`, `email`, `mfa_add`, `mfa_remove` or `recovery_method`', (i) => i.event.change),
  f('velocity.user_changes_24h', 'number', 'velocity', 'account changes attempted for this user in 24 h (this one included)', (i) => i.velocity['velocity.user_changes_24h']),
  f('history.since_recovery', 'duration', 'history', "since the user's last completed recovery (a recovery decision's successful outcome)", (i) => i.history['history.since_recovery']),
  f('history.recovery_challenged', 'bool', 'history', 'that recovery had been stepped up before it completed (its outcome was `challenge_passed`)', (i) => i.history['history.recovery_challenged']),
  f('session.age', 'duration', 'session', 'since the linked sign-in (`login_decision_id`)', (i) => i.session['session.age']),
  f('session.login_decision', 'string', 'session', "the linked sign-in's decision: `allow`, `step_up` or `block`", (i) => i.session['session.login_decision']),
  f('session.login_score', 'number', 'session', "the linked sign-in's score", (i) => i.session['session.login_score']),
  f('session.login_challenged', 'bool', 'session', 'the linked sign-in was stepped up (even if the challenge was then passed)', (i) => i.session['session.login_challenged']),
  f('session.new_device', 'bool', 'session', 'the linked sign-in came from a device new to the user', (i) => i.session['session.new_device']),
  f('session.new_country', 'bool', 'session', 'the linked sign-in came from a country new to the user', (i) => i.session['session.new_country']),
  f('session.new_ip', 'bool', 'session', 'the linked sign-in came from an address the user never signed in from', (i) => i.session['session.new_ip']),
  f('session.ip_changed', 'bool', 'session', "this event's address differs from the linked sign-in's", (i) => i.session['session.ip_changed']),
  f('session.country_changed', 'bool', 'session', "this event's country differs from the linked sign-in's", (i) => i.session['session.country_changed']),
  f('session.device_changed', 'bool', 'session', "this event's device differs from the linked sign-in's", (i) => i.session['session.device_changed']),
  f('model.anomaly', 'number', 'model', 'anomaly score 0..1 from the ONNX model', (i) => i.anomaly),
  f('model.version', 'string', 'model', "the loaded model's version", (i) => i.modelVersion),
  f('engine.degraded', 'bool', 'engine', 'a signal source failed or ran past its budget', (i) => i.degraded),
];

/** The registry, in slot order. */
export const CATALOG: readonly CatalogEntry[] = Object.freeze(
  DECLARED.map((d, slot) => Object.freeze({ ...d, slot, phase: SOURCE_PHASE[d.source], cost: SOURCE_COST[d.source] })),
);

export const CATALOG_BY_NAME: ReadonlyMap<string, CatalogEntry> = new Map(CATALOG.map((e) => [e.name, e]));

/** The raw identifiers: never stored, logged or recorded (only their keyed hashes are). */
export const IDENTIFIER_FEATURES: ReadonlySet<string> = new Set(['user.id', 'device.id', 'ip.address']);

export const VIGIL_SCHEME: Scheme = schemeFrom(CATALOG, EVENT_TYPES);

/** The feature table of docs/signals.md, generated from the registry. */
export function featureTable(): string {
  const rows = CATALOG.map((e) => `| \`${e.name}\` | ${e.type} | ${e.source} | ${e.cost} | ${e.doc} |`);
  return ['| feature | type | source | cost | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
