// The compiler: slot assignment, Redis-list probes, constant folding and const inlining, rule
// metadata, the pack hash, and a 500-rule pack (its speed is measured by bench/dsl.ts, not here).
import { describe, expect, it } from 'vitest';
import { RULE_MODE, compilePack, packFromFiles, ruleModes, type CompiledPack, type RuleOverrideMode, type Slots } from '../../dsl/index.ts';
import { packHash } from '../../dsl/pack.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';

const HEAD = 'pack t version 3\n';

function build(text: string, extra: Record<string, string> = {}): CompiledPack {
  const r = compilePack(packFromFiles({ 'main.rules': text, ...extra }), { scheme: VIGIL_SCHEME });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.pack!;
}

const empty = (p: CompiledPack): Slots => new Array(p.slotCount).fill(undefined);

describe('slots', () => {
  const pack = build(
    `${HEAD}rule a {\n  when geo.country == "BR" and user.age > 1d\n  then block\n  reason "from {geo.city}"\n}\n` +
      `rule b {\n  when geo.country == "NG" or device.known\n  score 10\n}\npolicy {\n  block when score > 5 and geo.tor\n}\n`,
  );
  it('are the scheme\'s slots; the features read are listed in first-use order, rules then policies, including reasons', () => {
    expect(pack.features).toEqual(['geo.country', 'user.age', 'geo.city', 'device.known', 'geo.tor']);
    expect(pack.featureTypes).toEqual(['string', 'duration', 'string', 'bool', 'bool']);
    expect(pack.slotCount).toBe(VIGIL_SCHEME.size);
    expect(pack.slotOf('device.known')).toBe(VIGIL_SCHEME.feature('device.known')!.slot);
    expect(pack.slotOf('geo.country')).toBe(VIGIL_SCHEME.feature('geo.country')!.slot);
    expect(pack.slotOf('geo.asn')).toBe(-1);
    expect(pack.slotOf('nonsense')).toBe(-1);
  });
  it('evaluate reads values from the assigned slots', () => {
    const s = empty(pack);
    s[pack.slotOf('geo.country')] = 'BR';
    s[pack.slotOf('user.age')] = 2 * 86400;
    s[pack.slotOf('geo.city')] = 'Recife';
    expect(pack.evaluate('login', s)).toMatchObject({ decision: 'block', rules: [{ name: 'a', reason: 'from Recife' }] });
  });
  it('a pack header gives the name and version; event types come from the scheme', () => {
    expect([pack.name, pack.version, pack.eventTypes]).toEqual(['t', 3, ['login', 'recovery', 'account_change']]);
  });
});

describe('redis-list probes', () => {
  const src =
    `${HEAD}list blocked: string = redis "vigil:blocked"\nlist bad_ips: ip = redis "vigil:bad_ips"\n` +
    `rule a {\n  when user.id in blocked\n  then block\n}\nrule b {\n  when user.id not in blocked and geo.tor\n  score 10\n}\n` +
    `rule c {\n  when lower(user.id) in blocked or ip.address in bad_ips\n  score 5\n}\n`;
  const pack = build(src);
  const n = VIGIL_SCHEME.size;
  const slot = (f: string): number => pack.slotOf(f);
  it('one probe per distinct (list, operand), with slots after the scheme\'s features', () => {
    expect(pack.features).toEqual(['user.id', 'geo.tor', 'ip.address']);
    expect(pack.probes.map((p) => [p.slot, p.list, p.key, p.elemType])).toEqual([
      [n, 'blocked', 'vigil:blocked', 'string'],
      [n + 1, 'blocked', 'vigil:blocked', 'string'],
      [n + 2, 'bad_ips', 'vigil:bad_ips', 'ip'],
    ]);
    expect(pack.slotCount).toBe(n + 3);
  });
  it('a probe operand computes the looked-up value; ips canonical; missing stays missing', () => {
    const s = empty(pack);
    s[slot('user.id')] = 'U-1';
    s[slot('ip.address')] = '2001:DB8:0::1';
    expect(pack.probes.map((p) => p.operand(s))).toEqual(['U-1', 'u-1', '2001:db8::1']);
    expect(pack.probes.map((p) => p.operand(empty(pack)))).toEqual([undefined, undefined, undefined]);
  });
  it('the engine writes probe answers into the probe slots', () => {
    const s = empty(pack);
    s[slot('user.id')] = 'u';
    s[slot('geo.tor')] = true;
    s[n] = false;
    expect(pack.evaluate('login', s)).toMatchObject({ decision: 'allow', score: 10 });
    s[n] = true;
    expect(pack.evaluate('login', s).decision).toBe('block');
    s[n] = undefined;
    expect(pack.evaluate('login', s).rules).toEqual([]);
  });
});

