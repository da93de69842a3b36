// `vigil replay --workers N` prints exactly what `--workers 1` prints: the same counts, the same bad
// lines with the same line numbers, the same baseline changes, in file order, however the chunks
// fell to the threads. The file is cut into tiny chunks and the main thread leaves them all to the
// workers (MainDeps.replay), so that the workers do share out a small file. Also how a file is cut
// (line-aligned chunks covering it exactly) and that a file holding API request bodies is replayed
// in order on one thread.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.ts';
import { main } from '../../cli/main.ts';
import { lineAlignedChunks } from '../../cli/replay-core.ts';
import type { ReplayReport } from '../../cli/replay.ts';
import { generateEvents } from '../../bench/lib/events.ts';
import { tempDir } from './helpers.ts';

const BLOCK_LOGINS = `pack block_logins version 1
rule all_logins {
  on login
  when event.type == "login"
  then block
}
`;

function mixedFile(): string {
  const records = generateEvents(400, 3).map((e) => JSON.stringify({ event: e.type, features: e.features }));
  const odd = [
    '',
    'not json',
    '{"event":"login","features":{"geo.contry":"GB"}}',
    '{"event":"login","features":{"velocity.ip_failed_10m":"many"}}',
    '  {"event":"recovery","features":{"geo.tor":true,"ip.address":"::FFFF:203.0.113.77"}}  ',
    '{"event":"login","features":{"ip.address":"2001:DB8::1"}}\r',
    '{"event":"logout","features":{}}',
    '[1]',
  ];
  const lines: string[] = [];
  records.forEach((r, i) => {
    lines.push(r);
    if (i % 37 === 0) lines.push(odd[(i / 37) % odd.length]!);
  });
  return lines.join('\n'); // no final newline: the last line still counts
}

const t = tempDir({ 'mixed.ndjson': mixedFile(), 'block_logins.rules': BLOCK_LOGINS });
afterAll(() => t.cleanup());
const at = (p: string): string => `${t.dir}/${p}`;

/** With one worker the file is read whole (one chunk); with more, in `chunkBytes` pieces the workers share. */
async function replay(args: string[], workers: number, chunkBytes = 512): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIO();
  const code = await main(['replay', '--workers', String(workers), ...args], io, workers === 1 ? {} : { replay: { chunkBytes, mainThreadIdle: true } });
  return { code, out: io.out(), err: io.err() };
}

function withoutTiming(r: ReplayReport): Omit<ReplayReport, 'seconds' | 'events_per_second'> {
  const { seconds: _s, events_per_second: _e, ...rest } = r;
  return rest;
}

describe('replay --workers', () => {
  it('N workers report exactly what one does (JSON, with a baseline)', async () => {
    const args = ['--json', 'rules/login_core', '--baseline', at('block_logins.rules'), at('mixed.ndjson')];
    const one = await replay(args, 1);
    expect(one.code).toBe(0);
    const base = JSON.parse(one.out) as ReplayReport;
    expect(base.events).toBeGreaterThan(390);
    expect(base.invalid).toBeGreaterThan(3);
    expect(base.baseline?.changed).toBeGreaterThan(10);
    for (const n of [2, 3]) {
      const r = await replay(args, n);
      expect(r.code).toBe(0);
      expect(withoutTiming(JSON.parse(r.out) as ReplayReport)).toEqual(withoutTiming(base));
    }
  });

  it('and the same text report, bad lines on stderr with their line numbers', async () => {
    const args = ['rules/login_core', at('mixed.ndjson')];
    const one = await replay(args, 1);
    const two = await replay(args, 2);
    const body = (s: string): string => s.replace(/\n\d+ events in .*\n$/, '\n');
    expect(body(two.out)).toBe(body(one.out));
    expect(two.err).toBe(one.err);
    expect(one.err).toMatch(/mixed\.ndjson:\d+: invalid JSON/);
  });

  it('a chunk size larger than the file runs on one thread and says the same', async () => {
    const args = ['--json', 'rules/login_core', at('mixed.ndjson')];
    const small = JSON.parse((await replay(args, 2, 512)).out) as ReplayReport;
    const whole = JSON.parse((await replay(args, 2, 1 << 24)).out) as ReplayReport;
    expect(withoutTiming(whole)).toEqual(withoutTiming(small));
  });

  it('a file holding API request bodies is replayed in order on one thread, with the same result', async () => {
    const lines = mixedFile().split('\n');
    lines.splice(300, 0, JSON.stringify({ type: 'login', user: { id: 'u-1' }, ip: '203.0.113.9', time: '2026-11-24T18:00:00Z' }));
    const f = tempDir({ 'bodies.ndjson': lines.join('\n') });
    try {
      const args = ['--json', '--events-only', 'rules/login_core', `${f.dir}/bodies.ndjson`];
      const one = JSON.parse((await replay(args, 1)).out) as ReplayReport;
      const two = await replay(args, 2);
      expect(two.err).toBe('');
      expect(withoutTiming(JSON.parse(two.out) as ReplayReport)).toEqual(withoutTiming(one));
    } finally {
      f.cleanup();
    }
  });
});

describe('lineAlignedChunks', () => {
  it('covers the file exactly, every chunk starting at a line start', () => {
    const path = at('mixed.ndjson');
    const text = readFileSync(path);
    for (const size of [1, 100, 4096, 1 << 20]) {
      const chunks = lineAlignedChunks(path, text.length, size);
      expect(chunks[0]!.start).toBe(0);
      expect(chunks[chunks.length - 1]!.end).toBe(text.length);
      chunks.forEach((c, k) => {
        expect(c.end).toBeGreaterThan(c.start);
        if (k > 0) {
          expect(c.start).toBe(chunks[k - 1]!.end);
          expect(text[c.start - 1]).toBe(0x0a);
        }
      });
    }
  });

  it('a line longer than the chunk size stays whole', () => {
    const long = 'x'.repeat(200_000);
    const f = tempDir({ 'long.ndjson': `a\n${long}\nb\n` });
    try {
      const chunks = lineAlignedChunks(`${f.dir}/long.ndjson`, long.length + 6, 1000);
      expect(chunks.map((c) => [c.start, c.end])).toEqual([
        [0, long.length + 3],
        [long.length + 3, long.length + 6],
      ]);
    } finally {
      f.cleanup();
    }
  });
});
