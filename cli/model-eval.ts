// `vigil model eval --events LABELLED.ndjson [--model M.onnx | --no-model] [--pack DIR] [--warmup-days N]
// [--plot roc.svg] [--json]`: replays labelled simulated traffic through the real engine
// (training/replay.ts) and reports, per attacker type, ROC AUC, PR AUC and TPR at 0.1% / 1% FPR of
// model.anomaly, rba.score and the pack's decisions, plus the pack's operating point and the
// targets (training/eval.ts). Exit 0 ok, 1 a runtime failure, 2 bad usage.
import { createReadStream, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { errorMessage } from '../common/errors.ts';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../features/geoip.ts';
import { DEFAULT_MODEL_PATH } from '../features/model/index.ts';
import { createEvalCollector, formatReport, reportJson } from '../training/eval.ts';
import { loadOnnxScorer, replayThroughEngine, type AnomalyScorer } from '../training/replay.ts';
import { renderRocSvg } from '../training/roc-svg.ts';
import type { CliIO } from './io.ts';
import { openPack } from './packs.ts';
import { DEFAULT_PACK } from './simulate.ts';

export const MODEL_EVAL_USAGE = `usage: vigil model eval --events LABELLED.ndjson [options]
  --events FILE       output of \`vigil simulate\` (- reads standard input)
  --model FILE        ONNX anomaly model (default: the shipped model, as \`vigil serve\` uses)
  --no-model          evaluate without a model (model.* missing; the model column shows n/a)
  --pack DIR          rule pack whose decisions are measured (default rules/login_core)
  --warmup-days N     legitimate attempts count from this day on (default 10); attacks always count
  --plot FILE         write an SVG ROC plot
  --json              print the report as JSON
`;

export interface ModelEvalDeps {
  /** Loads the anomaly model (default: features/model's scorer through loadOnnxScorer; null: none available). */
  readonly loadModel?: ((path: string) => Promise<AnomalyScorer>) | null;
  /** GeoIP to use (default: the bundled databases, opened and closed by the command). */
  readonly geoip?: GeoIp;
}

async function* fileLines(path: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of rl) yield line;
}

export async function runModelEval(argv: readonly string[], io: CliIO, deps: ModelEvalDeps = {}): Promise<number> {
  let values: { events?: string; model?: string; 'no-model'?: boolean; pack?: string; 'warmup-days'?: string; plot?: string; json?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        events: { type: 'string' },
        model: { type: 'string' },
        'no-model': { type: 'boolean' },
        pack: { type: 'string' },
        'warmup-days': { type: 'string' },
        plot: { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    io.stderr(`vigil model eval: ${errorMessage(e)}\n${MODEL_EVAL_USAGE}`);
    return 2;
  }
  const usage = (msg: string): number => {
    io.stderr(`vigil model eval: ${msg}\n${MODEL_EVAL_USAGE}`);
    return 2;
  };
  if (values.events === undefined) return usage('--events is required');
  if (values['no-model'] && values.model !== undefined) return usage('--model and --no-model exclude each other');
  const modelPath = values['no-model'] ? undefined : (values.model ?? DEFAULT_MODEL_PATH);
  const warmupText = values['warmup-days'] ?? '10';
  if (!/^\d+$/.test(warmupText)) return usage('--warmup-days must be a non-negative integer');
  const warmupDays = Number(warmupText);

  const events = values.events;
  if (events !== '-') {
    try {
      if (!statSync(events).isFile()) {
        io.stderr(`vigil model eval: ${events}: not a file\n`);
        return 1;
      }
    } catch {
      io.stderr(`vigil model eval: ${events}: no such file\n`);
      return 1;
    }
  }
  const opened = openPack(values.pack ?? DEFAULT_PACK, VIGIL_SCHEME);
  if (!opened.ok) {
    io.stderr(`vigil model eval: ${opened.message}\n`);
    return 1;
  }
  const pack = opened.pack.result.pack;
  if (!pack) {
    io.stderr(`vigil model eval: the pack does not compile:\n${opened.pack.rendered}`);
    return 1;
  }
  let model: AnomalyScorer | undefined;
  if (modelPath !== undefined) {
    const loadModel = deps.loadModel === undefined ? loadOnnxScorer : deps.loadModel;
    if (loadModel === null) {
      io.stderr('vigil model eval: no model loader is available in this build\n');
      return 1;
    }
    try {
      model = await loadModel(modelPath);
    } catch (e) {
      io.stderr(`vigil model eval: cannot load model ${modelPath}: ${errorMessage(e)}\n`);
      return 1;
    }
  }

  const geoip = deps.geoip ?? (await createGeoIp({ watch: false }));
  const collector = createEvalCollector({ warmupDays });
  const bad: string[] = [];
  let badCount = 0;
  try {
    const lines = events === '-' ? (await io.stdin()).split('\n') : fileLines(events);
    const summary = await replayThroughEngine(lines, {
      pack,
      geoip,
      ...(model ? { model } : {}),
      onEvent: (e) => collector.add(e),
      onBadLine: (n, err) => {
        badCount++;
        if (bad.length < 5) bad.push(`line ${n}: ${err}`);
      },
    });
    if (summary.events === 0) {
      io.stderr(`vigil model eval: ${events}: no events to evaluate${badCount > 0 ? ` (${badCount} bad lines; ${bad.join('; ')})` : ''}\n`);
      return 1;
    }
    const report = collector.report();
    if (report.legit === 0) io.stderr(`vigil model eval: no legitimate attempt on or after day ${warmupDays}; lower --warmup-days\n`);
    if (values.json === true) io.stdout(JSON.stringify({ ...(reportJson(report) as object), bad_lines: badCount }) + '\n');
    else {
      io.stdout(`pack ${pack.name} v${pack.version}${model ? `, model ${model.version}` : ', no model'}: ${summary.events} attempts replayed\n`);
      io.stdout(formatReport(report));
    }
    if (badCount > 0) io.stderr(`vigil model eval: ${badCount} bad line(s) skipped: ${bad.join('; ')}\n`);
    if (values.plot !== undefined) writeFileSync(values.plot, renderRocSvg(collector.panels()));
    return 0;
  } catch (e) {
    io.stderr(`vigil model eval: ${errorMessage(e)}\n`);
    return 1;
  } finally {
    if (!deps.geoip) geoip.close();
    await model?.close?.().catch(() => undefined);
  }
}
