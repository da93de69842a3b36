// Recording for training: decision and outcome rows reach an NDJSON file or a Redis stream, carry no
// raw identifier, and a bad target is refused.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { compilePack, packFromFiles } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { createMemoryStore } from '../../features/store/index.ts';
import { createEngine } from '../../engine/index.ts';
import { fileRecorder, parseRecordTarget, redisStreamRecorder, type Recorder } from '../../engine/recorder.ts';
import { redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.ts';

const pack = compilePack(packFromFiles({ 'p.rules': 'pack p version 1\nrule r { when geo.country == "CN" then block }' }), {
  scheme: VIGIL_SCHEME,
}).pack!;

async function drive(recorder: Recorder): Promise<string> {
  const engine = createEngine({
    store: createMemoryStore({ hashSecret: 'rec-secret' }),
    geoip: null,
    packs: () => ({ pack }),
    signalTimeoutMs: 100,
    recorder,
  });
  const r = await engine.evaluate({ type: 'login', userId: 'raw-user-1', ip: '203.0.113.77', deviceId: 'raw-dev-1', time: Date.now() });
  await new Promise((res) => setTimeout(res, 20));
  expect(await engine.outcome(r.decision_id, 'failed')).toBe('ok');
  await engine.close();
  return r.decision_id;
}

describe('recorder', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('appends decision and outcome rows to an NDJSON file, without identifiers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-rec-'));
    dirs.push(dir);
    const path = join(dir, 'events.ndjson');
    const id = await drive(fileRecorder(path));
    const text = await readFile(path, 'utf8');
    const rows = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => r.kind)).toEqual(['decision', 'outcome']);
    expect(rows[0]).toMatchObject({ decision_id: id, type: 'login', decision: 'allow', score: 0 });
    expect((rows[0]!.features as Record<string, unknown>)['ip.private']).toBe(true);
    expect(rows[1]).toEqual({ kind: 'outcome', decision_id: id, outcome: 'failed' });
    expect(text).not.toContain('raw-user-1');
    expect(text).not.toContain('raw-dev-1');
    expect(text).not.toContain('203.0.113.77');
  });

  it('appends to a capped Redis stream', async () => {
    await requireRedis();
    const client = new Redis(redisUrl());
    const stream = `${uniquePrefix('rec')}stream`;
    try {
      const id = await drive(redisStreamRecorder(client, stream, 100));
      const entries = await client.xrange(stream, '-', '+');
      const rows = entries.map(([, fields]) => JSON.parse(fields[1]!) as Record<string, unknown>);
      expect(rows.map((r) => [r.kind, r.decision_id])).toEqual([
        ['decision', id],
        ['outcome', id],
      ]);
    } finally {
      await client.del(stream);
      client.disconnect();
    }
  });

  it('parses VIGIL_RECORD targets and refuses others', () => {
    expect(parseRecordTarget('file:/var/lib/vigil/events.ndjson')).toEqual({ kind: 'file', path: '/var/lib/vigil/events.ndjson' });
    expect(parseRecordTarget('redis:vigil:events')).toEqual({ kind: 'redis', stream: 'vigil:events' });
    expect(parseRecordTarget('file:')).toBeNull();
    expect(parseRecordTarget('redis:has space')).toBeNull();
    expect(parseRecordTarget('/tmp/x.ndjson')).toBeNull();
  });
});
