// Realistic feature records for the DSL benchmark: what the engine would have computed for a sign-in
// or recovery attempt (features.md names; durations in seconds; a missing feature is an absent key).
// Most attempts are ordinary users; a share come from credential-stuffing sources, account-takeover
// attempts and brand-new accounts, and some signal sources are missing (no Anonymous-IP database,
// no history for a new user), so rules see the same mix of values and gaps as in production.
import { rng, type Rng } from './random.ts';

export type FeatureValue = string | number | boolean;
export type FeatureRecord = Readonly<Record<string, FeatureValue>>;

export interface BenchEvent {
  readonly type: 'login' | 'recovery';
  readonly features: FeatureRecord;
}

export const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'BR', 'IN', 'CN', 'RU', 'NG', 'NL', 'JP', 'CA', 'ES', 'IT', 'PL', 'VN', 'ID', 'UA', 'TR', 'MX'];
const COUNTRY_WEIGHTS = [30, 12, 9, 7, 6, 6, 3, 3, 2, 3, 3, 4, 2, 2, 2, 2, 1, 1, 1, 1];
export const ASNS: readonly (readonly [number, string, boolean])[] = [
  [7922, 'Comcast Cable', false],
  [3320, 'Deutsche Telekom', false],
  [2856, 'British Telecommunications', false],
  [3215, 'Orange', false],
  [701, 'Verizon', false],
  [4134, 'Chinanet', false],
  [12389, 'Rostelecom', false],
  [18881, 'Telefonica Brasil', false],
  [16276, 'OVH', true],
  [14061, 'DigitalOcean', true],
  [24940, 'Hetzner', true],
  [16509, 'Amazon', true],
  [15169, 'Google', true],
  [8075, 'Microsoft', true],
  [9009, 'M247', true],
  [20473, 'Vultr', true],
];
export const BROWSERS = ['Chrome', 'Safari', 'Firefox', 'Edge', 'Samsung Internet', 'Opera', 'curl', 'python-requests', 'Go-http-client'];
export const OSES = ['Windows', 'macOS', 'iOS', 'Android', 'Linux', 'ChromeOS'];
export const DEVICE_TYPES = ['desktop', 'mobile', 'tablet'];
export const CITIES = ['London', 'Berlin', 'Paris', 'New York', 'São Paulo', 'Mumbai', 'Tokyo', 'Lagos', 'Toronto', 'Madrid'];
const DAY = 86400;

type Profile = 'ordinary' | 'new_user' | 'stuffing' | 'takeover';

function v4(r: Rng): string {
  return `${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`;
}

function v6(r: Rng): string {
  const g = (): string => r.int(0, 0xffff).toString(16);
  return `2001:${g()}:${g()}:${g()}::${g()}`;
}

/** A heavy-tailed small count: mostly 0-2, sometimes more. */
function small(r: Rng, scale: number): number {
  return Math.floor(-Math.log(1 - r.next()) * scale);
}

