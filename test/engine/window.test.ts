// The outcome window's record (engine/window.ts): a compact round trip of the store's EventContext
// and the applied outcome; anything else decodes to null (treated as an unknown decision).
import { describe, expect, it } from 'vitest';
import { decodeWindow, encodeWindow } from '../../engine/window.ts';
import { rbaFields } from '../../features/rba.ts';
import { createMemoryStore } from '../../features/store/index.ts';

const store = createMemoryStore({ hashSecret: 'window-test' });
const full = store.context({
  type: 'recovery',
  userId: 'alice@example.com',
  ip: '81.2.69.142',
  time: 1_790_000_000_000,
  deviceId: 'd-1',
  country: 'GB',
  asn: 20712,
  lat: 51.5,
  lon: -0.09,
  browser: 'Chrome',
  os: 'Windows',
  rbaFields: rbaFields({ ip: '81.2.69.142', asn: 20712, country: 'GB', ua: 'UA', browser: 'Chrome', os: 'Windows', deviceType: 'desktop' }),
});
const bare = store.context({ type: 'login', userId: 'bob', ip: '2001:db8::1', time: 1 });

describe('outcome window record', () => {
  it('round-trips a full and a bare context, with and without an outcome', () => {
    expect(decodeWindow(encodeWindow(full))).toEqual({ ctx: full, outcome: null });
    expect(decodeWindow(encodeWindow(bare, 'failed'))).toEqual({ ctx: bare, outcome: 'failed' });
  });

  it('holds no raw identifier and writes the address\'s rba field once', () => {
    const raw = encodeWindow(full);
    for (const s of ['alice', '81.2.69.142', 'd-1']) expect(raw).not.toContain(s);
    expect(raw.split(full.ip).length - 1).toBe(1);
    expect(raw.length).toBeLessThan(400);
  });

  it('refuses what is not a record: bad JSON, another version, a damaged context, an unknown outcome', () => {
    const good = JSON.parse(encodeWindow(full)) as unknown[];
    const variants: unknown[] = [
      [2, ...good.slice(1)],
      good.slice(0, 13),
      good.map((v, i) => (i === 3 ? 'not a digest' : v)),
      good.map((v, i) => (i === 13 ? 'granted' : v)),
      good.map((v, i) => (i === 2 ? 'yesterday' : v)),
    ];
    for (const v of variants) expect(decodeWindow(JSON.stringify(v))).toBeNull();
    expect(decodeWindow('{')).toBeNull();
    expect(decodeWindow('{"ctx":{}}')).toBeNull();
  });
});
