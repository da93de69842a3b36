// The feature planner: from the active pack (and the model's input list) decide which features an
// event needs, hence which signal sources run — each at most once per event, GeoIP and the user
// agent before the one Redis pipeline that needs their results. Plans are computed once per pack.
import type { CompiledPack } from '../dsl/index.ts';
import { CATALOG_BY_NAME, type FeatureSource } from '../features/catalog.ts';

/** Which groups of the signal store an event needs. */
export interface StoreNeeds {
  readonly history: boolean;
  readonly velocity: boolean;
  readonly rba: boolean;
}

export interface FeaturePlan {
  /** Every feature that will be computed, in catalog order. */
  readonly features: readonly string[];
  readonly sources: ReadonlySet<FeatureSource>;
  /** GeoIP lookup (also needed by history and rba, which learn places). */
  readonly geo: boolean;
  /** User-agent parsing (also needed by history.known_ua and rba). */
  readonly ua: boolean;
  readonly store: StoreNeeds;
  /** Redis-list probes of the pack (SISMEMBER in the same pipeline). */
  readonly probes: number;
  readonly model: boolean;
  /** Human-readable steps, in order, for explain output. */
  readonly steps: readonly string[];
}

// Features whose computation needs another source's output first.
const NEEDS_GEO = new Set([
  'history.known_country',
  'history.known_asn',
  'history.travel_kmh',
  'history.last_country',
]);
const NEEDS_UA = new Set(['history.known_ua']);

const cache = new WeakMap<CompiledPack, Map<string, FeaturePlan>>();

/** The plan for `pack` plus the model's inputs (`extra`, by feature name). */
export function planFeatures(pack: CompiledPack, extra: readonly string[] = []): FeaturePlan {
  const key = extra.join(',');
  let perPack = cache.get(pack);
  if (!perPack) {
    perPack = new Map();
    cache.set(pack, perPack);
  }
  const hit = perPack.get(key);
  if (hit) return hit;
  const plan = computePlan(pack, extra);
  perPack.set(key, plan);
  return plan;
}

function computePlan(pack: CompiledPack, extra: readonly string[]): FeaturePlan {
  const wanted = new Set<string>([...pack.features, ...extra]);
  const sources = new Set<FeatureSource>();
  let geo = false;
  let ua = false;
  for (const name of wanted) {
    const entry = CATALOG_BY_NAME.get(name);
    if (!entry) continue;
    sources.add(entry.source);
    if (entry.source === 'geoip' || NEEDS_GEO.has(name)) geo = true;
    if (entry.source === 'ua' || NEEDS_UA.has(name)) ua = true;
  }
  const rba = sources.has('rba');
  if (rba) {
    geo = true;
    ua = true;
  }
  const store: StoreNeeds = { history: sources.has('history'), velocity: sources.has('velocity'), rba };
  const model = sources.has('model');
  if (model) {
    // The model reads its own inputs; they were added to `extra` by the caller.
  }
  const steps: string[] = ['event'];
  if (sources.has('ip')) steps.push('ip');
  if (geo) steps.push('geoip');
  if (ua) steps.push('user_agent');
  const groups = (['history', 'velocity', 'rba'] as const).filter((g) => store[g]);
  if (groups.length > 0 || pack.probes.length > 0) {
    const parts = [...groups, ...(pack.probes.length > 0 ? [`${pack.probes.length} list probe(s)`] : [])];
    steps.push(`store pipeline: ${parts.join(', ')}`);
  }
  if (model) steps.push('model');
  steps.push('rules');
  const features = [...CATALOG_BY_NAME.keys()].filter((n) => wanted.has(n));
  return { features, sources, geo, ua, store, probes: pack.probes.length, model, steps };
}
