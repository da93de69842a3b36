// Decision ids: ULIDs whose time part is the event's time (the decision log finds a decision's day
// from it), sorted within one millisecond, and never a clock from the past reused for a later event.
import { describe, expect, it } from 'vitest';
import { decodeTime } from 'ulid';
import { createIdFactory } from '../../engine/ids.ts';

describe('decision ids', () => {
  it('carry the event time, also when an event is older than the last one', () => {
    const next = createIdFactory();
    const t = Date.parse('2026-11-24T18:00:00Z');
    const times = [t, t + 5, t - 86_400_000, t + 5, t - 1];
    for (const time of times) expect(decodeTime(next(time))).toBe(time);
  });

  it('sort in minting order within one millisecond', () => {
    const next = createIdFactory();
    const ids = Array.from({ length: 50 }, () => next(1_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(50);
  });
});
