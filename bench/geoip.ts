// Benchmark of the in-process signal sources: GeoIP start time and memory with the bundled npm data
// (and with MaxMind's test databases), lookups per second, and ip/user-agent parsing rates.
// Run: `node --expose-gc --import tsx bench/geoip.ts` (without --expose-gc memory is noisier).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGeoIp, type GeoIp } from '../features/geoip.ts';
import { isPrivateIp, parseIp } from '../features/ip.ts';
import { createUserAgentParser } from '../features/useragent.ts';

const DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/data/geoip');

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Random public-looking addresses: a realistic mix of hits, misses and IPv6. */
function addresses(n: number): string[] {
  let seed = 42;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 5 === 4) {
      const a = rnd();
      out.push(`2a0${a & 7}:${((a >>> 4) & 0xffff).toString(16)}:${(rnd() & 0xffff).toString(16)}::${(rnd() & 0xffff).toString(16)}`);
    } else {
      const a = rnd();
      out.push(`${1 + (a % 223)}.${(a >>> 8) & 255}.${(a >>> 16) & 255}.${(a >>> 24) & 255}`);
    }
  }
  return out;
}

function rate(label: string, ops: number, fn: (i: number) => void): void {
  for (let i = 0; i < Math.min(ops, 20_000); i++) fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0);
  console.log(`${label.padEnd(44)} ${Math.round((ops * 1e9) / ns).toLocaleString('en').padStart(12)} /s   ${(ns / ops / 1000).toFixed(2)} µs each`);
}

async function start(label: string, open: () => Promise<GeoIp>): Promise<GeoIp> {
  gc();
  const m0 = process.memoryUsage();
  const t0 = performance.now();
  const geo = await open();
  const ms = performance.now() - t0;
  gc();
  const m1 = process.memoryUsage();
  console.log(
    `${label.padEnd(44)} start ${ms.toFixed(0)} ms   rss +${mb(m1.rss - m0.rss)}   heap +${mb(m1.heapUsed - m0.heapUsed)}   buffers +${mb(m1.arrayBuffers - m0.arrayBuffers)}`,
  );
  return geo;
}

const ips = addresses(100_000);
const n = ips.length;

const bundled = await start('bundled (GeoLite2 City mmdb + ASN CSV)', () => createGeoIp({ watch: false }));
const test = await start('MaxMind test DBs (City + ASN + Anon)', () =>
  createGeoIp({
    cityPath: join(DATA, 'GeoIP2-City-Test.mmdb'),
    asnPath: join(DATA, 'GeoLite2-ASN-Test.mmdb'),
    anonPath: join(DATA, 'GeoIP2-Anonymous-IP-Test.mmdb'),
    watch: false,
  }),
);
console.log(`rss now ${mb(process.memoryUsage().rss)}`);

const hits = ips.filter((ip) => bundled.lookup(ip).country !== undefined).length;
console.log(`bundled data: ${((hits / n) * 100).toFixed(0)}% of the random addresses have a country`);
rate('geoip lookup, bundled, random addresses', 300_000, (i) => bundled.lookup(ips[i % n] as string));
rate('geoip lookup, bundled, one hot address', 300_000, () => bundled.lookup('81.2.69.142'));
const parsed = ips.map((ip) => parseIp(ip));
rate('geoip lookupParsed, bundled, random', 300_000, (i) => {
  const p = parsed[i % n];
  if (p) bundled.lookupParsed(p);
});
rate('geoip lookup, test DBs, random addresses', 300_000, (i) => test.lookup(ips[i % n] as string));
rate('parseIp + isPrivateIp', 1_000_000, (i) => {
  const p = parseIp(ips[i % n] as string);
  if (p) isPrivateIp(p);
});

const uas = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
];
const cached = createUserAgentParser();
rate('user agent, cached (4 distinct agents)', 1_000_000, (i) => cached.parse(uas[i & 3]));
const uncached = createUserAgentParser({ cacheSize: 1 });
rate('user agent, uncached (every agent new)', 5_000, (i) => uncached.parse(`${uas[i & 3]} build/${i}`));

bundled.close();
test.close();
