// The traffic simulator (training/simulate.ts, training/geo-pool.ts), replay through the real engine
// (training/replay.ts) and `vigil simulate` (cli/simulate.ts): reproducibility, real geography, the
// attacker models of Wiefling et al., and bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bufferIO } from '../../cli/io.ts';
import { runSimulate } from '../../cli/simulate.ts';
import { compilePack, loadPackDir, type CompiledPack } from '../../dsl/index.ts';
import { CATALOG, VIGIL_SCHEME } from '../../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../../features/geoip.ts';
import { createUserAgentParser } from '../../features/useragent.ts';
import { buildGeoPool, createRng, isHostingNetwork, type GeoPool } from '../../training/geo-pool.ts';
import { appliedOutcome, parseSimLine, replayThroughEngine, toVigilEvent, type ReplayedEvent } from '../../training/replay.ts';
import {
  allUserAgents,
  formatLine,
  geoSeed,
  parseAttackList,
  simulate,
  validateSimulateOptions,
  type SimLine,
} from '../../training/simulate.ts';

let geoip: GeoIp;
let pool: GeoPool;
let lines: SimLine[];
let pack: CompiledPack;
const tmp = mkdtempSync(join(tmpdir(), 'vigil-sim-'));

beforeAll(async () => {
  geoip = await createGeoIp({ watch: false });
  pool = buildGeoPool(geoip, geoSeed('t'), { samples: 40_000, hostingSamples: 5000 });
  lines = simulate({ users: 150, days: 12, seed: 't' }, pool);
  const r = compilePack(loadPackDir(new URL('../../rules/login_core', import.meta.url).pathname), { scheme: VIGIL_SCHEME });
  if (!r.pack) throw new Error('the default pack does not compile');
  pack = r.pack;
});
afterAll(() => {
  geoip.close();
  rmSync(tmp, { recursive: true, force: true });
});

function byLabel(label: SimLine['label']): SimLine[] {
  return lines.filter((l) => l.label === label);
}

describe('seeded randomness', () => {
  it('repeats a stream for a seed and differs across seeds', () => {
    const a = createRng('x');
    const b = createRng('x');
    const c = createRng('y');
    const sa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(sa);
    for (const v of sa) expect(v >= 0 && v < 1).toBe(true);
  });

  it('draws by weight and never picks a zero weight', () => {
    const r = createRng('w');
    const n = [0, 0, 0];
    for (let i = 0; i < 3000; i++) n[r.weightedIndex([1, 0, 3])]!++;
    expect(n[1]).toBe(0);
    expect(n[2]! / n[0]!).toBeGreaterThan(2.4);
    expect(n[2]! / n[0]!).toBeLessThan(3.7);
  });
});

describe('geo pool', () => {
  it('holds real addresses whose GeoIP answer matches what the pool says', () => {
    expect(pool.homeCountries.length).toBeGreaterThan(10);
    for (const cc of pool.homeCountries.slice(0, 5)) {
      for (const p of pool.residential(cc).slice(0, 20)) {
        const g = geoip.lookup(p.ip);
        expect(g.country).toBe(cc);
        expect(g.asn).toBe(p.asn);
        expect(g.city).toBe(p.city);
        expect(isHostingNetwork(p.asn, p.asnOrg)).toBe(false);
      }
    }
  });

  it('finds hosting networks in the main countries', () => {
    for (const cc of ['US', 'DE', 'GB']) {
      const h = pool.hosting(cc);
      expect(h.length).toBeGreaterThan(0);
      for (const p of h.slice(0, 10)) {
        expect(geoip.lookup(p.ip).country).toBe(cc);
        expect(isHostingNetwork(p.asn, p.asnOrg)).toBe(true);
      }
    }
  });

  it('is the same for the same seed', () => {
    const again = buildGeoPool(geoip, geoSeed('t'), { samples: 40_000, hostingSamples: 5000 });
    expect(again.world.map((p) => p.ip)).toEqual(pool.world.map((p) => p.ip));
    expect(again.hostingWorld.map((p) => p.ip)).toEqual(pool.hostingWorld.map((p) => p.ip));
  });
});