describe('consts and constant folding', () => {
  it('a constant condition is folded and never reads slots', () => {
    const pack = build(`${HEAD}const k = 2\nrule a {\n  when k * 3 == 6 and (1 / 0 ?? 1) == 1 and lower("AB") == "ab"\n  then block\n}\n`);
    const trap = new Proxy(empty(pack), {
      get(t, key) {
        if (typeof key === 'string' && /^\d+$/.test(key)) throw new Error(`read slot ${key}`);
        return Reflect.get(t, key);
      },
    });
    expect(pack.features).toEqual([]);
    expect(pack.evaluate('login', trap).decision).toBe('block');
  });
  it('consts are inlined, including list consts and ip consts', () => {
    const pack = build(`${HEAD}const k = 90d\nconst office = "192.0.2.0/24"\nconst cc = ["BR"]\nrule a {\n  when user.age < k and ip.address == office and geo.country in cc\n  then block\n}\n`);
    expect(pack.features).toEqual(['user.age', 'ip.address', 'geo.country']);
    const at = (ip: string): Slots => {
      const s = empty(pack);
      s[pack.slotOf('user.age')] = 86400;
      s[pack.slotOf('ip.address')] = ip;
      s[pack.slotOf('geo.country')] = 'BR';
      return s;
    };
    expect(pack.evaluate('login', at('192.0.2.9')).decision).toBe('block');
    expect(pack.evaluate('login', at('192.0.3.9')).decision).toBe('allow');
  });
});

describe('rule metadata', () => {
  it('lists every rule with its on, action, score, mode, tags and description', () => {
    const pack = build(
      `${HEAD}rule a {\n  description "d"\n  on recovery\n  when true\n  then step_up\n  score -5\n  tags ato, geo\n  mode shadow\n}\nrule b {\n  when true\n  score 3\n}\n`,
    );
    expect(pack.rules).toEqual([
      { name: 'a', on: ['recovery'], action: 'step_up', score: -5, mode: 'shadow', tags: ['ato', 'geo'], description: 'd', notice: null },
      { name: 'b', on: null, action: null, score: 3, mode: 'enforce', tags: [], description: null, notice: null },
    ]);
  });
});

describe('override modes', () => {
  const pack = build(
    `${HEAD}rule stuffing {\n  when velocity.ip_users_1h >= 20\n  then block\n  score 50\n  reason "{velocity.ip_users_1h} users"\n}\n` +
      `rule new_device {\n  when not device.known\n  then step_up\n  score 30\n}\n` +
      `rule watch_cn {\n  when geo.country == "CN"\n  then block\n  mode shadow\n}\n` +
      `rule quiet {\n  when geo.country == "FR"\n  score 10\n}\n` +
      `policy {\n  block when score >= 90\n  step_up when score >= 40\n}\n`,
  );
  const event = (): Slots => {
    const s = empty(pack);
    s[pack.slotOf('velocity.ip_users_1h')] = 25;
    s[pack.slotOf('device.known')] = false;
    s[pack.slotOf('geo.country')] = 'CN';
    return s;
  };
  const modes = (o: Record<string, RuleOverrideMode>): Uint8Array => ruleModes(pack, new Map(Object.entries(o)))!;

  it('one byte per rule, in declaration order; names the pack lacks are ignored; none → undefined', () => {
    expect([...modes({ new_device: 'off', watch_cn: 'shadow', gone: 'off' })]).toEqual([RULE_MODE.declared, RULE_MODE.off, RULE_MODE.shadow, RULE_MODE.declared]);
    expect(ruleModes(pack, new Map([['gone', 'off']]))).toBeUndefined();
    expect(ruleModes(pack, new Map())).toBeUndefined();
  });

  it('without modes (or all declared) nothing changes and no override is named', () => {
    const plain = pack.evaluate('login', event());
    expect(plain).toMatchObject({ decision: 'block', score: 80 });
    expect(plain.rules.map((r) => r.name)).toEqual(['stuffing', 'new_device']);
    expect(plain.shadow.map((r) => r.name)).toEqual(['watch_cn']);
    expect(plain.overrides).toBeUndefined();
    expect(pack.evaluate('login', event(), new Uint8Array(4))).toEqual(plain);
  });

  it('off removes the hit, its score and its action; other rules are untouched', () => {
    const d = pack.evaluate('login', event(), modes({ stuffing: 'off' }));
    expect(d.rules.map((r) => r.name)).toEqual(['new_device']);
    expect(d.score).toBe(30);
    expect(d.decision).toBe('step_up'); // the new device's step-up, no longer stuffing's block
    expect(d.shadow.map((r) => r.name)).toEqual(['watch_cn']);
    expect(d.overrides).toEqual(['stuffing']);
  });

  it('shadow moves the hit (with its rendered reason) to shadow and takes away its score and action', () => {
    const d = pack.evaluate('login', event(), modes({ stuffing: 'shadow' }));
    expect(d.rules.map((r) => r.name)).toEqual(['new_device']);
    expect(d.shadow).toEqual([
      { name: 'stuffing', action: 'block', score: 50, reason: '25 users', tags: [] },
      { name: 'watch_cn', action: 'block', score: 0, reason: null, tags: [] },
    ]);
    expect([d.decision, d.score, d.overrides]).toEqual(['step_up', 30, ['stuffing']]);
  });

  it('names only the overridden rules whose condition matched and whose effect changed', () => {
    // quiet does not match; watch_cn is a shadow rule already: setting it to shadow changes nothing.
    const d = pack.evaluate('login', event(), modes({ quiet: 'off', watch_cn: 'shadow' }));
    expect(d.overrides).toBeUndefined();
    expect(d.shadow.map((r) => r.name)).toEqual(['watch_cn']);
    // Off on a shadow rule silences its report.
    const off = pack.evaluate('login', event(), modes({ watch_cn: 'off', new_device: 'off' }));
    expect(off.shadow).toEqual([]);
    expect(off.overrides).toEqual(['new_device', 'watch_cn']);
    expect([off.decision, off.score]).toEqual(['block', 50]);
  });

  it('everything off: the policy alone decides, on the remaining score', () => {
    const d = pack.evaluate('login', event(), modes({ stuffing: 'off', new_device: 'off', watch_cn: 'off', quiet: 'off' }));
    expect(d).toMatchObject({ decision: 'allow', score: 0, rules: [], shadow: [], overrides: ['stuffing', 'new_device', 'watch_cn'] });
  });
});

