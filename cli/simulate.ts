// `vigil simulate --users N --days D --seed S [--out FILE] [--attacks naive,vpn,targeted,stuffing]
// [--features-out FILE] …`: writes seeded, labelled sign-in traffic (training/simulate.ts) as NDJSON,
// and with --features-out replays it through the real engine (training/replay.ts) and writes the
// feature rows `vigil train --events` learns from. Exit 0 ok, 1 a runtime failure, 2 bad usage.
import { closeSync, openSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CompiledPack } from '../dsl/index.ts';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../features/geoip.ts';
import { buildGeoPool } from '../training/geo-pool.ts';
import { featureRow, replayThroughEngine } from '../training/replay.ts';
import { ATTACK_TYPES, formatLine, geoSeed, parseAttackList, simulate, validateSimulateOptions, type SimulateOptions } from '../training/simulate.ts';
import type { CliIO } from './io.ts';
import { openPack } from './packs.ts';

export const SIMULATE_USAGE = `usage: vigil simulate --users N --days D --seed S [options]
  --out FILE              NDJSON output (default: standard output; - too)
  --attacks LIST          comma list of ${ATTACK_TYPES.join(', ')} or none (default: all)
  --attack-start-day N    first day with attacks (default: days/3, so victims have a history)
  --attack-scale X        multiply every attack volume (default 1)
  --start ISO             first simulated instant (default 2026-01-05T00:00:00Z)
  --features-out FILE     also replay the traffic through the engine and write training rows
                          {"features": {...}, "label": ...} for \`vigil train --events\`
  --pack DIR              pack used for that replay (default rules/login_core)
  --geo-samples N         random addresses looked up to build the address pools (default 150000;
                          fewer start faster and know fewer places)
`;

export const DEFAULT_PACK = fileURLToPath(new URL('../rules/login_core', import.meta.url));

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

function intArg(v: string | undefined, name: string): number | string | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) return `${name} must be a non-negative integer`;
  return Number(v);
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface SimulateDeps {
  /** GeoIP to use (default: the bundled databases, opened and closed by the command). */
  readonly geoip?: GeoIp;
}

export async function runSimulate(argv: readonly string[], io: CliIO, deps: SimulateDeps = {}): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        users: { type: 'string' },
        days: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        attacks: { type: 'string' },
        'attack-start-day': { type: 'string' },
        'attack-scale': { type: 'string' },
        start: { type: 'string' },
        'features-out': { type: 'string' },
        pack: { type: 'string' },
        'geo-samples': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    io.stderr(`vigil simulate: ${errText(e)}\n${SIMULATE_USAGE}`);
    return 2;
  }
  const usage = (msg: string): number => {
    io.stderr(`vigil simulate: ${msg}\n${SIMULATE_USAGE}`);
    return 2;
  };
  for (const req of ['users', 'days', 'seed'] as const) if (values[req] === undefined) return usage(`--${req} is required`);
  const users = intArg(values.users, '--users');
  const days = intArg(values.days, '--days');
  const startDay = intArg(values['attack-start-day'], '--attack-start-day');
  const geoSamples = intArg(values['geo-samples'], '--geo-samples');
  for (const v of [users, days, startDay, geoSamples]) if (typeof v === 'string') return usage(v);
  if (typeof geoSamples === 'number' && (geoSamples < 1000 || geoSamples > 10_000_000)) return usage('--geo-samples must be from 1000 to 10000000');
  const attacks = values.attacks !== undefined ? parseAttackList(values.attacks) : [...ATTACK_TYPES];
  if (typeof attacks === 'string') return usage(attacks);
  let scale: number | undefined;
  if (values['attack-scale'] !== undefined) {
    scale = Number(values['attack-scale']);
    if (values['attack-scale'].trim() === '' || !Number.isFinite(scale)) return usage('--attack-scale must be a number');
  }
  let start: number | undefined;
  if (values.start !== undefined) {
    start = Date.parse(values.start);
    if (Number.isNaN(start)) return usage('--start must be an ISO date-time');
  }
  const opts: SimulateOptions = {
    users: users as number,
    days: days as number,
    seed: values.seed as string,
    attacks,
    ...(typeof startDay === 'number' ? { attackStartDay: startDay } : {}),
    ...(scale !== undefined ? { attackScale: scale } : {}),
    ...(start !== undefined ? { start } : {}),
  };
  const bad = validateSimulateOptions(opts);
  if (bad) return usage(bad);
  if ((values.out ?? '-') === '-' && values['features-out'] === '-') return usage('--out and --features-out cannot both be standard output');

  let pack: CompiledPack | undefined;
  if (values['features-out'] !== undefined) {
    const opened = openPack(values.pack ?? DEFAULT_PACK, VIGIL_SCHEME);
    if (!opened.ok) {
      io.stderr(`vigil simulate: ${opened.message}\n`);
      return 1;
    }
    if (!opened.pack.result.pack) {
      io.stderr(`vigil simulate: the pack does not compile:\n${opened.pack.rendered}`);
      return 1;
    }
    pack = opened.pack.result.pack;
  } else if (values.pack !== undefined) return usage('--pack only applies with --features-out');

  const geoip = deps.geoip ?? (await createGeoIp({ watch: false }));
  try {
    const pool = buildGeoPool(geoip, geoSeed(opts.seed), typeof geoSamples === 'number' ? { samples: geoSamples, hostingSamples: Math.max(1000, Math.round(geoSamples / 8)) } : {});
    const lines = simulate(opts, pool);
    const out = openSink(values.out ?? '-', io);
    try {
      for (const l of lines) out.write(formatLine(l) + '\n');
    } finally {
      out.close();
    }
    if (pack && values['features-out'] !== undefined) {
      const rows = openSink(values['features-out'], io);
      try {
        await replayThroughEngine(lines, {
          pack,
          geoip,
          onEvent: (e) => rows.write(JSON.stringify(featureRow(e)) + '\n'),
        });
      } finally {
        rows.close();
      }
    }
    const counts = new Map<string, number>();
    for (const l of lines) counts.set(l.label, (counts.get(l.label) ?? 0) + 1);
    io.stderr(`simulated ${lines.length} attempts: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}\n`);
    return 0;
  } catch (e) {
    io.stderr(`vigil simulate: ${errText(e)}\n`);
    return 1;
  } finally {
    if (!deps.geoip) geoip.close();
  }
}
