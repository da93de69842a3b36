// Synthetic feature rows for the shipped default model (models/README.md) and for tests: plausible
// legitimate sign-ins, row by row (no per-user state: the full traffic simulator is training/simulate.ts),
// and a few kinds of attack rows to check that they score higher. Seeded: the same options give the
// same rows. Run as a script it prints NDJSON training rows:
//   npx tsx training/synthetic.ts --rows 20000 --seed 7 > synthetic.ndjson
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { assertNever } from '../dsl/ast.ts';
import { createRandom } from './iforest.ts';

export type SyntheticKind = 'legit' | 'stuffing' | 'takeover' | 'bruteforce';

export interface SyntheticRow {
  readonly time: string;
  readonly label: SyntheticKind;
  readonly features: Record<string, boolean | number | string | null>;
}

/** Days the synthetic rows span, from 2026-01-05T00:00:00Z. */
const START = Date.UTC(2026, 0, 5);
const DAYS = 28;

interface Draw {
  u(): number;
  chance(p: number): boolean;
  normal(): number;
  poisson(mean: number): number;
  logNormal(median: number, sigma: number): number;
  int(min: number, max: number): number;
}

function draw(seed: number, stream: number): Draw {
  const u = createRandom(seed, stream);
  const normal = (): number => {
    const a = Math.max(u(), 1e-12);
    return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u());
  };
  return {
    u,
    chance: (p) => u() < p,
    normal,
    poisson(mean) {
      const l = Math.exp(-mean);
      let k = 0;
      let p = u();
      while (p > l) {
        k++;
        p *= u();
      }
      return k;
    },
    logNormal: (median, sigma) => median * Math.exp(sigma * normal()),
    int: (min, max) => min + Math.floor(u() * (max - min + 1)),
  };
}

function hourOf(d: Draw, centre: number, sd: number): number {
  return (((Math.round(centre + sd * d.normal()) % 24) + 24) % 24) | 0;
}

/** Anonymous-IP flags: half the rows come from a deployment with that database, half without. */
function anon(d: Draw, withDb: boolean, vpn: number, hosting: number): Record<string, boolean | null> {
  if (!withDb) return { 'geo.anonymous': null, 'geo.vpn': null, 'geo.tor': null, 'geo.hosting': null, 'geo.proxy': null };
  const v = d.chance(vpn);
  const h = d.chance(hosting);
  const t = d.chance(vpn / 20);
  const p = d.chance(vpn / 10);
  return { 'geo.anonymous': v || h || t || p, 'geo.vpn': v, 'geo.tor': t, 'geo.hosting': h, 'geo.proxy': p };
}

function legit(d: Draw): Record<string, boolean | number | string | null> {
  const recovery = d.chance(0.02);
  const base = {
    'event.type': recovery ? 'recovery' : 'login',
    // Most users of a deployment live in a few time zones: daytime in UTC, spread.
    'event.hour': hourOf(d, 14, 4.5),
    'velocity.user_failed_1h': d.poisson(0.15),
    'velocity.user_ips_24h': 1 + d.poisson(0.4),
    'velocity.user_recovery_24h': recovery ? 1 + d.poisson(0.2) : d.poisson(0.01),
    'velocity.ip_failed_1h': d.poisson(0.15),
    // Carrier-grade NAT and offices put several users behind one address.
    'velocity.ip_users_1h': d.chance(0.1) ? 1 + d.poisson(3) : 1,
    'velocity.subnet_failed_1h': d.poisson(0.4),
    'device.users_24h': d.chance(0.05) ? 2 : 1,
    ...anon(d, d.chance(0.5), 0.03, 0.01),
  };
  if (d.chance(0.03)) {
    // A user's first sign-in: no history, every novelty flag and the RBA score missing.
    return {
      ...base,
      'history.logins': 0,
      'device.known': null,
      'history.known_country': null,
      'history.known_asn': null,
      'history.known_ip': null,
      'history.known_ua': null,
      'history.since_last_login': null,
      'history.travel_kmh': null,
      'rba.score': null,
    };
  }
  const device = d.chance(0.88);
  const ua = device ? d.chance(0.98) : d.chance(0.6);
  const country = d.chance(0.97);
  const asn = country ? d.chance(0.92) : d.chance(0.3);
  const ip = asn ? d.chance(0.7) : false;
  const travel = ip ? 0 : d.chance(0.7) ? 0 : country ? d.logNormal(20, 1) : d.logNormal(300, 0.8);
  const rbaLog = -1.3 + (ip ? 0 : 0.8) + (asn ? 0 : 0.6) + (country ? 0 : 1.2) + (ua ? 0 : 0.9) + 0.35 * d.normal();
  return {
    ...base,
    'history.logins': Math.max(1, Math.round(d.logNormal(30, 1.3))),
    'device.known': device,
    'history.known_country': country,
    'history.known_asn': asn,
    'history.known_ip': ip,
    'history.known_ua': ua,
    'history.since_last_login': Math.max(60, d.logNormal(20 * 3600, 1.5)),
    'history.travel_kmh': travel,
    'rba.score': Math.pow(10, rbaLog),
  };
}

