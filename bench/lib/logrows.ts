// Realistic decision-log rows for the decision log's benchmark and load tests: the feature records of
// bench/lib/events.ts (raw identifiers removed, as the engine stores them), keyed-hash-shaped user,
// device and address digests, a /24 or /48 prefix, 0-3 live rule hits and an occasional shadow hit,
// an EventContext-shaped ctx and the request extras. Seeded, so two runs store the same bytes.
import { createHash } from 'node:crypto';
import type { Decision, FeatureValue, LogRow, RuleHitRow } from '../../decisionlog/types.ts';
import { generateEvents } from './events.ts';
import { rng } from './random.ts';

const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID for `time` with a random part from `next` (uniform [0, 1)). */
export function ulidAt(time: number, next: () => number): string {
  let t = time;
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = B32.charAt(t % 32) + head;
    t = Math.floor(t / 32);
  }
  let tail = '';
  for (let i = 0; i < 16; i++) tail += B32.charAt(Math.floor(next() * 32));
  return head + tail;
}

/** A 22-character base64url digest, shaped like features/privacy.ts's keyed hashes. */
export function fakeHash(kind: string, n: number): string {
  return createHash('sha256').update(`${kind}\0${n}`).digest().subarray(0, 16).toString('base64url');
}

export const RULE_NAMES = [
  'impossible_travel', 'new_country', 'new_device_recovery', 'tor_exit', 'hosting_asn', 'credential_stuffing',
  'ip_velocity', 'user_velocity', 'new_asn', 'anonymous_proxy', 'recovery_burst', 'bad_reputation_ip',
] as const;
// How often each rule matches (per decision): a few common rules, a long tail of rare ones.
const RULE_RATES = [0.02, 0.08, 0.01, 0.002, 0.05, 0.01, 0.03, 0.015, 0.06, 0.004, 0.003, 0.001];

export interface RowFactoryOptions {
  readonly seed?: number;
  /** Distinct users (hashed); default 20,000. */
  readonly users?: number;
}

export function logRowFactory(opts: RowFactoryOptions = {}): (time: number) => LogRow {
  const r = rng(opts.seed ?? 11);
  const users = opts.users ?? 20_000;
  const events = generateEvents(1000, opts.seed ?? 11);
  const hashes = new Map<string, string>();
  const h = (kind: string, n: number): string => {
    const k = `${kind}${n}`;
    let v = hashes.get(k);
    if (v === undefined) {
      v = fakeHash(kind, n);
      if (hashes.size < 200_000) hashes.set(k, v);
    }
    return v;
  };
  return (time) => {
    const ev = events[r.int(0, events.length - 1)]!;
    const features: Record<string, FeatureValue> = {};
    for (const [k, v] of Object.entries(ev.features)) if (k !== 'ip.address' && k !== 'user.id' && k !== 'device.id') features[k] = v;
    const u = r.int(0, users - 1);
    const rules: RuleHitRow[] = [];
    for (let k = 0; k < RULE_NAMES.length; k++) {
      if (r.chance(RULE_RATES[k]!)) {
        rules.push({ name: RULE_NAMES[k]!, action: r.pick<Decision | null>([null, 'step_up', 'block']), score: r.int(5, 60), tags: ['ato'] });
      }
    }
    const shadow: RuleHitRow[] = r.chance(0.05) ? [{ name: 'new_asn_v2', action: 'block', score: 0, tags: [] }] : [];
    const score = rules.reduce((s, x) => s + x.score, 0);
    const decision: Decision = score >= 80 ? 'block' : score >= 40 ? 'step_up' : 'allow';
    const v6 = r.chance(0.15);
    const prefix = v6 ? `2001:db8:${r.int(0, 0xffff).toString(16)}::/48` : `${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.0/24`;
    const country = typeof ev.features['geo.country'] === 'string' ? ev.features['geo.country'] : null;
    const asn = typeof ev.features['geo.asn'] === 'number' ? ev.features['geo.asn'] : null;
    const user = h('u', u);
    const ip = h('i', r.int(0, users * 2));
    const device = r.chance(0.9) ? h('d', u * 3 + r.int(0, 2)) : null;
    return {
      id: ulidAt(time, r.next),
      time,
      type: ev.type,
      user,
      device,
      ip,
      prefix,
      country,
      asn,
      decision,
      score,
      degraded: r.chance(0.001),
      rules,
      shadow,
      pack: { name: 'login_core', version: 7, hash: 'sha256:9f2c4b1e0d5a7c3f8e6b2a1d4c7f0e9b3a5d8c2f1e4b7a0d3c6f9e2b5a8d1c4f' },
      modelVersion: 'iforest-2026-11-24',
      features,
      ctx: {
        v: 1,
        type: ev.type,
        time,
        user,
        ip,
        subnet: h('n', u),
        ...(device ? { device } : {}),
        ...(country ? { country } : {}),
        ...(asn !== null ? { asn } : {}),
        lat: features['geo.lat'] ?? 51.5,
        lon: features['geo.lon'] ?? -0.12,
        ua: h('a', u % 50),
        rba: [h('f', u), h('f', u + 1), null, h('f', u + 2), h('f', u % 7), h('f', u % 3), h('f', 9)],
      },
      request: { created_at: '2024-01-05T10:00:00Z', mfa: r.chance(0.4), browser: features['ua.browser'] ?? 'Chrome', os: features['ua.os'] ?? 'Windows' },
      outcome: null,
      outcomeAt: null,
    };
  };
}
