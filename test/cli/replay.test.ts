// `vigil replay`: decision and rule-hit counts over the example events, both line forms (feature
// records and API request bodies), bad lines counted and never fatal, the baseline diff, --json,
// and the event-only feature derivation for API bodies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveFeatures, type ReplayReport } from '../../cli/replay.ts';
import { run, tempDir } from './helpers.ts';

const EVENTS = 'examples/replay/events.ndjson';
const API = 'examples/replay/api_requests.ndjson';

// Blocks every sign-in; used as the "new" pack against login_core as baseline and vice versa.
const BLOCK_ALL = `pack block_all version 1
rule all_logins {
  on login
  when event.type == "login"
  then block
}
`;

const MIXED = [
  '{"event":"login","features":{"velocity.ip_failed_10m":80}}',
  '',
  'not json at all',
  '{"event":"login","features":{"geo.contry":"GB"}}',
  '[1,2,3]',
  '{"type":"login","user":{"id":"u-1"},"ip":"not-an-ip"}',
  '{"event":"login","features":{}}',
  '{"type":"recovery","user":{"id":"u-2"},"ip":"203.0.113.66","time":"2026-11-24T18:00:00Z"}',
  '{"event":"logout","features":{}}',
  '{"something":"else"}',
].join('\n');

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir({ 'block_all.rules': BLOCK_ALL, 'mixed.ndjson': MIXED, 'bad/a.rules': 'pack x version 1\nrule r { when nope.nope then block }\n' });
});
afterAll(() => tmp.cleanup());
const at = (p: string): string => `${tmp.dir}/${p}`;

async function replayJson(args: string[], stdin = ''): Promise<ReplayReport> {
  const r = await run(['replay', '--json', ...args], stdin);
  expect(r.code).toBe(0);
  expect(r.out.trim().split('\n')).toHaveLength(1);
  return JSON.parse(r.out) as ReplayReport;
}

describe('vigil replay', () => {
  it('prints allow/step_up/block counts, rule hits and events per second', async () => {
    const r = await run(['replay', 'rules/login_core', EVENTS]);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines).toContain('events 22');
    expect(lines).toContain('invalid 0');
    const count = (k: string): number => Number(lines.find((l) => l.startsWith(`${k} `))?.split(' ')[1]);
    // lines 9-10 (a spray of 11 and 21 accounts from one hosting address) are blocked by stuffing_ip_spray_early
    expect([count('allow'), count('step_up'), count('block')]).toEqual([10, 4, 8]);
    expect(r.out).toMatch(/rule hits \(enforcing\):\n {2}\w+ \d+/);
    expect(r.out).toMatch(/rule hits \(shadow\):/);
    expect(r.out).toMatch(/22 events in [\d.]+ s \(\d+ events\/s\)/);
  });

  it('--json prints one object with the same numbers, rule hits sorted by count', async () => {
    const j = await replayJson(['rules/login_core', EVENTS]);
    expect(j.events).toBe(22);
    expect(j.invalid).toBe(0);
    expect(j.decisions.allow + j.decisions.step_up + j.decisions.block).toBe(22);
    expect(j.events_per_second).toBeGreaterThan(0);
    const counts = j.rules.enforce.map((c) => c.count);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    expect(j.rules.enforce.map((c) => c.name)).toContain('stuffing_ip_burst');
    expect(j.rules.enforce.map((c) => c.name)).toContain('impossible_travel');
    expect(j.baseline).toBeUndefined();
  });

  it('a stuffing burst in the sample ends in block, the traveller is challenged', async () => {
    const r = await run(['replay', '--json', 'rules/login_core', '--baseline', at('block_all.rules'), EVENTS]);
    const j = JSON.parse(r.out) as ReplayReport;
    // Against block-everything, every login that login_core does not block shows up as a change.
    const changes = j.baseline?.changes ?? [];
    const line15 = changes.find((c) => c.line === 15);
    expect(line15).toBeUndefined(); // the last burst line (80 failures) is a block in both packs
    const traveller = changes.find((c) => c.line === 17);
    expect(traveller).toMatchObject({ from: 'block', to: 'step_up', baseline_rules: ['all_logins'] });
    expect(traveller?.rules).toContain('impossible_travel');
  });

  it('--baseline lists every changed decision with its line and a count', async () => {
    const j = await replayJson([at('block_all.rules'), '--baseline', 'rules/login_core', EVENTS]);
    const b = j.baseline;
    // The sample has 18 logins (block_all blocks them all) and 4 recoveries (block_all allows them).
    expect(j.decisions).toEqual({ allow: 4, step_up: 0, block: 18 });
    expect(b?.decisions).toEqual({ allow: 10, step_up: 4, block: 8 });
    // 11 logins login_core does not block, and the 4 recoveries it does not allow.
    expect(b?.changed).toBe(15);
    expect(b?.changes).toHaveLength(15);
    expect(b?.changes.filter((c) => c.to === 'block').every((c) => c.rules.join() === 'all_logins')).toBe(true);
    expect(b?.changes.find((c) => c.line === 18)).toEqual({
      line: 18,
      from: 'block',
      to: 'allow',
      rules: [],
      baseline_rules: ['recovery_from_tor'],
    });
    expect(b?.changes.some((c) => c.line >= 11 && c.line <= 15)).toBe(false);
    const text = await run(['replay', at('block_all.rules'), '--baseline', 'rules/login_core', EVENTS]);
    expect(text.out).toContain('  line 1: allow → block (rules: all_logins; baseline: trusted_device_and_place)');
    expect(text.out).toContain('baseline: allow 10, step_up 4, block 8');
    expect(text.out.split('\n')).toContain('changed 15');
  });

  it('counts and reports bad lines without crashing; blank lines are skipped', async () => {
    const j = await replayJson(['rules/login_core', at('mixed.ndjson')]);
    expect(j.events).toBe(3);
    expect(j.invalid).toBe(6);
    expect(j.errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 9, 10]);
    expect(j.decisions).toEqual({ allow: 1, step_up: 0, block: 2 });
    const text = await run(['replay', 'rules/login_core', at('mixed.ndjson')]);
    expect(text.code).toBe(0);
    expect(text.out.split('\n')).toContain('invalid 6');
    expect(text.err).toMatch(/mixed\.ndjson:3: invalid JSON/);
    expect(text.err).toMatch(/mixed\.ndjson:4: .*geo\.contry/);
  });

  it('API request bodies are evaluated from their event-only features', async () => {
    const j = await replayJson(['rules/login_core', API]);
    expect(j.events).toBe(5);
    expect(j.invalid).toBe(0);
    // 203.0.113.77 is a listed Tor exit: recovery through it is blocked.
    expect(j.rules.enforce).toContainEqual({ name: 'recovery_from_tor', count: 1 });
    expect(j.rules.enforce).toContainEqual({ name: 'corp_network_allow', count: 1 });
    expect(j.rules.enforce).toContainEqual({ name: 'young_account_recovery', count: 1 });
  });

  it('reads events from stdin with -', async () => {
    const j = await replayJson(['rules/login_core', '-'], '{"event":"login","features":{}}\n');
    expect(j.events).toBe(1);
  });

  it('an unreadable events file or a pack that does not compile exits 1', async () => {
    expect((await run(['replay', 'rules/login_core', at('nope.ndjson')])).code).toBe(1);
    expect((await run(['replay', 'rules/login_core', tmp.dir])).code).toBe(1);
    const bad = await run(['replay', at('bad'), EVENTS]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/error\[E_UNKNOWN_NAME\]/);
    expect((await run(['replay', 'rules/login_core', '--baseline', at('bad'), EVENTS])).code).toBe(1);
    expect((await run(['replay', 'rules/login_core', '--baseline', at('nope'), EVENTS])).code).toBe(1);
  });
});

