// The columns a newly trained model gets (docs/model.md "Features"): which catalog features the
// anomaly model reads, through which transform, and what a missing value encodes as. Only training
// reads this list: it is stored in every exported model (`vigil.columns`) and the server encodes with
// the list of the model it loaded (features/model/vector.ts), so changing a default here changes the
// next model trained, never one already serving.
import { createEncoder, featuresOf, type ColumnSpec, type FeatureBag } from '../features/model/vector.ts';

const SECONDS_PER_HOUR = 3600;

// Why these missing values (the isolation forest splits uniformly between a node's min and max, so
// a missing value encoded far outside the data would make every degraded event look anomalous):
// - novelty flags (device.known, history.known_*) are missing for a user with no sign-in yet and
//   when the event lacks the attribute; 0.5 sits between "known" and "new", so it is not isolated
//   by one split on its own, and history.logins = 0 already says "new user";
// - geo.anonymous… are missing when no Anonymous-IP database is configured (the default): 0, "not
//   flagged", so a model trained without that database serves unchanged with it and vice versa;
// - counters read missing only when the store is down: 0, the common value;
// - history.since_last_login is missing before the first sign-in: as if a year ago;
// - history.travel_kmh is missing when either location is unknown: 0, no travel;
// - rba.score is missing for a user with no sign-in yet: 1, the neutral ratio (log → 0);
// - session.* (the sign-in that opened an account_change's session) is missing on every sign-in and
//   recovery, and on a change that names no sign-in the store still holds. Each takes the value of
//   an ordinary owner's change: not challenged, not on a new device, score 0, and an age of six
//   minutes, inside the range of the owners' own changes. Sign-ins then sit among the owners'
//   changes on these columns instead of forming a cluster of their own, so the forest spends few
//   splits telling changes from sign-ins and a change without a session is not isolated for that
//   alone. A separate account_change indicator was measured and left out: with changes about 1% of
//   training rows, it isolated every change, the owners' as much as the takeovers'.
const NOVELTY_MISSING = 0.5;
const SESSION_AGE_MISSING_HOURS = 0.1;

function bool(feature: string, missing = NOVELTY_MISSING): ColumnSpec {
  return { name: feature, feature, transform: { kind: 'bool', missing } };
}
function count(feature: string): ColumnSpec {
  return { name: feature, feature, transform: { kind: 'log1p', scale: 1, missing: 0 } };
}

/** The default columns, in order (docs/model.md lists them with their reasons). */
export const DEFAULT_COLUMNS: readonly ColumnSpec[] = Object.freeze([
  bool('device.known'),
  bool('history.known_country'),
  bool('history.known_asn'),
  bool('history.known_ip'),
  bool('history.known_ua'),
  { name: 'history.travel_kmh', feature: 'history.travel_kmh', transform: { kind: 'log1p', scale: 1, missing: 0 } },
  {
    name: 'history.since_last_login',
    feature: 'history.since_last_login',
    // Hours, not seconds: log1p of seconds would stretch the first minutes over half the range.
    transform: { kind: 'log1p', scale: SECONDS_PER_HOUR, missing: Math.log1p(365 * 24) },
  },
  count('history.logins'),
  count('velocity.user_failed_1h'),
  count('velocity.user_ips_24h'),
  count('velocity.user_recovery_24h'),
  count('velocity.ip_failed_1h'),
  count('velocity.ip_users_1h'),
  count('velocity.subnet_failed_1h'),
  count('device.users_24h'),
  bool('geo.anonymous', 0),
  bool('geo.vpn', 0),
  bool('geo.tor', 0),
  bool('geo.hosting', 0),
  bool('geo.proxy', 0),
  { name: 'event.hour.sin', feature: 'event.hour', transform: { kind: 'hour_sin', missing: 0 } },
  { name: 'event.hour.cos', feature: 'event.hour', transform: { kind: 'hour_cos', missing: 0 } },
  { name: 'event.type.recovery', feature: 'event.type', transform: { kind: 'equals', value: 'recovery' } },
  // 1e-3 … 1e12 covers every value the Freeman score takes in practice (docs/rba.md).
  { name: 'rba.score', feature: 'rba.score', transform: { kind: 'log10', floor: 1e-3, ceil: 1e12, missing: 0 } },
  // Hours, like since_last_login: a cookie replayed hours after its sign-in stands out from the
  // minutes owners take, while seconds would spread the first minutes over most of the range.
  {
    name: 'session.age',
    feature: 'session.age',
    transform: { kind: 'log1p', scale: SECONDS_PER_HOUR, missing: Math.log1p(SESSION_AGE_MISSING_HOURS) },
  },
  count('session.login_score'),
  bool('session.login_challenged', 0),
  bool('session.new_device', 0),
  // Not columns: session.ip_changed, session.country_changed and session.device_changed never vary in
  // the owners' changes (they change from the sign-in's address and device), so a forest trained on
  // them never splits there and a true value is not isolated; session.new_country is almost never
  // true, for owners or takeovers; history.since_recovery and velocity.user_changes_24h were measured
  // and cost sign-in detection more than they gave the changes; session.login_decision repeats
  // login_challenged. The pack's change rules read them all (docs/model.md "Features").
]);

/** Column names of the default vector (stored in the ONNX metadata as part of `vigil.columns`). */
export const VECTOR_COLUMNS: readonly string[] = Object.freeze(DEFAULT_COLUMNS.map((c) => c.name));

/** Catalog features the default model reads, each once, in column order. */
export const MODEL_FEATURES: readonly string[] = Object.freeze(featuresOf(DEFAULT_COLUMNS));

const DEFAULT_ENCODER = createEncoder(DEFAULT_COLUMNS);

/** Encodes with the default columns: writes VECTOR_COLUMNS.length values into `out`. */
export function encode(features: FeatureBag, out: Float32Array): void {
  if (out.length < DEFAULT_COLUMNS.length) throw new RangeError(`encode: out holds ${out.length} values, needs ${DEFAULT_COLUMNS.length}`);
  DEFAULT_ENCODER.encode(features, out, 0);
}
