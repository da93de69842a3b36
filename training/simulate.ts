// `vigil simulate`: a seeded, labelled generator of sign-in traffic. Legitimate users live at real
// addresses (training/geo-pool.ts), own one to three devices with real user agents, sign in at their
// own hours in their own time zone, mistype passwords, reset them, open private windows, roam on
// their mobile carrier, travel abroad and buy new phones. Attackers follow Wiefling et al. ("Pump Up
// Password Security!", ACM TOPS 2022; IFIP SEC 2020): naive (anywhere, a common browser), VPN (the victim's
// country through a hosting network), targeted (the victim's city, ISP, browser and OS) and
// credential stuffing (bursts over many accounts from a few addresses). Output is NDJSON, one line
// per attempt in time order; the same options give the same bytes.
import type { EventType } from '../features/catalog.ts';
import { createRng, type GeoPool, type Place, type Rng } from './geo-pool.ts';
import { cgnat, COMMON_UAS, DEVICE_KINDS, nearest, newDevice, pickPlace, sameCity, SCRIPT_UAS, tzOf, uaOf, type Device, type DeviceKind } from './sim-devices.ts';
import {
  ACCOUNT_CHANGE,
  ATTACK_TYPES,
  CHANGE_KINDS,
  DEFAULT_START,
  MIXES,
  SIM_CONFIGS,
  streamSeed,
  type AttackType,
  type ChangeContext,
  type ChangeKind,
  type LegitScenario,
  type SimLine,
  type SimMix,
  type SimRequest,
  type SimulateOptions,
  type SimConfigName,
} from './sim-types.ts';

export { allUserAgents, type DeviceKind } from './sim-devices.ts';
export * from './sim-types.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MIN = 60_000;
const SEC = 1000;

// ------------------------------------------------------------------------------------------------
// Users
// ------------------------------------------------------------------------------------------------

interface Trip {
  readonly startDay: number;
  readonly endDay: number;
  readonly country: string;
  readonly hotel: Place;
  readonly places: readonly Place[];
}

interface User {
  readonly id: string;
  readonly createdAt: number;
  readonly mfa: boolean;
  readonly home: Place;
  /**
   * The home connection's address on each day: half the users have a dynamic address that their
   * ISP reassigns every week or few (another address of the same network, near home).
   */
  readonly homeByDay: readonly Place[];
  /** Local time = UTC + tz hours (from longitude: people keep solar hours). */
  readonly tz: number;
  /** Other addresses of the user's city (friends, cafés). */
  readonly cityPlaces: readonly Place[];
  /** The office or campus network, shared by its colleagues (one egress address). */
  workplace: Place | undefined;
  /** The carrier's addresses nearest home (its regional gateways), and the whole carrier. */
  readonly carrierNear: readonly Place[];
  readonly carrier: readonly Place[];
  readonly devices: Device[];
  readonly rate: number;
  readonly peaks: readonly number[];
  readonly typo: number;
  readonly trip: Trip | undefined;
  /** A privacy-VPN subscriber: a few exits of a hosting network, used for a share of sessions. */
  readonly vpn: { readonly exits: readonly Place[]; readonly share: number } | undefined;
}

