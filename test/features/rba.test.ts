// features/rba.ts: the field contract with the store, the Freeman et al. score against hand-worked
// values, the missing cases, and properties (finite, bounded, monotone in the user's history,
// placeholders ignored) over random counts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  RBA_FIELD_COUNT,
  RBA_FIELD_PREFIXES,
  RBA_PARAMS,
  RBA_UA_MAX,
  isRbaPlaceholder,
  rbaFields,
  rbaScore,
  type RbaAttempt,
  type RbaCounts,
} from '../../features/rba.ts';

describe('rbaFields', () => {
  it('gives seven prefixed fields in the fixed order', () => {
    expect(
      rbaFields({ ip: '1.2.3.4', asn: 3320, country: 'DE', ua: 'UA/1', browser: 'Chrome', os: 'Windows', deviceType: 'desktop' }),
    ).toEqual(['ip:1.2.3.4', 'asn:3320', 'cc:DE', 'ua:UA/1', 'br:Chrome', 'os:Windows', 'dt:desktop']);
    expect(RBA_FIELD_PREFIXES).toEqual(['ip', 'asn', 'cc', 'ua', 'br', 'os', 'dt']);
  });

  it('keeps arrays aligned with placeholders for unknown values', () => {
    const f = rbaFields({ ip: '1.2.3.4', os: 'iOS' });
    expect(f).toEqual(['ip:1.2.3.4', 'asn:?', 'cc:?', 'ua:?', 'br:?', 'os:iOS', 'dt:?']);
    expect(f.map(isRbaPlaceholder)).toEqual([false, true, true, true, true, false, true]);
    expect(rbaFields({})).toHaveLength(RBA_FIELD_COUNT);
  });

  it.each([[-1], [1.5], [NaN], [Infinity], [2 ** 60]])('treats ASN %s as unknown', (asn) => {
    expect(rbaFields({ asn })[1]).toBe('asn:?');
  });

  it('treats empty strings and wrongly typed values from untyped callers as unknown', () => {
    const junk = { ip: '', country: 7, ua: null, browser: {} } as unknown as RbaAttempt;
    expect(rbaFields(junk)).toEqual(['ip:?', 'asn:?', 'cc:?', 'ua:?', 'br:?', 'os:?', 'dt:?']);
  });

  it('caps the user agent', () => {
    const f = rbaFields({ ua: 'x'.repeat(10_000) });
    expect(f[3]).toBe('ua:' + 'x'.repeat(RBA_UA_MAX));
  });

  it('never yields two levels with the same field string', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const f = rbaFields({ ip: s, country: s, ua: s, browser: s, os: s, deviceType: s });
        expect(new Set(f).size).toBe(RBA_FIELD_COUNT);
      }),
    );
  });
});

// ------------------------------------------------------------------------------------------------
// Hand-worked examples. Parameters: RBA_PARAMS (IP weights .6/.3/.1, UA .5/.25/.2/.05, ε = 0.05),
// so the interpolation weights μ = (1 − ε)·w are
//   IP: μ_ip = .57, μ_asn = .285, μ_cc = .095      UA: μ_ua = .475, μ_br = .2375, μ_os = .19, μ_dt = .0475
// The world: N = 9 999 successful sign-ins (so N + 1 = 10 000), |U| = 1 000 users. The user: n = 10
// sign-ins, all from 1.2.3.4 / AS3320 / DE with one Chrome-on-Windows desktop agent.
// Global counts g chosen so that P = (g + 1)/(N + 1) is round:
//   ip 1.2.3.4: 19 → .002    AS3320: 999 → .1    DE: 3 999 → .4
//   the agent: 99 → .01      Chrome: 4 999 → .5  Windows: 3 999 → .4   desktop: 7 999 → .8
// Prior p(u|A)/p(u|L) = (1/|U|)/(n/N) = 9 999/(1 000·10) = .9999.
// Per hierarchy, ratio = 1/(Σ μ_i·(c_i/n)/P_i + ε).
// ------------------------------------------------------------------------------------------------

