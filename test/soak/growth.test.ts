// The soak's criterion (test/soak/growth.ts): window floors, least-squares slopes, the verdict.
import { describe, expect, it } from 'vitest';
import { judge, slope, windows, type Sample } from './growth.ts';

const MiB = 1024 * 1024;
/** Samples every 5 s for `minutes`, heap sawtoothing by 30 MiB on top of a floor that rises `leak` MiB/min. */
function run(minutes: number, leak: number, rssLeak = 0): Sample[] {
  const out: Sample[] = [];
  for (let t = 5; t <= minutes * 60; t += 5) {
    const floor = 60 + (leak * t) / 60;
    out.push({ t, heap: (floor + ((t / 5) % 6) * 5) * MiB, rss: (200 + (rssLeak * t) / 60) * MiB });
  }
  return out;
}

describe('soak criterion', () => {
  it('slope is the least-squares slope', () => {
    expect(slope([0, 1, 2, 3], [1, 3, 5, 7])).toBeCloseTo(2);
    expect(slope([0, 1, 2], [5, 5, 5])).toBe(0);
    expect(slope([1], [4])).toBe(0);
  });

  it('a window is its heap floor (the sawtooth of collections does not count)', () => {
    const ws = windows(run(10, 0), 30);
    expect(ws).toHaveLength(20);
    expect(ws.every((w) => w.heapFloor === 60 * MiB)).toBe(true);
    expect(ws.every((w) => w.heapMax === 85 * MiB)).toBe(true);
  });

  it('a flat run passes; a heap floor rising 2 MiB/min fails; so does RSS past its limit', () => {
    expect(judge(windows(run(10, 0), 30), 120, 1, 4)).toMatchObject({ ok: true, windows: 16 });
    const leaking = judge(windows(run(10, 2), 30), 120, 1, 4);
    expect(leaking.ok).toBe(false);
    expect(leaking.heapSlope).toBeCloseTo(2, 1);
    expect(leaking.reasons[0]).toMatch(/heap floor grows 2\.\d\d MiB\/min/);
    expect(judge(windows(run(10, 0, 10), 30), 120, 1, 4).reasons).toEqual([expect.stringMatching(/RSS grows 10\.00 MiB\/min/)]);
  });

  it('growth during the warm-up alone passes; too few windows after it fails', () => {
    const s = run(10, 0).map((x) => (x.t <= 120 ? { ...x, heap: x.heap + x.t * MiB } : { ...x, heap: x.heap + 120 * MiB }));
    expect(judge(windows(s, 30), 120, 1, 4).ok).toBe(true);
    expect(judge(windows(run(2, 0), 30), 120, 1, 4).reasons[0]).toMatch(/only 0 windows/);
  });
});
