// The default pack rules/login_core: compiles with no diagnostic at all, is big enough to be a real
// default, passes its own tests, and keeps the promises its header makes when evaluated directly
// (the Redis blocked-users list, missing data never blocking, the corporate allow-list).
import { describe, expect, it } from 'vitest';
import { compilePack, evaluateRecord, loadPackDir, type CompiledPack, type RedisListBackend } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';

const result = compilePack(loadPackDir('rules/login_core'), { scheme: VIGIL_SCHEME });
const pack = result.pack as CompiledPack;

function decide(type: string, features: Record<string, unknown>, lists?: RedisListBackend) {
  const r = evaluateRecord(pack, type, features, lists ? { scheme: VIGIL_SCHEME, lists } : { scheme: VIGIL_SCHEME });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.decision;
}

describe('rules/login_core', () => {
  it('compiles with zero errors and zero warnings', () => {
    expect(result.diagnostics.map((d) => `${d.code} ${d.span.file}:${d.span.line}:${d.span.col}`)).toEqual([]);
    expect(pack).not.toBeNull();
    expect(pack.name).toBe('login_core');
  });

  it('has at least 25 rules, shadow rules, and rules for both event types', () => {
    expect(pack.rules.length).toBeGreaterThanOrEqual(25);
    expect(pack.rules.some((r) => r.mode === 'shadow')).toBe(true);
    expect(pack.rules.some((r) => r.on?.includes('recovery'))).toBe(true);
    expect(pack.rules.filter((r) => r.action === 'block' && r.mode === 'enforce').length).toBeGreaterThanOrEqual(5);
  });

  it('all its tests pass, and there are at least 15', () => {
    const report = result.runTests();
    expect(report.results.filter((r) => !r.passed).map((r) => [r.name, r.failures])).toEqual([]);
    expect(report.passed).toBeGreaterThanOrEqual(15);
    expect(report.failed).toBe(0);
  });

  it('blocks a user on the Redis blocked-users list, and only when the list answers', () => {
    const lists: RedisListBackend = { has: (key, value) => key === 'vigil:blocked_users' && value === 'u-frozen' };
    expect(decide('login', { 'user.id': 'u-frozen' }, lists).decision).toBe('block');
    expect(decide('recovery', { 'user.id': 'u-frozen' }, lists).rules.map((h) => h.name)).toEqual(['blocked_user']);
    expect(decide('login', { 'user.id': 'u-other' }, lists).decision).toBe('allow');
    // Redis unreachable: membership is unknown, and unknown never blocks.
    const down: RedisListBackend = { has: () => undefined };
    expect(decide('login', { 'user.id': 'u-frozen' }, down).decision).toBe('allow');
  });

  it('a blocked user on the corporate network is still blocked (allow never wins over block)', () => {
    const lists: RedisListBackend = { has: (key, value) => key === 'vigil:blocked_users' && value === 'u-frozen' };
    const d = decide('login', { 'user.id': 'u-frozen', 'ip.address': '198.51.100.9' }, lists);
    expect(d.decision).toBe('block');
    expect(d.rules.map((h) => h.name)).toEqual(['blocked_user', 'corp_network_allow']);
  });

  it('no single missing signal, nor all of them, blocks or challenges a sign-in', () => {
    expect(decide('login', {})).toMatchObject({ decision: 'allow', score: 0, rules: [] });
    const degraded = decide('login', { 'engine.degraded': true, 'user.id': 'u-1', 'ip.address': '81.2.69.142' });
    expect(degraded.decision).toBe('allow');
    const recovery = decide('recovery', { 'engine.degraded': true });
    expect(recovery.decision).toBe('step_up');
  });

  it('renders reasons with the values that triggered them', () => {
    const d = decide('login', {
      'history.travel_kmh': 8123.456,
      'device.known': false,
      'history.last_country': 'GB',
      'geo.country': 'CN',
    });
    const hit = d.rules.find((h) => h.name === 'impossible_travel');
    expect(hit).toMatchObject({ action: 'step_up', score: 25, tags: ['ato', 'geo'] });
    expect(hit?.reason).toBe('travel at 8123.46 km/h from GB to CN on a new device');
  });
});
