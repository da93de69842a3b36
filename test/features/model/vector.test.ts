// The encoder the server runs: each transform, missing and ill-typed values, the slot encoder agreeing
// with the by-name encoder, a record turned into Slots, and the validation of a column list read from
// a model file.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Slots } from '../../../dsl/types.ts';
import { VIGIL_SCHEME } from '../../../features/catalog.ts';
import {
  createEncoder,
  createSlotEncoder,
  encodeValue,
  featuresOf,
  parseColumns,
  slotsFromRecord,
  type ColumnSpec,
  type FeatureBag,
} from '../../../features/model/vector.ts';

/** One column of every transform kind, over features spread across the Scheme. */
const COLUMNS: readonly ColumnSpec[] = [
  { name: 'known', feature: 'device.known', transform: { kind: 'bool', missing: 0.5 } },
  { name: 'logins', feature: 'history.logins', transform: { kind: 'log1p', scale: 1, missing: 0 } },
  { name: 'since_h', feature: 'history.since_last_login', transform: { kind: 'log1p', scale: 3600, missing: 9 } },
  { name: 'rba', feature: 'rba.score', transform: { kind: 'log10', floor: 1e-3, ceil: 1e12, missing: 0 } },
  { name: 'hour.sin', feature: 'event.hour', transform: { kind: 'hour_sin', missing: 0 } },
  { name: 'hour.cos', feature: 'event.hour', transform: { kind: 'hour_cos', missing: 0 } },
  { name: 'recovery', feature: 'event.type', transform: { kind: 'equals', value: 'recovery' } },
];
const C = COLUMNS.length;
const byName = createEncoder(COLUMNS);
const bySlot = createSlotEncoder(COLUMNS, VIGIL_SCHEME);

function vec(f: FeatureBag): Float32Array {
  const out = new Float32Array(C);
  byName.encode(f, out);
  return out;
}
function slotVec(f: FeatureBag): Float32Array {
  const out = new Float32Array(C);
  bySlot.encode(slotsFromRecord(f, VIGIL_SCHEME), out);
  return out;
}

const anyValue = fc.oneof(fc.boolean(), fc.double(), fc.string(), fc.constant(null), fc.constant(undefined), fc.integer());
const anyRecord = fc.dictionary(fc.constantFrom(...featuresOf(COLUMNS)), anyValue);

describe('transforms', () => {
  it('bool: true 1, false 0, anything else its missing value', () => {
    const t = { kind: 'bool', missing: 0.5 } as const;
    expect([true, false, undefined, null, 1, 'true'].map((v) => encodeValue(t, v))).toEqual([1, 0, 0.5, 0.5, 0.5, 0.5]);
  });

  it('log1p divides by its scale and clamps negatives to 0', () => {
    expect(encodeValue({ kind: 'log1p', scale: 1, missing: 0 }, 99)).toBeCloseTo(Math.log(100), 12);
    expect(encodeValue({ kind: 'log1p', scale: 3600, missing: 0 }, 3600)).toBeCloseTo(Math.log(2), 12);
    expect(encodeValue({ kind: 'log1p', scale: 1, missing: 0 }, -5)).toBe(0);
  });

  it('log10 clamps to [floor, ceil]', () => {
    const t = { kind: 'log10', floor: 1e-3, ceil: 1e12, missing: 0 } as const;
    expect(encodeValue(t, 100)).toBeCloseTo(2, 12);
    expect(encodeValue(t, 0)).toBeCloseTo(-3, 12);
    expect(encodeValue(t, 1e300)).toBeCloseTo(12, 12);
  });

  it('hours lie on a circle', () => {
    expect(encodeValue({ kind: 'hour_sin', missing: 0 }, 6)).toBeCloseTo(1, 12);
    expect(encodeValue({ kind: 'hour_cos', missing: 0 }, 12)).toBeCloseTo(-1, 12);
  });

  it('equals compares strings only', () => {
    expect(encodeValue({ kind: 'equals', value: 'recovery' }, 'recovery')).toBe(1);
    expect(encodeValue({ kind: 'equals', value: '1' }, 1)).toBe(0);
    expect(encodeValue({ kind: 'equals', value: 'x' }, undefined)).toBe(0);
  });

  it('ill-typed and non-finite values encode as missing', () => {
    const weird = vec({
      'device.known': 'yes',
      'history.logins': Number.NaN,
      'history.since_last_login': Number.POSITIVE_INFINITY,
      'rba.score': Number.NEGATIVE_INFINITY,
      'event.hour': true,
      'event.type': 7,
    });
    expect(Array.from(weird)).toEqual(Array.from(vec({})));
  });

  it('never write NaN or Infinity, whatever the values (property)', () => {
    fc.assert(
      fc.property(anyRecord, (bag) => vec(bag as FeatureBag).every((x) => Number.isFinite(x))),
      { numRuns: 300 },
    );
  });
});