function makeUser(i: number, pool: GeoPool, rng: Rng, start: number, days: number, mix: SimMix): User {
  const country = pool.homeCountries[rng.weightedIndex(pool.homeWeights)]!;
  const home = rng.pick(pool.residential(country));
  // A mobile carrier: another network of the same country, weighted by how much of the country's
  // address space it holds (the sample is uniform over addresses).
  const carrierSeed = rng.pick(pool.residential(country));
  const carrier = pool.inAsn(country, carrierSeed.asn);
  // Account age: most accounts are old; a few are created during the simulation.
  const createdAt = rng.chance(0.04) ? start + rng.next() * days * 0.8 * DAY : start - (1 + rng.exp(400)) * DAY;
  const devices: Device[] = [];
  const nDevices = rng.weightedIndex([45, 40, 15]) + 1;
  const kinds: readonly DeviceKind[] = nDevices === 1 ? [rng.chance(0.6) ? 'mobile' : 'desktop'] : DEVICE_KINDS.slice(0, nDevices);
  for (const k of kinds) devices.push(newDevice(rng, k, days, 0, false));
  // A new phone: from a random day, the old phone is gone and a new one (often another brand) signs in.
  if (rng.chance(mix.newPhone) && days > 1) {
    const day = rng.int(1, days - 1);
    const old = devices.find((d) => d.kind === 'mobile');
    if (old) old.retiredDay = day;
    devices.push(newDevice(rng, 'mobile', days, day, true));
  }
  let trip: Trip | undefined;
  if (rng.chance(mix.trip) && days >= 3) {
    let dest = country;
    // The trip countries are those the GeoIP data has enough addresses in: possibly none.
    for (let k = 0; k < 10 && dest === country; k++) {
      const next = pool.tripCountries[rng.weightedIndex(pool.tripWeights)];
      if (next === undefined) break;
      dest = next;
    }
    if (dest !== country) {
      const places = pool.residential(dest);
      const len = rng.int(2, 7);
      const startDay = rng.int(1, Math.max(1, days - 2));
      const hotel = rng.pick(places);
      trip = { startDay, endDay: Math.min(days, startDay + len), country: dest, hotel, places: places.slice(0, 200) };
    }
  }
  // Some people run a commercial VPN (a few exits in their country, or abroad when the provider
  // has none there) for part of their sessions: legitimate sign-ins from hosting networks.
  let vpn: User['vpn'];
  if (rng.chance(mix.vpnUser) && pool.hostingWorld.length > 0) {
    const local = pool.hosting(country);
    const from = local.length > 0 ? local : pool.hostingWorld;
    const exits = Array.from({ length: rng.int(1, 3) }, () => rng.pick(from));
    vpn = { exits, share: 0.3 + rng.next() * 0.6 };
  }
  // Another device from some day on: a work laptop, a partner's tablet, a borrowed computer.
  if (rng.chance(mix.secondDevice) && days > 1) {
    const day = rng.int(1, days - 1);
    devices.push(newDevice(rng, rng.chance(0.7) ? 'desktop' : 'tablet', days, day, false, true));
  }
  const homeByDay: Place[] = [];
  const others = nearest(pool.inAsn(country, home.asn).filter((p) => p.ip !== home.ip), home, 8);
  const churn = rng.chance(mix.dynamicHome) && others.length > 0 ? 1 / rng.int(5, 30) : 0;
  let current = home;
  for (let d = 0; d < days; d++) {
    if (d > 0 && rng.chance(churn)) current = rng.pick(others);
    homeByDay.push(current);
  }
  // Habits: sign-ins per day log-uniform in [0.15, 3]; one or two favourite hours.
  const rate = Math.exp(Math.log(0.15) + rng.next() * (Math.log(3) - Math.log(0.15)));
  const peaks = rng.chance(0.5) ? [rng.int(7, 10)] : [rng.int(7, 12), rng.int(18, 23)];
  return {
    id: 'u-' + String(i).padStart(6, '0'),
    createdAt: Math.floor(createdAt / SEC) * SEC,
    mfa: rng.chance(0.25),
    home,
    homeByDay,
    tz: tzOf(home),
    cityPlaces: sameCity(pool, home),
    workplace: undefined,
    carrierNear: nearest(carrier.length > 0 ? carrier : [home], home, mix.carrierNearCount),
    carrier: carrier.length > 0 ? carrier.slice(0, 300) : [home],
    devices,
    rate,
    peaks,
    typo: mix.typo[0] + rng.next() * (mix.typo[1] - mix.typo[0]),
    trip,
    vpn,
  };
}

/**
 * Four users in ten work at an office or campus of their city behind one NAT address, shared with
 * up to a hundred colleagues: the legitimate traffic that per-address velocity rules must tolerate.
 */
function assignWorkplaces(users: readonly User[], rng: Rng): void {
  const open = new Map<string, { place: Place; left: number }>();
  for (const u of users) {
    if (!rng.chance(0.4) || u.cityPlaces.length === 0) continue;
    const key = `${u.home.country}/${u.home.city ?? ''}`;
    let w = open.get(key);
    if (!w || w.left <= 0) {
      w = { place: rng.pick(u.cityPlaces), left: rng.int(5, 100) };
      open.set(key, w);
    }
    w.left--;
    u.workplace = w.place;
  }
}

// ------------------------------------------------------------------------------------------------
// Emitting
// ------------------------------------------------------------------------------------------------

interface Pending {
  readonly t: number;
  readonly n: number;
  /** Replaced (not mutated) when a later generator links a session to this sign-in. */
  line: SimLine;
}

interface Emitter {
  emit(t: number, line: Omit<SimLine, 'day' | 'request'> & { request: Omit<SimRequest, 'time'> }): void;
}

