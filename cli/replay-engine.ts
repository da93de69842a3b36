// Replay API request bodies through the real engine: GeoIP (bundled or VIGIL_GEOIP_*), user agent,
// an in-process signal store that learns as the file is replayed (history, velocity, rba), so a
// recorded day of traffic is backtested with every signal a rule can read. A line may carry the
// outcome the auth service reported (`"outcome": "failed"` beside the body's fields, or the
// simulator's `{"request": body, "outcome": …}` form); it is applied after the event, in file order.
import { randomBytes } from 'node:crypto';
import type { CompiledPack } from '../dsl/index.ts';
import { CATALOG } from '../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../features/geoip.ts';
import { createMemoryStore } from '../features/store/index.ts';
import { createEngine, type Engine, type Outcome } from '../engine/index.ts';
import { parseEvaluateBody } from '../api/schemas.ts';
import type { Derived, FeatureDeriver } from './replay.ts';

const OUTCOMES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'challenge_passed', 'challenge_failed']);

export interface EngineDeriver {
  readonly derive: FeatureDeriver;
  close(): Promise<void>;
}

/** GeoIP paths come from the same variables as the server's. */
export function createEngineDeriver(pack: CompiledPack, env: Readonly<Record<string, string | undefined>> = process.env): EngineDeriver {
  let engine: Engine | undefined;
  let geoip: GeoIp | undefined;
  const start = async (): Promise<Engine> => {
    geoip = await createGeoIp({
      ...(env.VIGIL_GEOIP_CITY ? { cityPath: env.VIGIL_GEOIP_CITY } : {}),
      ...(env.VIGIL_GEOIP_ASN ? { asnPath: env.VIGIL_GEOIP_ASN } : {}),
      ...(env.VIGIL_GEOIP_ANON ? { anonPath: env.VIGIL_GEOIP_ANON } : {}),
      watch: false,
    });
    return createEngine({
      store: createMemoryStore({ hashSecret: randomBytes(32).toString('base64url') }),
      geoip,
      packs: () => ({ pack }),
      signalTimeoutMs: 10_000,
      extraFeatures: CATALOG.map((f) => f.name),
    });
  };
  let starting: Promise<Engine> | undefined;

  const derive: FeatureDeriver = async (line): Promise<Derived> => {
    const body = (typeof line.request === 'object' && line.request !== null ? line.request : line) as Record<string, unknown>;
    const outcome = typeof line.outcome === 'string' ? line.outcome : undefined;
    if (outcome !== undefined && !OUTCOMES.has(outcome)) return { ok: false, error: `unknown outcome ${JSON.stringify(outcome)}` };
    // Recorded traffic is replayed at its own times: no skew bound.
    const parsed = parseEvaluateBody(body, Number.MAX_SAFE_INTEGER, Date.now());
    if (!parsed.ok) return { ok: false, error: `invalid request body: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}` };
    engine ??= await (starting ??= start());
    const r = await engine.evaluate(parsed.event, { explain: true });
    if (outcome !== undefined) await engine.outcome(r.decision_id, outcome as Outcome);
    return { ok: true, event: { eventType: parsed.event.type, features: r.features ?? {} } };
  };

  return {
    derive,
    async close() {
      if (engine) await engine.close();
      else geoip?.close();
    },
  };
}
