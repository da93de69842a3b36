// `vigil simulate --users N --days D --seed S [--out FILE] [--attacks naive,vpn,targeted,stuffing]
// [--features-out FILE] …`: writes seeded, labelled sign-in traffic (training/simulate.ts) as NDJSON,
// and with --features-out replays it through the real engine (training/replay.ts) and writes the
// feature rows `vigil train --events` learns from. Options are declared and checked in cli/main.ts;
// what only the simulator can check (attack names, option combinations) is a UsageError here.
// Exit 0 ok, 1 a runtime failure, 2 bad usage.
import { assetPath } from '../common/paths.ts';
import { closeSync, openSync, writeSync } from 'node:fs';
import type { CompiledPack } from '../dsl/index.ts';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../features/geoip.ts';
import { buildGeoPool } from '../training/geo-pool.ts';
import { featureRow, replayThroughEngine } from '../training/replay.ts';
import { ATTACK_TYPES, formatLine, geoSeed, parseAttackList, simulate, validateSimulateOptions, type SimConfigName, type SimulateOptions } from '../training/simulate.ts';
import { errorMessage } from '../common/errors.ts';
import { UsageError } from './args.ts';
import type { CliIO } from './io.ts';
import { openPack } from './packs.ts';
import { count, startProgress } from './progress.ts';

export const DEFAULT_PACK = assetPath('rules/login_core');

/** Buffered writes to a file descriptor or to the CliIO's stdout. */
export interface LineSink {
  write(s: string): void;
  close(): void;
}

export function openSink(path: string, io: CliIO): LineSink {
  if (path === '-') {
    let buf = '';
    return {
      write(s) {
        buf += s;
        if (buf.length > 1 << 20) {
          io.stdout(buf);
          buf = '';
        }
      },
      close() {
        if (buf.length > 0) io.stdout(buf);
        buf = '';
      },
    };
  }
  const fd = openSync(path, 'w');
  let buf = '';
  return {
    write(s) {
      buf += s;
      if (buf.length > 1 << 20) {
        writeSync(fd, buf);
        buf = '';
      }
    },
    close() {
      if (buf.length > 0) writeSync(fd, buf);
      buf = '';
      closeSync(fd);
    },
  };
}

export interface SimulateDeps {
  /** GeoIP to use (default: the bundled databases, opened and closed by the command). */
  readonly geoip?: GeoIp;
}

/** `vigil simulate`'s options as cli/main.ts parses them. */
export interface SimulateCliOptions {
  readonly users: number;
  readonly days: number;
  readonly seed: string;
  readonly out?: string;
  readonly attacks?: string;
  readonly attackStartDay?: number;
  readonly attackScale?: number;
  /** ms since the epoch. */
  readonly start?: number;
  readonly featuresOut?: string;
  readonly pack?: string;
  readonly geoSamples?: number;
  readonly config?: SimConfigName;
  readonly changes?: boolean;
}

/** `vigil simulate ARGV…` for callers holding an argument list (tests, scripts): the same as the command line. */
export async function runSimulate(argv: readonly string[], io: CliIO, deps: SimulateDeps = {}): Promise<number> {
  const { main } = await import('./main.ts');
  return main(['simulate', ...argv], io, { simulate: deps });
}

export async function simulateCommand(o: SimulateCliOptions, io: CliIO, deps: SimulateDeps = {}): Promise<number> {
  const attacks = o.attacks !== undefined ? parseAttackList(o.attacks) : [...ATTACK_TYPES];
  if (typeof attacks === 'string') throw new UsageError(`--attacks: ${attacks}`);
  const opts: SimulateOptions = {
    users: o.users,
    days: o.days,
    seed: o.seed,
    attacks,
    ...(o.attackStartDay !== undefined ? { attackStartDay: o.attackStartDay } : {}),
    ...(o.attackScale !== undefined ? { attackScale: o.attackScale } : {}),
    ...(o.start !== undefined ? { start: o.start } : {}),
    ...(o.config !== undefined ? { config: o.config } : {}),
    ...(o.changes === true ? { changes: true } : {}),
  };
  const bad = validateSimulateOptions(opts);
  if (bad) throw new UsageError(bad);
  const outPath = o.out ?? '-';
  if (outPath === '-' && o.featuresOut === '-') throw new UsageError('--out and --features-out cannot both be standard output');
  if (o.featuresOut === undefined && o.pack !== undefined) throw new UsageError('--pack only applies with --features-out');

  let pack: CompiledPack | undefined;
  if (o.featuresOut !== undefined) {
    const opened = openPack(o.pack ?? DEFAULT_PACK, VIGIL_SCHEME);
    if (!opened.ok) {
      io.stderr(`vigil simulate: error: ${opened.message}\n`);
      return 1;
    }
    if (!opened.pack.result.pack) {
      io.stderr(`${opened.pack.rendered}\nvigil simulate: error: the pack does not compile\n`);
      return 1;
    }
    pack = opened.pack.result.pack;
  }

  const progress = startProgress(io, 'simulate');
  const geoip = deps.geoip ?? (await createGeoIp({ watch: false }));
  try {
    progress.update(() => 'building address pools');
    const samples = o.geoSamples;
    const pool = buildGeoPool(geoip, geoSeed(opts.seed, opts.config), samples !== undefined ? { samples, hostingSamples: Math.max(1000, Math.round(samples / 8)) } : {});
    progress.update(() => 'generating traffic');
    const lines = simulate(opts, pool);
    const out = openSink(outPath, io);
    try {
      for (let i = 0; i < lines.length; i++) {
        out.write(formatLine(lines[i]!) + '\n');
        progress.update(() => `writing ${count(i)}/${count(lines.length)} attempts`);
      }
    } finally {
      out.close();
    }
    if (pack && o.featuresOut !== undefined) {
      const rows = openSink(o.featuresOut, io);
      let replayed = 0;
      try {
        const summary = await replayThroughEngine(lines, {
          pack,
          geoip,
          onEvent: (e) => {
            rows.write(JSON.stringify(featureRow(e)) + '\n');
            replayed++;
            progress.update(() => `replaying ${count(replayed)}/${count(lines.length)} attempts through the engine`);
          },
        });
        if (summary.unsupportedChanges > 0) io.stderr(`vigil simulate: account_change not supported by this server: ${summary.unsupportedChanges} change events not replayed\n`);
      } finally {
        rows.close();
      }
    }
    progress.done();
    const counts = new Map<string, number>();
    for (const l of lines) counts.set(l.label, (counts.get(l.label) ?? 0) + 1);
    io.stderr(`simulated ${lines.length} attempts: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}\n`);
    return 0;
  } catch (e) {
    progress.done();
    io.stderr(`vigil simulate: error: ${errorMessage(e)}\n`);
    return 1;
  } finally {
    progress.done();
    if (!deps.geoip) geoip.close();
  }
}
