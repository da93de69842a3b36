// The `rba` signal source as pure functions: the risk score of Freeman, Jain, Dürmuth, Biggio and
// Giacinto, "Who Are You? A Statistical Approach to Measuring User Authenticity" (NDSS 2016), from
// per-user and global frequency counts of the attempt's IP → ASN → country and UA → browser → OS →
// device type. This file owns the contract with the signal store (`RbaAttempt`, `rbaFields`,
// `RbaCounts`): the store keeps one counter per field string and hands the counts back aligned with
// `rbaFields()`; it knows nothing of the formula. The formula, its smoothing and the scale of
// `rba.score` are explained in docs/rba.md, with the sources used.

// ------------------------------------------------------------------------------------------------
// Contract with the signal store (features/store). Keep these names and shapes.
// ------------------------------------------------------------------------------------------------

/** What one sign-in attempt looked like, as far as the RBA score cares. Any part may be unknown. */
export interface RbaAttempt {
  ip?: string;
  asn?: number;
  country?: string;
  ua?: string;
  browser?: string;
  os?: string;
  deviceType?: string;
}

/**
 * Opaque field strings, one per hierarchy level, ALWAYS in this order and always all seven:
 * `ip:…`, `asn:…`, `cc:…`, `ua:…`, `br:…`, `os:…`, `dt:…`. An unknown value becomes the placeholder
 * `<prefix>:?` (see `isRbaPlaceholder`) so arrays stay aligned; the score ignores placeholder levels,
 * so the store may skip counting them. The full user agent is capped at `RBA_UA_MAX` characters so a
 * hostile header cannot make a huge Redis field.
 */
export function rbaFields(a: RbaAttempt): string[] {
  return [
    'ip:' + str(a.ip),
    'asn:' + asn(a.asn),
    'cc:' + str(a.country),
    'ua:' + str(typeof a.ua === 'string' ? a.ua.slice(0, RBA_UA_MAX) : undefined),
    'br:' + str(a.browser),
    'os:' + str(a.os),
    'dt:' + str(a.deviceType),
  ];
}

/**
 * Counts for one attempt of one user, aligned with `rbaFields()` of that attempt. Only SUCCESSFUL
 * sign-ins count (`succeeded` and `challenge_passed` outcomes): the model compares the attempt with
 * the legitimate traffic of this user and of everyone.
 */
export interface RbaCounts {
  /** Successful sign-ins of this user. */
  userTotal: number;
  /** Successful sign-ins of everyone. */
  globalTotal: number;
  /** Distinct users with at least one successful sign-in. */
  users: number;
  /** user[i]: successful sign-ins of this user with field i's value. */
  user: number[];
  /** global[i]: successful sign-ins of anyone with field i's value. */
  global: number[];
}

/**
 * The Freeman et al. likelihood ratio S_u(x) = Π_k p(x^k)/p(x^k | u, L) · p(u|A)/p(u|L): how many
 * times likelier this attempt is an attacker's than this user's. RAW RATIO, not a logarithm:
 * about 1 is neutral, well below 1 is familiar, above 10 is unusual, 100 and more is very unusual
 * (see docs/rba.md for worked values). Always finite and ≥ 0 when defined.
 *
 * `undefined` (the feature is missing) when the user has no successful sign-in yet (the paper's
 * p(u|L) is 0 and the ratio infinite: a first sign-in must not look maximally risky; rules handle new
 * accounts with `history.logins`), or when the counts are not aligned with `rbaFields()` (a store
 * bug must not produce a number).
 */
export function rbaScore(a: RbaAttempt, counts: RbaCounts, params: RbaParams = RBA_PARAMS): number | undefined {
  const { user, global } = counts;
  if (!Array.isArray(user) || !Array.isArray(global)) return undefined;
  if (user.length !== RBA_FIELD_COUNT || global.length !== RBA_FIELD_COUNT) return undefined;
  const n = count(counts.userTotal);
  if (n === 0) return undefined;
  // The store reads counters one by one, and retention may expire some before others: make the
  // counts consistent (a part never exceeds its whole) rather than trust them.
  const present = presentMask(a);
  let bigN = Math.max(count(counts.globalTotal), n);
  for (let i = 0; i < RBA_FIELD_COUNT; i++) if (present & (1 << i)) bigN = Math.max(bigN, count(global[i]));
  const users = Math.max(count(counts.users), 1);

  const ratioIp = hierarchyRatio(present, user, global, n, bigN, 0, params.ipWeights, params.population);
  const ratioUa = hierarchyRatio(present, user, global, n, bigN, 3, params.uaWeights, params.population);
  // p(u|A)/p(u|L) = (1/|U|) / (n/N): attackers pick users uniformly, legitimate sign-ins are spread
  // as observed. Counts are capped at 2^53, so this is at most ~9e15 and the product stays finite.
  const prior = bigN / (users * n);
  return prior * ratioIp * ratioUa;
}

// ------------------------------------------------------------------------------------------------
// Parameters
// ------------------------------------------------------------------------------------------------

