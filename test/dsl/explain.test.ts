// The explain trace (dsl/explain.ts): each rule's condition as a tree of its sub-expressions with
// their source text, position and value; short-circuited operands marked; `on` lists, policies and
// what decided; probes answered by a lookup; lenient record conversion; and, over the shipped
// pack with random records, a trace that always agrees with pack.evaluate.
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePack, explainRecord, explainRule, loadPackDir, packFromFiles, type CompiledPack, type TraceNode } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';

function compile(text: string): CompiledPack {
  const r = compilePack(packFromFiles({ 'main.rules': text }), { scheme: VIGIL_SCHEME });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.pack!;
}

/** `expr = shown` lines, indented by depth, with `(skipped)` marks. */
function flat(n: TraceNode, depth = 0): string[] {
  return [`${'  '.repeat(depth)}${n.expr} = ${n.shown}${n.skipped ? ' (skipped)' : ''}`, ...n.children.flatMap((c) => flat(c, depth + 1))];
}

const PACK = `pack t version 1
const limit = 3
list high_risk: string = ["RU", "KP"]
list blocked: ip = redis "vigil:blocked"

rule burst {
  when velocity.ip_failed_10m >= limit
    and (geo.country in high_risk or not device.known)
  then block
}
rule listed {
  when ip.address in blocked
  then block
}
rule young {
  on recovery
  when user.age < 3d
  score 40
}
rule asn_fallback {
  when (geo.asn ?? 0) > 5
  score 30
}
rule watch {
  when geo.country == "GB" or geo.vpn
  score 0
  mode shadow
}
policy {
  block when score >= 90
  step_up when score >= 30
}
`;

describe('explainRecord', () => {
  const pack = compile(PACK);

  it('gives every sub-expression its source text, position and value; literals are left out', () => {
    const t = explainRecord(pack, 'login', { 'velocity.ip_failed_10m': 5, 'geo.country': 'GB', 'device.known': null, 'geo.asn': 7 }, { scheme: VIGIL_SCHEME });
    const burst = t.rules.find((r) => r.rule === 'burst')!;
    expect(burst).toMatchObject({ line: 6, col: 1, applies: true, matched: false, mode: 'enforce', action: 'block' });
    // A condition over two lines reads on one; a chain of `and` or `or` is one node; parentheses go.
    expect(flat(burst.when)).toEqual([
      'velocity.ip_failed_10m >= limit and (geo.country in high_risk or not device.known) = missing',
      '  velocity.ip_failed_10m >= limit = true',
      '    velocity.ip_failed_10m = 5',
      '    limit = 3',
      '  geo.country in high_risk or not device.known = missing',
      '    geo.country in high_risk = false',
      '      geo.country = "GB"',
      '      high_risk = [2 entries]',
      '    not device.known = missing',
      '      device.known = missing',
    ]);
    expect(burst.when).toMatchObject({ line: 7, col: 8, type: 'bool', value: null });
    expect(burst.when.children[0]!.children[0]).toMatchObject({ line: 7, col: 8, type: 'number', value: 5 });
    const fallback = t.rules.find((r) => r.rule === 'asn_fallback')!;
    expect(flat(fallback.when)).toEqual(['(geo.asn ?? 0) > 5 = true', '  geo.asn ?? 0 = 7', '    geo.asn = 7']);
    expect(fallback.matched).toBe(true);
  });

  it('marks the operands `and`, `or` and `??` decided before reaching', () => {
    const t = explainRecord(pack, 'login', { 'velocity.ip_failed_10m': 1, 'geo.country': 'GB', 'geo.vpn': true, 'geo.asn': 7 }, { scheme: VIGIL_SCHEME });
    const burst = t.rules.find((r) => r.rule === 'burst')!;
    expect(burst.when.value).toBe(false);
    expect(burst.when.children[0]!.skipped).toBeUndefined();
    expect(burst.when.children[1]!.skipped).toBe(true);
    // Everything under a skipped operand is skipped too, and still shows its value.
    expect(burst.when.children[1]!.children[0]).toMatchObject({ skipped: true, value: false });
    const watch = t.rules.find((r) => r.rule === 'watch')!;
    expect(flat(watch.when)).toEqual(['geo.country == "GB" or geo.vpn = true', '  geo.country == "GB" = true', '    geo.country = "GB"', '  geo.vpn = true (skipped)']);
    const fallback = t.rules.find((r) => r.rule === 'asn_fallback')!;
    expect(fallback.when.children[0]!.children[0]!.skipped).toBeUndefined();
  });

  it('durations and ips read as the language prints them; a rule `on` another event does not apply', () => {
    const t = explainRecord(pack, 'login', { 'user.age': 3600 }, { scheme: VIGIL_SCHEME });
    const young = t.rules.find((r) => r.rule === 'young')!;
    expect(young).toMatchObject({ applies: false, matched: false });
    expect(flat(young.when)).toEqual(['user.age < 3d = true', '  user.age = 1h']);
    const r = explainRecord(pack, 'recovery', { 'user.age': 3600 }, { scheme: VIGIL_SCHEME });
    expect(r.rules.find((x) => x.rule === 'young')).toMatchObject({ applies: true, matched: true });
    expect(r.decision).toBe('step_up');
    const listed = explainRecord(pack, 'login', { 'ip.address': '2001:DB8::1' }, { scheme: VIGIL_SCHEME }).rules.find((x) => x.rule === 'listed')!;
    expect(flat(listed.when)).toEqual(['ip.address in blocked = missing', '  ip.address = 2001:db8::1', '  blocked = redis "vigil:blocked"']);
  });

  it('answers live-list probes through the lookup given', () => {
    const lists = { has: (key: string, v: string) => key === 'vigil:blocked' && v === '203.0.113.7' };
    const t = explainRecord(pack, 'login', { 'ip.address': '203.0.113.7' }, { scheme: VIGIL_SCHEME, lists });
    expect(t.rules.find((x) => x.rule === 'listed')).toMatchObject({ matched: true, when: { value: true } });
    expect(t).toMatchObject({ decision: 'block', score: 0, via: 'block_rule' });
    expect(t.policy).toMatchObject({ consulted: false, chosen: null });
  });

  it('traces the policy: its lines, the one chosen, and what decided', () => {
    const t = explainRecord(pack, 'login', { 'geo.asn': 9 }, { scheme: VIGIL_SCHEME });
    expect(t).toMatchObject({ decision: 'step_up', score: 30, via: 'policy' });
    expect(t.policy).toMatchObject({ policy: null, score: 30, consulted: true, chosen: 1 });
    expect(t.policy!.lines.map((l) => [l.action, l.matched, l.line])).toEqual([
      ['block', false, 30],
      ['step_up', true, 31],
    ]);
    expect(flat(t.policy!.lines[1]!.cond)).toEqual(['score >= 30 = true', '  score = 30']);
    const quiet = explainRecord(pack, 'login', {}, { scheme: VIGIL_SCHEME });
    expect(quiet).toMatchObject({ decision: 'allow', via: 'policy', policy: { chosen: null } });
  });

  it('a step_up rule raises the policy’s allow; a per-event policy is named', () => {
    const p = compile(`pack t version 1
rule odd { when device.known == false then step_up }
policy recovery {
  block when score >= 50
}
`);
    const t = explainRecord(p, 'login', { 'device.known': false }, { scheme: VIGIL_SCHEME });
    expect(t).toMatchObject({ decision: 'step_up', via: 'policy+step_up', policy: null });
    const r = explainRecord(p, 'recovery', { 'device.known': false }, { scheme: VIGIL_SCHEME });
    expect(r).toMatchObject({ decision: 'step_up', via: 'policy+step_up', policy: { policy: 'recovery', chosen: null } });
  });

  it('leaves unknown names and ill-typed values missing and lists them', () => {
    const t = explainRecord(pack, 'login', { 'geo.countryy': 'RU', 'velocity.ip_failed_10m': 'five', 'geo.asn': 7 }, { scheme: VIGIL_SCHEME });
    expect(t.ignored).toEqual(['geo.countryy', 'velocity.ip_failed_10m']);
    expect(t.rules.find((r) => r.rule === 'burst')!.when.children[0]!.children[0]!.shown).toBe('missing');
  });
});

