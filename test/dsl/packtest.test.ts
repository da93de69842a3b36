// Pack tests (dsl.md §6): given → slots, expectations, the default event type, Redis lists through a
// backend, and the dsl.md §1 example pack compiled against the real feature catalog.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePack, packFromFiles, MemoryListBackend, type CompileResult } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';

const HEAD = 'pack t version 1\n';

function compile(text: string, extra: Record<string, string> = {}): CompileResult {
  const r = compilePack(packFromFiles({ 'main.rules': text, ...extra }), { scheme: VIGIL_SCHEME });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r;
}

const RULES = `${HEAD}rule tor {\n  when geo.tor\n  then block\n}\nrule rec {\n  on recovery\n  when true\n  score 60\n}\nrule sh {\n  when geo.vpn\n  then block\n  mode shadow\n}\npolicy {\n  step_up when score >= 50\n}\n`;

describe('runTests', () => {
  it('reports passing and failing tests with one failure line per failed expectation', () => {
    const r = compile(
      `${RULES}test "tor is blocked" {\n  given { geo.tor: true }\n  expect block\n  expect matched tor\n}\n` +
        `test "wrong" {\n  given { geo.tor: false }\n  expect block\n  expect matched tor\n  expect not matched rec\n}\n`,
    );
    const rep = r.runTests();
    expect([rep.passed, rep.failed]).toEqual([1, 1]);
    expect(rep.results.map((t) => [t.name, t.passed, t.failures.length])).toEqual([
      ['tor is blocked', true, 0],
      ['wrong', false, 2],
    ]);
    expect(rep.results[1]!.span.line).toBe(24);
    expect(rep.results[1]!.decision?.decision).toBe('allow');
  });
  it('a test without `event` runs as login; `event` and `given event.type` select the type', () => {
    const r = compile(
      `${RULES}test "default" {\n  expect allow\n  expect not matched rec\n}\ntest "event" {\n  event recovery\n  expect step_up\n  expect matched rec\n}\n` +
        `test "given type" {\n  given { event.type: "recovery" }\n  expect step_up\n}\n`,
    );
    const rep = r.runTests();
    expect(rep.results.map((t) => t.passed)).toEqual([true, true, true]);
  });
  it('features not given are missing', () => {
    const r = compile(`${HEAD}rule r {\n  when not geo.tor\n  then block\n}\ntest "t" {\n  expect allow\n}\n`);
    expect(r.runTests().failed).toBe(0);
  });
  it('`expect matched` covers shadow rules; `expect not matched` needs neither', () => {
    const r = compile(
      `${RULES}test "shadow fired" {\n  given { geo.vpn: true }\n  expect allow\n  expect matched sh\n}\ntest "shadow quiet" {\n  expect not matched sh\n}\n` +
        `test "wrongly not" {\n  given { geo.vpn: true }\n  expect not matched sh\n}\n`,
    );
    expect(r.runTests().results.map((t) => t.passed)).toEqual([true, true, false]);
  });
  it('redis lists are resolved through the backend given, empty by default', () => {
    const r = compile(`${HEAD}list blocked: string = redis "blocked"\nrule b {\n  when user.id in blocked\n  then block\n}\ntest "t" {\n  given { user.id: "u-1" }\n  expect block\n}\n`);
    expect(r.runTests().failed).toBe(1);
    const lists = new MemoryListBackend();
    lists.add('blocked', 'u-1');
    expect(r.runTests(lists).passed).toBe(1);
  });
  it('a pack with errors has an empty report', () => {
    const r = compilePack(packFromFiles({ 'main.rules': `${HEAD}rule r {\n  when geo.nope\n  then block\n}\ntest "t" {\n  expect block\n}\n` }), {
      scheme: VIGIL_SCHEME,
    });
    expect(r.pack).toBeNull();
    expect(r.runTests()).toEqual({ passed: 0, failed: 0, results: [] });
  });
  it('given values of every type reach the rules', () => {
    const r = compile(
      `${HEAD}rule r {\n  when user.age > 1h and ip.address == "10.0.0.0/8" and geo.lat < 0 and geo.country == "BR" and user.mfa == false\n  then block\n}\n` +
        `test "t" {\n  given { user.age: 2h, ip.address: "10.1.2.3", geo.lat: -23.5, geo.country: "BR", user.mfa: false }\n  expect block\n}\n`,
    );
    expect(r.runTests().passed).toBe(1);
  });
});

// dsl.md §1, verbatim (the shared fixture without its header comment, so line numbers match the spec).
const EXAMPLE = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures/spec_example.rules'), 'utf8').replace(/^[^\n]*\n/, '');
const TOR = '# tor exits\n185.220.101.1\n2a0b:f4c0::/32\n';

describe('the dsl.md §1 example pack', () => {
  it('compiles against the catalog, warning only about its unused lists', () => {
    const r = compile(EXAMPLE, { 'lists/tor-exits.txt': TOR });
    expect(r.diagnostics.map((d) => `${d.code}@${d.span.line}:${d.span.col}`)).toEqual(['W_UNUSED@5:6', 'W_UNUSED@6:6', 'W_UNUSED@7:6', 'W_UNUSED@8:6']);
    expect(r.pack?.name).toBe('login_core');
    expect(r.pack?.version).toBe(7);
  });
  it('as written, its rule is in shadow mode, so the decision stays allow and only `expect step_up` fails', () => {
    const rep = compile(EXAMPLE, { 'lists/tor-exits.txt': TOR }).runTests();
    expect(rep.failed).toBe(1);
    expect(rep.results[0]!.failures).toHaveLength(1);
    expect(rep.results[0]!.decision).toMatchObject({
      decision: 'allow',
      shadow: [{ name: 'impossible_travel', action: 'step_up', score: 40, reason: 'travel at 5000 km/h to BR', tags: ['ato', 'geo'] }],
    });
  });
  it('with the rule enforcing, its test passes', () => {
    const enforcing = EXAMPLE.replace(/ {2}mode shadow.*\n/, '');
    const rep = compile(enforcing, { 'lists/tor-exits.txt': TOR }).runTests();
    expect([rep.passed, rep.failed]).toEqual([1, 0]);
    expect(rep.results[0]!.decision).toMatchObject({ decision: 'step_up', score: 40, rules: [{ name: 'impossible_travel' }] });
  });
});