export interface RbaParams {
  /** Interpolation weights of the IP hierarchy: ip, asn, country. */
  readonly ipWeights: readonly [number, number, number];
  /** Interpolation weights of the UA hierarchy: full agent, browser, OS, device type. */
  readonly uaWeights: readonly [number, number, number, number];
  /**
   * ε, the weight of the last back-off level: "this user signs in like the population does".
   * It bounds each hierarchy's ratio by 1/ε, so an attempt new to the user in every respect scores
   * (1/ε)² · p(u|A)/p(u|L). Must lie in (0, 1).
   */
  readonly population: number;
}

/**
 * Defaults. The level weights are those das-group/rba-algorithm fitted for its data set (IP 0.6 /
 * 0.3 / 0.1; UA 0.539 / 0.268 / 0.188 / 0.005), the UA ones rounded and the device type raised to
 * 0.05 because our device types are coarse (8 values) but still informative. ε = 0.05 puts an
 * attempt new in every respect, for a user with an average number of sign-ins, at 400.
 */
export const RBA_PARAMS: RbaParams = Object.freeze({
  ipWeights: Object.freeze([0.6, 0.3, 0.1] as const),
  uaWeights: Object.freeze([0.5, 0.25, 0.2, 0.05] as const),
  population: 0.05,
});

/** Characters of the user agent kept in its field (the same cap as the UA parser's). */
export const RBA_UA_MAX = 512;

/** The number of fields `rbaFields()` returns. */
export const RBA_FIELD_COUNT = 7;

/** The field prefixes, in `rbaFields()` order. */
export const RBA_FIELD_PREFIXES = ['ip', 'asn', 'cc', 'ua', 'br', 'os', 'dt'] as const;

const ABSENT = '?';

/** True for a field that stands for an unknown value (`asn:?`); counting it is pointless. */
export function isRbaPlaceholder(field: string): boolean {
  return field.endsWith(':' + ABSENT);
}

// ------------------------------------------------------------------------------------------------
// The model
// ------------------------------------------------------------------------------------------------

/**
 * One hierarchy's factor p(x)/p(x|u,L), with x the most specific level (the address, the full
 * agent). Global probabilities count the attempt itself, so nothing is ever zero:
 *   P_i = (g_i + 1) / (N + 1)
 * The user's probability is the paper's hierarchical linear (Jelinek–Mercer) interpolation, each
 * level i estimating "the user's share of sign-ins in x's level-i group" times "the share of that
 * group that is exactly x", the latter from global counts, plus a last level (weight ε) that is the
 * population's own distribution:
 *   p(x|u) = Σ_i μ_i · (c_i / n) · (P_1 / P_i) + ε · P_1        with Σ_i μ_i = 1 − ε
 * Each term is a distribution over x, so the mixture is one, and a value the user never used still
 * gets the probability its coarser levels earn: a new address in the user's usual ASN is likely, a
 * new country is not. P_1 cancels in the ratio:
 *   p(x)/p(x|u) = 1 / (Σ_i μ_i · (c_i / n) / P_i + ε)
 * Levels whose value is unknown are left out and the others' weights renormalised; a hierarchy with
 * no known level says nothing (factor 1).
 */
function hierarchyRatio(
  present: number,
  user: readonly number[],
  global: readonly number[],
  n: number,
  bigN: number,
  first: number,
  weights: readonly number[],
  eps: number,
): number {
  let wsum = 0;
  for (let j = 0; j < weights.length; j++) if (present & (1 << (first + j))) wsum += weights[j]!;
  if (wsum <= 0) return 1;
  const scale = (1 - eps) / wsum;
  let denom = eps;
  for (let j = 0; j < weights.length; j++) {
    const i = first + j;
    if (!(present & (1 << i))) continue;
    const c = Math.min(count(user[i]), n);
    if (c === 0) continue;
    const g = Math.max(count(global[i]), c);
    const p = (g + 1) / (bigN + 1);
    denom += weights[j]! * scale * (c / n) / p;
  }
  return 1 / denom;
}

/** Bit i set when field i of `rbaFields(a)` is a real value, not a placeholder. */
function presentMask(a: RbaAttempt): number {
  let m = 0;
  if (str(a.ip) !== ABSENT) m |= 1;
  if (asn(a.asn) !== ABSENT) m |= 2;
  if (str(a.country) !== ABSENT) m |= 4;
  if (str(a.ua) !== ABSENT) m |= 8;
  if (str(a.browser) !== ABSENT) m |= 16;
  if (str(a.os) !== ABSENT) m |= 32;
  if (str(a.deviceType) !== ABSENT) m |= 64;
  return m;
}

function str(v: unknown): string {
  // A value that is literally "?" would collide with the placeholder; no real address, country,
  // agent or parser name is "?", so treating it as unknown loses nothing.
  return typeof v === 'string' && v.length > 0 ? v : ABSENT;
}

function asn(v: unknown): string {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : ABSENT;
}

/** A counter as a non-negative integer no larger than 2^53 − 1; anything else (NaN, −3, "x") is 0. */
function count(v: unknown): number {
  if (typeof v !== 'number' || !(v > 0)) return 0;
  return v >= Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : Math.floor(v);
}
