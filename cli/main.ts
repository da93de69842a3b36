// The `vigil` command line (shared/spec/interfaces.md "CLI"): every command and its options,
// declared with commander so each has `--help`, typed values (cli/args.ts) and the same errors.
// What a command does lives in its own module, imported only when that command runs, so `vigil
// --help` or `vigil check` never loads the engine, GeoIP, onnxruntime, Redis or Express.
//
// `main` never exits the process and never throws for user errors: it returns the exit code — 0 ok,
// 1 refused or failed (a check with errors, a failing test, unreadable input, a server's refusal),
// 2 usage, 3 server unreachable (the admin client commands: pack, list, counters, audit) — and writes
// through an injected CliIO so tests run it in-process. Every error is one line on stderr,
// `vigil CMD: error: …`; a usage error is followed by the command's usage line and where to find
// its help.
import { assetPath } from '../common/paths.ts';
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import type { Scheme } from '../dsl/index.ts';
import { errorMessage } from '../common/errors.ts';
import { EVENT_TYPES } from '../features/event-types.ts';
import {
  ACTOR,
  ACTOR_RULE,
  decimal,
  durationArg,
  httpUrl,
  integer,
  isoTime,
  matching,
  nonEmpty,
  reasonArg,
  sinceArg,
  usageMessage,
  UsageError,
} from './args.ts';
import { processIO, type CliIO } from './io.ts';
import { instantArg } from './from-log.ts';
import type { ModelEvalDeps } from './model-eval.ts';
import type { FeatureDeriver, ReplayTuning } from './replay.ts';
import type { SimulateCliOptions, SimulateDeps } from './simulate.ts';
import type { TrainCliOptions } from './train.ts';

export type { CliIO } from './io.ts';

/** What tests and embedders may swap out; each field only matters to the commands named. */
export interface MainDeps {
  /** check, test, eval, replay. */
  readonly scheme?: Scheme;
  /** replay: how API request bodies become features (default: the engine, cli/replay-engine.ts). */
  readonly derive?: FeatureDeriver;
  /** replay: how a file is cut and shared out (tests make the pieces small). */
  readonly replay?: ReplayTuning;
  readonly simulate?: SimulateDeps;
  readonly modelEval?: ModelEvalDeps;
  /**
   * explain and the admin client commands: VIGIL_URL, VIGIL_ADMIN_TOKEN (and VIGIL_ACTOR); explain:
   * VIGIL_MODEL; --from-log: VIGIL_DECISION_LOG, VIGIL_DATA_DIR (default process.env).
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The events a command reads: the file given, or with --from-log the decision log's decisions for
 * --since/--until exported to a temporary file (removed afterwards). Exactly one of them.
 */
async function withEvents(
  cmd: string,
  file: string | undefined,
  o: { readonly fromLog?: boolean; readonly since?: number; readonly until?: number },
  io: CliIO,
  env: Readonly<Record<string, string | undefined>>,
  run: (events: string) => Promise<number>,
): Promise<number> {
  if (o.fromLog !== true) {
    if (o.since !== undefined || o.until !== undefined) throw new UsageError('--since and --until go with --from-log');
    if (file === undefined) throw new UsageError(cmd === 'train' ? '--events is required (or --from-log)' : "missing required argument 'events' (or --from-log)");
    return run(file);
  }
  if (file !== undefined) throw new UsageError(`give an events file or --from-log, not both`);
  if (o.since === undefined) throw new UsageError('--from-log needs --since (e.g. --since 24h)');
  if (o.until !== undefined && o.until <= o.since) throw new UsageError('--until must lie after --since');
  const { exportFromLog } = await import('./from-log.ts');
  let exported: Awaited<ReturnType<typeof exportFromLog>>;
  try {
    exported = await exportFromLog({ since: o.since, ...(o.until !== undefined ? { until: o.until } : {}) }, env);
  } catch (e) {
    io.stderr(`vigil ${cmd}: error: cannot read the decision log: ${errorMessage(e)}\n`);
    return 1;
  }
  try {
    if (exported.rows === 0) {
      io.stderr(`vigil ${cmd}: error: the decision log holds no decision from ${new Date(o.since).toISOString()} on\n`);
      return 1;
    }
    return await run(exported.path);
  } finally {
    await exported.cleanup();
  }
}

export const EXIT_USAGE = 2;

/** Defaults owned by the CLI itself (training's defaults are applied by cli/train.ts). */
export const DEFAULT_WARMUP_DAYS = 10;
export const MAX_REPLAY_WORKERS = 64;

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(assetPath('package.json'), 'utf8'));
    const v = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
    return typeof v === 'string' ? v : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** One error style for every command, including commander's own parse errors. */
