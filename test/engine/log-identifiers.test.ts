// Log lines of the engine's failure paths carry no raw identifier (issue 15, point 5): a GeoIP
// database that fails on one address's record makes the event degraded and logs one warning,
// without the address (the reader's error message used to name it).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reader } from 'mmdb-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../engine/index.ts';
import { openGeoIp } from '../../features/geoip.ts';
import { createMemoryStore } from '../../features/store/index.ts';
import { logSink, testPackManager } from '../api/helpers.ts';

const GEO = fileURLToPath(new URL('../../../shared/data/geoip', import.meta.url));
const ADDRESS = '89.160.20.112';
const dir = mkdtempSync(join(tmpdir(), 'vigil-logids-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The City test database with the record of ADDRESS (only) made undecodable. */
function damagedCity(): string {
  const src = readFileSync(join(GEO, 'GeoIP2-City-Test.mmdb'));
  const reader = new Reader(src) as unknown as {
    metadata: { nodeCount: number; searchTreeSize: number };
    findAddressInTree(ip: string): [number, number];
  };
  const [pointer] = reader.findAddressInTree(ADDRESS);
  const offset = pointer - reader.metadata.nodeCount + reader.metadata.searchTreeSize;
  const buf = Buffer.from(src);
  // An extended type byte naming no type: the decoder throws "Unknown type".
  buf[offset] = 0x0f;
  buf[offset + 1] = 0x0f;
  const path = join(dir, 'city.mmdb');
  writeFileSync(path, buf);
  return path;
}

describe('engine failure logs', () => {
  it('a GeoIP read failure is logged once per event without the address; the answer is degraded', async () => {
    const logs = logSink();
    const packs = testPackManager({ logger: logs.logger });
    await packs.start();
    const geoip = await openGeoIp({ city: damagedCity(), watch: false });
    const engine = createEngine({
      store: createMemoryStore({ hashSecret: 'log-ids-secret-0123456789' }),
      geoip,
      packs: () => packs.current(),
      signalTimeoutMs: 1000,
      logger: logs.logger,
    });
    try {
      const r = await engine.evaluate({ type: 'login', userId: 'user-7f3a', ip: ADDRESS, deviceId: 'device-9c1e', time: Date.now() });
      expect(r.degraded).toBe(true);
      const warned = logs.lines.filter((l) => l.msg === 'GeoIP lookup failed');
      expect(warned).toHaveLength(1);
      expect(String(warned[0]?.err)).toMatch(/failed to read an address/);
      const text = JSON.stringify(logs.lines);
      for (const id of [ADDRESS, 'user-7f3a', 'device-9c1e']) expect(text).not.toContain(id);
    } finally {
      await engine.close();
      await packs.close();
    }
  });
});
