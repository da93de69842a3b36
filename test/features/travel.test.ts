// features/travel.ts: haversine against geometric identities and published city distances, and the
// speed's edge cases (same place, GeoIP tolerance, zero/negative/short intervals, invalid input).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EARTH_RADIUS_KM, GEOIP_TOLERANCE_KM, haversineKm, travelKmh } from '../../features/travel.ts';

const LONDON = { lat: 51.5074, lon: -0.1278 };
const BEIJING = { lat: 39.9042, lon: 116.4074 };
const PARIS = { lat: 48.8566, lon: 2.3522 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };
const LOS_ANGELES = { lat: 34.0522, lon: -118.2437 };
const SYDNEY = { lat: -33.8688, lon: 151.2093 };
const TOKYO = { lat: 35.6762, lon: 139.6503 };
const H = 3_600_000;

function km(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  return haversineKm(a.lat, a.lon, b.lat, b.lon);
}

describe('haversineKm', () => {
  it('matches geometric identities on the sphere', () => {
    const halfCircumference = Math.PI * EARTH_RADIUS_KM; // 20 015.1 km
    expect(haversineKm(0, 0, 0, 1)).toBeCloseTo(halfCircumference / 180, 9); // 1° of the equator: 111.195 km
    expect(haversineKm(90, 0, -90, 0)).toBeCloseTo(halfCircumference, 6); // pole to pole
    expect(haversineKm(0, 0, 0, 180)).toBeCloseTo(halfCircumference, 6); // antipodes on the equator
    expect(haversineKm(0, 0, 90, 0)).toBeCloseTo(halfCircumference / 2, 6);
    expect(haversineKm(45, 10, -45, -170)).toBeCloseTo(halfCircumference, 6); // antipodes off the equator
  });

  it.each([
    ['London–Beijing', LONDON, BEIJING, 8140],
    ['New York–Los Angeles', NEW_YORK, LOS_ANGELES, 3936],
    ['Paris–London', PARIS, LONDON, 344],
    ['Sydney–Tokyo', SYDNEY, TOKYO, 7826],
  ])('%s ≈ %d km', (_name, a, b, expected) => {
    expect(Math.abs(km(a, b) - expected)).toBeLessThan(expected * 0.003);
  });

  it('crosses the antimeridian the short way and wraps longitudes', () => {
    // 10°N, 170°E to 10°N, 170°W: 20° of longitude at 10°N, not 340°
    expect(haversineKm(10, 170, 10, -170)).toBeCloseTo(2189.78, 1);
    expect(haversineKm(10, 190, 10, -170)).toBeCloseTo(0, 6);
  });

  it('is zero for one point, symmetric, and never beyond half the circumference', () => {
    const lat = fc.double({ min: -90, max: 90, noNaN: true });
    const lon = fc.double({ min: -540, max: 540, noNaN: true });
    fc.assert(
      fc.property(lat, lon, lat, lon, (a, b, c, d) => {
        const x = haversineKm(a, b, c, d);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(Math.PI * EARTH_RADIUS_KM + 1e-6);
        expect(haversineKm(c, d, a, b)).toBeCloseTo(x, 6);
        expect(haversineKm(a, b, a, b)).toBe(0);
      }),
    );
  });

  it.each([
    [NaN, 0, 0, 0], [0, NaN, 0, 0], [0, 0, Infinity, 0], [0, 0, 0, -Infinity], [90.5, 0, 0, 0], [0, 0, -91, 0],
  ])('is NaN for invalid coordinates (%s, %s, %s, %s)', (a, b, c, d) => {
    expect(haversineKm(a, b, c, d)).toBeNaN();
  });
});

describe('travelKmh', () => {
  it('London to Beijing in one hour: distance less the tolerance, per hour', () => {
    const v = travelKmh({ ...LONDON, time: 0 }, { ...BEIJING, time: H })!;
    expect(v).toBeCloseTo(km(LONDON, BEIJING) - GEOIP_TOLERANCE_KM, 6);
    expect(v).toBeGreaterThan(8000);
  });

  it('Paris to London in 2.5 hours (a train): (343.56 − 100)/2.5 ≈ 97 km/h', () => {
    expect(travelKmh({ ...PARIS, time: 1_000 }, { ...LONDON, time: 1_000 + 2.5 * H })).toBeCloseTo((km(PARIS, LONDON) - 100) / 2.5, 6);
  });

  it('the same coordinates: 0, even a second apart', () => {
    expect(travelKmh({ ...LONDON, time: 0 }, { ...LONDON, time: 1000 })).toBe(0);
  });

  it('closer than the GeoIP tolerance: 0', () => {
    // London to Reading, ~58 km, within one minute
    expect(travelKmh({ ...LONDON, time: 0 }, { lat: 51.4543, lon: -0.9781, time: 30_000 })).toBe(0);
  });

  it('a custom tolerance', () => {
    // 1° of the equator (111.195 km) in one hour, no tolerance
    expect(travelKmh({ lat: 0, lon: 0, time: 0 }, { lat: 0, lon: 1, time: H }, { toleranceKm: 0 })).toBeCloseTo(111.195, 3);
  });

  it.each([
    ['zero', 0],
    ['negative (clock skew, out-of-order replay)', -5 * H],
    ['under a minute', 10_000],
  ])('a %s interval counts as one minute', (_name, dt) => {
    const v = travelKmh({ ...LONDON, time: 10 * H }, { ...BEIJING, time: 10 * H + dt })!;
    expect(v).toBeCloseTo((km(LONDON, BEIJING) - 100) * 60, 6);
    expect(Number.isFinite(v)).toBe(true);
  });

  it('a custom minimum interval', () => {
    const v = travelKmh({ lat: 0, lon: 0, time: 0 }, { lat: 0, lon: 1, time: 0 }, { toleranceKm: 0, minIntervalMs: H });
    expect(v).toBeCloseTo(111.195, 3);
  });

  it.each([
    [{ lat: NaN, lon: 0, time: 0 }, { lat: 0, lon: 0, time: H }],
    [{ lat: 0, lon: 0, time: 0 }, { lat: 95, lon: 0, time: H }],
    [{ lat: 0, lon: 0, time: NaN }, { lat: 10, lon: 0, time: H }],
    [{ lat: 0, lon: 0, time: 0 }, { lat: 10, lon: 0, time: Infinity }],
  ])('is missing for invalid input %#', (prev, cur) => {
    expect(travelKmh(prev, cur)).toBeUndefined();
  });

  it('is a finite number ≥ 0 for any valid input', () => {
    const lat = fc.double({ min: -90, max: 90, noNaN: true });
    const lon = fc.double({ min: -180, max: 180, noNaN: true });
    const t = fc.integer({ min: 0, max: 4_102_444_800_000 });
    fc.assert(
      fc.property(lat, lon, t, lat, lon, t, (a, b, s, c, d, u) => {
        const v = travelKmh({ lat: a, lon: b, time: s }, { lat: c, lon: d, time: u })!;
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThanOrEqual(0);
        // never more than half the circumference per minute
        expect(v).toBeLessThanOrEqual(Math.PI * EARTH_RADIUS_KM * 60 + 1e-6);
      }),
    );
  });
});
