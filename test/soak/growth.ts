// The soak's pass/fail criterion, on its own so that a test can pin it. Heap in use swings with every
// garbage collection, so each window's figure is its lowest heap sample (what survived the last
// collection: the live set); a leak raises that floor. After the warm-up, the least-squares slope of
// the window floors against time must stay under the heap limit (MiB per minute), and the slope of
// RSS under the RSS limit.

export interface Sample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly heap: number;
  readonly rss: number;
}

export interface Window {
  /** End of the window, seconds since the load started. */
  readonly t: number;
  /** Lowest heap-in-use sample of the window (bytes). */
  readonly heapFloor: number;
  readonly heapMax: number;
  /** RSS at the window's end (bytes). */
  readonly rss: number;
}

export interface Verdict {
  readonly heapSlope: number;
  readonly rssSlope: number;
  readonly windows: number;
  readonly ok: boolean;
  readonly reasons: string[];
}

const MiB = 1024 * 1024;

/** Least-squares slope of y against x (0 with fewer than two points). */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Group samples into windows of `seconds` (a window is reported once it has ended). */
export function windows(samples: readonly Sample[], seconds: number): Window[] {
  const out: Window[] = [];
  let cur: Sample[] = [];
  let end = seconds;
  for (const s of samples) {
    while (s.t > end) {
      if (cur.length > 0) out.push(windowOf(cur, end));
      cur = [];
      end += seconds;
    }
    cur.push(s);
  }
  if (cur.length > 0 && cur[cur.length - 1]!.t >= end - 1e-9) out.push(windowOf(cur, end));
  return out;
}

function windowOf(ss: readonly Sample[], end: number): Window {
  return { t: end, heapFloor: Math.min(...ss.map((s) => s.heap)), heapMax: Math.max(...ss.map((s) => s.heap)), rss: ss[ss.length - 1]!.rss };
}

/** The verdict on the windows after `warmupSeconds`: slopes in MiB/min against the limits. */
export function judge(ws: readonly Window[], warmupSeconds: number, maxHeapMiBPerMin: number, maxRssMiBPerMin: number): Verdict {
  const after = ws.filter((w) => w.t > warmupSeconds);
  const mins = after.map((w) => w.t / 60);
  const heapSlope = slope(mins, after.map((w) => w.heapFloor / MiB));
  const rssSlope = slope(mins, after.map((w) => w.rss / MiB));
  const reasons: string[] = [];
  if (after.length < 3) reasons.push(`only ${after.length} windows after the warm-up: run longer or sample more often`);
  if (heapSlope > maxHeapMiBPerMin) reasons.push(`heap floor grows ${heapSlope.toFixed(2)} MiB/min after the warm-up (limit ${maxHeapMiBPerMin})`);
  if (rssSlope > maxRssMiBPerMin) reasons.push(`RSS grows ${rssSlope.toFixed(2)} MiB/min after the warm-up (limit ${maxRssMiBPerMin})`);
  return { heapSlope, rssSlope, windows: after.length, ok: reasons.length === 0, reasons };
}