describe('simulate', () => {
  it('is reproducible byte for byte, and a different seed gives different traffic', () => {
    const again = simulate({ users: 150, days: 12, seed: 't' }, pool).map(formatLine).join('\n');
    expect(again).toBe(lines.map(formatLine).join('\n'));
    const other = simulate({ users: 150, days: 12, seed: 'u' }, pool).map(formatLine).join('\n');
    expect(other).not.toBe(again);
  });

  it('writes time-ordered lines that replay can read, with day numbers that match the time', () => {
    const start = Date.parse('2026-01-05T00:00:00Z');
    let prev = 0;
    for (const l of lines) {
      const t = Date.parse(l.request.time);
      expect(t).toBeGreaterThanOrEqual(prev);
      prev = t;
      expect(l.day).toBe(Math.floor((t - start) / 86_400_000));
      const parsed = parseSimLine(formatLine(l));
      expect(typeof parsed).toBe('object');
    }
    expect(prev).toBeLessThan(start + 12 * 86_400_000);
  });

  it('injects every attack type by default, none with --attacks none, and keeps the legit traffic unchanged', () => {
    for (const a of ['naive', 'vpn', 'targeted', 'stuffing'] as const) expect(byLabel(a).length).toBeGreaterThan(0);
    const quiet = simulate({ users: 150, days: 12, seed: 't', attacks: [] }, pool);
    expect(quiet.every((l) => l.label === 'legit')).toBe(true);
    expect(quiet.map(formatLine)).toEqual(byLabel('legit').map(formatLine));
    const onlyVpn = simulate({ users: 150, days: 12, seed: 't', attacks: ['vpn'] }, pool);
    expect(new Set(onlyVpn.map((l) => l.label))).toEqual(new Set(['legit', 'vpn']));
  });

  it('starts attacks on the attack start day (a third of the way in by default)', () => {
    for (const l of lines) if (l.label !== 'legit') expect(l.day).toBeGreaterThanOrEqual(4);
    const early = simulate({ users: 50, days: 12, seed: 't', attackStartDay: 0, attacks: ['stuffing'] }, pool);
    expect(early.some((l) => l.label === 'stuffing')).toBe(true);
  });

  it('sends only user agents the engine parses as browsers', () => {
    const parser = createUserAgentParser();
    for (const ua of allUserAgents()) {
      const info = parser.parse(ua);
      expect(info.browser, ua).toBeDefined();
      expect(info.os, ua).toBeDefined();
      expect(info.deviceType, ua).toBeDefined();
    }
  });

  it('gives legitimate users a home country, 1–3 devices, mistypes, and the hard cases', () => {
    const legit = byLabel('legit');
    const perUser = new Map<string, SimLine[]>();
    for (const l of legit) {
      const list = perUser.get(l.request.user.id) ?? [];
      list.push(l);
      perUser.set(l.request.user.id, list);
    }
    expect(perUser.size).toBeGreaterThan(120);
    const failed = legit.filter((l) => l.outcome === 'failed').length / legit.length;
    expect(failed).toBeGreaterThan(0.01);
    expect(failed).toBeLessThan(0.15);
    const scen = new Set(legit.map((l) => l.scenario));
    for (const s of ['home', 'mobile', 'private_window', 'trip', 'vpn_user']) expect(scen.has(s as SimLine['scenario'])).toBe(true);
    // Every sign-in of a user outside a trip is in one country (home); trips are in another one.
    let trips = 0;
    for (const [, ls] of perUser) {
      const home = new Set(ls.filter((l) => l.scenario !== 'trip' && l.scenario !== 'vpn_user').map((l) => geoip.lookup(l.request.ip).country));
      expect(home.size).toBeLessThanOrEqual(1);
      for (const l of ls) {
        if (l.scenario !== 'trip' || home.size === 0) continue;
        trips++;
        expect(home.has(geoip.lookup(l.request.ip).country)).toBe(false);
      }
      const uas = new Set(ls.map((l) => l.request.device?.user_agent?.replace(/\d+/g, '#')));
      expect(uas.size).toBeLessThanOrEqual(4);
    }
    expect(trips).toBeGreaterThan(0);
    // A private window is a device id the user never used before, from a known browser.
    const seen = new Map<string, Set<string>>();
    let privateFresh = 0;
    for (const l of legit) {
      const s = seen.get(l.request.user.id) ?? new Set<string>();
      const id = l.request.device?.id ?? '';
      if (l.scenario === 'private_window' && !s.has(id)) privateFresh++;
      s.add(id);
      seen.set(l.request.user.id, s);
    }
    expect(privateFresh).toBeGreaterThan(0);
    expect(legit.some((l) => l.request.type === 'recovery') || legit.length < 3000).toBe(true);
  });

  it('with GeoIP data that has no trip country, nobody travels (and the run does not fail)', () => {
    const noTrips: GeoPool = { ...pool, tripCountries: [], tripWeights: [] };
    const out = simulate({ users: 150, days: 12, seed: 't', attacks: [] }, noTrips);
    expect(out.length).toBeGreaterThan(0);
    expect(out.some((l) => l.scenario === 'trip')).toBe(false);
    // The other scenarios are still there.
    expect(out.some((l) => l.scenario === 'home')).toBe(true);
  });

  it('models the attackers of Wiefling et al.', () => {
    const homeOf = new Map<string, { country?: string; asn?: number; uas: Set<string>; devices: Set<string> }>();
    for (const l of byLabel('legit')) {
      const g = geoip.lookup(l.request.ip);
      const h = homeOf.get(l.request.user.id) ?? { ...(g.country ? { country: g.country } : {}), ...(g.asn ? { asn: g.asn } : {}), uas: new Set(), devices: new Set() };
      h.uas.add(l.request.device?.user_agent ?? '');
      h.devices.add(l.request.device?.id ?? '');
      if (l.scenario === 'home') Object.assign(h, { country: g.country, asn: g.asn });
      homeOf.set(l.request.user.id, h);
    }
    // VPN: a hosting network, in the victim's country when one is known there.
    for (const l of byLabel('vpn')) {
      const g = geoip.lookup(l.request.ip);
      expect(isHostingNetwork(g.asn, g.asnOrg)).toBe(true);
      const victim = homeOf.get(l.request.user.id);
      if (victim?.country && pool.hosting(victim.country).length > 0) expect(g.country).toBe(victim.country);
    }
    // Targeted: the victim's country and network, a browser the victim uses, a device id the victim never had.
    let sameAsn = 0;
    const targeted = byLabel('targeted');
    for (const l of targeted) {
      const victim = homeOf.get(l.request.user.id);
      if (!victim) continue;
      const g = geoip.lookup(l.request.ip);
      expect(g.country).toBe(victim.country);
      if (g.asn === victim.asn) sameAsn++;
      expect(victim.devices.has(l.request.device?.id ?? '')).toBe(false);
      expect(l.outcome).toBe('succeeded');
    }
    // A quarter of them (MIXES.default.targetedCarrier) take the victim's mobile carrier instead of the home ISP.
    expect(sameAsn / targeted.length).toBeGreaterThan(0.5);
    // Stuffing: bursts from at most three addresses, over many accounts, fast, mostly failing.
    const bursts = new Map<string, SimLine[]>();
    for (const l of byLabel('stuffing')) {
      const list = bursts.get(l.attack_id ?? '') ?? [];
      list.push(l);
      bursts.set(l.attack_id ?? '', list);
    }
    for (const [, b] of bursts) {
      expect(new Set(b.map((l) => l.request.ip)).size).toBeLessThanOrEqual(3);
      if (b.length < 50) continue;
      expect(new Set(b.map((l) => l.request.user.id)).size).toBeGreaterThan(b.length * 0.8);
      expect(b.filter((l) => l.outcome === 'failed').length / b.length).toBeGreaterThan(0.95);
      const span = Date.parse(b[b.length - 1]!.request.time) - Date.parse(b[0]!.request.time);
      expect(span / b.length).toBeLessThan(5000);
      expect(b.map((l) => l.seq)).toEqual(b.map((_, i) => i));
    }
  });

  it('rejects bad options with a clear message', () => {
    expect(validateSimulateOptions({ users: 0, days: 3, seed: 's' })).toMatch(/--users/);
    expect(validateSimulateOptions({ users: 3, days: 1.5, seed: 's' })).toMatch(/--days/);
    expect(validateSimulateOptions({ users: 3, days: 3, seed: '' })).toMatch(/--seed/);
    expect(validateSimulateOptions({ users: 3, days: 3, seed: 's', attackStartDay: 3 })).toMatch(/--attack-start-day/);
    expect(() => simulate({ users: -1, days: 3, seed: 's' }, pool)).toThrow(RangeError);
    expect(parseAttackList('naive, vpn,naive')).toEqual(['naive', 'vpn']);
    expect(parseAttackList('none')).toEqual([]);
    expect(parseAttackList('naive,phishing')).toMatch(/phishing/);
  });
});

