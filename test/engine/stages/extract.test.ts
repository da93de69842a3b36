// Stage 1, extract: the typed event and the empty execution context.
import { describe, expect, it } from 'vitest';
import { VIGIL_SCHEME } from '../../../features/catalog.ts';
import { extract } from '../../../engine/stages/extract.ts';
import { event, pack } from './helpers.ts';

const p = pack('pack p version 1\nlist l: string = redis "k"\nrule r { when user.id in l score 1 }');

describe('extract', () => {
  it('parses the address once into its canonical form; other sources start empty', () => {
    const x = extract(event({ ip: '::FFFF:81.2.69.142' }), p.slotCount);
    expect(x.input.ip?.address).toBe('81.2.69.142');
    expect(x.input.event.userId).toBe('alice@example.com');
    expect(x.input.geo).toEqual({});
    expect(x.input.ua).toEqual({});
    expect(Object.values(x.input.history).every((v) => v === undefined)).toBe(true);
    expect(Object.values(x.input.velocity).every((v) => v === undefined)).toBe(true);
    expect([x.input.rba, x.input.anomaly, x.input.modelVersion, x.input.degraded]).toEqual([undefined, undefined, undefined, false]);
  });

  it('an address that does not parse is missing, not an error', () => {
    expect(extract(event({ ip: 'not-an-ip' }), p.slotCount).input.ip).toBeNull();
  });

  it('the execution context has one slot per registry feature, then the pack\'s probe slots', () => {
    const x = extract(event(), p.slotCount);
    expect(x.slots.length).toBe(VIGIL_SCHEME.size + 1);
    expect(p.probes[0]!.slot).toBe(VIGIL_SCHEME.size);
  });
});
