// `vigil model eval --events LABELLED.ndjson [--model M.onnx | --no-model] [--pack DIR] [--warmup-days N]
// [--plot roc.svg] [--json]`: replays labelled simulated traffic through the real engine
// (training/replay.ts) and reports, per attacker type, ROC AUC, PR AUC and TPR at 0.1% / 1% FPR of
// model.anomaly, rba.score and the pack's decisions, plus the pack's operating point and the
// targets (training/eval.ts). Options are declared and checked in cli/main.ts.
//
// Legitimate attempts count only from the warm-up day on (the engine has no history before), so
// data that ends before the warm-up does leaves nothing to measure: that is a usage error, found
// from the file's last line before the replay starts. Exit 0 ok, 1 a runtime failure, 2 bad usage.
import { closeSync, createReadStream, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { errorMessage } from '../common/errors.ts';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../features/geoip.ts';
import { DEFAULT_MODEL_PATH } from '../features/model/index.ts';
import { createChangesCollector, formatChangesReport } from '../training/changes-eval.ts';
import { createEvalCollector, formatReport, reportJson } from '../training/eval.ts';
import { loadOnnxScorer, replayThroughEngine, type AnomalyScorer } from '../training/replay.ts';
import { renderRocSvg } from '../training/roc-svg.ts';
import { UsageError } from './args.ts';
import type { CliIO } from './io.ts';
import { openPack } from './packs.ts';
import { count, startProgress } from './progress.ts';
import { DEFAULT_PACK } from './simulate.ts';

/** `vigil model eval`'s options as cli/main.ts parses them. */
export interface ModelEvalOptions {
  readonly events: string;
  /** ONNX model path; undefined: the shipped model; null: no model (--no-model). */
  readonly model?: string | null;
  readonly pack?: string;
  readonly warmupDays: number;
  readonly plot?: string;
  readonly json?: boolean;
}

export interface ModelEvalDeps {
  /** Loads the anomaly model (default: features/model/ through loadOnnxScorer; null: none available). */
  readonly loadModel?: ((path: string) => Promise<AnomalyScorer>) | null;
  /** GeoIP to use (default: the bundled databases, opened and closed by the command). */
  readonly geoip?: GeoIp;
}

const TAIL_BYTES = 1 << 16;

/** The last 64 KiB of a file, from its first whole line on. */
function fileTail(path: string, size: number): string {
  const len = Math.min(size, TAIL_BYTES);
  const buf = Buffer.alloc(len);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, len, size - len);
  } finally {
    closeSync(fd);
  }
  const text = buf.toString('utf8');
  return len < size ? text.slice(text.indexOf('\n') + 1) : text;
}

