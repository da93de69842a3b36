// `vigil replay --from-log` and `vigil train --from-log`: decisions kept by the decision log (here
// PGlite in a data directory, as a bare `npm start` with VIGIL_DATA_DIR keeps them; PostgreSQL takes
// the same path through VIGIL_DECISION_LOG) replayed against a pack and turned into a model.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.ts';
import { main } from '../../cli/main.ts';
import { createDecisionLog } from '../../decisionlog/index.ts';
import { hashOf, testRow } from '../helpers/logrows.ts';
import { tempDir } from './helpers.ts';

const HOUR = 3_600_000;
const data = tempDir({
  'pack.rules': 'pack p version 1\nrule many_failures { when velocity.ip_failed_1h >= 10 then block }\nrule new_country { when not history.known_country score 60 }\npolicy { step_up when score >= 50 }\n',
});
const env = { VIGIL_DATA_DIR: `${data.dir}/vigil-data` };
const now = Date.now();

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIO('');
  const code = await main(argv, io, { env });
  return { code, out: io.out(), err: io.err() };
}

beforeAll(async () => {
  const log = await createDecisionLog({ dataDir: env.VIGIL_DATA_DIR, flushMs: 5 });
  for (let i = 0; i < 40; i++) {
    const features = { 'velocity.ip_failed_1h': i % 4 === 0 ? 25 : 1, 'history.known_country': i % 5 !== 0, 'geo.country': 'GB', 'rba.score': 0.5 + i / 10 };
    log.append(testRow(now - 2 * HOUR + i * 1000, { user: hashOf(`u${i}`), features, outcome: i % 2 === 0 ? 'succeeded' : null, outcomeAt: i % 2 === 0 ? now : null }));
  }
  // An old decision, outside --since 24h.
  log.append(testRow(now - 48 * HOUR, { user: hashOf('old'), features: { 'velocity.ip_failed_1h': 99 } }));
  await log.close();
}, 60_000);
afterAll(() => data.cleanup());

describe('--from-log', () => {
  it('replays the kept decisions of the range against a pack', async () => {
    const r = await run(['replay', '--json', `${data.dir}/pack.rules`, '--from-log', '--since', '24h']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { events: number; decisions: Record<string, number>; rules: { enforce: { name: string; count: number }[] } };
    expect(report.events).toBe(40);
    // i % 4 == 0 blocks (10); i % 5 == 0 is a new country (8), two of them blocked anyway (i = 0, 20).
    expect(report.decisions).toEqual({ allow: 24, step_up: 6, block: 10 });
    expect(report.rules.enforce).toEqual([
      { name: 'many_failures', count: 10 },
      { name: 'new_country', count: 8 },
    ]);
  }, 60_000);

  it('trains a model from the kept decisions', async () => {
    const out = `${data.dir}/from-log.onnx`;
    const r = await run(['train', '--from-log', '--since', '24h', '--out', out, '--trees', '5', '--sample', '16']);
    expect(r.code, r.err).toBe(0);
    expect(existsSync(out)).toBe(true);
  }, 60_000);

  it('refuses to mix a file with --from-log, --since without --from-log, or --from-log without --since (usage, exit 2)', async () => {
    for (const argv of [
      ['replay', `${data.dir}/pack.rules`, 'events.ndjson', '--from-log', '--since', '1h'],
      ['replay', `${data.dir}/pack.rules`, 'events.ndjson', '--since', '1h'],
      ['replay', `${data.dir}/pack.rules`, '--from-log'],
      ['replay', `${data.dir}/pack.rules`, '--from-log', '--since', 'yesterday'],
      ['train', '--out', 'x.onnx'],
      ['train', '--from-log', '--since', '1h', '--until', '2h', '--out', 'x.onnx'],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(/error: /);
    }
  });

  it('says when no log is configured, or the range holds nothing (exit 1)', async () => {
    const io = bufferIO('');
    expect(await main(['replay', `${data.dir}/pack.rules`, '--from-log', '--since', '1h'], io, { env: {} })).toBe(1);
    expect(io.err()).toMatch(/VIGIL_DECISION_LOG/);
    const empty = await run(['replay', `${data.dir}/pack.rules`, '--from-log', '--since', '2026-01-01T00:00:00Z', '--until', '2026-01-02T00:00:00Z']);
    expect(empty.code).toBe(1);
    expect(empty.err).toMatch(/no decision/);
  }, 60_000);
});
