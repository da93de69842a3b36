// `npm run bench:replay`: `vigil replay` against the same rules in cel-js, both timed as whole
// processes (start-up, reading the file, parsing every line, evaluating, counting) on the same files.
// Generates once, into a temporary directory, a pack of generated rules (bench/lib/rulegen.ts), its
// CEL translation (bench/lib/competitors.ts) and recorded feature records (bench/lib/events.ts);
// checks that both sides count the same decisions and rule hits; then runs interleaved rounds of
// `vigil replay --workers 1`, `--workers 2` and the cel-js script, and prints medians and ratios.
//
//   npm run bench:replay -- [--events N] [--rules N] [--rounds N] [--vigil PATH/bin/vigil.js] [--keep]
//
// `--vigil` times another checkout's CLI (e.g. the code before a change) on the same files; a CLI
// without `--workers` is timed with one worker only. `--keep` leaves the generated files (and the
// transpiled cel-js script) in place and prints where, to run either side by hand.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ts from 'typescript';
import type { CelCounts, CelRulesFile } from './lib/cel-replay.ts';
import { nnf, toCel } from './lib/competitors.ts';
import { generateEvents } from './lib/events.ts';
import { generatePack, toVigilPack } from './lib/rulegen.ts';
import { median } from './lib/timing.ts';

const TARGET_VS_CEL = 5;
const here = path.dirname(fileURLToPath(import.meta.url));

