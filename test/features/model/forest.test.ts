// The forest as the server holds it: c(n) and the attribution behind explain — it sums to
// 1 + log2 s(x) and credits the column that makes a point strange.
import { describe, expect, it } from 'vitest';
import { attribute, averagePathLength } from '../../../features/model/forest.ts';
import { fitForest, score } from '../../../training/iforest.ts';
import { uniformMatrix } from '../../training/helpers.ts';

describe('c(n)', () => {
  it('matches Liu et al.', () => {
    expect(averagePathLength(0)).toBe(0);
    expect(averagePathLength(1)).toBe(0);
    expect(averagePathLength(2)).toBe(1);
    // 2 H(255) − 2·255/256 with H(i) ≈ ln i + γ
    expect(averagePathLength(256)).toBeCloseTo(2 * (Math.log(255) + 0.5772156649) - (2 * 255) / 256, 10);
  });
});

describe('attribution', () => {
  const m = uniformMatrix(2000, 5, 4);
  const f = fitForest(m, { trees: 60, seed: 9 });

  it('sums to 1 + log2 s(x)', () => {
    for (const x of [
      [0.5, 0.5, 0.5, 0.5, 0.5],
      [0.1, 0.9, 0.3, 0.7, 0.2],
      [3, 0.5, 0.5, 0.5, -2],
    ]) {
      const out = new Float64Array(5);
      attribute(f, x, out);
      const total = out.reduce((a, b) => a + b, 0);
      expect(total).toBeCloseTo(1 + Math.log2(score(f, x)), 5);
    }
  });

  it('credits the column that makes a point strange', () => {
    const out = new Float64Array(5);
    attribute(f, [0.5, 0.5, 9, 0.5, 0.5], out);
    const top = out.indexOf(Math.max(...out));
    expect(top).toBe(2);
    expect(out[2]).toBeGreaterThan(0);
  });
});