function configureErrors(cmd: Command, io: CliIO): void {
  const name = fullName(cmd);
  cmd
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      outputError: (s, write) => write(`${name}: error: ${usageMessage(s)}\n`),
    })
    .showHelpAfterError(`Usage: ${name} ${cmd.usage()}  (see '${name} --help')`);
  for (const sub of cmd.commands) configureErrors(sub, io);
}

interface Running {
  /** The command running now, for the prefix of an error it throws. */
  name: string;
  code: number;
}

/**
 * The action of `cmd`: runs `fn` with the command's arguments and stores its exit code. A
 * UsageError from inside becomes a commander usage error (same output, exit 2).
 */
function action<A extends unknown[]>(cmd: Command, running: Running, fn: (...args: A) => Promise<number> | number): Command {
  return cmd.action(async (...args: unknown[]) => {
    running.name = fullName(cmd);
    try {
      running.code = await fn(...(args as A));
    } catch (e) {
      if (e instanceof UsageError) cmd.error(e.message, { exitCode: EXIT_USAGE, code: 'vigil.usage' });
      throw e;
    }
  });
}

function buildProgram(io: CliIO, deps: MainDeps, running: Running): Command {
  // The registry (and what it imports) is loaded by the commands that compile a pack, not by --help.
  const env = deps.env ?? process.env;
  const schemeOf = async (): Promise<Scheme> => deps.scheme ?? (await import('../features/catalog.ts')).VIGIL_SCHEME;
  const program = new Command('vigil')
    .description('Vigil: account-security risk engine (rule packs, backtests, HTTP API, anomaly model)')
    .version(packageVersion())
    .exitOverride();

  action(
    program
      .command('check')
      .description('parse and type-check a pack; print its diagnostics (exit 1 on errors)')
      .argument('<pack>', 'a pack directory or a .rules file'),
    running,
    async (pack: string) => (await import('./check.ts')).runCheck(pack, io, await schemeOf()),
  );

  action(
    program
      .command('test')
      .description("run a pack's tests; the last line is `N passed, M failed` (exit 1 unless all pass)")
      .argument('<pack>', 'a pack directory or a .rules file')
      .option('-v, --verbose', 'also list the tests that passed'),
    running,
    async (pack: string, o: { verbose?: boolean }) => (await import('./test.ts')).runTest(pack, io, await schemeOf(), { verbose: o.verbose === true }),
  );

  action(
    program
      .command('eval')
      .description('evaluate one event given feature values and print the result JSON (exit 1 on a bad pack or input)')
      .argument('<pack>', 'a pack directory or a .rules file')
      .requiredOption('--event <type>', `event type (${(deps.scheme?.eventTypes ?? EVENT_TYPES).join(', ')})`)
      .requiredOption('--features <file>', 'JSON object of feature name → value (durations in seconds); - reads stdin'),
    running,
    async (pack: string, o: { event: string; features: string }) =>
      (await import('./eval.ts')).runEval(pack, { event: o.event, features: o.features }, io, await schemeOf()),
  );

  action(
    program
      .command('replay')
      .description('backtest a pack on recorded events (NDJSON) and report decisions and rule hits')
      .argument('<pack>', 'a pack directory or a .rules file')
      .argument('[events]', 'NDJSON file: {"event","features"} lines or POST /v1/evaluate bodies; - reads stdin (or --from-log)')
      .option('--from-log', "replay the decisions the decision log kept (VIGIL_DECISION_LOG, or VIGIL_DATA_DIR's embedded database) instead of a file")
      .option('--since <when>', 'with --from-log: from this long ago (24h, 7d) or this ISO date-time', instantArg('--since'))
      .option('--until <when>', 'with --from-log: up to this long ago or this ISO date-time (default now)', instantArg('--until'))
      .option('--baseline <pack>', 'compare with this pack and list every decision that changes')
      .option('--json', 'print the report as one JSON object')
      .option('--events-only', "derive only the request's own features from API bodies (no GeoIP, no signal store)")
      .option(
        '--workers <n>',
        'threads sharing a file of feature records (a file holding API bodies, and stdin, are replayed on one)',
        integer('--workers', 1, MAX_REPLAY_WORKERS),
        1,
      ),
    running,
    async (
      pack: string,
      eventsArg: string | undefined,
      o: { baseline?: string; json?: boolean; eventsOnly?: boolean; workers: number; fromLog?: boolean; since?: number; until?: number },
    ) =>
      withEvents('replay', eventsArg, o, io, env, async (events) =>
        (await import('./replay.ts')).runReplay(
        pack,
        events,
        {
          ...(o.baseline !== undefined ? { baseline: o.baseline } : {}),
          json: o.json === true,
          eventsOnly: o.eventsOnly === true,
          workers: o.workers,
          ...(deps.derive ? { derive: deps.derive } : {}),
          ...(deps.replay ? { tuning: deps.replay } : {}),
        },
        io,
        await schemeOf(),
      ),
      ),
  );

  action(program.command('serve').description('run the HTTP API (same as npm start; configured by environment, see docs/operations.md)'), running, async () => {
    await (await import('../api/server.ts')).runServer();
    return 0;
  });

  action(
    program
      .command('train')
      .description('build the ONNX anomaly model (isolation forest) from recorded feature rows')
      .usage('--events FILE --out MODEL.onnx [options]')
      .option('--events <file>', 'NDJSON feature rows: VIGIL_RECORD decision rows, `vigil simulate --features-out` rows or {"event","features"} lines')
      .option('--from-log', "train on the decisions the decision log kept (VIGIL_DECISION_LOG, or VIGIL_DATA_DIR's embedded database)")
      .option('--since <when>', 'with --from-log: from this long ago (30d) or this ISO date-time', instantArg('--since'))
      .option('--until <when>', 'with --from-log: up to this long ago or this ISO date-time (default now)', instantArg('--until'))
      .requiredOption('--out <file>', 'where to write the .onnx model (replaced atomically)')
      .option('--trees <n>', 'number of trees (default 100)', integer('--trees', 1))
      .option('--sample <n>', 'rows drawn per tree, ψ (default 256)', integer('--sample', 2))
      .option('--seed <n>', 'random seed (default 1); the same data and seed give the same model', integer('--seed', -2147483648))
      .option('--threads <n>', 'worker threads (default: all cores for large inputs, else 1)', integer('--threads', 1))
      .option('--legit-only', 'skip rows labelled other than "legit" (labelled simulated traffic)')
      .option('--json', 'print the report as one JSON object'),
    running,
    async (o: TrainCliOptions & { fromLog?: boolean; since?: number; until?: number }) =>
      withEvents('train', o.events, o, io, env, async (events) => (await import('./train.ts')).trainCommand({ ...o, events }, io)),
  );

  const model = program.command('model').description('anomaly model tools: `model eval` measures the model, rba.score and a pack on labelled traffic');
  const evalCmd = model
    .command('eval')
    .description("replay labelled traffic through the engine and report ROC/PR AUC and operating points of the model, rba.score and the pack's decisions")
    .usage('--events FILE [options]')
    .requiredOption('--events <file>', 'output of `vigil simulate` (- reads standard input)')
    .option('--model <file>', 'ONNX anomaly model (default: the shipped model, as `vigil serve` uses)')
    .option('--no-model', 'evaluate without a model (model.* missing; the model column shows n/a)')
    .option('--pack <dir>', 'rule pack whose decisions are measured (default rules/login_core)')
    .option(
      '--warmup-days <n>',
      `legitimate attempts count from this day on; must be below the last day of the data (default ${DEFAULT_WARMUP_DAYS}); attacks always count`,
      integer('--warmup-days', 0, 366),
      DEFAULT_WARMUP_DAYS,
    )
    .option('--plot <file>', 'write an SVG ROC plot')
    .option('--json', 'print the report as JSON');
  // --model FILE and --no-model set the same value; seeing both is a contradiction, not "last wins".
  const modelFlags = new Set<string>();
  evalCmd.on('option:model', () => modelFlags.add('--model')).on('option:no-model', () => modelFlags.add('--no-model'));
  action(evalCmd, running, async (o: { events: string; model?: string | false; pack?: string; warmupDays: number; plot?: string; json?: boolean }) => {
    if (modelFlags.size > 1) throw new UsageError('--model and --no-model exclude each other');
    const { modelEvalCommand } = await import('./model-eval.ts');
    return modelEvalCommand(
      {
        events: o.events,
        model: o.model === false ? null : o.model,
        ...(o.pack !== undefined ? { pack: o.pack } : {}),
        warmupDays: o.warmupDays,
        ...(o.plot !== undefined ? { plot: o.plot } : {}),
        json: o.json === true,
      },
      io,
      deps.modelEval,
    );
  });

  action(
    program
      .command('simulate')
      .description('write seeded, labelled sign-in traffic (legitimate users and attackers) as NDJSON')
      .usage('--users N --days D --seed S [options]')
      .requiredOption('--users <n>', 'simulated users', integer('--users', 1, 1_000_000))
      .requiredOption('--days <n>', 'simulated days', integer('--days', 1, 366))
      .requiredOption('--seed <s>', 'seed: the same options and seed give the same file', nonEmpty('--seed'))
      .option('--out <file>', 'NDJSON output (default: standard output; - too)')
      .option('--attacks <list>', 'comma list of naive, vpn, targeted, stuffing, or none (default: all)')
      .option('--attack-start-day <n>', 'first day with attacks (default: days/3, so victims have a history)', integer('--attack-start-day', 0, 365))
      .option('--attack-scale <x>', 'multiply every attack volume (default 1)', decimal('--attack-scale', 0, 100))
      .option('--start <time>', 'first simulated instant, ISO 8601 (default 2026-01-05T00:00:00Z)', isoTime('--start'))
      .option('--features-out <file>', 'also replay the traffic through the engine and write the training rows `vigil train --events` reads')
      .option('--pack <dir>', 'pack used for that replay (default rules/login_core)')
      .option('--changes', 'also sensitive account changes: the owners\' own and three takeover chains (account_change events, spec v2)')
      .option(
        '--config <name>',
        'behaviour mix and random streams: default (tune and train on it) or heldout (measure only; never tune on it)',
        matching('--config', /^(default|heldout)$/, 'default or heldout'),
      )
      .option(
        '--geo-samples <n>',
        'random addresses looked up to build the address pools (default 150000; fewer start faster and know fewer places)',
        integer('--geo-samples', 1000, 10_000_000),
      ),
    running,
    async (o: SimulateCliOptions) => (await import('./simulate.ts')).simulateCommand(o, io, deps.simulate),
  );

  action(
    program
      .command('explain')
      .description('why a stored decision was made: each rule\'s condition with its values, from a running Vigil (admin API; token from $VIGIL_ADMIN_TOKEN)')
      .argument('<decision-id>', 'the decision_id the API returned', matching('decision-id', /^[0-9A-Za-z]{1,64}$/, 'letters and digits (a ULID)'))
      .option('--url <url>', 'the Vigil API (default: $VIGIL_URL or http://127.0.0.1:8080)', httpUrl('--url'))
      .option('--json', 'print one JSON object'),
    running,
    async (id: string, o: { url?: string; json?: boolean }) =>
      (await import('./explain.ts')).explainCommand(id, { ...(o.url !== undefined ? { url: o.url } : {}), json: o.json === true }, io, deps.env ?? process.env),
  );

  declareAdminCommands(program, io, env, running, schemeOf);

  configureErrors(program, io);
  return program;
}