describe('replay through the engine', () => {
  it('computes every catalog feature, learns history, and feeds back only what the engine allowed', async () => {
    const small = simulate({ users: 25, days: 6, seed: 'r', attackStartDay: 2 }, pool);
    const seen: ReplayedEvent[] = [];
    const sum = await replayThroughEngine(small, { pack, geoip, onEvent: (e) => void seen.push(e) });
    expect(sum.events).toBe(small.length);
    expect(sum.badLines).toBe(0);
    expect(seen.map((e) => e.index)).toEqual(small.map((_, i) => i));
    for (const name of CATALOG.map((c) => c.name)) expect(seen[0]!.features).toHaveProperty([name]);
    for (const e of seen) {
      expect(e.applied).toBe(appliedOutcome(e.decision, e.line.outcome, e.label));
      if (e.decision === 'block') expect(e.applied).toBeNull();
    }
    // A user's second successful sign-in knows the first.
    const firstOk = new Set<string>();
    let learned = 0;
    for (const e of seen) {
      if (e.label !== 'legit') continue;
      const u = e.line.request.user.id;
      if (firstOk.has(u) && typeof e.features['history.logins'] === 'number' && (e.features['history.logins'] as number) > 0) learned++;
      if (e.applied === 'succeeded' || e.applied === 'challenge_passed') firstOk.add(u);
    }
    expect(learned).toBeGreaterThan(50);
    expect(seen.some((e) => e.label === 'legit' && e.rba !== null)).toBe(true);
  });

  it('skips and reports bad NDJSON lines without stopping', async () => {
    const good = formatLine(lines[0]!);
    const bad: Array<[number, string]> = [];
    const got: number[] = [];
    const sum = await replayThroughEngine(['{', good, '', JSON.stringify({ request: { type: 'login' } }), good.replace('"login"', '"logout"')], {
      pack,
      geoip,
      onEvent: (e) => void got.push(e.index),
      onBadLine: (n, err) => void bad.push([n, err]),
    });
    expect(sum.events).toBe(1);
    expect(sum.badLines).toBe(3);
    expect(bad.map((b) => b[0])).toEqual([1, 4, 5]);
    expect(bad[0]![1]).toBe('not JSON');
    expect(bad[1]![1]).toMatch(/^request\.user\.id/);
    expect(bad[2]![1]).toMatch(/^request\.type/);
  });

  it('maps decisions to the outcome an auth service reports', () => {
    expect(appliedOutcome('allow', 'succeeded', 'naive')).toBe('succeeded');
    expect(appliedOutcome('allow', 'failed', 'legit')).toBe('failed');
    expect(appliedOutcome('step_up', 'succeeded', 'legit')).toBe('challenge_passed');
    expect(appliedOutcome('step_up', 'succeeded', 'targeted')).toBe('challenge_failed');
    expect(appliedOutcome('step_up', 'failed', 'legit')).toBe('failed');
    expect(appliedOutcome('block', 'succeeded', 'legit')).toBeNull();
  });

  it('turns a request body into the engine event', () => {
    const l = lines.find((x) => x.request.device?.id !== undefined)!;
    const ev = toVigilEvent(l.request);
    expect(ev.time).toBe(Date.parse(l.request.time));
    expect(ev.userId).toBe(l.request.user.id);
    expect(ev.deviceId).toBe(l.request.device?.id);
    expect(ev.userCreatedAt).toBe(l.request.user.created_at ? Date.parse(l.request.user.created_at) : undefined);
    expect(parseSimLine(JSON.stringify({ ...l, request: { ...l.request, ip: '999.1.1.1' } }))).toMatch(/^request\.ip/);
    expect(parseSimLine(JSON.stringify({ ...l, day: -1 }))).toMatch(/^day/);
    expect(parseSimLine('[1]')).toBe('not a JSON object');
  });
});

