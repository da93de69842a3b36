// `train()` and `vigil train`: every recorded line format, bad lines, labels, reproducible output,
// the CLI's exit codes, and worker-thread training in both layouts: the compiled build
// (`node bin/vigil.js train`, dist/training/iforest-worker.js) and the sources under tsx
// (`VIGIL_FROM_SOURCE=1`, training/iforest-worker.boot.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.ts';
import { runTrain } from '../../cli/train.ts';
import { score } from '../../training/iforest.ts';
import { readModelFile } from '../../features/model/file.ts';
import { syntheticRows } from '../../training/synthetic.ts';
import { train, TrainError } from '../../training/train.ts';
import { createEncoder } from '../../features/model/vector.ts';
import { DEFAULT_COLUMNS } from '../../training/columns.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir('vigil-train-');
const legit = syntheticRows(600, 41);
const attacks = syntheticRows(40, 41, 'stuffing');
const eventsPath = join(dir, 'events.ndjson');
writeFileSync(eventsPath, legit.map((r) => JSON.stringify(r)).join('\n') + '\n');

describe('train', () => {
  it('learns from recorder, simulate and replay lines, skipping outcomes and bad lines', async () => {
    const bad: [number, string][] = [];
    const lines = [
      JSON.stringify({ kind: 'decision', decision_id: 'd1', time: '2026-03-01T10:00:00Z', type: 'login', decision: 'allow', score: 0, features: legit[0]!.features }),
      JSON.stringify({ kind: 'outcome', decision_id: 'd1', outcome: 'succeeded' }),
      JSON.stringify({ event: 'login', features: legit[1]!.features }),
      'not json',
      '[1,2]',
      JSON.stringify({ features: 'nope' }),
      '',
      ...legit.slice(2, 300).map((r) => JSON.stringify({ features: r.features, label: 'legit' })),
    ];
    const r = await train({ events: lines, out: join(dir, 'mixed.onnx'), trees: 10, seed: 1, threads: 1, onBadLine: (n, why) => bad.push([n, why]) });
    expect(r.rows).toBe(300);
    expect(r.skipped).toBe(1);
    expect(r.badLines).toBe(3);
    expect(bad.map(([n]) => n)).toEqual([4, 5, 6]);
    expect(r.summary.from).toBe('2026-03-01T10:00:00.000Z');
    expect(r.summary.to).toBe('2026-03-01T10:00:00.000Z');
    expect(r.version).toMatch(/^iforest-2026-03-01-[0-9a-f]{7}$/);
    expect(readModelFile(readFileSync(join(dir, 'mixed.onnx'))).version).toBe(r.version);
  });

  it('is reproducible: same data and seed, same version; other seed, other version', async () => {
    const a = await train({ events: eventsPath, out: join(dir, 'a.onnx'), trees: 20, seed: 3, threads: 1 });
    const b = await train({ events: eventsPath, out: join(dir, 'b.onnx'), trees: 20, seed: 3, threads: 2 });
    const c = await train({ events: eventsPath, out: join(dir, 'c.onnx'), trees: 20, seed: 4, threads: 1 });
    expect(b.version).toBe(a.version);
    expect(b.threads).toBe(2);
    expect(c.version).not.toBe(a.version);
    expect(a.summary).toMatchObject({ rows: 600, trees: 20, sample_size: 256, seed: 3, columns: DEFAULT_COLUMNS.length, source: 'events.ndjson' });
    expect(a.summary.score_quantiles.p50).toBeLessThan(a.summary.score_quantiles.p99!);
    // No temporary file is left next to the output.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('legitOnly leaves labelled attacks out', async () => {
    const lines = [...legit.slice(0, 200), ...attacks].map((r) => JSON.stringify(r));
    const all = await train({ events: lines, out: join(dir, 'all.onnx'), trees: 40, seed: 2, threads: 1 });
    const clean = await train({ events: lines, out: join(dir, 'clean.onnx'), trees: 40, seed: 2, threads: 1, legitOnly: true });
    expect(all.rows).toBe(240);
    expect(clean.rows).toBe(200);
    expect(clean.skipped).toBe(40);
    // Attacks seen in training look less strange to the model that saw them.
    const enc = createEncoder(DEFAULT_COLUMNS);
    const x = new Float32Array(DEFAULT_COLUMNS.length);
    let sAll = 0;
    let sClean = 0;
    for (const a of attacks) {
      enc.encode(a.features, x);
      sAll += score(all.forest, x);
      sClean += score(clean.forest, x);
    }
    expect(sClean).toBeGreaterThan(sAll);
  });

  it('legitOnly keeps the owners\' account changes and leaves the takeover chains\' steps out', async () => {
    const change = (label: string, i: number): string =>
      JSON.stringify({ label, features: { ...legit[i]!.features, 'event.type': 'account_change', 'event.change': 'password', 'session.age': 300 + i, 'session.login_score': 0 } });
    const lines = [
      ...legit.slice(0, 100).map((r) => JSON.stringify(r)),
      ...Array.from({ length: 10 }, (_, i) => change('legit', i)),
      ...['phished_2fa', 'stolen_cookie', 'vpn_recovery'].map((l, i) => change(l, 20 + i)),
    ];
    const r = await train({ events: lines, out: join(dir, 'changes.onnx'), trees: 10, seed: 2, threads: 1, legitOnly: true });
    expect(r.rows).toBe(110);
    expect(r.skipped).toBe(3);
  });

  it('refuses input with fewer than two rows, and an unreadable file', async () => {
    await expect(train({ events: ['{"features":{}}', 'junk'], out: join(dir, 'x.onnx') })).rejects.toThrow(TrainError);
    await expect(train({ events: join(dir, 'missing.ndjson'), out: join(dir, 'x.onnx') })).rejects.toThrow(/cannot read/);
    expect(existsSync(join(dir, 'x.onnx'))).toBe(false);
  });

  it('reports a write failure as a TrainError', async () => {
    await expect(train({ events: eventsPath, out: join(dir, 'no', 'such', 'dir.onnx'), trees: 2, threads: 1 })).rejects.toThrow(TrainError);
  });
});