function request(
  type: EventType,
  user: { id: string; createdAt?: number; mfa?: boolean },
  ip: string,
  deviceId: string | undefined,
  ua: string | undefined,
): Omit<SimRequest, 'time'> {
  const device = deviceId !== undefined || ua !== undefined
    ? { ...(deviceId !== undefined ? { id: deviceId } : {}), ...(ua !== undefined ? { user_agent: ua } : {}) }
    : undefined;
  return {
    type,
    user: {
      id: user.id,
      ...(user.createdAt !== undefined ? { created_at: new Date(user.createdAt).toISOString() } : {}),
      ...(user.mfa !== undefined ? { mfa: user.mfa } : {}),
    },
    ip,
    ...(device ? { device } : {}),
  };
}

/** An account_change request body, without `login_decision_id` (replay fills it in from `session`). */
function changeRequest(
  change: ChangeKind,
  user: { id: string; createdAt?: number; mfa?: boolean },
  ip: string,
  deviceId: string | undefined,
  ua: string | undefined,
): Omit<SimRequest, 'time'> {
  const { type: _login, ...rest } = request('login', user, ip, deviceId, ua);
  return { type: ACCOUNT_CHANGE, change, ...rest };
}

/** A local hour drawn around the user's favourite hours, as UTC ms within `day`. */
function sessionTime(u: User, rng: Rng, start: number, day: number): number {
  const peak = rng.pick(u.peaks);
  const local = peak + rng.normal() * 1.5 + rng.next();
  return start + day * DAY + Math.floor((local - u.tz) * HOUR);
}

/**
 * The owner's own sensitive changes (`--changes`), drawn from their own stream `chg` so that the
 * sign-in traffic stays the same with or without them. Usual: at home, from the device just signed
 * in with, minutes later. Unusual: abroad, on a brand-new phone, right after a real recovery.
 */
export function legitChange(
  chg: Rng,
  ctx: { scenario: LegitScenario; recovered: boolean; newPhoneDays: number | undefined; mfa: boolean },
): { context: ChangeContext; change: ChangeKind } | undefined {
  if (ctx.recovered && chg.chance(0.6)) return { context: 'after_recovery', change: chg.pick(['recovery_method', 'mfa_add', 'email'] as const) };
  if (ctx.newPhoneDays !== undefined && ctx.newPhoneDays < 2 && chg.chance(0.4)) return { context: 'new_phone', change: ctx.mfa ? chg.pick(['mfa_add', 'mfa_remove'] as const) : 'mfa_add' };
  if (ctx.scenario === 'trip' && chg.chance(0.05)) return { context: 'abroad', change: chg.pick(['password', 'email', 'recovery_method'] as const) };
  // A change minutes after the owner's own recovery is the unusual "right after a real recovery"
  // kind wherever it happens, never the usual one (a normal sign-in first).
  if (ctx.scenario === 'home' && chg.chance(0.02)) return { context: ctx.recovered ? 'after_recovery' : 'home', change: chg.pick(CHANGE_KINDS) };
  if (!ctx.recovered && chg.chance(0.005)) return { context: 'long_session', change: chg.pick(CHANGE_KINDS) };
  return undefined;
}

/**
 * Where a session is hours after its sign-in: a phone has often gone out onto the carrier's network
 * (a gateway near home mostly) or come home; a computer mostly stays, sometimes goes home.
 */
function laterPlace(u: User, dev: Device, place: Place, home: Place, chg: Rng): Place {
  if (dev.kind === 'mobile') {
    if (chg.chance(0.6)) return cgnat(pickPlace(chg, chg.chance(0.8) ? u.carrierNear : u.carrier, home), chg);
    return home;
  }
  return chg.chance(0.7) ? place : home;
}

