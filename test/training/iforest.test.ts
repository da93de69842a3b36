// Growing the isolation forest: the height limit, reproducibility with a seed, anomalies scoring
// above inliers, worker-thread training equal to single-thread training, bad arguments.
import { describe, expect, it } from 'vitest';
import { averagePathLength, type IsolationForest, type ITree } from '../../features/model/forest.ts';
import { createEncoder } from '../../features/model/vector.ts';
import { DEFAULT_COLUMNS, VECTOR_COLUMNS } from '../../training/columns.ts';
import { buildTree, fitForest, heightLimit, meanPathLength, score, trainForest } from '../../training/iforest.ts';
import { syntheticRows } from '../../training/synthetic.ts';
import { syntheticMatrix, uniformMatrix } from './helpers.ts';

function sameTree(a: ITree, b: ITree): boolean {
  const keys = ['feature', 'threshold', 'left', 'right', 'size', 'value'] as const;
  return keys.every((k) => a[k].length === b[k].length && a[k].every((v, i) => Object.is(v, b[k][i])));
}
function sameForest(a: IsolationForest, b: IsolationForest): boolean {
  return a.sampleSize === b.sampleSize && a.trees.length === b.trees.length && a.trees.every((t, i) => sameTree(t, b.trees[i]!));
}

describe('the height limit', () => {
  it('is ceil(log2 ψ), as Liu et al.', () => {
    expect(heightLimit(256)).toBe(8);
    expect(heightLimit(100)).toBe(7);
  });
});

describe('training', () => {
  const m = uniformMatrix(3000, 6, 1);

  it('is reproducible with a seed, and the seed matters', () => {
    const a = fitForest(m, { trees: 20, seed: 42 });
    const b = fitForest(m, { trees: 20, seed: 42 });
    const c = fitForest(m, { trees: 20, seed: 43 });
    expect(sameForest(a, b)).toBe(true);
    expect(sameForest(a, c)).toBe(false);
  });

  it('grows trees no higher than ceil(log2 ψ), with valid splits and leaf path lengths', () => {
    const t = buildTree(m, 0, 7, 256);
    const depth = new Int32Array(t.feature.length);
    for (let i = 0; i < t.feature.length; i++) {
      if (t.feature[i]! < 0) {
        expect(t.value[i]).toBeCloseTo(depth[i]! + averagePathLength(t.size[i]!), 5);
        continue;
      }
      expect(t.left[i]).toBeGreaterThan(i);
      expect(t.size[t.left[i]!]! + t.size[t.right[i]!]!).toBe(t.size[i]);
      expect(t.size[t.left[i]!]).toBeGreaterThan(0);
      expect(t.size[t.right[i]!]).toBeGreaterThan(0);
      depth[t.left[i]!] = depth[i]! + 1;
      depth[t.right[i]!] = depth[i]! + 1;
    }
    expect(Math.max(...depth)).toBeLessThanOrEqual(8);
    expect(t.size[0]).toBe(256);
  });

  it('uses every row when there are fewer rows than ψ', () => {
    const small = uniformMatrix(50, 3, 2);
    const f = fitForest(small, { trees: 3, sampleSize: 256 });
    expect(f.sampleSize).toBe(50);
    expect(f.trees[0]!.size[0]).toBe(50);
  });

  it('never splits on a constant column', () => {
    const data = new Float32Array(400 * 3);
    for (let i = 0; i < 400; i++) {
      data[i * 3] = 5;
      data[i * 3 + 1] = (i * 7919) % 400;
      data[i * 3 + 2] = 5;
    }
    const f = fitForest({ data, rows: 400, cols: 3 }, { trees: 10 });
    for (const t of f.trees) for (const feat of t.feature) expect([-1, 1]).toContain(feat);
  });

  it.each([
    [{ trees: 0 }, 'trees'],
    [{ sampleSize: 1 }, 'sample'],
    [{ seed: 1.5 }, 'seed'],
  ])('refuses bad options %o', (opts, what) => {
    expect(() => fitForest(m, opts)).toThrow(new RegExp(what));
  });

  it('refuses fewer than two rows', () => {
    expect(() => fitForest(uniformMatrix(1, 3, 1))).toThrow(RangeError);
  });
});

describe('scores', () => {
  it('rank synthetic attacks above legitimate sign-ins', () => {
    const forest = fitForest(syntheticMatrix(4000, 11), { trees: 100, seed: 5 });
    const enc = createEncoder(DEFAULT_COLUMNS);
    const x = new Float32Array(DEFAULT_COLUMNS.length);
    const mean = (kind: 'legit' | 'stuffing' | 'takeover' | 'bruteforce'): number => {
      const rows = syntheticRows(300, 12, kind);
      let s = 0;
      for (const r of rows) {
        enc.encode(r.features, x);
        s += score(forest, x);
      }
      return s / rows.length;
    };
    const legit = mean('legit');
    expect(legit).toBeLessThan(0.5);
    for (const k of ['stuffing', 'takeover', 'bruteforce'] as const) expect(mean(k)).toBeGreaterThan(legit + 0.15);
  });

  it('score = 2^(−E[h]/c(ψ)) and lies in (0, 1]', () => {
    const m = uniformMatrix(1000, 4, 3);
    const f = fitForest(m, { trees: 30 });
    const x = [0.5, 0.5, 0.5, 0.5];
    const s = score(f, x);
    expect(s).toBeCloseTo(Math.pow(2, -meanPathLength(f, x) / averagePathLength(f.sampleSize)), 12);
    expect(s).toBeGreaterThan(0);
    expect(s).toBeLessThanOrEqual(1);
    expect(score(f, [50, 50, 50, 50])).toBeGreaterThan(s);
  });
});

describe('worker threads', () => {
  it('build the same forest and scores as one thread', async () => {
    const m = syntheticMatrix(3000, 21);
    const one = await trainForest(m, { trees: 24, seed: 77, threads: 1 });
    const two = await trainForest(m, { trees: 24, seed: 77, threads: 2 });
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(sameForest(one.forest, two.forest)).toBe(true);
    expect(Array.from(two.scores)).toEqual(Array.from(one.scores));
    expect(two.scores.length).toBe(3000);
    expect(m.cols).toBe(VECTOR_COLUMNS.length);
  });

  it('never start more workers than trees', async () => {
    const r = await trainForest(uniformMatrix(200, 3, 5), { trees: 1, threads: 8 });
    expect(r.threads).toBe(1);
    expect(r.forest.trees.length).toBe(1);
  });
});
