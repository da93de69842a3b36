// `vigil eval PACK --event TYPE --features FILE|-`: evaluate one event from a JSON feature record
// (feature name → value; durations in seconds, ips as strings, null = missing) and print the result
// JSON (`decision`, `score`, `rules`, `shadow`). Bad JSON, unknown features and wrong types are
// reported one a line on stderr, exit 1; never a stack trace.
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../common/errors.ts';
import { evaluateRecord, type Scheme } from '../dsl/index.ts';
import type { CliIO } from './io.ts';
import { openPack } from './packs.ts';

export interface EvalOptions {
  readonly event: string;
  readonly features: string;
}

async function readInput(file: string, io: CliIO): Promise<{ ok: true; text: string } | { ok: false; message: string }> {
  if (file === '-') return { ok: true, text: await io.stdin() };
  try {
    return { ok: true, text: await readFile(file, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, message: `${file}: ${code === 'ENOENT' ? 'no such file' : errorMessage(e)}` };
  }
}

export async function runEval(path: string, opts: EvalOptions, io: CliIO, scheme: Scheme): Promise<number> {
  const fail = (msg: string): number => {
    io.stderr(`vigil eval: error: ${msg}\n`);
    return 1;
  };
  const opened = openPack(path, scheme);
  if (!opened.ok) return fail(opened.message);
  const p = opened.pack;
  if (!p.result.pack) {
    if (p.rendered) io.stdout(`${p.rendered}\n`);
    return fail(`${path} does not compile (${p.errors} error${p.errors === 1 ? '' : 's'})`);
  }
  const input = await readInput(opts.features, io);
  if (!input.ok) return fail(input.message);
  const source = opts.features === '-' ? 'stdin' : opts.features;
  let record: unknown;
  try {
    record = JSON.parse(input.text);
  } catch (e) {
    return fail(`${source}: invalid JSON: ${errorMessage(e)}`);
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return fail(`${source}: expected a JSON object of feature name → value`);
  }
  const r = evaluateRecord(p.result.pack, opts.event, record as Record<string, unknown>, { scheme });
  if (!r.ok) {
    for (const e of r.errors) io.stderr(`vigil eval: error: ${source}: ${e}\n`);
    return 1;
  }
  const { decision, score, rules, shadow } = r.decision;
  io.stdout(`${JSON.stringify({ decision, score, rules, shadow }, null, 2)}\n`);
  return 0;
}
