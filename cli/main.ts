// The `vigil` command line (shared/spec/interfaces.md "CLI"): wires commander to the commands in
// cli/*.ts. `main` never exits the process and never throws for user errors: it returns the exit code
// (0 ok, 1 a failed check/test/bad input, 2 usage), and writes through an injected CliIO so tests run
// it in-process. Usage errors print commander's message and the help on stderr.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import type { Scheme } from '../dsl/index.ts';
import { runCheck } from './check.ts';
import { runEval } from './eval.ts';
import { processIO, type CliIO } from './io.ts';
import { runReplay, type FeatureDeriver } from './replay.ts';
import { runTest } from './test.ts';

export type { CliIO } from './io.ts';

export interface MainDeps {
  readonly scheme?: Scheme;
  /** How replay turns API request bodies into features (default: event-only, cli/replay.ts). */
  readonly derive?: FeatureDeriver;
}

export const EXIT_USAGE = 2;

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const v = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
    return typeof v === 'string' ? v : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function buildProgram(io: CliIO, deps: MainDeps, setCode: (n: number) => void): Command {
  const scheme = deps.scheme ?? VIGIL_SCHEME;
  const program = new Command('vigil')
    .description('Vigil: account-security risk engine (rules packs, backtests, HTTP API)')
    .addHelpText(
      'after',
      `
Model and traffic commands (each has its own --help):
  train --events EVENTS.ndjson --out MODEL.onnx   build the ONNX anomaly model from recorded features
  model eval --events LABELLED.ndjson             ROC/PR AUC and operating points of model, rba.score, pack
  simulate --users N --days D --seed S --out F    seeded, labelled sign-in traffic (legit users + attackers)
  explain DECISION_ID                             why a stored decision was made (admin API of a running Vigil)`,
    )
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      outputError: (s, write) => write(s),
    });

  program
    .command('check')
    .description('parse and type-check a pack; print its diagnostics (exit 1 on errors)')
    .argument('<pack>', 'a pack directory or a .rules file')
    .action((pack: string) => setCode(runCheck(pack, io, scheme)));

  program
    .command('test')
    .description("run a pack's tests; the last line is `N passed, M failed`")
    .argument('<pack>', 'a pack directory or a .rules file')
    .option('-v, --verbose', 'also list the tests that passed')
    .action((pack: string, o: { verbose?: boolean }) => setCode(runTest(pack, io, scheme, { verbose: o.verbose === true })));

  program
    .command('eval')
    .description('evaluate one event given feature values and print the result JSON')
    .argument('<pack>', 'a pack directory or a .rules file')
    .requiredOption('--event <type>', `event type (${scheme.eventTypes.join(', ')})`)
    .requiredOption('--features <file>', 'JSON object of feature name → value (durations in seconds); - reads stdin')
    .action(async (pack: string, o: { event: string; features: string }) =>
      setCode(await runEval(pack, { event: o.event, features: o.features }, io, scheme)),
    );

  program
    .command('replay')
    .description('backtest a pack on recorded events (NDJSON) and report decisions and rule hits')
    .argument('<pack>', 'a pack directory or a .rules file')
    .argument('<events>', 'NDJSON file: {"event","features"} lines or POST /v1/evaluate bodies; - reads stdin')
    .option('--baseline <pack>', 'compare with this pack and list every decision that changes')
    .option('--json', 'print the report as one JSON object')
    .option('--events-only', 'derive only the request\'s own features from API bodies (no GeoIP, no signal store)')
    .action(async (pack: string, events: string, o: { baseline?: string; json?: boolean; eventsOnly?: boolean }) =>
      setCode(
        await runReplay(
          pack,
          events,
          {
            ...(o.baseline !== undefined ? { baseline: o.baseline } : {}),
            json: o.json === true,
            eventsOnly: o.eventsOnly === true,
            ...(deps.derive ? { derive: deps.derive } : {}),
          },
          io,
          scheme,
        ),
      ),
    );

  program
    .command('serve')
    .description('run the HTTP API (same as npm start)')
    .action(async () => {
      const { runServer } = await import('../api/server.ts');
      await runServer();
      setCode(0);
    });

  return program;
}

/**
 * Commands that parse their own arguments (they load heavy modules — onnxruntime, GeoIP — so they
 * are imported only when called).
 */
async function ownParser(argv: readonly string[], io: CliIO): Promise<number | undefined> {
  const [cmd, sub] = argv;
  if (cmd === 'train') return (await import('./train.ts')).runTrain(argv.slice(1), io);
  if (cmd === 'simulate') return (await import('./simulate.ts')).runSimulate(argv.slice(1), io);
  if (cmd === 'explain') return (await import('./explain.ts')).runExplain(argv.slice(1), io);
  if (cmd === 'model' && sub === 'eval') return (await import('./model-eval.ts')).runModelEval(argv.slice(2), io);
  if (cmd === 'model') {
    io.stderr('usage: vigil model eval --events LABELLED.ndjson [options]\n');
    return EXIT_USAGE;
  }
  return undefined;
}

export async function main(argv: string[], io: CliIO = processIO, deps: MainDeps = {}): Promise<number> {
  const own = await ownParser(argv, io).catch((e: unknown) => {
    io.stderr(`vigil: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  });
  if (own !== undefined) return own;
  let code = 0;
  const program = buildProgram(io, deps, (n) => {
    code = n;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE;
    io.stderr(`vigil: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  return code;
}
