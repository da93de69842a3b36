// Stage 5, record: the outcome-window record (hashed identifiers only) reaches the store without the
// answer waiting for it, the recorder gets the features without raw identifiers, and a failing write
// is reported, never thrown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GeoIp } from '../../../features/geoip.ts';
import { decodeWindow } from '../../../engine/window.ts';
import { planFeatures } from '../../../engine/plan.ts';
import type { RecordRow } from '../../../engine/recorder.ts';
import { decide } from '../../../engine/stages/decide.ts';
import { extract } from '../../../engine/stages/extract.ts';
import { record } from '../../../engine/stages/record.ts';
import { readSignals } from '../../../engine/stages/signals.ts';
import { event, memoryStore, openGeo, pack, signalDeps } from './helpers.ts';

const p = pack('pack p version 1\nrule r { when geo.country == "GB" and user.id != "x" and ip.address != "10.0.0.1" score 10 }');
const plan = planFeatures(p);

let geoip: GeoIp;
beforeAll(async () => {
  geoip = await openGeo();
});
afterAll(() => geoip.close());

async function evaluated(store = memoryStore()) {
  const x = extract(event({ mfa: true }), p.slotCount);
  const read = await readSignals(signalDeps(store, geoip), x, p, plan);
  const result = decide({ id: '01JDRECORD0000000000000000', pack: p, plan, model: undefined, explain: false }, x, read, { rba: undefined, model: undefined, degraded: false });
  return { store, x, read, result };
}

describe('record', () => {
  it('stores the window record with hashed identifiers only, and records the training row', async () => {
    const { store, x, read, result } = await evaluated();
    const rows: RecordRow[] = [];
    const pending = new Set<Promise<void>>();
    record({ store, windowSeconds: 60, sessionSeconds: 86_400, fail: () => undefined, pending, recorder: { record: (r) => rows.push(r), dropped: 0, close: async () => {} } }, x, read, plan, result);
    expect(pending.size).toBe(1);
    await Promise.all([...pending]);
    expect(pending.size).toBe(0);
    const raw = await store.getDecision(result.decision_id);
    expect(raw).not.toBeNull();
    expect(raw).not.toContain('alice@example.com');
    expect(raw).not.toContain('81.2.69.142');
    expect(decodeWindow(raw!)).toEqual({ ctx: read.ctx, outcome: null });
    expect(rows).toEqual([
      { kind: 'decision', decision_id: result.decision_id, time: new Date(x.event.time).toISOString(), type: 'login', decision: 'allow', score: 10, features: { 'geo.country': 'GB' } },
    ]);
  });

  it('a failing write is reported as decision_store and never rejects', async () => {
    const { store, x, read, result } = await evaluated();
    await store.close();
    const failures: string[] = [];
    const pending = new Set<Promise<void>>();
    record({ store, windowSeconds: 60, sessionSeconds: 86_400, fail: (f) => failures.push(f), pending }, x, read, plan, result);
    await Promise.all([...pending]);
    expect(failures).toEqual(['decision_store']);
  });
});
