// Stage 3, score: the RBA score from the store's counts and the anomaly model, each written into
// the execution context; a failing model degrades the event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIGIL_SCHEME } from '../../../features/catalog.ts';
import type { GeoIp } from '../../../features/geoip.ts';
import { createModelScorer, DEFAULT_MODEL_PATH, type ModelScorer } from '../../../features/model/index.ts';
import { planFeatures } from '../../../engine/plan.ts';
import { extract } from '../../../engine/stages/extract.ts';
import { score } from '../../../engine/stages/score.ts';
import { readSignals } from '../../../engine/stages/signals.ts';
import { event, memoryStore, openGeo, pack, signalDeps } from './helpers.ts';

const slot = (name: string): number => VIGIL_SCHEME.feature(name)!.slot;
const p = pack('pack p version 1\nrule r { when rba.score > 0 and model.anomaly > 0 score 1 }');

let geoip: GeoIp;
let model: ModelScorer;
beforeAll(async () => {
  geoip = await openGeo();
  model = await createModelScorer({ path: DEFAULT_MODEL_PATH, watch: false, timeoutMs: 5000 });
});
afterAll(async () => {
  geoip.close();
  await model.close();
});

/** A second sign-in of a user whose first one succeeded (rba.score needs a learned sign-in). */
async function signalsFor(extra: readonly string[] = []) {
  const plan = planFeatures(p, extra);
  const store = memoryStore();
  const first = await readSignals(signalDeps(store, geoip), extract(event(), p.slotCount), p, plan);
  await store.recordOutcome(first.ctx, 'succeeded');
  const x = extract(event({ time: event().time + 60_000 }), p.slotCount);
  const read = await readSignals(signalDeps(store, geoip), x, p, plan);
  return { plan, x, read };
}

describe('score', () => {
  it('computes rba.score from the counts and writes it to its slot; without a model, model.* stay missing', async () => {
    const { plan, x, read } = await signalsFor();
    const failures: string[] = [];
    const s = await score({ fail: (f) => failures.push(f) }, x, read, plan, false);
    expect(typeof s.rba).toBe('number');
    expect(x.slots[slot('rba.score')]).toBe(s.rba);
    expect(s.model).toBeUndefined();
    expect(s.degraded).toBe(false);
    expect(x.slots[slot('model.anomaly')]).toBeUndefined();
    expect(failures).toEqual([]);
  });

  it('runs the shipped ONNX model on the context filled so far', async () => {
    const { plan, x, read } = await signalsFor(model.features);
    const s = await score({ model, fail: () => undefined }, x, read, plan, true);
    expect(s.degraded).toBe(false);
    expect(s.model?.anomaly).toBeGreaterThan(0);
    expect(s.model?.anomaly).toBeLessThan(1);
    expect(x.slots[slot('model.anomaly')]).toBe(s.model?.anomaly);
    expect(x.slots[slot('model.version')]).toBe(model.version);
    expect(s.model?.contributions?.length).toBeGreaterThan(0);
  });

  it('a user with no learned sign-in, or a store that answered nothing, leaves rba.score missing', async () => {
    const fresh = extract(event(), p.slotCount);
    const s0 = await score({ fail: () => undefined }, fresh, await readSignals(signalDeps(memoryStore(), geoip), fresh, p, planFeatures(p)), planFeatures(p), false);
    expect(s0.rba).toBeUndefined();
    const plan = planFeatures(p);
    const store = memoryStore();
    await store.close();
    const x = extract(event(), p.slotCount);
    const read = await readSignals(signalDeps(store, geoip), x, p, plan);
    const s = await score({ fail: () => undefined }, x, read, plan, false);
    expect(s.rba).toBeUndefined();
    expect(x.slots[slot('rba.score')]).toBeUndefined();
  });
});