const HOME: RbaAttempt = {
  ip: '1.2.3.4', asn: 3320, country: 'DE',
  ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0', browser: 'Chrome', os: 'Windows', deviceType: 'desktop',
};
const WORLD = { userTotal: 10, globalTotal: 9999, users: 1000 };
//                   ip  asn  cc    ua  br    os    dt
const G_HOME = [19, 999, 3999, 99, 4999, 3999, 7999];
const ALL_TEN = [10, 10, 10, 10, 10, 10, 10];
// UA factor for the home agent: 1/(.475/.01 + .2375/.5 + .19/.4 + .0475/.8 + .05)
//                              = 1/(47.5 + .475 + .475 + .059375 + .05) = 1/48.559375
const D_UA_HOME = 48.559375;
// IP factor from home: 1/(.57/.002 + .285/.1 + .095/.4 + .05) = 1/(285 + 2.85 + .2375 + .05) = 1/288.1375
const D_IP_HOME = 288.1375;

function counts(user: number[], global: number[], world = WORLD): RbaCounts {
  return { ...world, user, global };
}

describe('rbaScore: hand-worked examples', () => {
  it('the usual address and agent: far below 1', () => {
    // .9999 / (288.1375 · 48.559375) = .9999 / 13 991.78 = 7.1463e-5
    const s = rbaScore(HOME, counts(ALL_TEN, G_HOME));
    expect(s).toBeCloseTo(0.9999 / (D_IP_HOME * D_UA_HOME), 12);
    expect(s).toBeCloseTo(7.1463e-5, 8);
  });

  it('an address used for part of the history', () => {
    // 7 of the 10 sign-ins from 1.2.3.4, 3 from 1.2.3.5 (global 4 → P = 5/10 000 = .0005), same ASN.
    // Attempt from 1.2.3.5: IP 1/(.57·.3/.0005 + .285/.1 + .095/.4 + .05) = 1/(342 + 2.85 + .2375 + .05)
    const s = rbaScore({ ...HOME, ip: '1.2.3.5' }, counts([3, 10, 10, 10, 10, 10, 10], [4, 999, 3999, 99, 4999, 3999, 7999]));
    expect(s).toBeCloseTo(0.9999 / (345.1375 * D_UA_HOME), 12);
  });

  it('a new address in the usual ASN: still low', () => {
    // IP: 1/(0 + .285/.1 + .095/.4 + .05) = 1/3.1375; score .9999/(3.1375 · 48.559375) = .0065630
    const s = rbaScore({ ...HOME, ip: '1.2.3.99' }, counts([0, 10, 10, 10, 10, 10, 10], [0, 999, 3999, 99, 4999, 3999, 7999]));
    expect(s).toBeCloseTo(0.9999 / (3.1375 * D_UA_HOME), 12);
    expect(s).toBeCloseTo(0.006563, 6);
  });

  it('a new country, with the usual device: the familiar agent offsets the place', () => {
    // IP: nothing known → 1/ε = 20; score .9999 · 20 / 48.559375 = .41183
    const s = rbaScore(
      { ...HOME, ip: '200.1.1.1', asn: 28573, country: 'BR' },
      counts([0, 0, 0, 10, 10, 10, 10], [0, 199, 499, 99, 4999, 3999, 7999]),
    );
    expect(s).toBeCloseTo((0.9999 * 20) / D_UA_HOME, 12);
    expect(s).toBeCloseTo(0.41183, 5);
  });

  it('a new browser at home', () => {
    // UA: agent and Chrome unknown to the user, Windows and desktop known:
    //   1/(.19/.4 + .0475/.8 + .05) = 1/(.475 + .059375 + .05) = 1/.584375
    // score .9999/(288.1375 · .584375) = .9999/168.3803 = .0059383
    const s = rbaScore(
      { ...HOME, ua: 'Mozilla/5.0 (Windows NT 10.0) Firefox/121.0', browser: 'Firefox' },
      counts([10, 10, 10, 0, 0, 10, 10], [19, 999, 3999, 0, 1999, 3999, 7999]),
    );
    expect(s).toBeCloseTo(0.9999 / (D_IP_HOME * 0.584375), 12);
    expect(s).toBeCloseTo(0.0059383, 7);
  });

  it('abroad with a new agent of the usual browser family: elevated', () => {
    // IP 20; UA 1/(.2375/.5 + .19/.4 + .0475/.8 + .05) = 1/1.059375; score .9999·20/1.059375 = 18.877
    const s = rbaScore(
      { ...HOME, ip: '200.1.1.1', asn: 28573, country: 'BR', ua: 'Mozilla/5.0 (Windows NT 10.0) Chrome/99.0' },
      counts([0, 0, 0, 0, 10, 10, 10], [0, 199, 499, 3, 4999, 3999, 7999]),
    );
    expect(s).toBeCloseTo((0.9999 * 20) / 1.059375, 10);
    expect(s).toBeGreaterThan(10);
  });

  it('everything unseen: (1/ε)² · prior = 400 · .9999', () => {
    const s = rbaScore(
      { ip: '9.9.9.9', asn: 1, country: 'KP', ua: 'curl/8', browser: 'curl', os: 'Linux', deviceType: 'embedded' },
      counts([0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]),
    );
    expect(s).toBeCloseTo(399.96, 10);
  });

  it('the prior: a user with more sign-ins than average is less likely the target of this attempt', () => {
    // Same unseen attempt, n = 100: prior = 9 999/(1 000·100) = .09999 → 39.996
    const s = rbaScore({ ip: '9.9.9.9' , ua: 'x' }, counts([0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0], { ...WORLD, userTotal: 100 }));
    expect(s).toBeCloseTo(39.996, 10);
  });

  it('the worked values are ordered from familiar to foreign', () => {
    const same = rbaScore(HOME, counts(ALL_TEN, G_HOME))!;
    const newIp = rbaScore({ ...HOME, ip: '1.2.3.99' }, counts([0, 10, 10, 10, 10, 10, 10], G_HOME))!;
    const newCountry = rbaScore({ ...HOME, ip: '8.8.8.8', asn: 15169, country: 'US' }, counts([0, 0, 0, 10, 10, 10, 10], G_HOME))!;
    const nothing = rbaScore(HOME, counts([0, 0, 0, 0, 0, 0, 0], G_HOME))!;
    expect(same).toBeLessThan(newIp);
    expect(newIp).toBeLessThan(newCountry);
    expect(newCountry).toBeLessThan(nothing);
  });

  it('custom parameters', () => {
    // ε = .5: each hierarchy bounded by 2, everything unseen scores 4 · prior
    const s = rbaScore({ ip: '9.9.9.9', ua: 'x' }, counts([0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]), {
      ...RBA_PARAMS,
      population: 0.5,
    });
    expect(s).toBeCloseTo(4 * 0.9999, 12);
  });
});

