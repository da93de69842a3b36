// History features from store signals (features/history.ts): new user vs new place, durations,
// travel speed and its edge cases.
import { describe, expect, it } from 'vitest';
import { HISTORY_FEATURES, historyFeatures } from '../../features/history.ts';
import type { HistorySignals } from '../../features/store/types.ts';

const T = Date.UTC(2026, 10, 24, 18, 0, 0);
const LONDON = { lat: 51.5074, lon: -0.1278 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };

const known: HistorySignals = {
  logins: 4,
  lastTime: T - 3_600_000,
  lastCountry: 'GB',
  lastLat: LONDON.lat,
  lastLon: LONDON.lon,
  knownIp: true,
  knownDevice: false,
  knownCountry: true,
  knownAsn: true,
  knownUa: false,
};

describe('historyFeatures', () => {
  it('maps a known user', () => {
    expect(historyFeatures(known, { time: T, ...LONDON })).toEqual({
      'device.known': false,
      'history.logins': 4,
      'history.known_country': true,
      'history.known_asn': true,
      'history.known_ip': true,
      'history.known_ua': false,
      'history.since_last_login': 3600,
      'history.last_country': 'GB',
      'history.travel_kmh': 0,
    });
  });

  it('a new user: logins 0, every known_* and device.known missing, not false', () => {
    const f = historyFeatures(
      { logins: 0, knownIp: false, knownDevice: false, knownCountry: false, knownAsn: false, knownUa: false },
      { time: T, ...LONDON },
    );
    expect(f['history.logins']).toBe(0);
    for (const k of ['device.known', 'history.known_country', 'history.known_asn', 'history.known_ip', 'history.known_ua'] as const) {
      expect(f[k]).toBeUndefined();
    }
    expect(f['history.since_last_login']).toBeUndefined();
    expect(f['history.travel_kmh']).toBeUndefined();
    expect(f['history.last_country']).toBeUndefined();
  });

  it('every feature is missing without store signals', () => {
    const f = historyFeatures(undefined, { time: T });
    expect(Object.keys(f).sort()).toEqual([...HISTORY_FEATURES].sort());
    expect(Object.values(f).every((v) => v === undefined)).toBe(true);
  });

  it('an attribute the event lacks stays missing even for a known user', () => {
    const { knownDevice: _d, knownCountry: _c, ...rest } = known;
    const f = historyFeatures(rest, { time: T });
    expect(f['device.known']).toBeUndefined();
    expect(f['history.known_country']).toBeUndefined();
    expect(f['history.known_ip']).toBe(true);
  });

  it('travel speed: distance over time since the last sign-in', () => {
    const f = historyFeatures(known, { time: T, ...NEW_YORK });
    // ~5570 km in 1 h, minus the 100 km GeoIP tolerance.
    expect(f['history.travel_kmh']).toBeGreaterThan(5400);
    expect(f['history.travel_kmh']).toBeLessThan(5500);
  });

  it('same instant or a last sign-in after the event: interval floored to one minute, since_last_login 0 / missing', () => {
    const same = historyFeatures({ ...known, lastTime: T }, { time: T, ...NEW_YORK });
    expect(same['history.since_last_login']).toBe(0);
    expect(same['history.travel_kmh']).toBeGreaterThan(5400 * 60);
    const later = historyFeatures({ ...known, lastTime: T + 5000 }, { time: T, ...NEW_YORK });
    expect(later['history.since_last_login']).toBeUndefined();
    expect(later['history.travel_kmh']).toBe(same['history.travel_kmh']);
  });

  it('travel speed is missing without either location', () => {
    expect(historyFeatures(known, { time: T })['history.travel_kmh']).toBeUndefined();
    const { lastLat: _a, lastLon: _b, ...noPlace } = known;
    expect(historyFeatures(noPlace, { time: T, ...LONDON })['history.travel_kmh']).toBeUndefined();
  });
});
