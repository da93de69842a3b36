// The simulator's devices and places: browser families with real user agents at their versions
// (and the scripts and common agents attackers use), a user's device and how its agent updates, and
// the address helpers (another address of a /24, the nearest places, a city's addresses, a time
// zone). Leaf helpers of training/simulate.ts, which builds users and attacks from them.
import type { GeoPool, Place, Rng } from './geo-pool.ts';

// ------------------------------------------------------------------------------------------------
// User agents
// ------------------------------------------------------------------------------------------------

export type DeviceKind = 'desktop' | 'mobile' | 'tablet';

/** A browser family; `ua(v)` renders its agent at a major version. */
export interface UaFamily {
  readonly name: string;
  readonly kind: DeviceKind;
  /** Share among devices of its kind. */
  readonly weight: number;
  readonly versions: readonly [number, number];
  /** Auto-updating browsers get a new major version about monthly. */
  readonly autoUpdate: boolean;
  ua(version: number, variant: number): string;
}

export const SAMSUNG_MODELS = ['SM-S918B', 'SM-A546B', 'SM-S911U', 'SM-A155F', 'SM-G991B'];

export const UA_FAMILIES: readonly UaFamily[] = [
  { name: 'chrome-win', kind: 'desktop', weight: 40, versions: [126, 131], autoUpdate: true,
    ua: (v) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36` },
  { name: 'edge-win', kind: 'desktop', weight: 12, versions: [126, 131], autoUpdate: true,
    ua: (v) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36 Edg/${v}.0.0.0` },
  { name: 'firefox-win', kind: 'desktop', weight: 6, versions: [128, 133], autoUpdate: true,
    ua: (v) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:${v}.0) Gecko/20100101 Firefox/${v}.0` },
  { name: 'chrome-mac', kind: 'desktop', weight: 12, versions: [126, 131], autoUpdate: true,
    ua: (v) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36` },
  { name: 'safari-mac', kind: 'desktop', weight: 10, versions: [16, 18], autoUpdate: false,
    ua: (v, k) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${v}.${k % 6} Safari/605.1.15` },
  { name: 'firefox-mac', kind: 'desktop', weight: 2, versions: [128, 133], autoUpdate: true,
    ua: (v) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:${v}.0) Gecko/20100101 Firefox/${v}.0` },
  { name: 'chrome-linux', kind: 'desktop', weight: 3, versions: [126, 131], autoUpdate: true,
    ua: (v) => `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36` },
  { name: 'firefox-linux', kind: 'desktop', weight: 2, versions: [128, 133], autoUpdate: true,
    ua: (v) => `Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:${v}.0) Gecko/20100101 Firefox/${v}.0` },
  { name: 'chrome-cros', kind: 'desktop', weight: 2, versions: [126, 131], autoUpdate: true,
    ua: (v) => `Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36` },
  { name: 'safari-iphone', kind: 'mobile', weight: 35, versions: [16, 18], autoUpdate: false,
    ua: (v, k) => `Mozilla/5.0 (iPhone; CPU iPhone OS ${v}_${k % 6} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${v}.${k % 6} Mobile/15E148 Safari/604.1` },
  { name: 'chrome-iphone', kind: 'mobile', weight: 5, versions: [126, 131], autoUpdate: true,
    ua: (v, k) => `Mozilla/5.0 (iPhone; CPU iPhone OS 17_${k % 6} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/${v}.0.6478.54 Mobile/15E148 Safari/604.1` },
  // Chrome on Android has sent the reduced agent ("Android 10; K") since version 110.
  { name: 'chrome-android', kind: 'mobile', weight: 45, versions: [126, 131], autoUpdate: true,
    ua: (v) => `Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Mobile Safari/537.36` },
  { name: 'samsung-android', kind: 'mobile', weight: 12, versions: [24, 26], autoUpdate: false,
    ua: (v, k) =>
      `Mozilla/5.0 (Linux; Android ${12 + (k % 3)}; ${SAMSUNG_MODELS[k % SAMSUNG_MODELS.length]}) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/${v}.0 Chrome/${v + 97}.0.0.0 Mobile Safari/537.36` },
  { name: 'firefox-android', kind: 'mobile', weight: 3, versions: [128, 133], autoUpdate: true,
    ua: (v, k) => `Mozilla/5.0 (Android ${12 + (k % 3)}; Mobile; rv:${v}.0) Gecko/${v}.0 Firefox/${v}.0` },
  { name: 'safari-ipad', kind: 'tablet', weight: 60, versions: [16, 18], autoUpdate: false,
    ua: (v, k) => `Mozilla/5.0 (iPad; CPU OS ${v}_${k % 6} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${v}.${k % 6} Mobile/15E148 Safari/604.1` },
  { name: 'chrome-android-tablet', kind: 'tablet', weight: 40, versions: [126, 131], autoUpdate: true,
    ua: (v, k) => `Mozilla/5.0 (Linux; Android ${12 + (k % 3)}; SM-X${200 + (k % 5) * 10}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36` },
];

export const FAMILIES_BY_KIND: Readonly<Record<DeviceKind, { fams: readonly UaFamily[]; weights: readonly number[] }>> = {
  desktop: famsOf('desktop'),
  mobile: famsOf('mobile'),
  tablet: famsOf('tablet'),
};

