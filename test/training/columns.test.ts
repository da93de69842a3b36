// The default columns a new model is trained with: which features they read, each column's
// transform and missing value, and that no value makes the default vector non-finite.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CATALOG_BY_NAME } from '../../features/catalog.ts';
import { createEncoder, type FeatureBag } from '../../features/model/vector.ts';
import { DEFAULT_COLUMNS, encode, MODEL_FEATURES, VECTOR_COLUMNS } from '../../training/columns.ts';

const C = VECTOR_COLUMNS.length;
const col = (name: string): number => {
  const i = VECTOR_COLUMNS.indexOf(name);
  if (i < 0) throw new Error(`no column ${name}`);
  return i;
};
function vec(f: FeatureBag): Float32Array {
  const out = new Float32Array(C);
  encode(f, out);
  return out;
}

describe('default columns', () => {
  it('read only catalog features that signal sources compute', () => {
    for (const f of MODEL_FEATURES) {
      const e = CATALOG_BY_NAME.get(f);
      expect(e, f).toBeDefined();
      expect(['model', 'engine']).not.toContain(e!.source);
    }
    expect(new Set(VECTOR_COLUMNS).size).toBe(C);
    expect(MODEL_FEATURES).toContain('history.travel_kmh');
    expect(MODEL_FEATURES).toContain('velocity.ip_users_1h');
  });

  it('booleans: true 1, false 0, novelty missing 0.5, anonymizer missing 0', () => {
    const v = vec({ 'device.known': true, 'history.known_country': false, 'geo.vpn': true });
    expect(v[col('device.known')]).toBe(1);
    expect(v[col('history.known_country')]).toBe(0);
    expect(v[col('history.known_asn')]).toBe(0.5);
    expect(v[col('geo.vpn')]).toBe(1);
    expect(v[col('geo.tor')]).toBe(0);
  });

  it('counts are log1p, negative counts clamp to 0', () => {
    const v = vec({ 'velocity.ip_users_1h': 99, 'velocity.user_failed_1h': -5 });
    expect(v[col('velocity.ip_users_1h')]).toBeCloseTo(Math.log(100), 6);
    expect(v[col('velocity.user_failed_1h')]).toBe(0);
  });

  it('since_last_login is log1p of hours, missing as a year ago', () => {
    expect(vec({ 'history.since_last_login': 3600 })[col('history.since_last_login')]).toBeCloseTo(Math.log(2), 6);
    expect(vec({})[col('history.since_last_login')]).toBeCloseTo(Math.log1p(365 * 24), 5);
  });

  it('hour lies on a circle: 23 h is next to 0 h', () => {
    const a = vec({ 'event.hour': 23 });
    const b = vec({ 'event.hour': 0 });
    const c = vec({ 'event.hour': 12 });
    const d = (x: Float32Array, y: Float32Array): number =>
      Math.hypot(x[col('event.hour.sin')]! - y[col('event.hour.sin')]!, x[col('event.hour.cos')]! - y[col('event.hour.cos')]!);
    expect(d(a, b)).toBeLessThan(0.3);
    expect(d(b, c)).toBeCloseTo(2, 5);
    expect(vec({})[col('event.hour.sin')]).toBe(0);
  });

  it('event.type becomes a recovery flag', () => {
    expect(vec({ 'event.type': 'recovery' })[col('event.type.recovery')]).toBe(1);
    expect(vec({ 'event.type': 'login' })[col('event.type.recovery')]).toBe(0);
    expect(vec({})[col('event.type.recovery')]).toBe(0);
  });

  it('session features: missing (every sign-in) encodes as an ordinary owner\'s change', () => {
    const signIn = vec({ 'event.type': 'login' });
    expect(signIn[col('session.age')]).toBeCloseTo(Math.log1p(0.1), 6);
    expect(signIn[col('session.login_score')]).toBe(0);
    expect(signIn[col('session.login_challenged')]).toBe(0);
    expect(signIn[col('session.new_device')]).toBe(0);
    const owner = vec({ 'event.type': 'account_change', 'session.age': 360, 'session.login_score': 0, 'session.login_challenged': false, 'session.new_device': false });
    expect(Array.from(owner)).toEqual(Array.from(signIn));
    const cookie = vec({ 'session.age': 5 * 3600, 'session.login_score': 25, 'session.login_challenged': true, 'session.new_device': true });
    expect(cookie[col('session.age')]).toBeCloseTo(Math.log(6), 6);
    expect(cookie[col('session.login_score')]).toBeCloseTo(Math.log(26), 6);
    expect(cookie[col('session.login_challenged')]).toBe(1);
    expect(cookie[col('session.new_device')]).toBe(1);
    // Left to the rules (training/columns.ts says why).
    for (const f of ['session.ip_changed', 'session.country_changed', 'session.device_changed', 'session.new_ip', 'event.change']) expect(MODEL_FEATURES).not.toContain(f);
  });

  it('rba.score is log10, clamped, missing as neutral 1', () => {
    expect(vec({ 'rba.score': 100 })[col('rba.score')]).toBeCloseTo(2, 6);
    expect(vec({ 'rba.score': 0 })[col('rba.score')]).toBeCloseTo(-3, 6);
    expect(vec({ 'rba.score': 1e300 })[col('rba.score')]).toBeCloseTo(12, 6);
    expect(vec({ 'rba.score': null })[col('rba.score')]).toBe(0);
  });

  it('ill-typed and non-finite values encode as missing', () => {
    const missing = vec({});
    const weird = vec({
      'device.known': 'yes',
      'history.logins': Number.NaN,
      'history.travel_kmh': Number.POSITIVE_INFINITY,
      'velocity.ip_users_1h': '12',
      'event.hour': true,
      'rba.score': Number.NEGATIVE_INFINITY,
      'event.type': 7,
    });
    expect(Array.from(weird)).toEqual(Array.from(missing));
  });

  it('never writes NaN or Infinity, whatever the values (property)', () => {
    const value = fc.oneof(fc.boolean(), fc.double(), fc.string(), fc.constant(null), fc.constant(undefined), fc.integer());
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...MODEL_FEATURES), value), (bag) => {
        const v = vec(bag as FeatureBag);
        return v.every((x) => Number.isFinite(x));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an output array that is too short', () => {
    expect(() => encode({}, new Float32Array(C - 1))).toThrow(RangeError);
  });

  it('writes at an offset without touching the rest', () => {
    const enc = createEncoder(DEFAULT_COLUMNS);
    const out = new Float32Array(C * 2).fill(-7);
    enc.encode({ 'device.known': true }, out, C);
    expect(out[0]).toBe(-7);
    expect(out[C + col('device.known')]).toBe(1);
  });
});
