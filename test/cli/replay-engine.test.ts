// `vigil replay` over API request bodies runs the real engine: GeoIP from the MaxMind test
// databases, an in-process store that learns from the outcomes carried on the lines, in file order.
import { afterAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { run, tempDir } from './helpers.ts';

const GEO = fileURLToPath(new URL('../../../shared/data/geoip/', import.meta.url));
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

function body(ip: string, device: string, time: string): Record<string, unknown> {
  return { type: 'login', user: { id: 'alice' }, ip, device: { id: device, user_agent: UA }, time };
}

const lines = [
  // three ordinary sign-ins from London teach the history
  { ...body('81.2.69.142', 'laptop', '2026-11-20T08:00:00Z'), outcome: 'succeeded' },
  { ...body('81.2.69.142', 'laptop', '2026-11-21T08:00:00Z'), outcome: 'succeeded' },
  { request: body('81.2.69.142', 'laptop', '2026-11-22T08:00:00Z'), outcome: 'succeeded', label: 'legit' },
  // five minutes later from Changchun on a new device
  body('175.16.199.0', 'unknown-phone', '2026-11-22T08:05:00Z'),
  { ...body('81.2.69.142', 'laptop', '2026-11-22T09:00:00Z'), outcome: 'bogus' },
];

describe('vigil replay through the engine', () => {
  const t = tempDir({ 'events.ndjson': lines.map((l) => JSON.stringify(l)).join('\n') + '\n' });
  afterAll(() => t.cleanup());
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });

  it('computes GeoIP and history features and learns from outcomes', async () => {
    process.env.VIGIL_GEOIP_CITY = GEO + 'GeoIP2-City-Test.mmdb';
    process.env.VIGIL_GEOIP_ASN = GEO + 'GeoLite2-ASN-Test.mmdb';
    const r = await run(['replay', 'rules/login_core', `${t.dir}/events.ndjson`, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as {
      events: number;
      invalid: number;
      decisions: Record<string, number>;
      rules: { enforce: { name: string; count: number }[] };
      errors: { line: number }[];
    };
    expect(report.events).toBe(4);
    expect(report.invalid).toBe(1);
    expect(report.errors.map((e) => e.line)).toEqual([5]);
    expect(report.decisions.step_up).toBe(1);
    expect(report.rules.enforce.map((x) => x.name)).toContain('impossible_travel');
  });

  it('with --events-only, the same file has no history to go on', async () => {
    const r = await run(['replay', 'rules/login_core', `${t.dir}/events.ndjson`, '--json', '--events-only']);
    const report = JSON.parse(r.out) as { decisions: Record<string, number>; rules: { enforce: { name: string }[] } };
    expect(report.rules.enforce.map((x) => x.name)).not.toContain('impossible_travel');
    expect(report.decisions.step_up ?? 0).toBe(0);
  });
});
