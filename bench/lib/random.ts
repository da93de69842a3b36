// Seeded randomness for the benchmarks, so every run generates the same packs and events and the
// numbers of two runs compare.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  int(min: number, max: number): number;
  pick<T>(xs: readonly T[]): T;
  /** Picks by weight; `pairs` are [value, weight]. */
  weighted<T>(pairs: readonly (readonly [T, number])[]): T;
  chance(p: number): boolean;
  /** `k` distinct elements of `xs` (all of them when k >= xs.length). */
  sample<T>(xs: readonly T[], k: number): T[];
}

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  // mulberry32: small, fast, good enough for workload generation.
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r: Rng = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    weighted: (pairs) => {
      const total = pairs.reduce((s, p) => s + p[1], 0);
      let x = next() * total;
      for (const [v, w] of pairs) {
        x -= w;
        if (x < 0) return v;
      }
      return pairs[pairs.length - 1]![0];
    },
    chance: (p) => next() < p,
    sample: (xs, k) => {
      const copy = xs.slice();
      for (let i = copy.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [copy[i], copy[j]] = [copy[j]!, copy[i]!];
      }
      return copy.slice(0, Math.min(k, copy.length));
    },
  };
  return r;
}