describe('vigil simulate', () => {
  it('writes the same bytes for the same arguments, plus training rows with --features-out', async () => {
    const a = join(tmp, 'a.ndjson');
    const b = join(tmp, 'b.ndjson');
    const rows = join(tmp, 'rows.ndjson');
    const io1 = bufferIO();
    expect(await runSimulate(['--users', '20', '--days', '4', '--seed', '9', '--geo-samples', '20000', '--out', a, '--features-out', rows], io1)).toBe(0);
    const io2 = bufferIO();
    expect(await runSimulate(['--users', '20', '--days', '4', '--seed', '9', '--geo-samples', '20000', '--out', b], io2, { geoip })).toBe(0);
    const text = readFileSync(a, 'utf8');
    expect(readFileSync(b, 'utf8')).toBe(text);
    const n = text.trimEnd().split('\n').length;
    const r = readFileSync(rows, 'utf8').trimEnd().split('\n');
    expect(r.length).toBe(n);
    const row = JSON.parse(r[0]!) as { features: Record<string, unknown>; label: string };
    expect(row.features).toHaveProperty(['geo.country']);
    expect(['legit', 'naive', 'vpn', 'targeted', 'stuffing']).toContain(row.label);
  });

  it('prints to standard output without --out', async () => {
    const io = bufferIO();
    expect(await runSimulate(['--users', '3', '--days', '2', '--seed', '1', '--attacks', 'none', '--geo-samples', '20000'], io, { geoip })).toBe(0);
    const out = io.out().trimEnd().split('\n');
    expect(out.length).toBeGreaterThan(0);
    for (const l of out) expect(typeof parseSimLine(l)).toBe('object');
  });

  it.each([
    [[], '--users'],
    [['--users', '3', '--days', '2'], '--seed'],
    [['--users', 'x', '--days', '2', '--seed', '1'], '--users'],
    [['--users', '3', '--days', '0', '--seed', '1'], '--days'],
    [['--users', '3', '--days', '2', '--seed', '1', '--attacks', 'bogus'], 'bogus'],
    [['--users', '3', '--days', '2', '--seed', '1', '--frobnicate'], 'frobnicate'],
    [['--users', '3', '--days', '2', '--seed', '1', '--pack', 'x'], '--pack'],
    [['--users', '3', '--days', '2', '--seed', '1', '--start', 'yesterday'], '--start'],
    [['--users', '3', '--days', '2', '--seed', '1', '--geo-samples', '10'], '--geo-samples'],
    [['--users', '3', '--days', '2', '--seed', '1', '--out', '-', '--features-out', '-'], '--features-out'],
  ])('exits 2 on bad usage %j', async (argv, word) => {
    const io = bufferIO();
    expect(await runSimulate(argv, io, { geoip })).toBe(2);
    expect(io.err()).toContain(word);
    expect(io.out()).toBe('');
  });

  it('exits 1 when the pack for --features-out does not exist', async () => {
    const io = bufferIO();
    expect(await runSimulate(['--users', '3', '--days', '2', '--seed', '1', '--out', join(tmp, 'x'), '--features-out', join(tmp, 'y'), '--pack', join(tmp, 'nope')], io)).toBe(1);
    expect(io.err()).toContain('nope');
  });
});