describe('encoders', () => {
  it('by slot and by name write the same row (property)', () => {
    fc.assert(
      fc.property(anyRecord, (bag) => {
        const f = bag as FeatureBag;
        return Array.from(slotVec(f)).every((x, i) => Object.is(x, vec(f)[i]));
      }),
      { numRuns: 300 },
    );
  });

  it('the slot encoder reads the Scheme slot of each column, resolved once', () => {
    expect(Array.from(bySlot.slots)).toEqual(COLUMNS.map((c) => VIGIL_SCHEME.feature(c.feature)!.slot));
    expect(bySlot.features).toEqual(['device.known', 'history.logins', 'history.since_last_login', 'rba.score', 'event.hour', 'event.type']);
    const slots: Slots = new Array(VIGIL_SCHEME.size).fill(undefined);
    slots[VIGIL_SCHEME.feature('history.logins')!.slot] = 99;
    slots[VIGIL_SCHEME.feature('event.type')!.slot] = 'recovery';
    const out = new Float32Array(C);
    bySlot.encode(slots, out);
    expect(out[1]).toBeCloseTo(Math.log(100), 5);
    expect(out[6]).toBe(1);
    expect(out[0]).toBe(0.5);
  });

  it('refuses to bind a column to a feature the Scheme lacks', () => {
    const bad: ColumnSpec[] = [{ name: 'shoe', feature: 'user.shoe_size', transform: { kind: 'log1p', scale: 1, missing: 0 } }];
    expect(() => createSlotEncoder(bad, VIGIL_SCHEME)).toThrow(RangeError);
  });

  it.each(['by name', 'by slot'] as const)('write at an offset without touching the rest (%s)', (how) => {
    const out = new Float32Array(C * 2).fill(-7);
    if (how === 'by name') byName.encode({ 'device.known': true }, out, C);
    else bySlot.encode(slotsFromRecord({ 'device.known': true }, VIGIL_SCHEME), out, C);
    expect(out[C - 1]).toBe(-7);
    expect(out[C]).toBe(1);
  });
});

describe('slotsFromRecord', () => {
  it('places values at their slots; null and unknown names are missing', () => {
    const s = slotsFromRecord({ 'history.logins': 3, 'device.known': null, 'no.such': 1 }, VIGIL_SCHEME);
    expect(s).toHaveLength(VIGIL_SCHEME.size);
    expect(s[VIGIL_SCHEME.feature('history.logins')!.slot]).toBe(3);
    expect(s.filter((v) => v !== undefined)).toEqual([3]);
  });
});

describe('parseColumns', () => {
  it('round-trips a column list', () => {
    expect(parseColumns(JSON.stringify(COLUMNS))).toEqual(COLUMNS);
  });
  it.each([
    ['not json', '{'],
    ['not an array', '{"a":1}'],
    ['empty', '[]'],
    ['unknown transform', '[{"name":"a","feature":"a","transform":{"kind":"cube"}}]'],
    ['non-positive scale', '[{"name":"a","feature":"a","transform":{"kind":"log1p","scale":0,"missing":0}}]'],
    ['duplicate name', '[{"name":"a","feature":"a","transform":{"kind":"equals","value":"x"}},{"name":"a","feature":"b","transform":{"kind":"equals","value":"x"}}]'],
  ])('refuses %s', (_what, json) => {
    expect(typeof parseColumns(json)).toBe('string');
  });
});