function one(r: Rng, profile: Profile, i: number): BenchEvent {
  const f: Record<string, FeatureValue> = {};
  const type = profile === 'takeover' ? r.weighted([['login', 6], ['recovery', 4]] as const) : r.weighted([['login', 9], ['recovery', 1]] as const);
  const hosting = profile === 'stuffing' ? r.chance(0.8) : r.chance(0.05);
  const asn = r.pick(ASNS.filter((a) => a[2] === hosting));
  const country = r.weighted(COUNTRIES.map((c, k) => [c, COUNTRY_WEIGHTS[k]!] as const));

  f['event.type'] = type;
  f['event.hour'] = r.int(0, 23);
  f['ip.address'] = r.chance(0.85) ? v4(r) : v6(r);
  f['ip.private'] = r.chance(0.02);
  if (r.chance(0.98)) {
    f['geo.country'] = country;
    f['geo.city'] = r.pick(CITIES);
    f['geo.lat'] = Math.round((r.next() * 140 - 60) * 1e4) / 1e4;
    f['geo.lon'] = Math.round((r.next() * 360 - 180) * 1e4) / 1e4;
  }
  if (r.chance(0.97)) {
    f['geo.asn'] = asn[0];
    f['geo.asn_org'] = asn[1];
  }
  // An Anonymous-IP database is configured on some deployments only.
  if (r.chance(0.6)) {
    const anon = hosting ? r.chance(0.5) : r.chance(0.03);
    f['geo.anonymous'] = anon;
    f['geo.vpn'] = anon && r.chance(0.6);
    f['geo.tor'] = anon && r.chance(0.1);
    f['geo.hosting'] = hosting;
    f['geo.proxy'] = anon && r.chance(0.2);
  }
  f['user.id'] = `u-${profile === 'stuffing' ? r.int(1, 1e6) : r.int(1, 5000)}`;
  if (r.chance(0.8)) f['user.age'] = profile === 'new_user' ? r.int(60, 3 * DAY) : r.int(DAY, 1500 * DAY);
  if (r.chance(0.7)) f['user.mfa'] = r.chance(0.55);
  f['device.id'] = `d-${i.toString(16)}`;
  const browser = profile === 'stuffing' ? r.pick(BROWSERS) : r.pick(BROWSERS.slice(0, 6));
  f['ua.browser'] = browser;
  f['ua.os'] = r.pick(OSES);
  f['ua.device_type'] = r.weighted([['desktop', 5], ['mobile', 4], ['tablet', 1]] as const);
  f['device.users_24h'] = profile === 'stuffing' ? 1 + small(r, 15) : 1 + (r.chance(0.05) ? r.int(1, 3) : 0);

  if (profile !== 'new_user' && profile !== 'stuffing') {
    const known = profile === 'ordinary';
    f['device.known'] = known ? r.chance(0.85) : r.chance(0.05);
    f['history.logins'] = r.int(1, 600);
    f['history.known_country'] = known ? r.chance(0.95) : r.chance(0.3);
    f['history.known_asn'] = known ? r.chance(0.85) : r.chance(0.2);
    f['history.known_ip'] = known ? r.chance(0.6) : r.chance(0.02);
    f['history.known_ua'] = known ? r.chance(0.9) : r.chance(0.2);
    f['history.since_last_login'] = known ? small(r, 3 * DAY) : small(r, 20 * DAY);
    f['history.last_country'] = known && r.chance(0.95) ? country : r.pick(COUNTRIES);
    f['history.travel_kmh'] = known ? (r.chance(0.9) ? 0 : Math.round(r.next() * 800)) : Math.round(r.next() * 6000);
  } else if (profile === 'stuffing') {
    // The attacker hits real accounts: some have history, against which everything is new.
    if (r.chance(0.5)) {
      f['device.known'] = false;
      f['history.logins'] = r.int(1, 300);
      f['history.known_country'] = r.chance(0.2);
      f['history.known_asn'] = false;
      f['history.known_ip'] = false;
      f['history.known_ua'] = r.chance(0.1);
      f['history.since_last_login'] = small(r, 5 * DAY);
      f['history.last_country'] = r.pick(COUNTRIES);
      f['history.travel_kmh'] = Math.round(r.next() * 8000);
    }
  } else {
    f['device.known'] = false;
  }
  const risky = profile === 'takeover' || profile === 'stuffing';
  f['rba.score'] = Math.round(Math.exp(r.next() * (risky ? 7 : 3)) * 100) / 100;
  if (r.chance(0.97)) {
    f['model.anomaly'] = Math.round((risky ? 0.4 + r.next() * 0.6 : r.next() * 0.7) * 1000) / 1000;
    f['model.version'] = 'iforest-2026-11-24';
  }
  const burst = profile === 'stuffing';
  f['velocity.user_failed_1h'] = profile === 'takeover' ? small(r, 4) : small(r, 0.3);
  f['velocity.user_ips_24h'] = 1 + (profile === 'takeover' ? small(r, 3) : small(r, 0.4));
  f['velocity.user_recovery_24h'] = type === 'recovery' ? 1 + small(r, profile === 'takeover' ? 3 : 0.5) : small(r, 0.05);
  f['velocity.ip_failed_10m'] = burst ? small(r, 25) : small(r, 0.2);
  f['velocity.ip_failed_1h'] = burst ? small(r, 80) : small(r, 0.6);
  f['velocity.ip_users_1h'] = burst ? 1 + small(r, 20) : 1 + small(r, 0.2);
  f['velocity.subnet_failed_1h'] = burst ? small(r, 200) : small(r, 2);
  f['engine.degraded'] = r.chance(0.01);
  return { type, features: f };
}

/** `n` events: 80% ordinary users, 8% new accounts, 8% stuffing, 4% takeover attempts. */
export function generateEvents(n: number, seed = 7): BenchEvent[] {
  const r = rng(seed);
  const out: BenchEvent[] = [];
  for (let i = 0; i < n; i++) {
    const profile = r.weighted<Profile>([
      ['ordinary', 80],
      ['new_user', 8],
      ['stuffing', 8],
      ['takeover', 4],
    ]);
    out.push(one(r, profile, i));
  }
  return out;
}
