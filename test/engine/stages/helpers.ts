// Shared fixtures of the stage tests: a compiled pack, the real MaxMind test databases, an
// in-process store (the same contract as Redis; the Redis path is covered end to end in
// engine.test.ts), and each stage's dependencies.
import { fileURLToPath } from 'node:url';
import { compilePack, packFromFiles, type CompiledPack } from '../../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../../../features/geoip.ts';
import { createMemoryStore, type MemoryStore } from '../../../features/store/index.ts';
import { createUserAgentParser } from '../../../features/useragent.ts';
import type { SignalDeps } from '../../../engine/stages/signals.ts';
import type { VigilEvent } from '../../../engine/types.ts';

export const GEO = fileURLToPath(new URL('../../../../shared/data/geoip/', import.meta.url));
export const LONDON = '81.2.69.142';
export const T0 = Date.parse('2026-11-24T18:00:00Z');
export const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

export function pack(src: string): CompiledPack {
  const r = compilePack(packFromFiles({ 'main.rules': src }), { scheme: VIGIL_SCHEME });
  if (!r.pack) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`).join('\n'));
  return r.pack;
}

export function event(over: Partial<VigilEvent> = {}): VigilEvent {
  return { type: 'login', userId: 'alice@example.com', ip: LONDON, deviceId: 'd-1', time: T0, userAgent: UA, ...over };
}

export function openGeo(): Promise<GeoIp> {
  return createGeoIp({ cityPath: GEO + 'GeoIP2-City-Test.mmdb', asnPath: GEO + 'GeoLite2-ASN-Test.mmdb', watch: false });
}

export function memoryStore(): MemoryStore {
  return createMemoryStore({ hashSecret: 'stage-test-secret' });
}

export function signalDeps(store: MemoryStore, geoip: GeoIp | null, failures: string[] = []): SignalDeps {
  return { store, geoip, ua: createUserAgentParser(), signalTimeoutMs: 1000, fail: (s) => failures.push(s) };
}