function legitDay(u: User, day: number, rng: Rng, start: number, end: number, mix: SimMix, out: Emitter, chg?: Rng): void {
  const n = rng.poisson(u.rate);
  for (let s = 0; s < n; s++) {
    let t = sessionTime(u, rng, start, day);
    if (t < start || t >= end || t < u.createdAt) continue;
    const active = u.devices.filter((d) => day >= d.fromDay && day < d.retiredDay);
    if (active.length === 0) continue;
    const dev = active[rng.weightedIndex(active.map((d) => d.weight))]!;
    let scenario: LegitScenario = 'home';
    const home = u.homeByDay[day] ?? u.home;
    let place: Place = home;
    const onTrip = u.trip !== undefined && day >= u.trip.startDay && day < u.trip.endDay;
    if (onTrip && u.trip) {
      scenario = 'trip';
      // Hotel wifi mostly; a café or a local SIM otherwise.
      place = rng.chance(0.6) ? u.trip.hotel : pickPlace(rng, u.trip.places, u.trip.hotel);
    } else if (u.vpn && rng.chance(u.vpn.share)) {
      scenario = 'vpn_user';
      place = rng.pick(u.vpn.exits);
    } else if (dev.kind === 'mobile' && rng.chance(mix.mobileShare)) {
      scenario = 'mobile';
      // Mostly the carrier's gateways near home, sometimes one GeoIP places across the country;
      // carrier-grade NAT hands out a different address of the gateway's range almost every time.
      place = cgnat(pickPlace(rng, rng.chance(mix.carrierNearShare) ? u.carrierNear : u.carrier, home), rng);
    } else if (u.workplace && dev.kind === 'desktop' && rng.chance(0.35)) {
      scenario = 'work';
      place = u.workplace;
    } else if (dev.kind !== 'tablet' && rng.chance(0.08)) {
      scenario = 'work';
      place = pickPlace(rng, u.cityPlaces, home);
    }
    if (dev.isNewPhone && scenario === 'home') scenario = 'new_phone';
    if (dev.isSecond && (scenario === 'home' || scenario === 'work')) scenario = 'second_device';
    if (scenario === 'home' && u.createdAt > start && t - u.createdAt < 2 * DAY) scenario = 'new_account';
    // Private windows and cleared cookies: a fresh identifier for a known browser. Cleared cookies
    // stick (the device keeps the new id); a private window's id is used once.
    let deviceId = dev.id;
    if (rng.chance(mix.freshDeviceId)) {
      deviceId = 'd-' + rng.hex(16);
      if (rng.chance(mix.clearedSticks)) dev.id = deviceId;
      if (scenario !== 'trip' && scenario !== 'vpn_user' && scenario !== 'new_account') scenario = 'private_window';
    }
    const ua = uaOf(dev, day);
    const acct = who(u);
    // Forgot the password: a failed try or two, then a reset, then a sign-in.
    const recovered = rng.chance(0.004);
    if (recovered) {
      const fails = rng.int(0, 2);
      for (let k = 0; k < fails; k++) {
        out.emit(t, { request: request('login', acct, place.ip, deviceId, ua), outcome: 'failed', label: 'legit', scenario });
        t += Math.floor(10 * SEC + rng.exp(20 * SEC));
      }
      out.emit(t, { request: request('recovery', acct, place.ip, deviceId, ua), outcome: 'succeeded', label: 'legit', scenario });
      t += Math.floor(MIN + rng.exp(2 * MIN));
    } else {
      while (rng.chance(u.typo)) {
        out.emit(t, { request: request('login', acct, place.ip, deviceId, ua), outcome: 'failed', label: 'legit', scenario });
        t += Math.floor(5 * SEC + rng.exp(15 * SEC));
      }
    }
    if (t >= end) continue;
    const change = chg ? legitChange(chg, { scenario, recovered, newPhoneDays: dev.isNewPhone ? day - dev.fromDay : undefined, mfa: u.mfa }) : undefined;
    let tc = end;
    let changePlace = place;
    if (change && chg) {
      if (change.context === 'long_session') {
        tc = t + Math.floor(HOUR + chg.exp(2 * HOUR));
        changePlace = laterPlace(u, dev, place, home, chg);
      } else tc = t + Math.floor(MIN + chg.exp(8 * MIN));
    }
    if (change && tc < end) {
      const sid = `s-${u.id}-${day}-${s}`;
      out.emit(t, { request: request('login', acct, place.ip, deviceId, ua), outcome: 'succeeded', label: 'legit', scenario, session_id: sid });
      out.emit(tc, { request: changeRequest(change.change, acct, changePlace.ip, deviceId, ua), outcome: 'succeeded', label: 'legit', scenario, session: sid, change_context: change.context });
    } else out.emit(t, { request: request('login', acct, place.ip, deviceId, ua), outcome: 'succeeded', label: 'legit', scenario });
  }
}

// ------------------------------------------------------------------------------------------------
// Attacks
// ------------------------------------------------------------------------------------------------

interface AttackCtx {
  readonly users: readonly User[];
  readonly pool: GeoPool;
  readonly start: number;
  readonly end: number;
  readonly days: number;
  readonly fromDay: number;
  readonly scale: number;
  readonly mix: SimMix;
  readonly out: Emitter;
}

