// Sensitive changes in the simulator (`--changes`), the held-out configuration, and the changes
// report (training/changes-eval.ts): deterministic event shapes, sessions linked to the sign-in
// that opened them, chain bookkeeping in replay, and the report's arithmetic on a hand-built run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePack, loadPackDir, type CompiledPack } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../../features/geoip.ts';
import { createChangesCollector, formatChangesReport } from '../../training/changes-eval.ts';
import { buildGeoPool, createRng, type GeoPool } from '../../training/geo-pool.ts';
import { appliedOutcome, engineAcceptsChanges, featureRow, parseSimLine, replayThroughEngine, type ReplayedEvent } from '../../training/replay.ts';
import { CHANGE_KINDS, MIXES, legitChange, formatLine, geoSeed, simulate, validateSimulateOptions, type Label, type SimLine } from '../../training/simulate.ts';
import type { Action } from '../../dsl/ast.ts';

type ChangeEventOptions = Partial<SimLine> & { type?: 'login' | 'recovery' | 'account_change'; score?: number; anomaly?: number | null };
let seq = 0;
/** A replayed account change (or, with `type`, a chain's other step) as the collector receives it. */
function changeEvent(label: Label, decision: Action, o: ChangeEventOptions = {}): ReplayedEvent {
  const { type, score, anomaly, ...rest } = o;
  const line: SimLine = {
    request: { type: type ?? 'account_change', user: { id: 'u' }, ip: '192.0.2.1', time: '2026-01-20T00:00:00.000Z' },
    outcome: 'succeeded',
    label,
    day: 12,
    ...rest,
  };
  seq++;
  return { index: seq, line, label, decision, score: score ?? 0, features: {}, rba: null, anomaly: anomaly ?? null, applied: null, rules: [], decisionId: `d${seq}` };
}

let geoip: GeoIp;
let pool: GeoPool;
let pack: CompiledPack;
let lines: SimLine[];

beforeAll(async () => {
  geoip = await createGeoIp({ watch: false });
  pool = buildGeoPool(geoip, geoSeed('c'), { samples: 30_000, hostingSamples: 4000 });
  lines = simulate({ users: 200, days: 14, seed: 'c', changes: true, attackScale: 2 }, pool);
  const r = compilePack(loadPackDir(new URL('../../rules/login_core', import.meta.url).pathname), { scheme: VIGIL_SCHEME });
  if (!r.pack) throw new Error('the default pack does not compile');
  pack = r.pack;
});
afterAll(() => geoip.close());

const chain = (label: Label): Map<string, SimLine[]> => {
  const m = new Map<string, SimLine[]>();
  for (const l of lines.filter((x) => x.label === label)) m.set(l.attack_id!, [...(m.get(l.attack_id!) ?? []), l]);
  return m;
};

