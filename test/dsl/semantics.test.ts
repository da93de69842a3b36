// Evaluation semantics: every operator and function of dsl.md §3 including missing-value propagation,
// reason rendering, the decision rules of dsl.md §4, and evaluateRecord's JSON validation.
import { describe, expect, it } from 'vitest';
import { compilePack, evaluateRecord, packFromFiles, MemoryListBackend, type CompiledPack, type Decision } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';

const HEAD = 'pack t version 1\n';

function build(text: string): CompiledPack {
  const r = compilePack(packFromFiles({ 'main.rules': text }), { scheme: VIGIL_SCHEME });
  const errors = r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}@${d.span.line}:${d.span.col} ${d.message}`);
  expect(errors).toEqual([]);
  return r.pack!;
}

function run(pack: CompiledPack, features: Record<string, unknown> = {}, eventType = 'login', lists?: MemoryListBackend): Decision {
  const out = evaluateRecord(pack, eventType, features, { scheme: VIGIL_SCHEME, lists });
  if (!out.ok) throw new Error(out.errors.join('; '));
  return out.decision;
}

/** Three-valued truth of a bool expression: a rule on it and a rule on its negation. */
function truth(expr: string, features: Record<string, unknown> = {}, decls = '', lists?: MemoryListBackend): 'true' | 'false' | 'missing' {
  const pack = build(`${HEAD}${decls}rule yes {\n  when ${expr}\n  then block\n}\nrule no {\n  when not (${expr})\n  then block\n}\n`);
  const names = run(pack, features, 'login', lists).rules.map((h) => h.name);
  if (names.includes('yes')) return 'true';
  if (names.includes('no')) return 'false';
  return 'missing';
}

/** An expression's value as a reason renders it (`?` when missing). */
function show(expr: string, features: Record<string, unknown> = {}, decls = ''): string {
  const pack = build(`${HEAD}${decls}rule r {\n  when true\n  score 1\n  reason "v={${expr}}"\n}\n`);
  return run(pack, features).rules[0]!.reason!.slice(2);
}

describe('three-valued logic (dsl.md §3)', () => {
  const vals: [string, unknown][] = [
    ['true', true],
    ['false', false],
    ['missing', null],
  ];
  const and = (a: string, b: string) => (a === 'false' || b === 'false' ? 'false' : a === 'missing' || b === 'missing' ? 'missing' : 'true');
  const or = (a: string, b: string) => (a === 'true' || b === 'true' ? 'true' : a === 'missing' || b === 'missing' ? 'missing' : 'false');
  for (const [an, av] of vals) {
    for (const [bn, bv] of vals) {
      it(`${an} and/or ${bn}`, () => {
        const f = { 'geo.tor': av, 'geo.vpn': bv };
        expect(truth('geo.tor and geo.vpn', f)).toBe(and(an, bn));
        expect(truth('geo.tor or geo.vpn', f)).toBe(or(an, bn));
      });
    }
    it(`not ${an}`, () => {
      expect(truth('not geo.tor', { 'geo.tor': av })).toBe(an === 'missing' ? 'missing' : an === 'true' ? 'false' : 'true');
    });
  }
  it('and/or short-circuit on a decided left side without reading the right', () => {
    expect(truth('false and geo.tor')).toBe('false');
    expect(truth('true or geo.tor')).toBe('true');
  });
});

describe('coalesce and present', () => {
  it('`??` takes the left unless it is missing', () => {
    expect(show('geo.asn ?? 7', { 'geo.asn': 3 })).toBe('3');
    expect(show('geo.asn ?? 7')).toBe('7');
    expect(show('geo.asn ?? geo.lat')).toBe('?');
    expect(truth('geo.tor ?? true')).toBe('true');
    expect(truth('geo.tor ?? true', { 'geo.tor': false })).toBe('false');
  });
  it('present is false only for a missing value, never missing itself', () => {
    expect(truth('present(geo.country)', { 'geo.country': '' })).toBe('true');
    expect(truth('present(geo.tor)', { 'geo.tor': false })).toBe('true');
    expect(truth('present(geo.country)')).toBe('false');
    expect(truth('present(geo.asn / 0)', { 'geo.asn': 1 })).toBe('false');
  });
});

describe('comparisons', () => {
  it('== and != on every scalar type', () => {
    expect(truth('geo.asn == 3', { 'geo.asn': 3 })).toBe('true');
    expect(truth('geo.asn != 3', { 'geo.asn': 3 })).toBe('false');
    expect(truth('geo.country == "BR"', { 'geo.country': 'BR' })).toBe('true');
    expect(truth('geo.country == "BR"', { 'geo.country': 'br' })).toBe('false');
    expect(truth('geo.tor == false', { 'geo.tor': false })).toBe('true');
    expect(truth('user.age == 2h', { 'user.age': 7200 })).toBe('true');
    expect(truth('user.age != 2h', { 'user.age': 7201 })).toBe('true');
  });
  it('ips compare as canonical addresses', () => {
    expect(truth('ip.address == "2001:db8::1"', { 'ip.address': '2001:DB8:0:0::1' })).toBe('true');
    expect(truth('ip.address != "10.0.0.1"', { 'ip.address': '10.0.0.2' })).toBe('true');
    expect(truth('ip.address == "10.0.0.1"', { 'ip.address': '10.0.0.1' })).toBe('true');
  });
  it('an ip compared with a CIDR literal means containment', () => {
    expect(truth('ip.address == "10.0.0.0/8"', { 'ip.address': '10.200.1.1' })).toBe('true');
    expect(truth('ip.address == "10.0.0.0/8"', { 'ip.address': '11.0.0.1' })).toBe('false');
    expect(truth('"10.0.0.0/8" == ip.address', { 'ip.address': '10.0.0.1' })).toBe('true');
    expect(truth('ip.address != "2001:db8::/32"', { 'ip.address': '2001:db8::5' })).toBe('false');
    expect(truth('ip.address == "10.0.0.0/8"')).toBe('missing');
  });
  it('ordering of numbers and durations', () => {
    const f = { 'geo.asn': 5, 'user.age': 3600 };
    expect([truth('geo.asn < 5', f), truth('geo.asn <= 5', f), truth('geo.asn > 4', f), truth('geo.asn >= 6', f)]).toEqual(['false', 'true', 'true', 'false']);
    expect([truth('user.age < 2h', f), truth('user.age >= 60m', f), truth('user.age > 1h', f), truth('user.age <= 30s', f)]).toEqual(['true', 'true', 'false', 'false']);
  });
  it('every comparison with a missing operand is missing', () => {
    for (const op of ['==', '!=', '<', '<=', '>', '>=']) {
      expect(truth(`geo.asn ${op} 1`), op).toBe('missing');
      expect(truth(`1 ${op} geo.asn`), op).toBe('missing');
    }
    expect(truth('geo.country == geo.city', { 'geo.country': 'x' })).toBe('missing');
  });
});

describe('strings', () => {
  const f = { 'geo.city': 'São Paulo' };
  it('contains, starts_with, ends_with are case-sensitive', () => {
    expect(truth('geo.city contains "Pau"', f)).toBe('true');
    expect(truth('geo.city contains "pau"', f)).toBe('false');
    expect(truth('geo.city starts_with "São"', f)).toBe('true');
    expect(truth('geo.city ends_with "lo"', f)).toBe('true');
    expect(truth('geo.city ends_with "LO"', f)).toBe('false');
  });
  it('matches uses the checked pattern', () => {
    expect(truth('geo.city matches "^S.o [A-Z]"', f)).toBe('true');
    expect(truth('geo.city matches "^Paulo"', f)).toBe('false');
  });
  it('a missing operand makes them missing', () => {
    for (const op of ['contains "a"', 'starts_with "a"', 'ends_with "a"', 'matches "a"']) {
      expect(truth(`geo.city ${op}`), op).toBe('missing');
    }
  });
});

describe('membership', () => {
  it('in / not in a list literal, a named list and a list const', () => {
    const decls = 'list asns: number = [9009, 16276]\nconst cc = ["BR", "NG"]\n';
    expect(truth('geo.asn in asns', { 'geo.asn': 9009 }, decls)).toBe('true');
    expect(truth('geo.asn in asns and geo.country in cc', { 'geo.asn': 9009, 'geo.country': 'NG' }, decls)).toBe('true');
    expect(truth('geo.asn not in asns or geo.country not in cc', { 'geo.asn': 1, 'geo.country': 'BR' }, decls)).toBe('true');
    expect(truth('geo.asn in [1, 2]', { 'geo.asn': 2 })).toBe('true');
    expect(truth('geo.asn not in [1, 2]', { 'geo.asn': 2 })).toBe('false');
    expect(truth('geo.asn in []', { 'geo.asn': 2 })).toBe('false');
  });
  it('an ip list matches addresses inside its CIDR ranges', () => {
    const decls = 'list corp: ip = ["10.0.0.0/8", "2001:db8::/32", "198.51.100.7"]\n';
    expect(truth('ip.address in corp', { 'ip.address': '10.9.8.7' }, decls)).toBe('true');
    expect(truth('ip.address in corp', { 'ip.address': '2001:db8:ffff::1' }, decls)).toBe('true');
    expect(truth('ip.address in corp', { 'ip.address': '198.51.100.7' }, decls)).toBe('true');
    expect(truth('ip.address in corp', { 'ip.address': '198.51.100.8' }, decls)).toBe('false');
    expect(truth('ip.address not in ["192.0.2.0/24"]', { 'ip.address': '192.0.2.77' })).toBe('false');
  });
  it('a string const list used with an ip is parsed as ips', () => {
    expect(truth('ip.address in nets', { 'ip.address': '172.16.5.5' }, 'const nets = ["172.16.0.0/12"]\n')).toBe('true');
  });
  it('a missing left side is missing', () => {
    expect(truth('geo.asn in [1]')).toBe('missing');
    expect(truth('ip.address not in ["10.0.0.0/8"]')).toBe('missing');
  });
  it('a redis list is probed through the list backend', () => {
    const lists = new MemoryListBackend();
    lists.add('blocked', 'u-1');
    const decls = 'list blocked: string = redis "blocked"\n';
    expect(truth('user.id in blocked', { 'user.id': 'u-1' }, decls, lists)).toBe('true');
    expect(truth('user.id in blocked', { 'user.id': 'u-2' }, decls, lists)).toBe('false');
    expect(truth('user.id not in blocked', { 'user.id': 'u-2' }, decls, lists)).toBe('true');
    expect(truth('user.id in blocked', {}, decls, lists)).toBe('missing');
  });
  it('a backend that cannot answer makes the probe missing', () => {
    const pack = build(`${HEAD}list b: string = redis "b"\nrule r {\n  when user.id in b\n  then block\n}\nrule s {\n  when user.id not in b\n  then block\n}\n`);
    const out = evaluateRecord(pack, 'login', { 'user.id': 'x' }, { scheme: VIGIL_SCHEME, lists: { has: () => undefined } });
    expect(out.ok && out.decision.rules).toEqual([]);
  });
});

describe('arithmetic', () => {
  const f = { 'geo.asn': 7, 'user.age': 5400 };
  it('+ - * / on numbers and + - on durations', () => {
    expect(show('geo.asn + 1', f)).toBe('8');
    expect(show('geo.asn - 10', f)).toBe('-3');
    expect(show('geo.asn * 2', f)).toBe('14');
    expect(show('geo.asn / 2', f)).toBe('3.5');
    expect(show('geo.asn / 3', f)).toBe('2.33');
    expect(show('user.age + 30m', f)).toBe('2h');
    expect(show('user.age - 1h', f)).toBe('30m');
    expect(show('-geo.asn', f)).toBe('-7');
    expect(show('-user.age', f)).toBe('-1h30m');
    expect(show('2 + 3 * 4')).toBe('14');
  });
  it('division by zero is missing', () => {
    expect(show('geo.asn / 0', f)).toBe('?');
    expect(show('geo.asn / (geo.asn - 7)', f)).toBe('?');
    expect(truth('geo.asn / 0 > 1 or true', f)).toBe('true');
  });
  it('a missing operand is missing', () => {
    for (const e of ['geo.lat + 1', '1 - geo.lat', 'geo.lat * 2', 'geo.lat / 2', '-geo.lat', 'user.age + 1h']) {
      expect(show(e, { 'geo.asn': 1 }), e).toBe('?');
    }
  });
});

describe('functions', () => {
  it('each function', () => {
    const f = { 'geo.country': 'Br', 'geo.city': 'Zürich😀', 'geo.lat': -3.5, 'user.age': 90000 };
    expect(truth('lower(geo.country) == "br" and upper(geo.country) == "BR"', f)).toBe('true');
    expect(show('len(geo.city)', f)).toBe('7');
    expect(show('abs(geo.lat)', f)).toBe('3.5');
    expect(show('min(geo.lat, 2)', f)).toBe('-3.5');
    expect(show('max(geo.lat, 2)', f)).toBe('2');
    expect(show('hours(user.age)', f)).toBe('25');
    expect(show('days(user.age)', f)).toBe('1.04');
  });
  it('every function but present gives missing for a missing argument', () => {
    for (const e of ['lower(geo.country)', 'upper(geo.country)', 'len(geo.city)', 'abs(geo.lat)', 'min(geo.lat, 1)', 'max(1, geo.lat)', 'hours(user.age)', 'days(user.age)']) {
      expect(show(e), e).toBe('?');
    }
  });
});

describe('reasons', () => {
  it('render numbers, durations, bools, strings and missing values', () => {
    const pack = build(
      `${HEAD}rule r {\n  when true\n  score 1\n  reason "{history.travel_kmh} km/h, {history.since_last_login} ago, tor={geo.tor}, {geo.country}, {geo.city}, {ip.address}"\n}\n`,
    );
    const d = run(pack, { 'history.travel_kmh': 1234.5678, 'history.since_last_login': 9000, 'geo.tor': false, 'geo.country': 'BR', 'ip.address': '10.0.0.1' });
    expect(d.rules[0]!.reason).toBe('1234.57 km/h, 2h30m ago, tor=false, BR, ?, 10.0.0.1');
  });
  it('render ips canonically even when the engine hands a non-canonical form', () => {
    const pack = build(`${HEAD}rule r {\n  when true\n  score 1\n  reason "from {ip.address}"\n}\n`);
    const slots = new Array(pack.slotCount).fill(undefined);
    slots[pack.slotOf('ip.address')] = '2001:DB8:0::1';
    expect(pack.evaluate('login', slots).rules[0]!.reason).toBe('from 2001:db8::1');
  });
  it('fall back to the description, else null', () => {
    const pack = build(`${HEAD}rule a {\n  description "desc"\n  when true\n  score 1\n}\nrule b {\n  when true\n  score 1\n}\n`);
    expect(run(pack).rules.map((h) => h.reason)).toEqual(['desc', null]);
  });
  it('durations render compactly', () => {
    expect(show('user.age', { 'user.age': 0 })).toBe('0s');
    expect(show('user.age', { 'user.age': 59 })).toBe('59s');
    expect(show('user.age', { 'user.age': 90061 })).toBe('1d1h1m1s');
    expect(show('user.age', { 'user.age': 7 * 86400 })).toBe('7d');
  });
});

describe('conditions that are missing do not match', () => {
  it('a missing when', () => {
    const pack = build(`${HEAD}rule r {\n  when geo.tor\n  then block\n}\n`);
    expect(run(pack).decision).toBe('allow');
    expect(run(pack, { 'geo.tor': true }).decision).toBe('block');
  });
  it('a missing policy condition', () => {
    const pack = build(`${HEAD}rule r {\n  when true\n  score 10\n}\npolicy {\n  block when geo.tor and score > 5\n  step_up when score > 5\n}\n`);
    expect(run(pack).decision).toBe('step_up');
    expect(run(pack, { 'geo.tor': true }).decision).toBe('block');
  });
});

describe('decision semantics (dsl.md §4)', () => {
  const rule = (name: string, body: string) => `rule ${name} {\n${body
    .split(';')
    .map((c) => `  ${c.trim()}`)
    .join('\n')}\n}\n`;
  const policy = 'policy {\n  block when score >= 90\n  step_up when score >= 50\n}\n';

  it('the score sums matched enforcing rules and is clamped to 0..100', () => {
    const pack = build(HEAD + rule('a', 'when geo.tor; score 60') + rule('b', 'when geo.vpn; score 70') + rule('c', 'when geo.proxy; score -100'));
    expect(run(pack, { 'geo.tor': true, 'geo.vpn': true }).score).toBe(100);
    expect(run(pack, { 'geo.tor': true }).score).toBe(60);
    expect(run(pack, { 'geo.tor': true, 'geo.proxy': true }).score).toBe(0);
    expect(run(pack, { 'geo.tor': true, 'geo.vpn': true, 'geo.proxy': true }).score).toBe(30);
  });
  it('the policy maps the score to an action; no policy line or no policy is allow', () => {
    const pack = build(HEAD + rule('a', 'when geo.tor; score 60') + rule('b', 'when geo.vpn; score 35') + policy);
    expect(run(pack, { 'geo.tor': true }).decision).toBe('step_up');
    expect(run(pack, { 'geo.tor': true, 'geo.vpn': true }).decision).toBe('block');
    expect(run(pack, { 'geo.vpn': true }).decision).toBe('allow');
    const none = build(HEAD + rule('a', 'when geo.tor; score 100'));
    expect(run(none, { 'geo.tor': true })).toMatchObject({ decision: 'allow', score: 100 });
  });
  it('policy T overrides the default for its event type only', () => {
    const pack = build(HEAD + rule('a', 'when geo.tor; score 30') + policy + 'policy recovery {\n  block when score >= 70\n  step_up when score >= 20\n}\n');
    expect(run(pack, { 'geo.tor': true }, 'login').decision).toBe('allow');
    expect(run(pack, { 'geo.tor': true }, 'recovery').decision).toBe('step_up');
  });
  it('a policy condition may read features', () => {
    const pack = build(HEAD + rule('a', 'when true; score 10') + 'policy {\n  block when score >= 10 and geo.country == "KP"\n}\n');
    expect(run(pack, { 'geo.country': 'KP' }).decision).toBe('block');
    expect(run(pack, { 'geo.country': 'FR' }).decision).toBe('allow');
  });
  it('then block wins over everything', () => {
    const pack = build(HEAD + rule('al', 'when true; then allow') + rule('bl', 'when geo.tor; then block; score -100') + policy);
    expect(run(pack, { 'geo.tor': true }).decision).toBe('block');
  });
  it('an explicit allow wins over step-ups and score thresholds, not over block', () => {
    const pack = build(HEAD + rule('al', 'when geo.country == "FR"; then allow') + rule('su', 'when true; then step_up; score 95') + policy);
    expect(run(pack, { 'geo.country': 'FR' })).toMatchObject({ decision: 'allow', score: 95 });
    expect(run(pack, { 'geo.country': 'DE' })).toMatchObject({ decision: 'block', score: 95 });
  });
  it('otherwise the more severe of the policy action and every then step_up', () => {
    const pack = build(HEAD + rule('su', 'when geo.tor; then step_up') + rule('sc', 'when geo.vpn; score 90') + policy);
    expect(run(pack, { 'geo.tor': true }).decision).toBe('step_up');
    expect(run(pack, { 'geo.tor': true, 'geo.vpn': true }).decision).toBe('block');
  });
  it('shadow rules are reported and change nothing', () => {
    const pack = build(HEAD + rule('s', 'when true; then block; score 100; mode shadow; tags a, b') + rule('e', 'when true; score 5; mode enforce'));
    const d = run(pack);
    expect(d.decision).toBe('allow');
    expect(d.score).toBe(5);
    expect(d.shadow).toEqual([{ name: 's', action: 'block', score: 100, reason: null, tags: ['a', 'b'] }]);
    expect(d.rules).toEqual([{ name: 'e', action: null, score: 5, reason: null, tags: [] }]);
  });
  it('rules run only for the event types in their `on`; no `on` means every type', () => {
    const pack = build(HEAD + rule('l', 'on login; when true; score 1') + rule('r', 'on recovery; when true; score 2') + rule('any', 'when true; score 4') + rule('both', 'on login, recovery; when true; score 8'));
    expect(run(pack, {}, 'login').rules.map((h) => h.name)).toEqual(['l', 'any', 'both']);
    expect(run(pack, {}, 'recovery').rules.map((h) => h.name)).toEqual(['r', 'any', 'both']);
    // An event type the scheme does not know runs only the rules without `on`.
    expect(pack.evaluate('signup', new Array(pack.slotCount).fill(undefined)).rules.map((h) => h.name)).toEqual(['any']);
  });
  it('hits come in declaration order', () => {
    const names = ['z', 'a', 'm', 'b'];
    const pack = build(HEAD + names.map((n) => rule(n, 'when true; score 1')).join(''));
    expect(run(pack).rules.map((h) => h.name)).toEqual(names);
  });
});

describe('evaluateRecord', () => {
  const pack = build(`${HEAD}rule r {\n  when ip.address == "10.0.0.1" and user.age < 1h and event.type == "recovery"\n  then block\n}\n`);
  it('converts JSON values: durations in seconds, ips as strings; event.type is the event type', () => {
    expect(run(pack, { 'ip.address': '10.0.0.1', 'user.age': 60 }, 'recovery').decision).toBe('block');
    expect(run(pack, { 'ip.address': '10.0.0.1', 'user.age': 60 }, 'login').decision).toBe('allow');
  });
  it('accepts null as missing and features the pack does not read', () => {
    expect(run(pack, { 'ip.address': null, 'geo.country': 'BR' }, 'recovery').decision).toBe('allow');
  });
  it('reports unknown names and wrongly typed values, never throws', () => {
    const out = evaluateRecord(
      pack,
      'login',
      { 'geo.contry': 'BR', 'user.age': '1h', 'ip.address': 'nope', 'geo.tor': 1, 'geo.asn': Number.NaN, 'geo.city': 3 },
      { scheme: VIGIL_SCHEME },
    );
    expect(out.ok).toBe(false);
    expect(!out.ok && out.errors).toHaveLength(6);
    expect(!out.ok && out.errors[0]).toContain('geo.country');
  });
  it('rejects an unknown event type and a contradicting event.type', () => {
    expect(evaluateRecord(pack, 'signup', {}, { scheme: VIGIL_SCHEME }).ok).toBe(false);
    expect(evaluateRecord(pack, 'login', { 'event.type': 'recovery' }, { scheme: VIGIL_SCHEME }).ok).toBe(false);
  });
  it('rejects a features value that is not an object', () => {
    expect(evaluateRecord(pack, 'login', [] as unknown as Record<string, unknown>, { scheme: VIGIL_SCHEME }).ok).toBe(false);
  });
});
