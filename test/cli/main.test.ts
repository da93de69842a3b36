// `vigil check`, `vigil test`, `vigil eval` and usage errors, run in-process through main() with
// captured output: exit codes, diagnostic codes and positions, the `N passed, M failed` last line,
// and the eval result JSON.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastLine, run, tempDir } from './helpers.ts';

const BAD = `pack bad version 1

rule r {
  when geo.contry == "BR"
  then block
}
`;

const WARN = `pack warn version 1
const unused_limit = 5
rule r {
  when velocity.ip_failed_1h > 10
  then block
}
`;

const TESTS = `pack t version 1
rule burst {
  when velocity.ip_failed_10m >= 50
  then block
}
test "burst blocks" {
  event login
  given { velocity.ip_failed_10m: 80 }
  expect block
}
test "quiet is blocked too (wrong on purpose)" {
  event login
  given { velocity.ip_failed_10m: 1 }
  expect block
  expect matched burst
}
`;

const TEST_ERROR = `pack t version 1
rule burst {
  when velocity.ip_failed_10m >= 50
  then block
}
test "names a missing rule" {
  event login
  given { velocity.ip_failed_10m: 80 }
  expect matched no_such_rule
}
`;

const SYNTAX = `pack s version 1
rule r {
  when velocity.ip_failed_10m >= 
}
`;

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir({
    'bad/main.rules': BAD,
    'warn.rules': WARN,
    'tests/a.rules': TESTS,
    'testerr/a.rules': TEST_ERROR,
    'syntax/a.rules': SYNTAX,
    'empty/readme.txt': 'no rules here',
    'not-a-pack.txt': 'hello',
    'features.json': JSON.stringify({ 'velocity.ip_failed_10m': 80, 'ip.address': '203.0.113.9' }),
    'bad.json': '{"velocity.ip_failed_10m": ',
    'unknown.json': JSON.stringify({ 'geo.contry': 'GB' }),
    'wrongtype.json': JSON.stringify({ 'velocity.ip_failed_10m': 'many' }),
    'array.json': '[1, 2]',
  });
});
afterAll(() => tmp.cleanup());
const at = (p: string): string => `${tmp.dir}/${p}`;

describe('usage', () => {
  it('an unknown command prints usage on stderr and exits 2', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Usage: vigil');
    expect(r.out).toBe('');
  });
  it('an unknown flag exits 2', async () => {
    const r = await run(['check', '--frobnicate', 'rules/login_core']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--frobnicate');
  });
  it('a missing argument exits 2', async () => {
    expect((await run(['check'])).code).toBe(2);
    expect((await run(['eval', 'rules/login_core', '--event', 'login'])).code).toBe(2);
    expect((await run(['replay', 'rules/login_core'])).code).toBe(2);
  });
  it('an extra argument exits 2', async () => {
    expect((await run(['check', 'rules/login_core', 'extra'])).code).toBe(2);
  });
  it('no command at all exits 2 with usage', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Usage: vigil');
  });
  it('--help prints usage on stdout and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['check', 'test', 'eval', 'replay', 'serve']) expect(r.out).toContain(c);
  });
});