/** Victims: accounts that existed before the attacks begin. */
function victims(c: AttackCtx): readonly User[] {
  const from = c.start + c.fromDay * DAY;
  const v = c.users.filter((u) => u.createdAt < from);
  return v.length > 0 ? v : c.users;
}

function attackTime(c: AttackCtx, rng: Rng): number {
  const from = c.start + c.fromDay * DAY;
  return Math.floor(from + rng.next() * (c.end - from));
}

function who(u: User): { id: string; createdAt: number; mfa: boolean } {
  return { id: u.id, createdAt: u.createdAt, mfa: u.mfa };
}

/**
 * Naive (Wiefling et al.): the password and nothing else: an address anywhere in the world, a
 * common browser. Leaked passwords are often stale: 60% still work.
 */
function naive(c: AttackCtx, rng: Rng): void {
  const vs = victims(c);
  const campaigns = Math.round(c.users.length * 0.25 * c.scale);
  for (let k = 0; k < campaigns; k++) {
    const v = rng.pick(vs);
    const place = rng.pick(c.pool.world);
    const ua = rng.pick(COMMON_UAS);
    const dev = 'd-' + rng.hex(16);
    const works = rng.chance(0.6);
    let t = attackTime(c, rng);
    const tries = works ? 1 : rng.int(1, 3);
    for (let s = 0; s < tries && t < c.end; s++) {
      const ok = works && s === tries - 1;
      c.out.emit(t, { request: request('login', who(v), place.ip, dev, ua), outcome: ok ? 'succeeded' : 'failed', label: 'naive', attacker_type: 'naive', attack_id: `naive-${k}`, seq: s });
      t += Math.floor(20 * SEC + rng.exp(MIN));
    }
  }
}

/** VPN: knows the victim's country and signs in through a hosting/VPN network there. */
function vpn(c: AttackCtx, rng: Rng): void {
  const vs = victims(c);
  const campaigns = Math.round(c.users.length * 0.25 * c.scale);
  for (let k = 0; k < campaigns; k++) {
    const v = rng.pick(vs);
    const local = c.pool.hosting(v.home.country);
    const place = local.length > 0 ? rng.pick(local) : rng.pick(c.pool.hostingWorld);
    const ua = rng.pick(COMMON_UAS);
    const dev = 'd-' + rng.hex(16);
    const works = rng.chance(0.7);
    let t = attackTime(c, rng);
    const tries = works ? 1 : rng.int(1, 3);
    for (let s = 0; s < tries && t < c.end; s++) {
      const ok = works && s === tries - 1;
      c.out.emit(t, { request: request('login', who(v), place.ip, dev, ua), outcome: ok ? 'succeeded' : 'failed', label: 'vpn', attacker_type: 'vpn', attack_id: `vpn-${k}`, seq: s });
      t += Math.floor(20 * SEC + rng.exp(MIN));
    }
  }
}

/**
 * Targeted: knows the password, the victim's city and ISP (an address of the same network in the
 * same city) and the exact browser and OS of the victim's main device — but not its cookie.
 */
function targeted(c: AttackCtx, rng: Rng): void {
  const vs = victims(c);
  const campaigns = Math.round(c.users.length * 0.1 * c.scale);
  for (let k = 0; k < campaigns; k++) {
    const v = rng.pick(vs);
    const day0 = Math.floor((attackTime(c, rng) - c.start) / DAY);
    const active = v.devices.filter((d) => day0 >= d.fromDay && day0 < d.retiredDay);
    const phone = active.find((d) => d.kind === 'mobile');
    // Some attackers take the victim's mobile carrier in the victim's area (a local SIM) and the
    // phone's browser; the others the home ISP in the victim's city and the main device's browser.
    const viaCarrier = phone !== undefined && v.carrierNear.length > 0 && rng.chance(c.mix.targetedCarrier);
    const anchor = viaCarrier ? v.carrierNear[0]! : v.home;
    let place = c.pool.near(anchor, rng);
    if (!place) {
      const same = c.pool.inAsn(anchor.country, anchor.asn).filter((p) => p.ip !== anchor.ip);
      place = same.length > 0 ? rng.pick(same) : pickPlace(rng, v.cityPlaces, v.home);
    }
    const main = (viaCarrier ? phone : active[0]) ?? v.devices[0]!;
    const ua = uaOf(main, day0);
    const t = sessionTime(v, rng, c.start, day0);
    if (t < c.start + c.fromDay * DAY || t >= c.end) continue;
    c.out.emit(t, { request: request('login', who(v), place.ip, 'd-' + rng.hex(16), ua), outcome: 'succeeded', label: 'targeted', attacker_type: 'targeted', attack_id: `targeted-${k}`, seq: 0 });
  }
}

