// Travel math for `history.travel_kmh`: the great-circle distance between two GeoIP locations and the
// speed a person would need to cover it between two sign-ins. Pure functions; the history store
// supplies the last successful sign-in's location and time. Edge cases are documented on
// `travelKmh` and in docs/rba.md (§ travel).

/** Mean Earth radius (IUGG), km. The sphere is within 0.5 % of the ellipsoid: far below GeoIP error. */
export const EARTH_RADIUS_KM = 6371.0088;

/**
 * GeoIP places an address at a city (often at the centre of its region, or of its country when the
 * database knows nothing better), so two sign-ins from one place can be tens of kilometres apart on
 * paper. This much is subtracted from every distance before computing a speed; shorter distances
 * count as no travel at all.
 */
export const GEOIP_TOLERANCE_KM = 100;

/** A time difference below this (including zero and negative ones) counts as this: 1 minute. */
export const MIN_TRAVEL_INTERVAL_MS = 60_000;

/**
 * Great-circle distance in km by the haversine formula (numerically sound for small and antipodal
 * distances alike). NaN when a coordinate is not a finite number or a latitude lies outside
 * [−90, 90]; any finite longitude is accepted (it wraps).
 */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  if (!validLat(lat1) || !validLat(lat2) || !Number.isFinite(lon1) || !Number.isFinite(lon2)) return NaN;
  const rad = Math.PI / 180;
  const sinDLat = Math.sin(((lat2 - lat1) * rad) / 2);
  const sinDLon = Math.sin(((lon2 - lon1) * rad) / 2);
  const a = sinDLat * sinDLat + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * sinDLon * sinDLon;
  // Rounding can push `a` a hair past 1 for antipodes; asin would then return NaN.
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(Math.min(1, Math.max(0, a))));
}

export interface TravelPoint {
  readonly lat: number;
  readonly lon: number;
  /** Milliseconds since the epoch. */
  readonly time: number;
}

export interface TravelOptions {
  /** Subtracted from the distance (default GEOIP_TOLERANCE_KM). */
  readonly toleranceKm?: number;
  /** Floor of the time difference (default MIN_TRAVEL_INTERVAL_MS). */
  readonly minIntervalMs?: number;
}

/**
 * The speed, in km/h, needed to go from `prev` to `cur`:
 *   max(0, distance − tolerance) / max(cur.time − prev.time, 1 minute)
 * - the same place, or two places closer than the tolerance (GeoIP city-level error): 0;
 * - a time difference of zero, a negative one (clock skew between instances, events replayed out of
 *   order) or under a minute counts as one minute, so the speed stays finite and still enormous for
 *   any real distance;
 * - `undefined` (the feature is missing) when a coordinate or a time is not a valid number.
 */
export function travelKmh(prev: TravelPoint, cur: TravelPoint, opts: TravelOptions = {}): number | undefined {
  if (!Number.isFinite(prev.time) || !Number.isFinite(cur.time)) return undefined;
  const km = haversineKm(prev.lat, prev.lon, cur.lat, cur.lon);
  if (Number.isNaN(km)) return undefined;
  const tolerance = opts.toleranceKm ?? GEOIP_TOLERANCE_KM;
  const minMs = opts.minIntervalMs ?? MIN_TRAVEL_INTERVAL_MS;
  const travelled = km - tolerance;
  if (!(travelled > 0)) return 0;
  const ms = Math.max(cur.time - prev.time, minMs, 1);
  return travelled / (ms / 3_600_000);
}

function validLat(x: number): boolean {
  return Number.isFinite(x) && x >= -90 && x <= 90;
}
