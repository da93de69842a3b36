// `vigil train --events EVENTS.ndjson --out model.onnx [--trees N] [--sample N] [--seed N]`: builds
// the ONNX anomaly model from recorded feature rows (training/train.ts) and prints what it wrote.
// Options are declared and checked in cli/main.ts. Exit 0 written, 1 bad input (unreadable file, no
// rows, cannot write), 2 usage.
import type { CliIO } from './io.ts';
import { startProgress } from './progress.ts';
import { DEFAULT_SAMPLE_SIZE, DEFAULT_SEED, DEFAULT_TREES } from '../training/iforest.ts';
import { train, TrainError } from '../training/train.ts';

const MAX_BAD_LINES_SHOWN = 5;

/** `vigil train`'s options as cli/main.ts parses them. */
export interface TrainCliOptions {
  readonly events: string;
  readonly out: string;
  readonly trees?: number;
  readonly sample?: number;
  readonly seed?: number;
  readonly threads?: number;
  readonly legitOnly?: boolean;
  readonly json?: boolean;
}

/** `vigil train ARGV…` for callers holding an argument list (tests, scripts): the same as the command line. */
export async function runTrain(argv: readonly string[], io: CliIO): Promise<number> {
  const { main } = await import('./main.ts');
  return main(['train', ...argv], io);
}

export async function trainCommand(o: TrainCliOptions, io: CliIO): Promise<number> {
  const trees = o.trees ?? DEFAULT_TREES;
  const badShown: string[] = [];
  // training/train.ts reports nothing while it reads and grows trees, so the line shows elapsed time.
  const progress = startProgress(io, 'train', { json: o.json === true });
  progress.whileWaiting(() => `reading ${o.events} and growing ${trees} trees`);
  try {
    const r = await train({
      events: o.events,
      out: o.out,
      trees,
      sampleSize: o.sample ?? DEFAULT_SAMPLE_SIZE,
      seed: o.seed ?? DEFAULT_SEED,
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      legitOnly: o.legitOnly === true,
      onBadLine: (lineNo, reason) => {
        if (badShown.length < MAX_BAD_LINES_SHOWN) badShown.push(`${o.events}:${lineNo}: ${reason}`);
      },
    });
    progress.done();
    for (const b of badShown) io.stderr(`vigil train: skipped ${b}\n`);
    if (r.badLines > badShown.length) io.stderr(`vigil train: … ${r.badLines - badShown.length} more bad lines skipped\n`);
    const report = {
      out: r.out,
      version: r.version,
      bytes: r.bytes,
      rows: r.rows,
      bad_lines: r.badLines,
      skipped: r.skipped,
      threads: r.threads,
      ms: Math.round(r.ms),
      summary: r.summary,
    };
    if (o.json) io.stdout(JSON.stringify(report) + '\n');
    else {
      const q = r.summary.score_quantiles;
      io.stdout(
        `wrote ${r.out} (${(r.bytes / 1024).toFixed(0)} KiB): ${r.version}\n` +
          `  ${r.rows} rows${r.summary.from ? ` from ${r.summary.from} to ${r.summary.to}` : ''}, ${r.badLines} bad lines, ${r.skipped} skipped\n` +
          `  ${r.summary.trees} trees, ψ = ${r.summary.sample_size}, seed ${r.summary.seed}, ${r.threads} thread(s), ${Math.round(r.ms)} ms\n` +
          `  training scores: ${Object.entries(q)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}\n`,
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof TrainError || e instanceof RangeError) {
      progress.done();
      io.stderr(`vigil train: error: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    progress.done();
  }
}