function attack(d: Draw, kind: Exclude<SyntheticKind, 'legit'>): Record<string, boolean | number | string | null> {
  const withDb = d.chance(0.5);
  const common = {
    'event.type': 'login',
    'device.known': false,
    'history.known_ua': d.chance(0.3),
    'history.logins': Math.max(1, Math.round(d.logNormal(30, 1.3))),
    'history.since_last_login': d.logNormal(48 * 3600, 1.2),
    'velocity.user_recovery_24h': 0,
    'device.users_24h': 1,
  };
  switch (kind) {
    case 'stuffing':
      return {
        ...common,
        'event.hour': d.int(0, 23),
        'history.known_country': d.chance(0.2),
        'history.known_asn': false,
        'history.known_ip': false,
        'history.travel_kmh': d.logNormal(2000, 1),
        'rba.score': Math.pow(10, 1.5 + 0.5 * d.normal()),
        'velocity.user_failed_1h': d.poisson(0.5),
        'velocity.user_ips_24h': 1 + d.poisson(0.5),
        'velocity.ip_failed_1h': d.int(20, 400),
        'velocity.ip_users_1h': d.int(20, 300),
        'velocity.subnet_failed_1h': d.int(30, 800),
        'device.users_24h': d.int(5, 100),
        ...anon(d, withDb, 0.4, 0.5),
      };
    case 'takeover':
      return {
        ...common,
        'event.hour': hourOf(d, 3, 3),
        'history.known_country': false,
        'history.known_asn': false,
        'history.known_ip': false,
        'history.travel_kmh': d.logNormal(6000, 0.8),
        'rba.score': Math.pow(10, 2.3 + 0.4 * d.normal()),
        'velocity.user_failed_1h': d.poisson(1),
        'velocity.user_ips_24h': 1 + d.poisson(1),
        'velocity.ip_failed_1h': d.poisson(1),
        'velocity.ip_users_1h': 1,
        'velocity.subnet_failed_1h': d.poisson(1),
        ...anon(d, withDb, 0.6, 0.4),
      };
    case 'bruteforce':
      return {
        ...common,
        'event.hour': d.int(0, 23),
        'history.known_country': d.chance(0.5),
        'history.known_asn': false,
        'history.known_ip': false,
        'history.travel_kmh': d.logNormal(800, 1),
        'rba.score': Math.pow(10, 1.2 + 0.5 * d.normal()),
        'velocity.user_failed_1h': d.int(10, 60),
        'velocity.user_ips_24h': d.int(5, 40),
        'velocity.ip_failed_1h': d.int(5, 60),
        'velocity.ip_users_1h': 1,
        'velocity.subnet_failed_1h': d.int(5, 60),
        ...anon(d, withDb, 0.3, 0.3),
      };
    default:
      return assertNever(kind, 'synthetic row kind');
  }
}

const KIND_STREAM: Readonly<Record<SyntheticKind, number>> = { legit: 0, stuffing: 1, takeover: 2, bruteforce: 3 };

/** `n` rows of one kind, times spread over four weeks in order. */
export function syntheticRows(n: number, seed: number, kind: SyntheticKind = 'legit'): SyntheticRow[] {
  const d = draw(seed, 1_000_000 + KIND_STREAM[kind]);
  const out: SyntheticRow[] = [];
  for (let i = 0; i < n; i++) {
    const time = new Date(START + Math.floor(((i + d.u()) / Math.max(1, n)) * DAYS * 86_400_000)).toISOString();
    out.push({ time, label: kind, features: kind === 'legit' ? legit(d) : attack(d, kind) });
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '20000' }, seed: { type: 'string', default: '7' } } });
  const rows = Number(values.rows);
  const seed = Number(values.seed);
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(seed)) {
    process.stderr.write('usage: tsx training/synthetic.ts [--rows N] [--seed N]\n');
    process.exitCode = 2;
    return;
  }
  for (const r of syntheticRows(rows, seed)) process.stdout.write(JSON.stringify(r) + '\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