const TOKEN_HELP = `
The server is --url, else $VIGIL_URL, else http://127.0.0.1:8080. The admin token is read from
$VIGIL_ADMIN_TOKEN only (never from the command line). Changes are recorded in the server's audit
log as made by --actor, else $VIGIL_ACTOR, else "admin".
Exit: 0 ok, 1 refused by the server (its message, diagnostics or failing tests printed),
2 usage, 3 server unreachable.`;

/** `--url` and `--json` of every admin client command; `--actor` and `--reason` of those that change something. */
function adminOptions(cmd: Command, changes: boolean): Command {
  cmd
    .option('--url <url>', 'the Vigil server (default: $VIGIL_URL or http://127.0.0.1:8080)', httpUrl('--url'))
    .option('--json', "print the server's answer as one JSON object");
  if (changes) {
    cmd
      .option('--actor <name>', `who makes the change, for the audit log (default: $VIGIL_ACTOR, else "admin"; ${ACTOR_RULE})`, matching('--actor', ACTOR, ACTOR_RULE))
      .option('--reason <text>', 'why, recorded in the audit log (1-500 characters)', reasonArg('--reason'));
  }
  return cmd.addHelpText('after', TOKEN_HELP);
}

/** The admin client: `vigil pack …`, `vigil list …`, `vigil counters clear`, `vigil audit` against a running server. */
function declareAdminCommands(
  program: Command,
  io: CliIO,
  env: Readonly<Record<string, string | undefined>>,
  running: Running,
  schemeOf: () => Promise<Scheme>,
): void {
  const pack = program
    .command('pack')
    .description("a running server's rule pack: push, status, history, rollback, diff (admin API; token from $VIGIL_ADMIN_TOKEN)");
  action(
    adminOptions(
      pack
        .command('push')
        .description("upload a pack and activate it on every instance; its diagnostics and failing tests print as `vigil check` prints them (exit 1 when refused)")
        .argument('<pack>', 'a pack directory or a .rules file')
        .option('--force', "activate even though the pack's own tests fail (never with errors); needs --reason"),
      true,
    ),
    running,
    async (path: string, o: { url?: string; json?: boolean; actor?: string; reason?: string; force?: boolean }) =>
      (await import('./admin/pack.ts')).packPush(path, o, io, env, schemeOf),
  );
  action(adminOptions(pack.command('status').description('the active pack: name, version, hash, when, by whom and why'), false), running, async (o: { url?: string; json?: boolean }) =>
    (await import('./admin/pack.ts')).packStatus(o, io, env),
  );
  action(
    adminOptions(pack.command('history').description('the pack history, newest first: every activation and rollback (append-only; the last 20 entries)'), false),
    running,
    async (o: { url?: string; json?: boolean }) => (await import('./admin/pack.ts')).packHistory(o, io, env),
  );
  action(
    adminOptions(
      pack
        .command('rollback')
        .description('reactivate the version active before the current one, or HASH from the history; recorded as a new entry')
        .argument('[hash]', 'a hash of the history, or its start (as `vigil pack history` shows it)'),
      true,
    ),
    running,
    async (hash: string | undefined, o: { url?: string; json?: boolean; actor?: string; reason?: string }) =>
      (await import('./admin/pack.ts')).packRollback(hash, o, io, env),
  );
  action(
    adminOptions(
      pack
        .command('diff')
        .description('what changes from HASH (default: the entry before the active one) to the active pack: rules added, removed, changed, and a unified diff of the files')
        .argument('[hash]', 'a hash of the history, or its start'),
      false,
    ),
    running,
    async (hash: string | undefined, o: { url?: string; json?: boolean }) => (await import('./admin/pack-diff.ts')).packDiff(hash, o, io, env, schemeOf),
  );

  const list = program
    .command('list')
    .description("a running server's live lists (the `redis` lists the active pack declares): add, rm, ls (admin API)");
  action(
    adminOptions(
      list
        .command('add')
        .description('add entries (addresses or CIDR ranges, strings, numbers, by the kind of the list), optionally expiring')
        .argument('<name>', 'the Redis name the pack declares: list x: ip = redis "NAME"')
        .argument('<entries...>', 'entries; - reads them from standard input, one a line')
        .option('--ttl <duration>', 'remove them after this long (90s, 30m, 2h, 7d; at most 365d)', durationArg('--ttl')),
      true,
    ),
    running,
    async (name: string, entries: string[], o: { url?: string; json?: boolean; actor?: string; reason?: string; ttl?: string }) =>
      (await import('./admin/list.ts')).listAdd(name, entries, o, io, env),
  );
  action(
    adminOptions(
      list
        .command('rm')
        .description('remove entries')
        .argument('<name>', 'the Redis name the pack declares')
        .argument('<entries...>', 'entries; - reads them from standard input, one a line'),
      true,
    ),
    running,
    async (name: string, entries: string[], o: { url?: string; json?: boolean; actor?: string; reason?: string }) =>
      (await import('./admin/list.ts')).listRm(name, entries, o, io, env),
  );
  action(
    adminOptions(list.command('ls').description('the entries of a list, with their expiry').argument('<name>', 'the Redis name the pack declares'), false),
    running,
    async (name: string, o: { url?: string; json?: boolean }) => (await import('./admin/list.ts')).listLs(name, o, io, env),
  );

  const counters = program.command('counters').description("a running server's velocity and failure counters: clear (a false positive's undo; admin API)");
  action(
    adminOptions(
      counters
        .command('clear')
        .description('delete the velocity and failure counters of an address, a user, or both')
        .usage('(--ip ADDRESS | --user ID) [options]')
        .option('--ip <address>', 'an IPv4 or IPv6 address')
        .option('--subnet', "with --ip: also the failures of the address's /24 (IPv6 /48)")
        .option('--user <id>', 'a user id as the auth service sends it'),
      true,
    ),
    running,
    async (o: { url?: string; json?: boolean; actor?: string; reason?: string; ip?: string; user?: string; subnet?: boolean }) =>
      (await import('./admin/counters.ts')).countersClear(o, io, env),
  );

  action(
    adminOptions(
      program
        .command('audit')
        .description('the admin changes a running server recorded, newest first (admin API)')
        .option('--since <when>', 'from this long ago (30m, 24h, 7d) or this ISO date-time', sinceArg('--since'))
        .option('--action <action>', 'only this action (pack_activate, pack_rollback, list_add, list_remove, counters_clear, …)')
        .option('--limit <n>', 'at most this many entries (default 100)', integer('--limit', 1, 1000)),
      false,
    ),
    running,
    async (o: { url?: string; json?: boolean; since?: string; action?: string; limit?: number }) => (await import('./admin/audit.ts')).auditCommand(o, io, env),
  );
}

export async function main(argv: readonly string[], io: CliIO = processIO, deps: MainDeps = {}): Promise<number> {
  const running: Running = { name: 'vigil', code: 0 };
  const program = buildProgram(io, deps, running);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE;
    io.stderr(`${running.name}: error: ${errorMessage(e)}\n`);
    return 1;
  }
  return running.code;
}
