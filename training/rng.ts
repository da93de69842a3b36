// The one PRNG core of training/: sfc32 (Chris Doty-Humphrey's small fast chaotic generator), uniform
// in [0, 1). Seeding differs by caller (a string for the simulator's named streams, numbers for
// the forest's per-tree streams), the generator does not: same seed words, same sequence.

/** sfc32 from four 32-bit seed words, after `warmup` discarded outputs (early ones echo the seed). */
export function sfc32(a: number, b: number, c: number, d: number, warmup: number): () => number {
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < warmup; i++) next();
  return next;
}
