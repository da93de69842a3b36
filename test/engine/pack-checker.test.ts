// The pack checker (engine/packs/checker.ts): packs compiled and tested in worker threads. What a
// worker answers becomes the same PackCheck the in-process check gives (a usable pack compiled
// again here, with closures); a check past its time cap or its memory cap is a refusal with a stable
// reason, never a crash, and the next check gets a fresh worker; a full queue refuses at once.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { evaluateRecord } from '../../dsl/index.ts';
import { remoteCheck } from '../../engine/packs/compile.ts';
import { checkPackFiles, createPackChecker, PackCheckBusyError, type PackChecker } from '../../engine/packs/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { manyRulesPack, regexBombPack } from '../helpers/hostile-packs.ts';

const DEMO = { 'demo.rules': readFileSync(new URL('../../examples/demo.rules', import.meta.url), 'utf8') };
const FAILING_TEST = {
  'p.rules': `pack failing version 1
rule r { when user.mfa == false then block }
test "expects the wrong thing" {
  event login
  given { user.mfa: false }
  expect allow
}
`,
};

const open: PackChecker[] = [];
function checker(opts: Parameters<typeof createPackChecker>[0] = {}): PackChecker {
  const c = createPackChecker(opts);
  open.push(c);
  return c;
}
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

describe('a check in a worker thread', () => {
  it('answers what the in-process check answers, with a pack whose closures evaluate', async () => {
    const c = checker();
    const remote = await c.check(DEMO, 'upload');
    const local = checkPackFiles(DEMO, 'upload', VIGIL_SCHEME);
    expect(remote.ok).toBe(true);
    expect(remote.aborted).toBeUndefined();
    expect(remote.pack!.hash).toBe(local.pack!.hash);
    expect(remote.tests).toMatchObject({ passed: local.tests.passed, failed: 0 });
    const out = evaluateRecord(remote.pack!, 'login', { 'history.travel_kmh': 5000, 'device.known': false }, { scheme: VIGIL_SCHEME });
    expect(out.ok && out.decision.decision).toBe('step_up');
  });

  it('a pack with errors comes back refused with its diagnostics and no pack; one with failing tests keeps its pack (force)', async () => {
    const c = checker();
    const big = await c.check({ 'p.rules': manyRulesPack(6000) }, 'upload');
    expect(big.ok).toBe(false);
    expect(big.pack).toBeNull();
    expect(big.diagnostics.map((d) => `${d.code}@${d.span.line}:${d.span.col}`)).toEqual(['E_LIMIT@5002:6']);
    const failing = await c.check(FAILING_TEST, 'upload');
    expect(failing.ok).toBe(false);
    expect(failing.pack).not.toBeNull();
    expect(failing.tests).toMatchObject({ passed: 0, failed: 1 });
    const bomb = await c.check({ 'p.rules': regexBombPack(3) }, 'upload');
    expect(bomb.pack).toBeNull();
    expect(bomb.diagnostics.map((d) => d.code)).toEqual(['E_REGEX', 'E_REGEX', 'E_REGEX']);
  });

  it('the patterns the worker proved safe travel with its answer, so this thread does not analyse them again', async () => {
    const tag = `w${process.pid}x${Date.now().toString(36)}`;
    const files = { 'p.rules': `pack rx version 1\nrule a { when ua.browser matches "^${tag}[a-z]+$" then step_up }\nrule b { when ua.os matches "(?i)^${tag}x{1,3}$" then step_up }\n` };
    expect([...remoteCheck(files, 'upload', VIGIL_SCHEME).safePatterns].sort()).toEqual([`(?i)^${tag}x{1,3}$`, `^${tag}[a-z]+$`].sort());
    const checked = await checker().check(files, 'upload');
    expect(checked.ok).toBe(true);
    const out = evaluateRecord(checked.pack!, 'login', { 'ua.browser': `${tag}abc` }, { scheme: VIGIL_SCHEME });
    expect(out.ok && out.decision.rules.map((r) => r.name)).toEqual(['a']);
  });

  it('a check past the time cap is stopped: a time_limit refusal, and the next check gets a fresh worker', async () => {
    const c = checker({ timeoutMs: 40 });
    // Thousands of rules take far longer than 40 ms to parse.
    const slow = await c.check({ 'p.rules': manyRulesPack(10_000) }, 'upload');
    expect(slow.ok).toBe(false);
    expect(slow.pack).toBeNull();
    expect(slow.aborted?.reason).toBe('time_limit');
    expect(slow.loadError).toMatch(/40 ms/);
    const slow2 = await c.check({ 'p.rules': manyRulesPack(10_000, 'b') }, 'upload');
    expect(slow2.aborted?.reason).toBe('time_limit');
    const roomy = checker({ timeoutMs: 20_000 });
    expect((await roomy.check(DEMO, 'upload')).ok).toBe(true);
  });

  it('a check that needs more memory than the cap kills only its worker: a memory_limit refusal, the process lives on', async () => {
    const c = checker({ memoryMb: 16, timeoutMs: 60_000 });
    // The same cap holds a small pack's check…
    expect((await c.check(DEMO, 'upload')).ok).toBe(true);
    // …but not the syntax trees of ten thousand rules.
    const huge = await c.check({ 'p.rules': manyRulesPack(10_000) }, 'upload');
    expect(huge.ok).toBe(false);
    expect(huge.pack).toBeNull();
    expect(huge.aborted?.reason).toBe('memory_limit');
    // A new worker takes the next check.
    expect((await c.check(DEMO, 'upload')).ok).toBe(true);
  });

  it('past the workers and the queue a check is refused at once (busy), and the others still finish', async () => {
    const c = checker({ workers: 1, queue: 1 });
    const first = c.check(DEMO, 'upload');
    const second = c.check(DEMO, 'upload');
    await expect(c.check(DEMO, 'upload')).rejects.toBeInstanceOf(PackCheckBusyError);
    expect(c.pending()).toBe(2);
    expect((await first).ok).toBe(true);
    expect((await second).ok).toBe(true);
    expect(c.pending()).toBe(0);
  });

  it('refuses bad options, and checks after close', async () => {
    expect(() => createPackChecker({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => createPackChecker({ queue: -1 })).toThrow(/queue/);
    const c = createPackChecker();
    await c.close();
    await expect(c.check(DEMO, 'upload')).rejects.toBeInstanceOf(PackCheckBusyError);
  });
});
