// The history features (features.md: device.known, history.*) derived from what the signal store
// read for one event. Pure: no I/O, no clock — every duration is measured at the event's time.
//
// A user with no recorded successful sign-in: `history.logins` is 0 and every "known" feature
// (device.known, history.known_*) is MISSING rather than false, so a rule can tell a new user
// (`history.logins == 0`) from a known user in a new place (`not history.known_country`). The same
// features are also missing when the event lacks the attribute (no device id, no GeoIP country…).
import type { HistorySignals } from './store/types.ts';
import { travelKmh } from './travel.ts';

/** The event's own attributes the history is compared with. */
export interface HistoryEvent {
  /** Event time, ms since the epoch. */
  readonly time: number;
  readonly lat?: number;
  readonly lon?: number;
}

/** Feature values, by catalog name; undefined = missing. Durations are seconds. */
export interface HistoryFeatures {
  'device.known': boolean | undefined;
  'history.logins': number | undefined;
  'history.known_country': boolean | undefined;
  'history.known_asn': boolean | undefined;
  'history.known_ip': boolean | undefined;
  'history.known_ua': boolean | undefined;
  'history.known_subnet': boolean | undefined;
  'history.since_last_login': number | undefined;
  'history.last_country': string | undefined;
  'history.travel_kmh': number | undefined;
  'history.since_recovery': number | undefined;
  'history.recovery_challenged': boolean | undefined;
}

export const HISTORY_FEATURES: readonly (keyof HistoryFeatures)[] = [
  'device.known',
  'history.logins',
  'history.known_country',
  'history.known_asn',
  'history.known_ip',
  'history.known_ua',
  'history.known_subnet',
  'history.since_last_login',
  'history.last_country',
  'history.travel_kmh',
  'history.since_recovery',
  'history.recovery_challenged',
];

const MISSING: HistoryFeatures = Object.freeze({
  'device.known': undefined,
  'history.logins': undefined,
  'history.known_country': undefined,
  'history.known_asn': undefined,
  'history.known_ip': undefined,
  'history.known_ua': undefined,
  'history.known_subnet': undefined,
  'history.since_last_login': undefined,
  'history.last_country': undefined,
  'history.travel_kmh': undefined,
  'history.since_recovery': undefined,
  'history.recovery_challenged': undefined,
});

/**
 * History features of one event. `h` undefined (store unavailable or history not read) makes every
 * feature missing.
 * - `history.since_last_login`: (event time − last sign-in time) in seconds; 0 for the same instant;
 *   missing when the last sign-in lies after the event (outcomes replayed out of order).
 * - `history.travel_kmh`: features/travel.ts `travelKmh` from the last sign-in's location to the
 *   event's: 0 within GeoIP's tolerance (same place), the interval floored to one minute (so an
 *   instant jump across the world is a huge but finite speed), missing when either location is
 *   unknown.
 * - `history.since_recovery`: (event time − last completed recovery) in seconds; missing when no
 *   recovery completed within retention, or when it lies after the event.
 * - `history.recovery_challenged`: that recovery's outcome was `challenge_passed` (it had been
 *   stepped up); missing whenever since_recovery is, and for a recovery recorded before the flag.
 */
export function historyFeatures(h: HistorySignals | undefined, ev: HistoryEvent): HistoryFeatures {
  if (h === undefined) return MISSING;
  const learned = h.logins > 0;
  const k = (v: boolean | undefined): boolean | undefined => (learned ? v : undefined);
  const sinceRecovery = h.lastRecovery !== undefined && ev.time >= h.lastRecovery ? (ev.time - h.lastRecovery) / 1000 : undefined;
  const since = h.lastTime !== undefined && ev.time >= h.lastTime ? (ev.time - h.lastTime) / 1000 : undefined;
  let travel: number | undefined;
  if (h.lastTime !== undefined && h.lastLat !== undefined && h.lastLon !== undefined && ev.lat !== undefined && ev.lon !== undefined) {
    travel = travelKmh({ lat: h.lastLat, lon: h.lastLon, time: h.lastTime }, { lat: ev.lat, lon: ev.lon, time: ev.time });
  }
  return {
    'device.known': k(h.knownDevice),
    'history.logins': h.logins,
    'history.known_country': k(h.knownCountry),
    'history.known_asn': k(h.knownAsn),
    'history.known_ip': k(h.knownIp),
    'history.known_ua': k(h.knownUa),
    'history.known_subnet': k(h.knownSubnet),
    'history.since_last_login': since,
    'history.last_country': h.lastCountry,
    'history.travel_kmh': travel,
    'history.since_recovery': sinceRecovery,
    'history.recovery_challenged': sinceRecovery === undefined ? undefined : h.lastRecoveryChallenged,
  };
}