/**
 * Credential stuffing: a list of leaked pairs from another site tried fast from one to three
 * addresses (cloud machines or residential proxies); many of the names are not even accounts here,
 * and about 1% of the passwords work.
 */
function stuffing(c: AttackCtx, rng: Rng): void {
  const bursts = Math.max(1, Math.round(((c.users.length * c.days) / 3000) * c.scale));
  for (let b = 0; b < bursts; b++) {
    const sources: Place[] = [];
    const nSrc = rng.int(1, 3);
    const cloud = rng.chance(0.5);
    for (let s = 0; s < nSrc; s++) sources.push(rng.pick(cloud && c.pool.hostingWorld.length > 0 ? c.pool.hostingWorld : c.pool.world));
    const size = rng.int(100, 400);
    const deviceMode = rng.weightedIndex([50, 30, 20]); // none, fresh per attempt, one fixed id
    const uaMode = rng.weightedIndex([60, 25, 15]); // a common browser per attempt, one per burst, a script
    const fixedDev = 'd-' + rng.hex(16);
    const fixedUa = uaMode === 2 ? rng.pick(SCRIPT_UAS) : rng.pick(COMMON_UAS);
    const gap = 0.5 + rng.next() * 2.5;
    let t = attackTime(c, rng);
    for (let s = 0; s < size && t < c.end; s++) {
      const real = rng.chance(0.6);
      const v = real ? rng.pick(c.users) : undefined;
      const id = v ? who(v) : { id: 'x-' + rng.hex(10) };
      const ok = v !== undefined && rng.chance(0.01);
      const dev = deviceMode === 0 ? undefined : deviceMode === 1 ? 'd-' + rng.hex(16) : fixedDev;
      const ua = uaMode === 0 ? rng.pick(COMMON_UAS) : fixedUa;
      c.out.emit(t, { request: request('login', id, sources[s % nSrc]!.ip, dev, ua), outcome: ok ? 'succeeded' : 'failed', label: 'stuffing', attacker_type: 'stuffing', attack_id: `stuffing-${b}`, seq: s });
      t += Math.max(50, Math.floor(rng.exp(gap * SEC)));
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Takeover chains (--changes)
// ------------------------------------------------------------------------------------------------

/** The attacker's change once in: lock the owner out (e-mail, recovery method, second factor). */
function lockOut(v: User, rng: Rng): ChangeKind {
  return rng.pick(v.mfa ? (['email', 'recovery_method', 'mfa_remove'] as const) : (['email', 'recovery_method', 'mfa_add'] as const));
}

/**
 * A targeted sign-in (the victim's city, ISP and browser, a new device) whose step-up the attacker
 * passes with a code phished in real time; minutes later, from the same session, a change that locks
 * the owner out. The phished code is spent: a step-up on the change stops the attacker.
 */
function phished2fa(c: AttackCtx, rng: Rng): void {
  const vs = victims(c);
  const campaigns = Math.round(c.users.length * 0.05 * c.scale);
  for (let k = 0; k < campaigns; k++) {
    const v = rng.pick(vs);
    const day0 = Math.floor((attackTime(c, rng) - c.start) / DAY);
    const place = c.pool.near(v.home, rng) ?? pickPlace(rng, v.cityPlaces, v.home);
    const main = v.devices.find((d) => day0 >= d.fromDay && day0 < d.retiredDay) ?? v.devices[0]!;
    const ua = uaOf(main, day0);
    const dev = 'd-' + rng.hex(16);
    const t = sessionTime(v, rng, c.start, day0);
    const tc = t + Math.floor(MIN + rng.exp(5 * MIN));
    if (t < c.start + c.fromDay * DAY || tc >= c.end) continue;
    const id = `phished_2fa-${k}`;
    const base = { label: 'phished_2fa', attack_id: id } as const;
    c.out.emit(t, { request: request('login', who(v), place.ip, dev, ua), outcome: 'succeeded', ...base, seq: 0, session_id: id, passes_step_up: true });
    c.out.emit(tc, { request: changeRequest(lockOut(v, rng), who(v), place.ip, dev, ua), outcome: 'succeeded', ...base, seq: 1, session: id });
  }
}

/**
 * A session cookie stolen from the owner's browser (malware, a shared computer) and replayed hours
 * after the owner's sign-in from another network, or another country: the owner's device id and
 * agent, the attacker's address. Any step-up stops the attacker (no password, no second factor).
 */
function stolenCookie(c: AttackCtx, rng: Rng, pending: readonly { line: SimLine }[]): void {
  const from = new Date(c.start + c.fromDay * DAY).toISOString();
  // The owner's successful sign-ins the cookie could come from (a plain sign-in, not a change session).
  const logins: { line: SimLine }[] = pending.filter(
    (p) => p.line.label === 'legit' && p.line.request.type === 'login' && p.line.outcome === 'succeeded' && p.line.session_id === undefined && p.line.request.time >= from && p.line.scenario !== 'trip',
  );
  if (logins.length === 0) return;
  const byId = new Map(c.users.map((u) => [u.id, u]));
  const campaigns = Math.round(c.users.length * 0.05 * c.scale);
  for (let k = 0; k < campaigns; k++) {
    const owner = rng.pick(logins);
    const v = byId.get(owner.line.request.user.id);
    if (!v || owner.line.session_id !== undefined) continue;
    const t0 = Date.parse(owner.line.request.time);
    const tc = t0 + Math.floor(HOUR + rng.next() * 10 * HOUR);
    if (tc >= c.end) continue;
    // Another network of the owner's country (a residential proxy or a VPN there), or abroad.
    const abroad = rng.chance(0.5);
    const local = rng.chance(0.5) ? c.pool.hosting(v.home.country) : c.pool.residential(v.home.country).filter((p) => p.asn !== v.home.asn);
    const place = abroad || local.length === 0 ? rng.pick(c.pool.world) : rng.pick(local);
    const id = `stolen_cookie-${k}`;
    owner.line = { ...owner.line, session_id: id };
    const d = owner.line.request.device;
    c.out.emit(tc, { request: changeRequest(lockOut(v, rng), who(v), place.ip, d?.id, d?.user_agent), outcome: 'succeeded', label: 'stolen_cookie', attack_id: id, seq: 0, session: id });
  }
}

/**
 * A recovery through a hijacked mailbox, from a VPN exit in the owner's country, then a sign-in with
 * the new password and a password change. The attacker passes the mailbox codes of the recovery,
 * and of the sign-in unless the account has a second factor; never a step-up on the change.
 */
function vpnRecovery(c: AttackCtx, rng: Rng): void {
  const vs = victims(c);
  const campaigns = Math.round(c.users.length * 0.05 * c.scale);
  for (let k = 0; k < campaigns; k++) {
    const v = rng.pick(vs);
    const local = c.pool.hosting(v.home.country);
    const place = local.length > 0 ? rng.pick(local) : rng.pick(c.pool.hostingWorld.length > 0 ? c.pool.hostingWorld : c.pool.world);
    const ua = rng.pick(COMMON_UAS);
    const dev = 'd-' + rng.hex(16);
    const t = attackTime(c, rng);
    const tl = t + Math.floor(MIN + rng.exp(3 * MIN));
    const tc = tl + Math.floor(MIN + rng.exp(3 * MIN));
    if (tc >= c.end) continue;
    const id = `vpn_recovery-${k}`;
    const base = { label: 'vpn_recovery', attack_id: id } as const;
    c.out.emit(t, { request: request('recovery', who(v), place.ip, dev, ua), outcome: 'succeeded', ...base, seq: 0, passes_step_up: true });
    c.out.emit(tl, { request: request('login', who(v), place.ip, dev, ua), outcome: 'succeeded', ...base, seq: 1, session_id: id, passes_step_up: !v.mfa });
    c.out.emit(tc, { request: changeRequest('password', who(v), place.ip, dev, ua), outcome: 'succeeded', ...base, seq: 2, session: id });
  }
}

const ATTACKS: Readonly<Record<AttackType, (c: AttackCtx, rng: Rng) => void>> = { naive, vpn, targeted, stuffing };

// ------------------------------------------------------------------------------------------------
// The simulation
// ------------------------------------------------------------------------------------------------

export function validateSimulateOptions(o: SimulateOptions): string | undefined {
  if (!Number.isInteger(o.users) || o.users < 1 || o.users > 1_000_000) return '--users must be an integer from 1 to 1000000';
  if (!Number.isInteger(o.days) || o.days < 1 || o.days > 366) return '--days must be an integer from 1 to 366';
  if (o.seed.length === 0) return '--seed must not be empty';
  if (o.attackStartDay !== undefined && (!Number.isInteger(o.attackStartDay) || o.attackStartDay < 0 || o.attackStartDay >= o.days)) {
    return '--attack-start-day must be an integer from 0 to days-1';
  }
  if (o.attackScale !== undefined && !(o.attackScale >= 0 && o.attackScale <= 100)) return '--attack-scale must be a number from 0 to 100';
  if (o.start !== undefined && !Number.isFinite(o.start)) return '--start must be a date';
  if (o.config !== undefined && !(SIM_CONFIGS as readonly string[]).includes(o.config)) return `--config must be one of ${SIM_CONFIGS.join(', ')}`;
  return undefined;
}

/**
 * Generate the traffic, in time order (ties keep generation order). The pool must have been built
 * from the same seed (`createRng(seed + '/geo')`) for the output to be reproducible.
 */
export function simulate(opts: SimulateOptions, pool: GeoPool): SimLine[] {
  const bad = validateSimulateOptions(opts);
  if (bad) throw new RangeError(bad);
  const start = opts.start ?? DEFAULT_START;
  const end = start + opts.days * DAY;
  const attacks = opts.attacks ?? ATTACK_TYPES;
  const pending: Pending[] = [];
  let n = 0;
  const out: Emitter = {
    emit(t, l) {
      const line: SimLine = {
        request: { ...l.request, time: new Date(t).toISOString() },
        outcome: l.outcome,
        label: l.label,
        ...(l.attacker_type !== undefined ? { attacker_type: l.attacker_type } : {}),
        ...(l.attack_id !== undefined ? { attack_id: l.attack_id } : {}),
        ...(l.seq !== undefined ? { seq: l.seq } : {}),
        ...(l.scenario !== undefined ? { scenario: l.scenario } : {}),
        ...(l.session_id !== undefined ? { session_id: l.session_id } : {}),
        ...(l.session !== undefined ? { session: l.session } : {}),
        ...(l.change_context !== undefined ? { change_context: l.change_context } : {}),
        ...(l.passes_step_up !== undefined ? { passes_step_up: l.passes_step_up } : {}),
        day: Math.floor((t - start) / DAY),
      };
      pending.push({ t, n: n++, line });
    },
  };

  const seed = streamSeed(opts.seed, opts.config);
  const mix = MIXES[opts.config ?? 'default'];
  const userRng = createRng(`${seed}/users`);
  const users: User[] = [];
  for (let i = 0; i < opts.users; i++) users.push(makeUser(i, pool, userRng, start, opts.days, mix));
  assignWorkplaces(users, createRng(`${seed}/work`));
  const dayRng = createRng(`${seed}/days`);
  const chgRng = opts.changes === true ? createRng(`${seed}/changes`) : undefined;
  for (const u of users) for (let d = 0; d < opts.days; d++) legitDay(u, d, dayRng, start, end, mix, out, chgRng);

  const ctx: AttackCtx = {
    users,
    pool,
    start,
    end,
    days: opts.days,
    fromDay: opts.attackStartDay ?? Math.floor(opts.days / 3),
    scale: opts.attackScale ?? 1,
    mix,
    out,
  };
  for (const a of ATTACK_TYPES) if (attacks.includes(a)) ATTACKS[a](ctx, createRng(`${seed}/attack/${a}`));
  if (opts.changes === true) {
    phished2fa(ctx, createRng(`${seed}/chain/phished_2fa`));
    stolenCookie(ctx, createRng(`${seed}/chain/stolen_cookie`), pending);
    vpnRecovery(ctx, createRng(`${seed}/chain/vpn_recovery`));
  }

  pending.sort((a, b) => a.t - b.t || a.n - b.n);
  return pending.map((p) => p.line);
}

/** One line of NDJSON (key order is fixed by construction, so output is byte-for-byte stable). */
export function formatLine(l: SimLine): string {
  return JSON.stringify(l);
}

/** The pool's seed for a simulation seed. */
export function geoSeed(seed: string, config: SimConfigName = 'default'): Rng {
  return createRng(`${streamSeed(seed, config)}/geo`);
}

export function parseAttackList(s: string): AttackType[] | string {
  const parts = s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  const out: AttackType[] = [];
  for (const p of parts) {
    if (p === 'none') continue;
    if (!(ATTACK_TYPES as readonly string[]).includes(p)) return `unknown attack type "${p}" (expected ${ATTACK_TYPES.join(', ')} or none)`;
    if (!out.includes(p as AttackType)) out.push(p as AttackType);
  }
  return out;
}