describe('hash', () => {
  it('is the pack hash of the sources, and changes with a list file', () => {
    const text = `${HEAD}list l: ip = file "l.txt"\nrule a {\n  when ip.address in l\n  then block\n}\n`;
    const src = packFromFiles({ 'main.rules': text, 'l.txt': '10.0.0.1\n' });
    const r = compilePack(src, { scheme: VIGIL_SCHEME });
    expect(r.pack!.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.pack!.hash).toBe(packHash(src));
    expect(build(text, { 'l.txt': '10.0.0.2\n' }).hash).not.toBe(r.pack!.hash);
  });
});

describe('cost of a 500-rule pack', () => {
  /** Varied rules over many features and operators, a few of which match the sample event. */
  function generated(n: number): string {
    const rules: string[] = [];
    for (let i = 0; i < n; i++) {
      const conds = [
        `geo.asn == ${i} or (velocity.ip_failed_1h > ${(i % 50) + 5} and not device.known)`,
        `geo.country in ["A${i % 26}", "B${i % 13}"] and user.age < ${(i % 30) + 1}d`,
        `history.travel_kmh > ${900 + i} and not history.known_country`,
        `ip.address in ["10.${i % 256}.0.0/16", "192.0.2.${i % 256}"] or lower(ua.browser) == "curl${i}"`,
        `(rba.score ?? 0) * 100 > ${50 + (i % 50)} and present(user.id)`,
      ];
      rules.push(
        `rule r${i} {\n  on ${i % 3 === 0 ? 'login, recovery' : 'login'}\n  when ${conds[i % conds.length]}\n  score ${(i % 20) + 1}\n  reason "r${i} {geo.country} {history.travel_kmh}"\n}\n`,
      );
    }
    return `${HEAD}${rules.join('')}policy {\n  block when score >= 90\n  step_up when score >= 50\n}\n`;
  }

  it('compiles and evaluates a 500-rule pack (its speed is measured by npm run bench:dsl)', () => {
    const pack = build(generated(500));
    expect(pack.rules).toHaveLength(500);

    const s = empty(pack);
    const set = (f: string, v: string | number | boolean) => {
      if (pack.slotOf(f) >= 0) s[pack.slotOf(f)] = v;
    };
    set('geo.asn', 7);
    set('velocity.ip_failed_1h', 12);
    set('device.known', false);
    set('geo.country', 'A3');
    set('user.age', 86400 * 2);
    set('history.travel_kmh', 1000);
    set('history.known_country', false);
    set('ip.address', '10.3.4.5');
    set('ua.browser', 'Chrome');
    set('rba.score', 0.7);
    set('user.id', 'u');

    const first = pack.evaluate('login', s);
    expect(first.rules.length).toBeGreaterThan(0);
    // The same slots give the same decision every time (closures keep no state between events).
    for (let i = 0; i < 100; i++) expect(pack.evaluate('login', s)).toEqual(first);
  });
});