describe('sensitive changes in the simulator', () => {
  it('is reproducible byte for byte with a seed, and leaves the sign-in traffic as it was without --changes', () => {
    const again = simulate({ users: 200, days: 14, seed: 'c', changes: true, attackScale: 2 }, pool);
    expect(again.map(formatLine).join('\n')).toBe(lines.map(formatLine).join('\n'));
    const plain = simulate({ users: 200, days: 14, seed: 'c', attackScale: 2 }, pool);
    const req = (ls: SimLine[]): string[] => ls.filter((l) => l.label === 'legit' && l.request.type !== 'account_change').map((l) => JSON.stringify(l.request));
    expect(req(lines)).toEqual(req(plain));
    expect(plain.some((l) => l.request.type === 'account_change' || l.session_id !== undefined)).toBe(false);
  });

  it('links every change to an earlier sign-in of the same user and the same session', () => {
    const opened = new Map<string, SimLine>();
    const changes = lines.filter((l) => l.request.type === 'account_change');
    expect(changes.length).toBeGreaterThan(20);
    for (const l of lines) {
      if (l.session_id !== undefined) {
        expect(l.request.type).toBe('login');
        expect(opened.has(l.session_id)).toBe(false);
        opened.set(l.session_id, l);
      }
      if (l.request.type !== 'account_change') continue;
      expect(CHANGE_KINDS).toContain(l.request.change);
      expect(typeof parseSimLine(formatLine(l))).toBe('object');
      const s = opened.get(l.session!);
      expect(s).toBeDefined();
      expect(s!.request.user.id).toBe(l.request.user.id);
      expect(Date.parse(l.request.time)).toBeGreaterThan(Date.parse(s!.request.time));
    }
    const ctx = new Set(changes.filter((l) => l.label === 'legit').map((l) => l.change_context));
    expect(ctx.has('home')).toBe(true);
    expect([...ctx].some((c) => c !== 'home')).toBe(true);
  });

  it('puts long-session changes hours after their sign-in, some from another address, the others minutes after', () => {
    const opened = new Map(lines.filter((l) => l.session_id !== undefined).map((l) => [l.session_id!, l]));
    let long = 0;
    let moved = 0;
    for (const l of lines) {
      if (l.label !== 'legit' || l.request.type !== 'account_change') continue;
      const signIn = opened.get(l.session!)!;
      const age = Date.parse(l.request.time) - Date.parse(signIn.request.time);
      if (l.change_context === 'long_session') {
        long++;
        expect(age).toBeGreaterThanOrEqual(3_600_000);
        if (l.request.ip !== signIn.request.ip) moved++;
      } else {
        expect(l.request.ip).toBe(signIn.request.ip);
      }
    }
    expect(long).toBeGreaterThan(3);
    expect(moved).toBeGreaterThan(0);
  });

  it("labels a change that follows the owner's own recovery as after_recovery, never usual", () => {
    const rng = createRng('after-recovery');
    const seen = new Map<string, number>();
    for (let k = 0; k < 20_000; k++) {
      const c = legitChange(rng, { scenario: 'home', recovered: true, newPhoneDays: undefined, mfa: false });
      if (c) seen.set(c.context, (seen.get(c.context) ?? 0) + 1);
    }
    expect([...seen.keys()]).toEqual(['after_recovery']);
    // Without the recovery the same home sign-in gives usual changes.
    let usual = 0;
    const r2 = createRng('home');
    for (let k = 0; k < 5_000; k++) if (legitChange(r2, { scenario: 'home', recovered: false, newPhoneDays: undefined, mfa: false })?.context === 'home') usual++;
    expect(usual).toBeGreaterThan(0);
  });

  it('builds the three takeover chains as the issue describes them', () => {
    const phished = chain('phished_2fa');
    expect(phished.size).toBeGreaterThan(3);
    for (const [id, c] of phished) {
      expect(c.map((l) => l.request.type)).toEqual(['login', 'account_change']);
      expect(c[0]!.passes_step_up).toBe(true);
      expect(c[1]!.passes_step_up).toBeUndefined();
      expect(c[1]!.session).toBe(id);
      expect(c[1]!.request.ip).toBe(c[0]!.request.ip);
      expect(['email', 'recovery_method', 'mfa_add', 'mfa_remove']).toContain(c[1]!.request.change);
    }
    const stolen = chain('stolen_cookie');
    expect(stolen.size).toBeGreaterThan(3);
    for (const [id, c] of stolen) {
      expect(c.map((l) => l.request.type)).toEqual(['account_change']);
      const owner = lines.find((l) => l.session_id === id)!;
      expect(owner.label).toBe('legit');
      expect(c[0]!.request.device?.id).toBe(owner.request.device?.id);
      expect(c[0]!.request.ip).not.toBe(owner.request.ip);
      expect(Date.parse(c[0]!.request.time) - Date.parse(owner.request.time)).toBeGreaterThanOrEqual(3_600_000);
    }
    const rec = chain('vpn_recovery');
    expect(rec.size).toBeGreaterThan(3);
    for (const [, c] of rec) {
      expect(c.map((l) => [l.request.type, l.request.change ?? null])).toEqual([['recovery', null], ['login', null], ['account_change', 'password']]);
      expect(c[0]!.passes_step_up).toBe(true);
      expect(c[1]!.passes_step_up).toBe(c[1]!.request.user.mfa !== true);
    }
  });
});

