// The feature registry: one declaration per feature, from which the Scheme (slots), the phases and
// the docs' feature table derive. With UPDATE_DOCS=1 (npm run docs:features) the table in
// docs/signals.md is rewritten instead of checked.
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CATALOG, CATALOG_BY_NAME, featureTable, SOURCE_PHASE, VIGIL_SCHEME, type FeatureInput } from '../../features/catalog.ts';
import { historyFeatures } from '../../features/history.ts';
import { parseIp } from '../../features/ip.ts';
import { NO_SESSION } from '../../features/session.ts';
import { velocityFeatures } from '../../features/velocity.ts';

const DOC = new URL('../../docs/signals.md', import.meta.url);
const BEGIN = '<!-- features:begin -->';
const END = '<!-- features:end -->';
/**
 * Features Vigil declares beyond the spec's catalogue (docs/signals.md § Beyond the spec says why):
 * a pack that reads one runs on Vigil only. Every spec feature must still be declared, exactly.
 */
const EXTENSIONS = ['history.known_subnet', 'session.new_ip', 'history.recovery_challenged'];

describe('feature registry', () => {
  it('every feature of the spec is declared once, with its slot its index in the Scheme', () => {
    const spec = readFileSync(new URL('../../../shared/spec/features.md', import.meta.url), 'utf8');
    // The v1 table, and the v2 table of § Sensitive actions and sessions (with its types).
    const v1 = spec.slice(0, spec.indexOf('## How the history'));
    const v2 = spec.slice(spec.indexOf('## Sensitive actions'));
    const namesOf = (t: string): string[] => [...t.matchAll(/^\| (`[^|]+`)/gm)].flatMap((m) => [...m[1]!.matchAll(/`([a-z0-9_.]+)`/g)].map((n) => n[1]!));
    const names = [...namesOf(v1), ...namesOf(v2)];
    for (const m of v2.matchAll(/^\| `([a-z0-9_.]+)` \| (\w+) \|/gm)) expect(CATALOG_BY_NAME.get(m[1]!)?.type, m[1]).toBe(m[2]);
    expect(new Set(CATALOG.map((e) => e.name))).toEqual(new Set([...names, ...EXTENSIONS]));
    for (const x of EXTENSIONS) expect(names, x).not.toContain(x);
    const beyond = readFileSync(DOC, 'utf8').split('## Beyond the spec')[1] ?? '';
    for (const x of EXTENSIONS) expect(beyond, `docs/signals.md § Beyond the spec names ${x}`).toContain(`\`${x}\``);
    expect(CATALOG.length).toBe(CATALOG_BY_NAME.size);
    CATALOG.forEach((e, i) => {
      expect(e.slot).toBe(i);
      expect(VIGIL_SCHEME.feature(e.name)).toMatchObject({ slot: i, type: e.type });
      expect(e.phase).toBe(SOURCE_PHASE[e.source]);
    });
    expect(VIGIL_SCHEME.size).toBe(CATALOG.length);
  });

  it('each reader takes its value from its own source\'s output', () => {
    const input: FeatureInput = {
      event: { type: 'recovery', userId: 'u', time: Date.parse('2026-01-01T05:30:00Z'), userCreatedAt: Date.parse('2025-12-31T05:30:00Z'), mfa: true, deviceId: 'd' },
      ip: parseIp('10.1.2.3'),
      geo: { country: 'GB', asn: 64500 },
      ua: { browser: 'Firefox' },
      history: historyFeatures({ logins: 2, knownDevice: true, knownCountry: false, knownAsn: true, knownIp: false, knownUa: true }, { time: 0 }),
      velocity: velocityFeatures({ userFailed1h: 3, userIps24h: 1, userRecovery24h: 0, ipFailed10m: 0, ipFailed1h: 4, ipUsers1h: 2, userChanges24h: 0 }),
      session: NO_SESSION,
      rba: 1.5,
      anomaly: 0.25,
      modelVersion: 'm1',
      degraded: true,
    };
    const v = (name: string) => CATALOG_BY_NAME.get(name)!.read(input);
    expect([v('event.type'), v('event.hour'), v('user.age'), v('user.mfa'), v('device.id')]).toEqual(['recovery', 5, 86400, true, 'd']);
    expect([v('ip.address'), v('ip.private'), v('geo.country'), v('geo.asn'), v('geo.city')]).toEqual(['10.1.2.3', true, 'GB', 64500, undefined]);
    expect([v('ua.browser'), v('ua.os'), v('device.known'), v('history.logins'), v('history.known_country')]).toEqual(['Firefox', undefined, true, 2, false]);
    expect([v('velocity.user_failed_1h'), v('velocity.ip_failed_1h'), v('device.users_24h'), v('rba.score')]).toEqual([3, 4, undefined, 1.5]);
    expect([v('model.anomaly'), v('model.version'), v('engine.degraded')]).toEqual([0.25, 'm1', true]);
  });

  it('user.age is missing for an account created after the event', () => {
    const e = CATALOG_BY_NAME.get('user.age')!;
    const input = { event: { type: 'login', userId: 'u', time: 0, userCreatedAt: 1000 } } as FeatureInput;
    expect(e.read(input)).toBeUndefined();
  });

  it('docs/signals.md carries the table generated from the registry', () => {
    const doc = readFileSync(DOC, 'utf8');
    const a = doc.indexOf(BEGIN);
    const b = doc.indexOf(END);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    const want = `${BEGIN}\n${featureTable()}\n${END}`;
    if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC, doc.slice(0, a) + want + doc.slice(b + END.length));
    else expect(doc.slice(a, b + END.length)).toBe(want);
  });
});