describe('rbaScore: unknown levels and missing results', () => {
  it('leaves unknown levels out and renormalises the others', () => {
    // No ASN and no agent data: IP weights .6, .1 → μ = .95·(.6/.7), .95·(.1/.7); UA factor 1.
    //   1/(.8142857/.002 + .1357143/.4 + .05) = 1/(407.142857 + .339286 + .05) = 1/407.532143
    const s = rbaScore({ ip: '1.2.3.4', country: 'DE' }, counts(ALL_TEN, G_HOME));
    expect(s).toBeCloseTo(0.9999 / 407.5321428571, 9);
  });

  it('ignores whatever the store counted under a placeholder', () => {
    const a: RbaAttempt = { ip: '1.2.3.4', country: 'DE', browser: 'Chrome' };
    const base = rbaScore(a, counts([10, 0, 10, 0, 3, 0, 0], G_HOME));
    expect(rbaScore(a, counts([10, 10, 10, 10, 3, 10, 10], [19, 1e9, 3999, 1e9, 4999, 1e9, 1e9]))).toBe(base);
  });

  it('a hierarchy with nothing known is neutral', () => {
    expect(rbaScore({}, counts([0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]))).toBeCloseTo(0.9999, 12);
  });

  it('is missing for a user with no successful sign-in', () => {
    expect(rbaScore(HOME, counts(ALL_TEN, G_HOME, { ...WORLD, userTotal: 0 }))).toBeUndefined();
    expect(rbaScore(HOME, counts(ALL_TEN, G_HOME, { ...WORLD, userTotal: NaN }))).toBeUndefined();
    expect(rbaScore(HOME, counts(ALL_TEN, G_HOME, { ...WORLD, userTotal: -5 }))).toBeUndefined();
  });

  it('is missing when the counts are not aligned with rbaFields()', () => {
    expect(rbaScore(HOME, counts([10, 10], G_HOME))).toBeUndefined();
    expect(rbaScore(HOME, counts(ALL_TEN, [...G_HOME, 1]))).toBeUndefined();
    expect(rbaScore(HOME, { ...WORLD, user: null, global: G_HOME } as unknown as RbaCounts)).toBeUndefined();
  });

  it('repairs inconsistent counts instead of producing nonsense', () => {
    // A user count above the user's total, a global count below the user's, a world smaller than
    // the user: clamped to c ≤ n, g ≥ c, N ≥ n; the result equals that of the repaired counts.
    const broken = rbaScore(HOME, { userTotal: 10, globalTotal: 5, users: 0, user: [50, 10, 10, 10, 10, 10, 10], global: [0, 0, 0, 0, 0, 0, 0] });
    const repaired = rbaScore(HOME, { userTotal: 10, globalTotal: 10, users: 1, user: ALL_TEN, global: ALL_TEN });
    expect(broken).toBe(repaired);
    expect(Number.isFinite(broken)).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------------
// Properties
// ------------------------------------------------------------------------------------------------

const anyCount = fc.oneof(
  fc.nat(),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, Number.MAX_VALUE, 2 ** 60, -1),
);
const anyAttempt: fc.Arbitrary<RbaAttempt> = fc.record(
  {
    ip: fc.string(), asn: fc.oneof(fc.nat(), fc.double()), country: fc.string(), ua: fc.string(),
    browser: fc.string(), os: fc.string(), deviceType: fc.string(),
  },
  { requiredKeys: [] },
);

/** Counts a real store could hold: parts never exceed their whole. */
const consistent = fc
  .record({
    n: fc.integer({ min: 1, max: 10_000 }),
    extraN: fc.integer({ min: 0, max: 1_000_000 }),
    users: fc.integer({ min: 1, max: 100_000 }),
    shares: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 7, maxLength: 7 }),
    gShares: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 7, maxLength: 7 }),
  })
  .map(({ n, extraN, users, shares, gShares }) => {
    const bigN = n + extraN;
    const user = shares.map((s) => Math.floor(s * n));
    const global = user.map((c, i) => c + Math.floor(gShares[i]! * (bigN - n)));
    return { userTotal: n, globalTotal: bigN, users, user, global };
  });

