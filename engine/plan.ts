// The feature planner: from the active pack, the shadow pack beside it and the model's inputs,
// which features an event needs, hence which signal sources run and which extractors fill which
// slots, phase by phase. A feature's slot, source and reader come from the registry
// (features/catalog.ts); nothing here is per event. Plans are computed once per (pack, extra
// features, shadow pack) and cached.
import type { CompiledPack } from '../dsl/index.ts';
import { CATALOG, CATALOG_BY_NAME, IDENTIFIER_FEATURES, type CatalogEntry, type FeaturePhase } from '../features/catalog.ts';

/** Which groups of the signal store an event needs (structurally the store's ReadNeeds). */
export interface StoreNeeds {
  readonly history: boolean;
  readonly velocity: boolean;
  readonly rba: boolean;
  /** A session.* feature is read: an account_change with a login_decision_id reads its session record. */
  readonly session: boolean;
}

export interface FeaturePlan {
  /** The features the pack, the shadow pack and the extra names read, in registry (slot) order. */
  readonly features: readonly CatalogEntry[];
  /**
   * Every feature of every source that runs for the event (in-process sources always run, store
   * groups only when read): what explain shows. A superset of `features`.
   */
  readonly computed: readonly CatalogEntry[];
  /** `computed`, split by the phase in which their source's output is known: what the stages fill. */
  readonly phases: Readonly<Record<FeaturePhase, readonly CatalogEntry[]>>;
  /** What is stored with a decision and recorded for training: `features` without raw identifiers. */
  readonly kept: readonly CatalogEntry[];
  /** A GeoIP-derived feature is read (without GeoIP configured, the event is then degraded). */
  readonly geo: boolean;
  readonly store: StoreNeeds;
  /** Human-readable steps, in order, for explain output. */
  readonly steps: readonly string[];
  /** Execution-context size: room for the features and for either pack's probe slots. */
  readonly slotCount: number;
}

// History features compared with the event's place or browser also need that source first: the
// stages run GeoIP and the user-agent parser before the store round trip in any case (the history
// learns places and browsers from them), so this only shows in the explain steps.
const NEEDS_GEO: ReadonlySet<string> = new Set(['history.known_country', 'history.known_asn', 'history.travel_kmh', 'history.last_country']);
const NEEDS_UA: ReadonlySet<string> = new Set(['history.known_ua']);

const cache = new WeakMap<CompiledPack, Map<string, FeaturePlan>>();

/**
 * The plan for `pack` plus `extra` features (the model's inputs; replay and recording ask for all)
 * plus what `shadow`, the shadow pack, reads: one event computes the features of both.
 */
export function planFeatures(pack: CompiledPack, extra: readonly string[] = [], shadow?: CompiledPack): FeaturePlan {
  const key = shadow ? `${extra.join(',')}|${shadow.hash}` : extra.join(',');
  let perPack = cache.get(pack);
  if (!perPack) {
    perPack = new Map();
    cache.set(pack, perPack);
  }
  let plan = perPack.get(key);
  if (!plan) {
    plan = computePlan(pack, extra, shadow);
    perPack.set(key, plan);
  }
  return plan;
}

/** The history flags a sign-in's session record keeps (engine/session.ts). */
const SESSION_NOVELTY = ['device.known', 'history.known_country', 'history.known_ip'] as const;

function computePlan(pack: CompiledPack, extra: readonly string[], shadow: CompiledPack | undefined): FeaturePlan {
  const wanted = new Set<string>(pack.features);
  if (shadow) for (const name of shadow.features) wanted.add(name);
  for (const name of extra) if (CATALOG_BY_NAME.has(name)) wanted.add(name);
  // Past the session window a change reads its sign-in from the decision log, whose row keeps only
  // the features as evaluated: a pack reading session features keeps the novelty flags the session
  // record holds, so the log's copy answers the same.
  if ([...wanted].some((n) => CATALOG_BY_NAME.get(n)?.source === 'session')) for (const n of SESSION_NOVELTY) wanted.add(n);
  const features = CATALOG.filter((e) => wanted.has(e.name));
  const sources = new Set(features.map((e) => e.source));
  const rba = sources.has('rba');
  const geo = rba || features.some((e) => e.source === 'geoip' || NEEDS_GEO.has(e.name));
  const ua = rba || features.some((e) => e.source === 'ua' || NEEDS_UA.has(e.name));
  const session = sources.has('session');
  // A sign-in's session record keeps whether its device and country were new, which its history
  // read knows: a pack reading session features reads the history for every event.
  const store: StoreNeeds = { history: session || sources.has('history'), velocity: sources.has('velocity'), rba, session };
  const runs = (e: CatalogEntry): boolean =>
    e.source === 'history' || e.source === 'velocity' || e.source === 'rba' || e.source === 'session' ? store[e.source] : true;
  const computed = CATALOG.filter(runs);
  const phases: Record<FeaturePhase, CatalogEntry[]> = { local: [], store: [], model: [], engine: [] };
  for (const e of computed) phases[e.phase].push(e);

  const steps: string[] = ['event'];
  if (sources.has('ip')) steps.push('ip');
  if (geo) steps.push('geoip');
  if (ua) steps.push('user_agent');
  const groups = (['history', 'velocity', 'session', 'rba'] as const).filter((g) => store[g]);
  const probes = pack.probes.length + (shadow?.probes.length ?? 0);
  if (groups.length > 0 || probes > 0) {
    const parts = [...groups, ...(probes > 0 ? [`${probes} list probe(s)`] : [])];
    steps.push(`store pipeline: ${parts.join(', ')}`);
  }
  if (sources.has('model')) steps.push('model');
  steps.push('rules');
  if (shadow) steps.push('shadow pack');
  return {
    features,
    computed,
    phases,
    kept: features.filter((e) => !IDENTIFIER_FEATURES.has(e.name)),
    geo,
    store,
    steps,
    slotCount: Math.max(pack.slotCount, shadow?.slotCount ?? 0),
  };
}