describe('explainRule', () => {
  it('traces one rule on slots; null for a rule the pack does not have', () => {
    const pack = compile(PACK);
    const slots = new Array(pack.slotCount).fill(undefined);
    slots[pack.slotOf('user.age')] = 60;
    const r = explainRule(pack, 'young', slots);
    expect(r).toMatchObject({ rule: 'young', applies: true, matched: true });
    expect(explainRule(pack, 'young', slots, 'login')).toMatchObject({ applies: false, matched: false });
    expect(explainRule(pack, 'nope', slots)).toBeNull();
  });
});

describe('the trace agrees with evaluate', () => {
  const shipped = compilePack(loadPackDir(fileURLToPath(new URL('../../rules/login_core', import.meta.url))), { scheme: VIGIL_SCHEME }).pack!;
  const defs = shipped.features.map((name, i) => ({ name, type: shipped.featureTypes[i]! }));
  const value = (type: string): fc.Arbitrary<unknown> => {
    switch (type) {
      case 'bool':
        return fc.boolean();
      case 'number':
        return fc.integer({ min: 0, max: 200 });
      case 'duration':
        return fc.integer({ min: 0, max: 400 * 86400 });
      case 'string':
        return fc.constantFrom('GB', 'US', 'RU', 'login', 'recovery', 'Chrome');
      case 'ip':
        return fc.constantFrom('81.2.69.142', '203.0.113.7', '2001:db8::1', '10.1.2.3');
      default:
        return fc.constant(null);
    }
  };
  const record = fc.record(Object.fromEntries(defs.filter((d) => d.name !== 'event.type').map((d) => [d.name, fc.option(value(d.type), { nil: null })])));

  it('matched rules, decision and score are those of pack.evaluate', () => {
    let hits = 0;
    fc.assert(
      fc.property(record, fc.constantFrom('login', 'recovery'), (features, type) => {
        const t = explainRecord(shipped, type, features, { scheme: VIGIL_SCHEME });
        const slots: unknown[] = new Array(shipped.slotCount).fill(undefined);
        for (const [k, v] of Object.entries(features)) {
          const s = shipped.slotOf(k);
          if (s >= 0 && v !== null) slots[s] = v;
        }
        slots[shipped.slotOf('event.type')] = type;
        const d = shipped.evaluate(type, slots as Parameters<CompiledPack['evaluate']>[1]);
        hits += d.rules.length + d.shadow.length;
        expect(t.decision).toBe(d.decision);
        expect(t.score).toBe(d.score);
        expect(t.rules.filter((r) => r.matched && r.mode === 'enforce').map((r) => r.rule)).toEqual(d.rules.map((h) => h.name));
        expect(t.rules.filter((r) => r.matched && r.mode === 'shadow').map((r) => r.rule)).toEqual(d.shadow.map((h) => h.name));
      }),
      { numRuns: 200 },
    );
    // The records do make rules fire (the comparison is not over empty lists only).
    expect(hits).toBeGreaterThan(50);
  });
});
