// A small PNG reader for the console test's screenshots: enough of the format to tell a rendered
// page from a blank one (dimensions and the number of distinct colours), with node:zlib. It reads
// what Chromium writes: 8-bit greyscale, RGB or RGBA, not interlaced.
import { inflateSync } from 'node:zlib';

export interface PngStats {
  readonly width: number;
  readonly height: number;
  /** Distinct colours (alpha ignored), counted up to `cap`. */
  readonly colours: number;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function pngStats(buf: Buffer, cap = 4096): PngStats {
  if (!buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off + 8 <= buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      const colourType = data[9] ?? -1;
      if (depth !== 8 || data[12] !== 0) throw new Error('only 8-bit, non-interlaced PNGs are read here');
      channels = CHANNELS[colourType] ?? 0;
      if (channels === 0) throw new Error(`unsupported PNG colour type ${colourType}`);
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const colourChannels = channels === 4 ? 3 : channels === 2 ? 1 : channels;
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  const seen = new Set<number>();
  for (let y = 0; y < height; y++) {
    const base = y * (stride + 1);
    const filter = raw[base];
    for (let i = 0; i < stride; i++) {
      const x = raw[base + 1 + i]!;
      const a = i >= channels ? cur[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      let v: number;
      switch (filter) {
        case 0: v = x; break;
        case 1: v = x + a; break;
        case 2: v = x + b; break;
        case 3: v = x + ((a + b) >> 1); break;
        case 4: v = x + paeth(a, b, c); break;
        default: throw new Error(`bad PNG filter ${filter}`);
      }
      cur[i] = v & 0xff;
    }
    if (seen.size < cap) {
      for (let p = 0; p < stride; p += channels) {
        let key = 0;
        for (let k = 0; k < colourChannels; k++) key = key * 256 + cur[p + k]!;
        seen.add(key);
      }
    }
    [prev, cur] = [cur, prev];
  }
  return { width, height, colours: Math.min(seen.size, cap) };
}