export function famsOf(kind: DeviceKind): { fams: readonly UaFamily[]; weights: readonly number[] } {
  const fams = UA_FAMILIES.filter((f) => f.kind === kind);
  return { fams, weights: fams.map((f) => f.weight) };
}

/** Every browser agent the simulator can emit (tests check that the engine's parser knows them all). */
export function allUserAgents(): string[] {
  const out: string[] = [];
  for (const f of UA_FAMILIES) for (let v = f.versions[0]; v <= f.versions[1]; v++) for (let k = 0; k < 6; k++) out.push(f.ua(v, k));
  return [...new Set(out)];
}

/** The most common agents of the moment (what a naive attacker or a stuffing tool sends). */
export const COMMON_UAS: readonly string[] = [
  UA_FAMILIES[0]!.ua(131, 0),
  UA_FAMILIES[0]!.ua(130, 0),
  UA_FAMILIES[1]!.ua(131, 0),
  UA_FAMILIES[3]!.ua(131, 0),
  UA_FAMILIES[4]!.ua(18, 1),
  UA_FAMILIES[2]!.ua(133, 0),
  UA_FAMILIES[9]!.ua(18, 1),
  UA_FAMILIES[11]!.ua(131, 0),
];

/** What scripted stuffing tools send when they do not pretend to be a browser. */
export const SCRIPT_UAS: readonly string[] = ['python-requests/2.31.0', 'Go-http-client/1.1', 'okhttp/4.12.0', 'curl/8.5.0'];

// ------------------------------------------------------------------------------------------------
// Devices and places
// ------------------------------------------------------------------------------------------------

export interface Device {
  id: string;
  readonly kind: DeviceKind;
  readonly family: UaFamily;
  readonly variant: number;
  version: number;
  /** Day the browser updates to version+1 (auto-updating browsers only). */
  readonly updateDay: number;
  readonly weight: number;
  /** Replaced (new phone) from this day on. */
  retiredDay: number;
  readonly fromDay: number;
  /** This device is the replacement phone. */
  readonly isNewPhone: boolean;
  /** This device joined the user's others during the simulation (a work laptop, a partner's tablet). */
  readonly isSecond: boolean;
}

export function uaOf(d: Device, day: number): string {
  return d.family.ua(d.version + (day >= d.updateDay ? 1 : 0), d.variant);
}

export function newDevice(rng: Rng, kind: DeviceKind, days: number, fromDay: number, isNewPhone: boolean, isSecond = false): Device {
  const { fams, weights } = FAMILIES_BY_KIND[kind];
  const family = fams[rng.weightedIndex(weights)]!;
  const [lo, hi] = family.versions;
  // Most people run a recent version; a few lag behind.
  const version = rng.chance(0.7) ? hi - rng.int(0, 1) - (family.autoUpdate ? 1 : 0) : rng.int(lo, hi - 1);
  return {
    id: 'd-' + rng.hex(16),
    kind,
    family,
    variant: rng.int(0, 5),
    version: Math.max(lo, version),
    updateDay: family.autoUpdate && rng.chance(0.6) ? rng.int(0, Math.max(0, days - 1)) : Number.POSITIVE_INFINITY,
    weight: kind === 'mobile' ? 3 : kind === 'desktop' ? 2 : 1,
    retiredDay: Number.POSITIVE_INFINITY,
    fromDay,
    isNewPhone,
    isSecond,
  };
}

export const DEVICE_KINDS: readonly DeviceKind[] = ['mobile', 'desktop', 'tablet'];

/** Another address of `p`'s /24 (same network and, for GeoIP, the same place). */
export function cgnat(p: Place, rng: Rng): Place {
  const dot = p.ip.lastIndexOf('.');
  return { ...p, ip: `${p.ip.slice(0, dot)}.${rng.int(1, 254)}` };
}

/** The `k` places closest to `p` (an equirectangular distance is enough to rank them). */
export function nearest(list: readonly Place[], p: Place, k: number): Place[] {
  const c = Math.cos((p.lat * Math.PI) / 180);
  const d = (q: Place): number => (q.lat - p.lat) ** 2 + ((q.lon - p.lon) * c) ** 2;
  return list
    .map((q, i) => ({ q, d: d(q), i }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .slice(0, k)
    .map((x) => x.q);
}

export function tzOf(p: Place): number {
  return Math.round(p.lon / 15);
}

export function pickPlace(rng: Rng, list: readonly Place[], fallback: Place): Place {
  return list.length > 0 ? rng.pick(list) : fallback;
}

const cityCache = new WeakMap<GeoPool, Map<string, Place[]>>();

/** Up to 40 addresses in `p`'s city (the country's when the city has no other), memoised per pool. */
export function sameCity(pool: GeoPool, p: Place): readonly Place[] {
  let byCity = cityCache.get(pool);
  if (!byCity) {
    byCity = new Map();
    cityCache.set(pool, byCity);
    for (const cc of pool.homeCountries) {
      for (const q of pool.residential(cc)) {
        const k = `${q.country}/${q.city ?? ''}`;
        const list = byCity.get(k);
        if (!list) byCity.set(k, [q]);
        else if (list.length < 41) list.push(q);
      }
    }
  }
  const city = (byCity.get(`${p.country}/${p.city ?? ''}`) ?? []).filter((q) => q.ip !== p.ip);
  return city.length > 0 ? city.slice(0, 40) : pool.residential(p.country).slice(0, 40);
}
