// The pack manager's shadow pack and rule overrides on the in-process repository (a trial without
// Redis): what rides along with the active pack, how it is composed into what evaluations read,
// expiry by timer, and the audit entries. The Redis path and two instances: test/api/shadow-overrides.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { RULE_MODE } from '../../dsl/index.ts';
import { createMemoryAudit } from '../../engine/audit.ts';
import type { PackManager } from '../../engine/packs/index.ts';
import { GOOD_PACK, readFiles, testPackManager } from '../api/helpers.ts';

const FILES = readFiles(GOOD_PACK);
const opened: PackManager[] = [];
afterEach(async () => {
  for (const m of opened.splice(0)) await m.close();
});

async function manager() {
  const audit = createMemoryAudit();
  const m = testPackManager({ audit });
  opened.push(m);
  await m.start();
  return { m, audit };
}

describe('overrides in the served pack', () => {
  it('compose into one byte per rule; a rule the pack lacks is refused; expiry recomposes by itself', async () => {
    const { m, audit } = await manager();
    const rules = m.current()!.pack.rules.map((r) => r.name);
    expect(m.current()!.modes).toBeUndefined();
    expect(await m.setOverride('nope', { by: 'a', mode: 'off', reason: 'r' })).toEqual({ status: 'unknown_rule' });
    const served = m.current();
    const set = await m.setOverride('no_mfa', { by: 'a', mode: 'shadow', reason: 'r', ttlMs: 80 });
    expect(set.status).toBe('set');
    const modes = m.current()!.modes!;
    expect(modes[rules.indexOf('no_mfa')]).toBe(RULE_MODE.shadow);
    expect([...modes].filter((x) => x !== RULE_MODE.declared)).toHaveLength(1);
    // replaced whole: an evaluation holding the old object keeps it
    expect(m.current()).not.toBe(served);
    expect(served!.modes).toBeUndefined();
    expect((await m.overrides()).map((o) => [o.rule, o.mode, o.applies])).toEqual([['no_mfa', 'shadow', true]]);
    await new Promise((r) => setTimeout(r, 150));
    expect(m.current()!.modes).toBeUndefined();
    expect(await m.overrides()).toEqual([]);
    expect(await m.clearOverride('no_mfa', { by: 'a' })).toBeNull();
    expect(audit.entries.map((e) => e.action)).toEqual(['pack_activate', 'override_set']);
  });

  it('a pack change keeps the overrides of rules it still has', async () => {
    const { m } = await manager();
    await m.setOverride('no_mfa', { by: 'a', mode: 'off', reason: 'r' });
    const v2 = { ...FILES, 'main.rules': FILES['main.rules']!.replace('version 1', 'version 2') };
    expect((await m.activate(v2, { by: 'b' })).status).toBe('activated');
    const rules = m.current()!.pack.rules.map((r) => r.name);
    expect(m.current()!.modes![rules.indexOf('no_mfa')]).toBe(RULE_MODE.off);
    expect((await m.clearOverride('no_mfa', { by: 'c', reason: 'done' }))?.mode).toBe('off');
    expect(m.current()!.modes).toBeUndefined();
  });
});

describe('the shadow pack beside the active one', () => {
  it('is served with the active pack, survives its changes, and is cleared; refusals change nothing', async () => {
    const { m, audit } = await manager();
    const bad = await m.setShadow({ 'main.rules': 'pack s version 1\nrule r { when true then step_up }\ntest "t" { event login given {} expect block }\n' }, { by: 'a' });
    expect(bad.status).toBe('rejected');
    expect(m.shadow()).toBeNull();
    const set = await m.setShadow({ 'main.rules': 'pack s version 1\nrule r { when user.mfa == false then block }\n' }, { by: 'a', reason: 'try' });
    expect(set.status).toBe('set');
    expect(m.current()!.shadow?.pack.name).toBe('s');
    expect((await m.setShadow({ 'main.rules': 'pack s version 1\nrule r { when user.mfa == false then block }\n' }, { by: 'a' })).status).toBe('unchanged');
    await m.activate({ ...FILES, 'main.rules': FILES['main.rules']!.replace('version 1', 'version 3') }, { by: 'b' });
    expect(m.current()!.meta.version).toBe(3);
    expect(m.current()!.shadow?.pack.name).toBe('s');
    expect((await m.clearShadow({ by: 'c' }))?.name).toBe('s');
    expect(m.current()!.shadow).toBeUndefined();
    expect(await m.clearShadow({ by: 'c' })).toBeNull();
    expect(audit.entries.map((e) => [e.action, e.by])).toEqual([
      ['pack_activate', 'startup'],
      ['pack_shadow_set', 'a'],
      ['pack_activate', 'b'],
      ['pack_shadow_clear', 'c'],
    ]);
  });
});