const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    rules: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    vigil: { type: 'string', default: path.join(here, '..', 'bin', 'vigil.js') },
    keep: { type: 'boolean', default: false },
  },
});
const N_EVENTS = Number(opts.events);
const N_RULES = Number(opts.rules);
const ROUNDS = Number(opts.rounds);
const VIGIL = path.resolve(opts.vigil);
for (const [k, v] of [
  ['--events', N_EVENTS],
  ['--rules', N_RULES],
  ['--rounds', ROUNDS],
] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer`);
}

const log = (s = ''): void => console.log(s);

interface VigilJson {
  readonly events: number;
  readonly invalid: number;
  readonly decisions: Record<string, number>;
  readonly rules: { readonly enforce: readonly { name: string; count: number }[]; readonly shadow: readonly { name: string; count: number }[] };
}

function setup(dir: string): { pack: string; events: string; oneEvent: string; celRules: string; celScript: string } {
  const gen = generatePack(N_RULES);
  const pack = path.join(dir, 'bench.rules');
  writeFileSync(pack, toVigilPack(gen));
  const spec: CelRulesFile = {
    rules: gen.rules.map((r) => ({ name: r.name, on: r.on, cel: toCel(nnf(r.when)), action: r.action, score: r.score, shadow: r.shadow })),
    policy: { default: gen.policy.default, byType: gen.policy.byType },
  };
  const celRules = path.join(dir, 'rules.cel.json');
  writeFileSync(celRules, JSON.stringify(spec));
  const events = path.join(dir, 'events.ndjson');
  const lines = generateEvents(N_EVENTS, 11).map((e) => JSON.stringify({ event: e.type, features: e.features }));
  writeFileSync(events, `${lines.join('\n')}\n`);
  const oneEvent = path.join(dir, 'one.ndjson');
  writeFileSync(oneEvent, `${lines[0]}\n`);
  const source = readFileSync(path.join(here, 'lib', 'cel-replay.ts'), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const celScript = path.join(dir, 'cel-replay.mjs');
  writeFileSync(celScript, js);
  return { pack, events, oneEvent, celRules, celScript };
}

interface Contender {
  readonly name: string;
  readonly argv: readonly string[];
}

/**
 * CPU seconds used by this process's waited-for children so far (user + system), on Linux; null
 * elsewhere. On a shared machine it varies far less than wall time, so it is printed beside it.
 */
function childrenCpuSeconds(): number | null {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    // cutime and cstime, fields 16 and 17 of stat(5), in clock ticks (USER_HZ, 100 on Linux).
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return null;
  }
}

function runOnce(c: Contender): { ms: number; cpuMs: number | null; stdout: string } {
  const cpu0 = childrenCpuSeconds();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, c.argv, { encoding: 'utf8', maxBuffer: 1 << 26 });
  const ms = performance.now() - t0;
  const cpu1 = childrenCpuSeconds();
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return { ms, cpuMs: cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) * 1000, stdout: r.stdout };
}

function sameCounts(v: VigilJson, c: CelCounts): string[] {
  const diffs: string[] = [];
  if (v.events !== c.events) diffs.push(`events ${v.events} vs ${c.events}`);
  if (v.invalid !== 0) diffs.push(`vigil found ${v.invalid} invalid lines`);
  for (const k of ['allow', 'step_up', 'block'] as const) if (v.decisions[k] !== c.decisions[k]) diffs.push(`${k} ${v.decisions[k]} vs ${c.decisions[k]}`);
  for (const [mode, list] of [
    ['enforce', v.rules.enforce],
    ['shadow', v.rules.shadow],
  ] as const) {
    const theirs = c[mode];
    const ours = new Map(list.map((x) => [x.name, x.count]));
    for (const name of new Set([...ours.keys(), ...Object.keys(theirs)])) {
      if ((ours.get(name) ?? 0) !== (theirs[name] ?? 0)) diffs.push(`${mode} ${name} ${ours.get(name) ?? 0} vs ${theirs[name] ?? 0}`);
    }
  }
  return diffs;
}

function main(): number {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-bench-replay-'));
  try {
    const t0 = performance.now();
    const f = setup(dir);
    const mb = readFileSync(f.events).length / 1e6;
    const celUrl = import.meta.resolve('@marcbachmann/cel-js');
    log(`bench:replay — ${N_EVENTS.toLocaleString('en-US')} events (${mb.toFixed(1)} MB), ${N_RULES} rules; files generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    log(`  vigil: ${VIGIL}`);
    log(`  cel-js: ${celUrl}`);
    log(`  node ${process.version}, ${process.platform}/${process.arch}`);

    const help = spawnSync(process.execPath, [VIGIL, 'replay', '--help'], { encoding: 'utf8' });
    const hasWorkers = help.stdout.includes('--workers');
    const vigil = (file: string, workers: number | null): readonly string[] => [
      VIGIL,
      'replay',
      '--json',
      ...(workers === null ? [] : ['--workers', String(workers)]),
      f.pack,
      file,
    ];
    const contenders: Contender[] = [
      { name: hasWorkers ? 'vigil replay --workers 1' : 'vigil replay', argv: vigil(f.events, hasWorkers ? 1 : null) },
      ...(hasWorkers ? [{ name: 'vigil replay --workers 2', argv: vigil(f.events, 2) }] : []),
      { name: 'cel-js script', argv: [f.celScript, celUrl, f.celRules, f.events] },
      { name: 'vigil replay, 1 event (start-up)', argv: vigil(f.oneEvent, hasWorkers ? 1 : null) },
      { name: 'cel-js script, 1 event (start-up)', argv: [f.celScript, celUrl, f.celRules, f.oneEvent] },
    ];

    // Both sides must have done the same work before their times mean anything.
    const cel = JSON.parse(runOnce(contenders.find((c) => c.name === 'cel-js script')!).stdout) as CelCounts;
    for (const c of contenders.filter((x) => x.name.startsWith('vigil') && !x.name.includes('1 event'))) {
      const diffs = sameCounts(JSON.parse(runOnce(c).stdout) as VigilJson, cel);
      if (diffs.length > 0) {
        log(`  ${c.name} and cel-js disagree: ${diffs.slice(0, 5).join('; ')}`);
        return 1;
      }
    }
    log(`  counts agree: ${cel.events} events, allow ${cel.decisions.allow}, step_up ${cel.decisions.step_up}, block ${cel.decisions.block}`);

    const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
    const cpu = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so no contender always runs right after the same neighbour.
      for (let k = 0; k < contenders.length; k++) {
        const c = contenders[(round + k) % contenders.length]!;
        const r = runOnce(c);
        times.get(c.name)!.push(r.ms);
        if (r.cpuMs !== null) cpu.get(c.name)!.push(r.cpuMs);
      }
    }
    const s = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;
    log('');
    log(`whole processes, median of ${ROUNDS} interleaved rounds: wall time (min–max)${cpu.get('cel-js script')!.length > 0 ? ', CPU time (user + system)' : ''}`);
    const wall = new Map<string, number>();
    const cpuMed = new Map<string, number>();
    for (const c of contenders) {
      const xs = times.get(c.name)!;
      const cs = cpu.get(c.name)!;
      wall.set(c.name, median(xs));
      if (cs.length > 0) cpuMed.set(c.name, median(cs));
      log(`  ${c.name.padEnd(36)} ${s(median(xs))}  (${s(Math.min(...xs))}–${s(Math.max(...xs))})${cs.length > 0 ? `   cpu ${s(median(cs))}` : ''}`);
    }
    log('');
    const report = (what: string, med: ReadonlyMap<string, number>): void => {
      const celMs = med.get('cel-js script');
      const startMs = med.get('vigil replay, 1 event (start-up)');
      if (celMs === undefined || startMs === undefined) return;
      for (const c of contenders.filter((x) => x.name.startsWith('vigil') && !x.name.includes('1 event'))) {
        const ms = med.get(c.name)!;
        const ratio = celMs / ms;
        const target = what === 'wall' ? ` (target ≥ ${TARGET_VS_CEL}×: ${ratio >= TARGET_VS_CEL ? 'met' : 'NOT MET'})` : '';
        const than = what === 'wall' ? 'faster than' : 'less CPU than';
        log(`  ${what}: ${c.name}: ${ratio.toFixed(2)}× ${than} cel-js${target}; ≈ ${(((ms - startMs) * 1000) / N_EVENTS).toFixed(1)} µs/event after start-up`);
      }
      log(`  ${what}: cel-js: ≈ ${(((celMs - med.get('cel-js script, 1 event (start-up)')!) * 1000) / N_EVENTS).toFixed(1)} µs/event after start-up`);
    };
    report('wall', wall);
    report('cpu', cpuMed);
    return 0;
  } finally {
    if (opts.keep) log(`  files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = main();