describe('vigil train (runTrain)', () => {
  it('writes the model and prints a summary (exit 0)', async () => {
    const io = bufferIO();
    const out = join(dir, 'cli.onnx');
    const code = await runTrain(['--events', eventsPath, '--out', out, '--trees', '12', '--sample', '64', '--seed', '5', '--threads', '1'], io);
    expect(code).toBe(0);
    expect(io.out()).toMatch(/^wrote .*cli\.onnx \(\d+ KiB\): iforest-\d{4}-\d{2}-\d{2}-[0-9a-f]{7}\n/);
    const file = readModelFile(readFileSync(out));
    expect(file.summary).toMatchObject({ rows: 600, trees: 12, sample_size: 64, seed: 5 });
  });

  it('--json prints one JSON object and lists bad lines on stderr', async () => {
    const p = join(dir, 'with-bad.ndjson');
    writeFileSync(p, `oops\n${readFileSync(eventsPath, 'utf8')}`);
    const io = bufferIO();
    expect(await runTrain(['--events', p, '--out', join(dir, 'j.onnx'), '--trees', '5', '--threads', '1', '--json'], io)).toBe(0);
    const report = JSON.parse(io.out()) as { rows: number; bad_lines: number; version: string };
    expect(report.rows).toBe(600);
    expect(report.bad_lines).toBe(1);
    expect(io.err()).toContain('with-bad.ndjson:1: not JSON');
  });

  it.each([
    [['--out', 'x.onnx'], '--events is required'],
    [['--events', 'e.ndjson'], '--out is required'],
    [['--events', 'e', '--out', 'o', '--trees', 'ten'], '--trees must be an integer'],
    [['--events', 'e', '--out', 'o', '--sample', '1'], '--sample must be an integer ≥ 2'],
    [['--events', 'e', '--out', 'o', '--bogus'], "unknown option '--bogus'"],
  ])('usage error %j exits 2', async (argv, msg) => {
    const io = bufferIO();
    expect(await runTrain(argv, io)).toBe(2);
    expect(io.err()).toContain(msg);
    expect(io.err()).toContain('Usage: vigil train');
  });

  it('--help prints usage and exits 0', async () => {
    const io = bufferIO();
    expect(await runTrain(['--help'], io)).toBe(0);
    expect(io.out()).toContain('--events FILE');
  });

  it('a missing events file exits 1', async () => {
    const io = bufferIO();
    expect(await runTrain(['--events', join(dir, 'nope.ndjson'), '--out', join(dir, 'n.onnx')], io)).toBe(1);
    expect(io.err()).toMatch(/cannot read/);
  });

  it('trains on worker threads from the compiled build (node bin/vigil.js train)', () => {
    const out = join(dir, 'dist.onnx');
    const argv = ['--events', eventsPath, '--out', out, '--trees', '20', '--seed', '3', '--threads', '2', '--json'];
    const r = spawnSync(process.execPath, [fileURLToPath(new URL('../../bin/vigil.js', import.meta.url)), 'train', ...argv], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as { threads: number }).threads).toBe(2);
    expect(readModelFile(readFileSync(out)).summary?.seed).toBe(3);
  });

  it('trains on worker threads in a process that loads tsx as VIGIL_FROM_SOURCE=1 bin/vigil.js does', () => {
    const script = [
      "import { register } from 'tsx/esm/api';",
      'register();',
      "const { runTrain } = await import('./cli/train.ts');",
      "const { processIO } = await import('./cli/io.ts');",
      'process.exitCode = await runTrain(JSON.parse(process.env.TRAIN_ARGV), processIO);',
    ].join('\n');
    const out = join(dir, 'bin.onnx');
    const r = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', script],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, TRAIN_ARGV: JSON.stringify(['--events', eventsPath, '--out', out, '--trees', '20', '--seed', '3', '--threads', '2', '--json']) },
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { threads: number; version: string };
    expect(report.threads).toBe(2);
    expect(readModelFile(readFileSync(out)).summary?.seed).toBe(3);
  });
});
