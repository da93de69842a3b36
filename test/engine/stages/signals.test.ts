// Stage 2, read signals: GeoIP and the user agent fill the local slots, the store answers history,
// velocity and list probes in one round trip, and failures degrade instead of throwing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIGIL_SCHEME } from '../../../features/catalog.ts';
import type { GeoIp } from '../../../features/geoip.ts';
import { planFeatures } from '../../../engine/plan.ts';
import { extract } from '../../../engine/stages/extract.ts';
import { readSignals } from '../../../engine/stages/signals.ts';
import { event, memoryStore, openGeo, pack, signalDeps } from './helpers.ts';

const slot = (name: string): number => VIGIL_SCHEME.feature(name)!.slot;
const p = pack(
  'pack p version 1\nlist blocked: string = redis "blocked"\n' +
    'rule a { when geo.country == "GB" and velocity.ip_users_1h >= 0 score 1 }\nrule b { when user.id in blocked then block }',
);
const plan = planFeatures(p);

let geoip: GeoIp;
beforeAll(async () => {
  geoip = await openGeo();
});
afterAll(() => geoip.close());

describe('read signals', () => {
  it('fills the local phase (event, address, GeoIP, user agent) and reads velocity and probes in one store call', async () => {
    const store = memoryStore();
    store.sadd('blocked', 'alice@example.com');
    const x = extract(event(), p.slotCount);
    const read = await readSignals(signalDeps(store, geoip), x, p, plan);
    expect(read.degraded).toBe(false);
    expect(x.slots[slot('geo.country')]).toBe('GB');
    expect(x.slots[slot('ua.browser')]).toBe('Chrome');
    expect(x.slots[slot('ip.private')]).toBe(false);
    expect(read.signals?.velocity?.ipUsers1h).toBe(1);
    expect(read.probesSent).toEqual([0]);
    expect(read.signals?.probes).toEqual([true]);
    expect(read.signals?.history).toBeUndefined();
    expect([store.stats.readCalls, store.stats.roundTrips]).toEqual([1, 1]);
    // The store context holds keyed hashes, never the raw identifiers.
    expect(JSON.stringify(read.ctx)).not.toContain('alice@example.com');
    expect(JSON.stringify(read.ctx)).not.toContain('81.2.69.142');
  });

  it('a probe whose operand is missing is not sent', async () => {
    const q = pack('pack q version 1\nlist l: string = redis "l"\nrule r { when device.id in l then block }');
    const x = extract(event({ deviceId: undefined }), q.slotCount);
    const read = await readSignals(signalDeps(memoryStore(), geoip), x, q, planFeatures(q));
    expect(read.probesSent).toEqual([]);
  });

  it('without GeoIP, an event whose plan reads geo.* is degraded', async () => {
    const failures: string[] = [];
    const read = await readSignals(signalDeps(memoryStore(), null, failures), extract(event(), p.slotCount), p, plan);
    expect(read.degraded).toBe(true);
    const q = pack('pack q version 1\nrule r { when user.mfa score 1 }');
    const read2 = await readSignals(signalDeps(memoryStore(), null), extract(event(), q.slotCount), q, planFeatures(q));
    expect(read2.degraded).toBe(false);
  });

  it('a closed store degrades the event and reports the failure; history and velocity stay missing', async () => {
    const store = memoryStore();
    await store.close();
    const failures: string[] = [];
    const x = extract(event(), p.slotCount);
    const read = await readSignals(signalDeps(store, geoip, failures), x, p, plan);
    expect(read.signals).toBeNull();
    expect(read.degraded).toBe(true);
    expect(failures).toEqual(['store']);
    expect(x.input.velocity['velocity.ip_users_1h']).toBeUndefined();
  });

  it('sends the shadow pack\'s probes in the same call, a probe both packs ask only once', async () => {
    const store = memoryStore();
    store.sadd('blocked', 'alice@example.com');
    const shadow = pack(
      'pack s version 1\nlist blocked: string = redis "blocked"\nlist devices: string = redis "bad_devices"\n' +
        'rule b { when user.id in blocked then block }\nrule d { when device.id in devices then block }',
    );
    const both = planFeatures(p, [], shadow);
    expect(both.slotCount).toBe(Math.max(p.slotCount, shadow.slotCount));
    const x = extract(event(), both.slotCount);
    const read = await readSignals(signalDeps(store, geoip), x, p, both, shadow);
    expect(read.probesSent).toEqual([0]);
    expect(read.shadowProbesSent).toEqual([0, 1]);
    expect(read.shadowProbeAnswers).toEqual([0, 1]); // user.id in "blocked" shared with the live pack
    expect(read.signals?.probes).toEqual([true, false]);
    expect([store.stats.readCalls, store.stats.roundTrips]).toEqual([1, 1]);
  });
});
