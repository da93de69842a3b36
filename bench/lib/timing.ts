// Timing helpers for the benchmarks: medians over repeated rounds, each long enough that timer
// resolution and one-off pauses do not dominate.

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Milliseconds `fn` takes, median of `runs` runs (after `warmup` untimed ones). */
export function medianMs(fn: () => void, runs: number, warmup = 1): { median: number; all: number[] } {
  for (let i = 0; i < warmup; i++) fn();
  const all: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    all.push(performance.now() - t0);
  }
  return { median: median(all), all };
}

/**
 * Nanoseconds per operation of `op(i)` for i in 0..n-1: passes over all n are repeated until a
 * round lasts at least `minRoundMs`, and the median of `rounds` rounds is reported.
 */
export function nsPerOp(op: (i: number) => void, n: number, opts: { rounds?: number; minRoundMs?: number; warmupPasses?: number } = {}): number {
  const rounds = opts.rounds ?? 5;
  const minRoundNs = (opts.minRoundMs ?? 200) * 1e6;
  for (let p = 0; p < (opts.warmupPasses ?? 2); p++) for (let i = 0; i < n; i++) op(i);
  const per: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let ops = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    do {
      for (let i = 0; i < n; i++) op(i);
      ops += n;
      elapsed = Number(process.hrtime.bigint() - t0);
    } while (elapsed < minRoundNs);
    per.push(elapsed / ops);
  }
  return median(per);
}

/** The same for an asynchronous operation (awaited one at a time). */
export async function nsPerOpAsync(op: (i: number) => Promise<unknown>, n: number, opts: { rounds?: number; warmupPasses?: number } = {}): Promise<number> {
  for (let p = 0; p < (opts.warmupPasses ?? 1); p++) for (let i = 0; i < n; i++) await op(i);
  const per: number[] = [];
  for (let r = 0; r < (opts.rounds ?? 3); r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await op(i);
    per.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return median(per);
}

export function fmtNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${Math.round(ns)} ns`;
}