describe('deriveFeatures (API body → event-only features)', () => {
  it('derives event, hour, address, user, age, mfa and device', async () => {
    const d = await deriveFeatures({
      type: 'recovery',
      user: { id: 'u-1', created_at: '2026-11-22T18:00:00Z', mfa: false },
      ip: '81.2.69.142',
      device: { id: 'd-1', user_agent: 'curl/8' },
      time: '2026-11-24T06:30:00Z',
    });
    expect(d).toEqual({
      ok: true,
      event: {
        eventType: 'recovery',
        features: {
          'event.type': 'recovery',
          'event.hour': 6,
          'ip.address': '81.2.69.142',
          'user.id': 'u-1',
          'user.age': 2 * 86400 - 11.5 * 3600,
          'user.mfa': false,
          'device.id': 'd-1',
        },
      },
    });
  });
  it('time defaults to now; optional fields stay missing; age is never negative', async () => {
    const now = Date.parse('2026-01-01T23:10:00Z');
    const d = await deriveFeatures({ type: 'login', user: { id: 'u', created_at: '2027-01-01' }, ip: '2001:db8::1' }, () => now);
    expect(d).toEqual({
      ok: true,
      event: { eventType: 'login', features: { 'event.type': 'login', 'event.hour': 23, 'ip.address': '2001:db8::1', 'user.id': 'u', 'user.age': 0 } },
    });
  });
  it.each([
    [{ type: 'logout', user: { id: 'u' }, ip: '1.2.3.4' }, /type/],
    [{ type: 'login', user: {}, ip: '1.2.3.4' }, /user\.id/],
    [{ type: 'login', user: { id: 'u' }, ip: '1.2.3' }, /ip/],
    [{ type: 'login', user: { id: 'u' }, ip: '1.2.3.4', time: 'yesterday' }, /time/],
  ])('rejects an invalid body %j naming the field', async (body, field) => {
    const d = await deriveFeatures(body);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error).toMatch(field);
  });
});