describe('the held-out configuration', () => {
  it('has another mix and other random streams than the default, and is checked', () => {
    expect(MIXES.heldout).not.toEqual(MIXES.default);
    const d = simulate({ users: 40, days: 5, seed: 'c' }, pool).map(formatLine);
    const h = simulate({ users: 40, days: 5, seed: 'c', config: 'heldout' }, pool).map(formatLine);
    expect(h).not.toEqual(d);
    expect(new Set(h).size - new Set(h.filter((x) => d.includes(x))).size).toBe(new Set(h).size);
    expect(geoSeed('c', 'heldout').next()).not.toBe(geoSeed('c').next());
    // A name from outside the list is refused (cli/main.ts checks the flag too).
    expect(validateSimulateOptions({ users: 1, days: 1, seed: 'x', config: 'tuned' as 'default' })).toMatch(/--config/);
  });
});

describe('replay and the changes report', () => {
  it('lets an attacker pass only the step-ups marked for them', () => {
    expect(appliedOutcome('step_up', 'succeeded', 'phished_2fa', true)).toBe('challenge_passed');
    expect(appliedOutcome('step_up', 'succeeded', 'phished_2fa')).toBe('challenge_failed');
    expect(appliedOutcome('step_up', 'succeeded', 'legit')).toBe('challenge_passed');
  });

  it('reports account_change as unsupported when the engine does not take it, and never crashes on it', async () => {
    const small = lines.filter((l) => l.day < 8);
    const seen: ReplayedEvent[] = [];
    const sum = await replayThroughEngine(small, { pack, geoip, onEvent: (e) => void seen.push(e) });
    const nChanges = small.filter((l) => l.request.type === 'account_change').length;
    if (!engineAcceptsChanges()) {
      expect(sum.unsupportedChanges + sum.skippedChainSteps).toBeGreaterThanOrEqual(nChanges - sum.skippedChainSteps);
      expect(seen.some((e) => e.line.request.type === 'account_change')).toBe(false);
      const c = createChangesCollector({ warmupDays: 0 });
      for (const e of seen) c.add(e);
      expect(formatChangesReport(c.report(sum.unsupportedChanges))).toMatch(/account_change not supported by this server/);
    } else {
      expect(seen.some((e) => e.line.request.type === 'account_change')).toBe(true);
      // `vigil simulate --features-out` writes the owners' changes as legit rows, session features and all,
      // so `vigil train --legit-only` learns from them.
      const own = seen.filter((e) => e.label === 'legit' && e.line.request.type === 'account_change').map(featureRow);
      expect(own.length).toBeGreaterThan(0);
      for (const row of own) {
        expect(row.features['event.type']).toBe('account_change');
        expect(typeof row.features['session.age']).toBe('number');
      }
    }
    expect(sum.badLines).toBe(0);
  });

  it('counts chains stopped and the owners\' changes challenged, as defined', () => {
    const ev = (label: Label, decision: Action, o: ChangeEventOptions = {}): ReplayedEvent => changeEvent(label, decision, o);
    const c = createChangesCollector({ warmupDays: 10 });
    // phished: the sign-in's step-up is passed (not a stop); the change allowed → not stopped.
    c.add(ev('phished_2fa', 'step_up', { type: 'login', attack_id: 'p1', passes_step_up: true }));
    c.add(ev('phished_2fa', 'allow', { attack_id: 'p1' }));
    // phished: the change stepped up → stopped.
    c.add(ev('phished_2fa', 'allow', { type: 'login', attack_id: 'p2', passes_step_up: true }));
    c.add(ev('phished_2fa', 'step_up', { attack_id: 'p2' }));
    c.add(ev('stolen_cookie', 'block', { attack_id: 's1' }));
    c.add(ev('vpn_recovery', 'step_up', { type: 'recovery', attack_id: 'r1', passes_step_up: true }));
    c.add(ev('vpn_recovery', 'allow', { type: 'login', attack_id: 'r1', passes_step_up: true }));
    c.add(ev('vpn_recovery', 'allow', { attack_id: 'r1' }));
    for (let k = 0; k < 49; k++) c.add(ev('legit', 'allow', { change_context: 'home' }));
    c.add(ev('legit', 'step_up', { change_context: 'home' }));
    c.add(ev('legit', 'step_up', { change_context: 'home', day: 3 })); // before warm-up: not counted
    c.add(ev('legit', 'block', { change_context: 'abroad' }));
    c.add(ev('legit', 'allow', { change_context: 'new_phone' }));
    c.add(ev('legit', 'allow', { type: 'login', scenario: 'home' })); // a sign-in: not a change
    const r = c.report(0);
    expect(r.chains).toEqual({ phished_2fa: { n: 2, stopped: 1 }, stolen_cookie: { n: 1, stopped: 1 }, vpn_recovery: { n: 1, stopped: 0 } });
    expect(r.usual).toEqual({ n: 50, challenged: 1, blocked: 0 });
    expect(r.unusual).toEqual({ n: 2, challenged: 1, blocked: 1 });
    const text = formatChangesReport(r);
    expect(text).toMatch(/chain phished_2fa\s+50\.0%/);
    expect(text).toMatch(/usual \(home\)\s+2\.0%\s+0\s+50/);
    expect(text).toMatch(/unusual\s+50\.0%\s+1\s+2/);
    expect(r.byContext.abroad).toEqual({ n: 1, challenged: 1, blocked: 1 });
    expect(r.byContext.new_phone).toEqual({ n: 1, challenged: 0, blocked: 0 });
    expect(r.byContext.home).toEqual(r.usual);
    expect(r.byContext.long_session).toEqual({ n: 0, challenged: 0, blocked: 0 });
    expect(text).toMatch(/unusual: abroad\s+100\.0%\s+1\s+1\n/);
    expect(text).toMatch(/unusual: long_session\s+n\/a\s+0\s+0\n/);
  });

  it('ranks each chain kind\'s change events against the owners\' changes, by model.anomaly and by the pack', () => {
    const ev = (label: Label, decision: Action, score: number, anomaly: number | null, o: ChangeEventOptions = {}): ReplayedEvent =>
      changeEvent(label, decision, { ...(label === 'legit' ? {} : { attack_id: `${label}-${seq}` }), ...o, score, anomaly });
    const c = createChangesCollector({ warmupDays: 10 });
    // Owners' changes: anomalies 0.3, 0.5, 0.7; pack allow 0, allow 10, step_up 40.
    c.add(ev('legit', 'allow', 0, 0.3, { change_context: 'home' }));
    c.add(ev('legit', 'allow', 10, 0.5, { change_context: 'home' }));
    c.add(ev('legit', 'step_up', 40, 0.7, { change_context: 'abroad' }));
    c.add(ev('legit', 'block', 90, 0.99, { change_context: 'home', day: 2 })); // before warm-up: not counted
    // phished: 0.6 beats 2 of 3, 0.8 beats 3 of 3 → (2 + 3) / 6; pack: allow 20 beats 2, step_up 40 ties 1 → (2 + 2.5) / 6.
    c.add(ev('phished_2fa', 'step_up', 30, 0.99, { type: 'login' })); // the chain's sign-in: not a change event
    c.add(ev('phished_2fa', 'allow', 20, 0.6));
    c.add(ev('phished_2fa', 'step_up', 40, 0.8));
    // stolen_cookie: a failed model run ranks below everything → 0; the pack's block beats all → 1.
    c.add(ev('stolen_cookie', 'block', 100, null));
    const r = c.report(0);
    expect(r.legitChanges).toBe(3);
    expect(r.auc.phished_2fa).toEqual({ model: 5 / 6, pack: 4.5 / 6, n: 2 });
    expect(r.auc.stolen_cookie).toEqual({ model: 0, pack: 1, n: 1 });
    expect(r.auc.vpn_recovery).toEqual({ model: null, pack: null, n: 0 });
    const text = formatChangesReport(r);
    expect(text).toMatch(/owners' changes \(3\): ROC AUC/);
    expect(text).toMatch(/chain phished_2fa\s+0\.8333\s+0\.7500\s+2/);
    expect(text).toMatch(/chain vpn_recovery\s+n\/a\s+n\/a\s+0/);
    // JSON as `vigil model eval --json` writes it: no NaN, n/a as null.
    expect(JSON.parse(JSON.stringify(r)).auc.vpn_recovery).toEqual({ model: null, pack: null, n: 0 });

    // Without a model every anomaly is null: model AUCs are n/a, the pack's still measured.
    const bare = createChangesCollector({ warmupDays: 0 });
    bare.add(ev('legit', 'allow', 0, null));
    bare.add(ev('vpn_recovery', 'step_up', 40, null));
    expect(bare.report(0).auc.vpn_recovery).toEqual({ model: null, pack: 1, n: 1 });
  });
});