/** The `day` of the last non-blank line of `text`, when that line has one. */
function lastDay(text: string): number | undefined {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const t = lines[i]!.trim();
    if (t === '') continue;
    try {
      const v: unknown = JSON.parse(t);
      const day = typeof v === 'object' && v !== null && 'day' in v ? v.day : undefined;
      return typeof day === 'number' && Number.isInteger(day) && day >= 0 ? day : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function warmupTooLong(warmupDays: number, last: number): UsageError {
  return new UsageError(
    `--warmup-days ${warmupDays} leaves no legitimate attempt to measure: the events end on day ${last} (days count from 0); use --warmup-days ${last} or less`,
  );
}

/** `vigil model eval ARGV…` for callers holding an argument list (tests, scripts): the same as the command line. */
export async function runModelEval(argv: readonly string[], io: CliIO, deps: ModelEvalDeps = {}): Promise<number> {
  const { main } = await import('./main.ts');
  return main(['model', 'eval', ...argv], io, { modelEval: deps });
}

export async function modelEvalCommand(o: ModelEvalOptions, io: CliIO, deps: ModelEvalDeps = {}): Promise<number> {
  const fail = (msg: string): number => {
    io.stderr(`vigil model eval: error: ${msg}\n`);
    return 1;
  };
  const { events, warmupDays } = o;
  let size = 0;
  let stdinText: string | undefined;
  if (events === '-') stdinText = await io.stdin();
  else {
    try {
      const st = statSync(events);
      if (!st.isFile()) return fail(`${events}: not a file`);
      size = st.size;
    } catch {
      return fail(`${events}: no such file`);
    }
  }
  const last = lastDay(stdinText ?? fileTail(events, size));
  if (last !== undefined && last < warmupDays) throw warmupTooLong(warmupDays, last);

  const opened = openPack(o.pack ?? DEFAULT_PACK, VIGIL_SCHEME);
  if (!opened.ok) return fail(opened.message);
  const pack = opened.pack.result.pack;
  if (!pack) {
    if (opened.pack.rendered) io.stderr(`${opened.pack.rendered}\n`);
    return fail('the pack does not compile');
  }
  let model: AnomalyScorer | undefined;
  const modelPath = o.model === null ? undefined : (o.model ?? DEFAULT_MODEL_PATH);
  if (modelPath !== undefined) {
    const loadModel = deps.loadModel === undefined ? loadOnnxScorer : deps.loadModel;
    if (loadModel === null) return fail('no model loader is available in this build');
    try {
      model = await loadModel(modelPath);
    } catch (e) {
      return fail(`cannot load model ${modelPath}: ${errorMessage(e)}`);
    }
  }

  const geoip = deps.geoip ?? (await createGeoIp({ watch: false }));
  const collector = createEvalCollector({ warmupDays });
  const changes = createChangesCollector({ warmupDays });
  let sawChanges = false;
  const bad: string[] = [];
  let badCount = 0;
  let replayed = 0;
  let maxDay = -1;
  let bytesRead = 0;
  const progress = startProgress(io, 'model eval', { json: o.json === true });
  const where = (): string => (stdinText === undefined && size > 0 ? `, ${Math.floor((100 * bytesRead) / size)}% of ${(size / 1e6).toFixed(1)} MB` : '');
  async function* fileLines(path: string): AsyncGenerator<string> {
    const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of rl) {
      bytesRead += Buffer.byteLength(line) + 1;
      yield line;
    }
  }
  try {
    const lines = stdinText !== undefined ? stdinText.split('\n') : fileLines(events);
    const summary = await replayThroughEngine(lines, {
      pack,
      geoip,
      ...(model ? { model } : {}),
      onEvent: (e) => {
        collector.add(e);
        changes.add(e);
        if (e.line.request.type === 'account_change' || e.line.session !== undefined) sawChanges = true;
        if (e.line.day > maxDay) maxDay = e.line.day;
        replayed++;
        progress.update(() => `${count(replayed)} attempts replayed${where()}`);
      },
      onBadLine: (n, err) => {
        badCount++;
        if (bad.length < 5) bad.push(`line ${n}: ${err}`);
      },
    });
    progress.done();
    if (summary.events === 0) return fail(`${events}: no events to evaluate${badCount > 0 ? ` (${badCount} bad lines; ${bad.join('; ')})` : ''}`);
    if (maxDay < warmupDays) throw warmupTooLong(warmupDays, maxDay);
    const report = collector.report();
    const changesReport = sawChanges || summary.unsupportedChanges > 0 ? changes.report(summary.unsupportedChanges) : undefined;
    if (report.legit === 0) io.stderr(`vigil model eval: warning: no legitimate attempt on or after day ${warmupDays}\n`);
    if (o.json === true) {
      io.stdout(JSON.stringify({ ...(reportJson(report) as object), ...(changesReport ? { changes: changesReport } : {}), bad_lines: badCount }) + '\n');
    } else {
      io.stdout(`pack ${pack.name} v${pack.version}${model ? `, model ${model.version}` : ', no model'}: ${summary.events} attempts replayed\n`);
      io.stdout(formatReport(report));
      if (changesReport) io.stdout('\n' + formatChangesReport(changesReport));
    }
    if (badCount > 0) io.stderr(`vigil model eval: ${badCount} bad line(s) skipped: ${bad.join('; ')}\n`);
    if (o.plot !== undefined) writeFileSync(o.plot, renderRocSvg(collector.panels()));
    return 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return fail(errorMessage(e));
  } finally {
    progress.done();
    if (!deps.geoip) geoip.close();
    await model?.close?.().catch(() => undefined);
  }
}
