// A real scrape of the production server: runServer in this process (the default engine with the
// in-process store, the GeoIP test databases, the shipped model, no decision log), a few requests
// that touch every kind of series (an evaluation, an erasure by user id, an unknown path, a refused
// pack), then GET /metrics. test/api/metrics.test.ts asserts the series; test/deploy checks that the
// dashboard and the alert rules query only metrics it exposes.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runServer } from '../../api/server.ts';

const GEO = fileURLToPath(new URL('../../../shared/data/geoip/', import.meta.url));
export const SCRAPE_ADMIN_TOKEN = 'scrape-admin-token-0123456789';
/** The raw user id the scrape's erasure names in its URL: it must appear in no label. */
export const SCRAPE_RAW_USER_ID = 'u-raw-id-4471';
/** An unknown path holding an id-like segment: it must appear in no label either. */
export const SCRAPE_UNKNOWN_PATH = '/v1/nothing/d-raw-9f2c';

export interface Scrape {
  readonly text: string;
  readonly contentType: string;
}

export async function scrapeRealServer(): Promise<Scrape> {
  const server = await runServer(
    {
      PORT: '0',
      VIGIL_HASH_SECRET: 'scrape-hash-secret-0123456789',
      VIGIL_ADMIN_TOKEN: SCRAPE_ADMIN_TOKEN,
      VIGIL_DECISION_LOG: 'off',
      VIGIL_LOG_LEVEL: 'silent',
      VIGIL_GEOIP_CITY: join(GEO, 'GeoIP2-City-Test.mmdb'),
      VIGIL_GEOIP_ASN: join(GEO, 'GeoLite2-ASN-Test.mmdb'),
      VIGIL_SIGNAL_TIMEOUT_MS: '5000',
    },
    { signals: false },
  );
  const base = `http://127.0.0.1:${server.port}`;
  const admin = { authorization: `Bearer ${SCRAPE_ADMIN_TOKEN}` };
  try {
    const ev = await fetch(`${base}/v1/evaluate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'login', user: { id: SCRAPE_RAW_USER_ID }, ip: '81.2.69.142', device: { id: 'd-1', user_agent: 'Mozilla/5.0' } }),
    });
    if (ev.status !== 200) throw new Error(`evaluate answered ${ev.status}: ${await ev.text()}`);
    const erase = await fetch(`${base}/v1/users/${SCRAPE_RAW_USER_ID}/history`, { method: 'DELETE', headers: admin });
    if (erase.status !== 200) throw new Error(`erase answered ${erase.status}: ${await erase.text()}`);
    await (await fetch(`${base}${SCRAPE_UNKNOWN_PATH}`)).text();
    const refused = await fetch(`${base}/v1/packs/active`, {
      method: 'PUT',
      headers: { ...admin, 'content-type': 'text/plain' },
      body: 'pack broken version 1\nrule r { when no.such.feature then block }\n',
    });
    if (refused.status !== 422) throw new Error(`a broken pack answered ${refused.status}`);
    const res = await fetch(`${base}/metrics`);
    return { text: await res.text(), contentType: res.headers.get('content-type') ?? '' };
  } finally {
    await server.close();
  }
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition (what prom-client writes: no timestamps). */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Metric family names and their types, from the `# TYPE` lines. */
export function metricTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
  return types;
}
