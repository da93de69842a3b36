// `vigil train --events EVENTS.ndjson --out model.onnx [--trees N] [--sample N] [--seed N]`: builds
// the ONNX anomaly model from recorded feature rows (training/train.ts). Parses its own arguments so
// cli/main.ts only forwards them. Exit 0 written, 1 bad input (unreadable file, no rows, cannot
// write), 2 usage.
import { parseArgs } from 'node:util';
import type { CliIO } from './io.ts';
import { DEFAULT_SAMPLE_SIZE, DEFAULT_SEED, DEFAULT_TREES } from '../training/iforest.ts';
import { train, TrainError } from '../training/train.ts';

export const TRAIN_USAGE = `Usage: vigil train --events EVENTS.ndjson --out MODEL.onnx [options]

Build the ONNX anomaly model (isolation forest) from recorded feature rows: VIGIL_RECORD decision
rows, \`vigil simulate --features-out\` rows, or {"event","features"} lines.

Options:
  --events FILE     NDJSON feature rows (required)
  --out FILE        where to write the .onnx model (required; replaced atomically)
  --trees N         number of trees (default ${DEFAULT_TREES})
  --sample N        rows drawn per tree, ψ (default ${DEFAULT_SAMPLE_SIZE})
  --seed N          random seed (default ${DEFAULT_SEED}); the same data and seed give the same model
  --threads N       worker threads (default: all cores for large inputs, else 1)
  --legit-only      skip rows labelled other than "legit" (labelled simulated traffic)
  --json            print the report as one JSON object
  -h, --help        show this help
`;

const EXIT_USAGE = 2;
const MAX_BAD_LINES_SHOWN = 5;

function positiveInt(name: string, v: string | undefined, fallback: number, min = 1): number | string {
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v)) return `--${name} must be an integer, got ${JSON.stringify(v)}`;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) return `--${name} must be an integer ≥ ${min}, got ${v}`;
  return n;
}

export async function runTrain(argv: readonly string[], io: CliIO): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        events: { type: 'string' },
        out: { type: 'string' },
        trees: { type: 'string' },
        sample: { type: 'string' },
        seed: { type: 'string' },
        threads: { type: 'string' },
        'legit-only': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    io.stderr(`vigil train: ${e instanceof Error ? e.message : String(e)}\n\n${TRAIN_USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.stdout(TRAIN_USAGE);
    return 0;
  }
  const problems: string[] = [];
  if (values.events === undefined) problems.push('--events is required');
  if (values.out === undefined) problems.push('--out is required');
  const trees = positiveInt('trees', values.trees, DEFAULT_TREES);
  const sample = positiveInt('sample', values.sample, DEFAULT_SAMPLE_SIZE, 2);
  const seed = positiveInt('seed', values.seed, DEFAULT_SEED, -2147483648);
  const threads = positiveInt('threads', values.threads, 0);
  for (const v of [trees, sample, seed, threads]) if (typeof v === 'string') problems.push(v);
  if (problems.length > 0 || values.events === undefined || values.out === undefined) {
    io.stderr(`vigil train: ${problems.join('; ')}\n\n${TRAIN_USAGE}`);
    return EXIT_USAGE;
  }
  const badShown: string[] = [];
  try {
    const r = await train({
      events: values.events,
      out: values.out,
      trees: trees as number,
      sampleSize: sample as number,
      seed: seed as number,
      ...(values.threads !== undefined ? { threads: threads as number } : {}),
      legitOnly: values['legit-only'] === true,
      onBadLine: (lineNo, reason) => {
        if (badShown.length < MAX_BAD_LINES_SHOWN) badShown.push(`${values.events}:${lineNo}: ${reason}`);
      },
    });
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
    if (values.json) io.stdout(JSON.stringify(report) + '\n');
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
      io.stderr(`vigil train: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