describe('vigil check', () => {
  it('the default pack has no diagnostics and exits 0', async () => {
    const r = await run(['check', 'rules/login_core']);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/0 errors, 0 warnings/);
  });
  it('an error is printed as file:LINE:COL: error[CODE] with its source line, exit 1', async () => {
    const r = await run(['check', at('bad')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/bad\/main\.rules:4:8: error\[E_UNKNOWN_NAME\]: /);
    expect(r.out).toContain('  when geo.contry == "BR"');
    expect(r.out).toMatch(/\| {8}\^{10}(?!\^)/);
    expect(r.err).toMatch(/1 error, 0 warnings/);
  });
  it('a syntax error is reported at its position', async () => {
    const r = await run(['check', at('syntax')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/syntax\/a\.rules:4:1: error\[E_SYNTAX\]/);
  });
  it('warnings alone exit 0; a single .rules file is a pack', async () => {
    const r = await run(['check', at('warn.rules')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/warn\.rules:2:7: warning\[W_UNUSED\]/);
    expect(r.err).toMatch(/0 errors, 1 warning\b/);
  });
  it('a pack that does not exist exits 1 with a message and no stack trace', async () => {
    const r = await run(['check', at('nope')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope/);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(r.out).toBe('');
  });
  it('a directory without .rules files or a non-.rules file is refused with exit 1', async () => {
    expect((await run(['check', at('empty')])).code).toBe(1);
    const r = await run(['check', at('not-a-pack.txt')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\.rules/);
  });
});

describe('vigil test', () => {
  it('the default pack passes all its tests; last line is `N passed, 0 failed`', async () => {
    const r = await run(['test', 'rules/login_core']);
    expect(r.code).toBe(0);
    expect(lastLine(r.out)).toMatch(/^(\d+) passed, 0 failed$/);
    expect(Number(/^(\d+)/.exec(lastLine(r.out))?.[1])).toBeGreaterThanOrEqual(15);
  });
  it('a failing test prints its name, file:line and what failed; exit 1', async () => {
    const r = await run(['test', at('tests')]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('"quiet is blocked too (wrong on purpose)"');
    expect(r.out).toMatch(/tests\/a\.rules:11\b/);
    expect(r.out).toMatch(/expected block, got allow/);
    expect(r.out).toMatch(/burst/);
    expect(r.out).not.toContain('"burst blocks"');
    expect(lastLine(r.out)).toBe('1 passed, 1 failed');
  });
  it('--verbose also lists passing tests', async () => {
    const r = await run(['test', '--verbose', at('tests')]);
    expect(r.out).toContain('"burst blocks"');
    expect(lastLine(r.out)).toBe('1 passed, 1 failed');
  });
  it('a pack with errors prints its diagnostics and still ends with the summary line', async () => {
    const r = await run(['test', at('testerr')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/testerr\/a\.rules:9:18: error\[E_TEST\]/);
    expect(lastLine(r.out)).toBe('0 passed, 0 failed');
  });
  it('a missing pack exits 1 and still ends with the summary line', async () => {
    const r = await run(['test', at('nope')]);
    expect(r.code).toBe(1);
    expect(lastLine(r.out)).toBe('0 passed, 0 failed');
  });
});

describe('vigil eval', () => {
  it('prints the result JSON for a feature file', async () => {
    const r = await run(['eval', 'rules/login_core', '--event', 'login', '--features', at('features.json')]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as Record<string, unknown>;
    expect(Object.keys(j).sort()).toEqual(['decision', 'rules', 'score', 'shadow']);
    expect(j.decision).toBe('block');
    expect(j.rules).toContainEqual(expect.objectContaining({ name: 'stuffing_ip_burst', action: 'block', tags: ['stuffing'] }));
    expect(Array.isArray(j.shadow)).toBe(true);
  });
  it('reads features from stdin with -', async () => {
    const stdin = JSON.stringify({ 'geo.tor': true, 'ip.address': '192.0.2.200', 'engine.degraded': null });
    const r = await run(['eval', 'rules/login_core', '--event', 'recovery', '--features', '-'], stdin);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { decision: string; score: number; rules: { name: string; reason: string }[] };
    expect(j.decision).toBe('block');
    expect(j.score).toBe(50);
    expect(j.rules.map((h) => h.name)).toEqual(['recovery_from_tor']);
    expect(j.rules[0]?.reason).toBe('recovery through Tor exit 192.0.2.200');
  });
  it('an empty record is allowed (missing data never blocks)', async () => {
    const r = await run(['eval', 'rules/login_core', '--event', 'login', '--features', '-'], '{}');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ decision: 'allow', score: 0, rules: [], shadow: [] });
  });
  it.each([
    ['bad.json', /invalid JSON/],
    ['unknown.json', /geo\.contry/],
    ['wrongtype.json', /velocity\.ip_failed_10m/],
    ['array.json', /object/],
    ['missing.json', /missing\.json/],
  ])('bad input %s exits 1 with a clear message', async (file, msg) => {
    const r = await run(['eval', 'rules/login_core', '--event', 'login', '--features', at(file)]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(msg);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(r.out).toBe('');
  });
  it('an unknown event type exits 1', async () => {
    const r = await run(['eval', 'rules/login_core', '--event', 'logout', '--features', '-'], '{}');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/logout/);
  });
  it('a pack with errors exits 1 and prints its diagnostics', async () => {
    const r = await run(['eval', at('bad'), '--event', 'login', '--features', '-'], '{}');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/error\[E_UNKNOWN_NAME\]/);
  });
});