const fullAttempt: RbaAttempt = HOME;

describe('rbaScore: properties', () => {
  it('is undefined or a finite number ≥ 0 for any input whatever', () => {
    fc.assert(
      fc.property(
        anyAttempt,
        anyCount, anyCount, anyCount,
        fc.array(anyCount, { minLength: 7, maxLength: 7 }),
        fc.array(anyCount, { minLength: 7, maxLength: 7 }),
        (a, userTotal, globalTotal, users, user, global) => {
          const s = rbaScore(a, { userTotal, globalTotal, users, user, global });
          if (s !== undefined) {
            expect(Number.isFinite(s)).toBe(true);
            expect(s).toBeGreaterThanOrEqual(0);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('is never above (1/ε)² times the prior', () => {
    fc.assert(
      fc.property(consistent, (c) => {
        const s = rbaScore(fullAttempt, c)!;
        const prior = c.globalTotal / (c.users * c.userTotal);
        expect(s).toBeLessThanOrEqual(prior * 400 * (1 + 1e-12));
      }),
    );
  });

  it('more of the user history at the attempted value never raises the score', () => {
    // k of the user's sign-ins move from other values to the attempted one at level i: the user's and
    // the global count of that value both grow by k; totals stay.
    fc.assert(
      fc.property(consistent, fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 1000 }), (c, i, k0) => {
        const k = Math.min(k0, c.userTotal - c.user[i]!);
        fc.pre(k > 0);
        const before = rbaScore(fullAttempt, c)!;
        const user = [...c.user];
        const global = [...c.global];
        user[i]! += k;
        global[i]! += k;
        const after = rbaScore(fullAttempt, { ...c, user, global })!;
        expect(after).toBeLessThanOrEqual(before * (1 + 1e-12));
      }),
      { numRuns: 1000 },
    );
  });

  it('a value more common in the population (same user history) never lowers the score', () => {
    fc.assert(
      fc.property(consistent, fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 1000 }), (c, i, k0) => {
        const k = Math.min(k0, c.globalTotal - c.global[i]!);
        fc.pre(k > 0);
        const global = [...c.global];
        global[i]! += k;
        expect(rbaScore(fullAttempt, { ...c, global })!).toBeGreaterThanOrEqual(rbaScore(fullAttempt, c)! * (1 - 1e-12));
      }),
      { numRuns: 1000 },
    );
  });
});
