// `npm run bench:dsl`: what the rules language costs, and how it compares.
//  (a) compile time of the default pack (rules/login_core/) and of a generated 500-rule pack;
//  (b) evaluation ns/event of both over pre-built realistic feature records (slots filled once per
//      record outside the timed loop, as the engine does);
//  (c) the same 500 rules in cel-js, jexl and json-rules-engine, after checking that every engine
//      matches exactly the rules the reference semantics says, event by event;
//  (d) IpSet.has on a 100k-entry set; (e) how long the ReDoS check takes per `matches` pattern.
// Prints numbers and whether the targets are met; exits 1 if any engine disagrees.
import os from 'node:os';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { compilePack, MemoryListBackend, packFromFiles, resolveProbes, type CompiledPack, type PackSource, type Slots } from '../dsl/index.ts';
import { IpSet, canonicalIp } from '../dsl/iplist.ts';
import { compileSafeRegex } from '../dsl/regex.ts';
import { VIGIL_SCHEME } from '../features/catalog.ts';
import { celHarness, jexlHarness, jreHarness, type SyncHarness } from './lib/competitors.ts';
import { generateEvents, type BenchEvent } from './lib/events.ts';
import { rng } from './lib/random.ts';
import { decide, generatePack, referenceMatch, toVigilPack, type GenPack } from './lib/rulegen.ts';
import { fmtNs, median, medianMs, nsPerOp, nsPerOpAsync } from './lib/timing.ts';

const TARGET_COMPILE_MS = 300;
const TARGET_EVAL_NS = 50_000;
const TARGET_VS_CEL = 5;
const TARGET_VS_JRE = 50;
/** Events every engine is timed on (json-rules-engine on the first JRE_EVENTS of them). */
const EVENTS = 400;
const JRE_EVENTS = 80;

const log = (s = ''): void => console.log(s);
const ok = (met: boolean): string => (met ? 'met' : 'NOT MET');
let failures = 0;

/** Every file of a pack directory (rules files and lists, recursively), as an upload would carry them. */
function readPackFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(path.join(dir, r)).isDirectory()) walk(r);
      else out[r] = readFileSync(path.join(dir, r), 'utf8');
    }
  };
  walk('');
  return out;
}

/** Slots for one event, filled as the engine fills them, Redis-list probes resolved. */
function slotsFor(pack: CompiledPack, e: BenchEvent, lists: MemoryListBackend): Slots {
  const slots: Slots = new Array(pack.slotCount).fill(undefined);
  pack.features.forEach((name, i) => {
    const slot = pack.slotOf(name);
    const v = e.features[name];
    slots[slot] = pack.featureTypes[i] === 'ip' && typeof v === 'string' ? canonicalIp(v) : v;
  });
  resolveProbes(pack, slots, lists);
  return slots;
}

function compileSection(label: string, src: () => PackSource): { pack: CompiledPack; ms: number } | null {
  const t0 = performance.now();
  const first = compilePack(src(), { scheme: VIGIL_SCHEME });
  const coldMs = performance.now() - t0;
  if (!first.pack) {
    const errors = first.diagnostics.filter((d) => d.severity === 'error');
    log(`  ${label}: does not compile (${errors.length} errors), e.g. ${errors.slice(0, 2).map((d) => `${d.span.file}:${d.span.line}:${d.span.col} ${d.code}`).join('; ')}`);
    return null;
  }
  const { median: ms, all } = medianMs(() => compilePack(src(), { scheme: VIGIL_SCHEME }), 7, 1);
  log(
    `  ${label}: ${first.pack.rules.length} rules, ${first.pack.features.length} features read; compile median ${ms.toFixed(1)} ms ` +
      `(min ${Math.min(...all).toFixed(1)}, max ${Math.max(...all).toFixed(1)}, first/cold ${coldMs.toFixed(1)} ms)`,
  );
  return { pack: first.pack, ms };
}

/** Does Vigil's decision for every event match the reference (matched rules, shadow, score, decision)? */
function verifyVigil(gen: GenPack, pack: CompiledPack, events: readonly BenchEvent[], slots: readonly Slots[]): number {
  let bad = 0;
  const byName = new Map(gen.rules.map((r) => [r.name, r]));
  events.forEach((e, i) => {
    const d = pack.evaluate(e.type, slots[i]!.slice());
    const want = referenceMatch(gen, e);
    const wantRules = want.filter((n) => !byName.get(n)!.shadow);
    const wantShadow = want.filter((n) => byName.get(n)!.shadow);
    const ref = decide(
      gen,
      e.type,
      want.map((n) => byName.get(n)!),
    );
    const got = d.rules.map((r) => r.name).join(',');
    const gotShadow = d.shadow.map((r) => r.name).join(',');
    if (got !== wantRules.join(',') || gotShadow !== wantShadow.join(',') || d.decision !== ref.decision || d.score !== ref.score) {
      if (bad++ < 3) log(`    MISMATCH vigil event ${i}: got ${d.decision}/${d.score} [${got}] want ${ref.decision}/${ref.score} [${wantRules.join(',')}]`);
    }
  });
  return bad;
}

function verifySync<C>(h: SyncHarness<C>, gen: GenPack, events: readonly BenchEvent[], ctxs: readonly C[]): number {
  let bad = 0;
  const out: number[] = [];
  events.forEach((e, i) => {
    out.length = 0;
    h.matchSync(e.type, ctxs[i]!, out);
    const got = out.map((k) => gen.rules[k]!.name).join(',');
    const want = referenceMatch(gen, e).join(',');
    if (got !== want && bad++ < 3) log(`    MISMATCH ${h.name} event ${i}: got [${got}] want [${want}]`);
  });
  return bad;
}

async function main(): Promise<void> {
  const started = performance.now();
  log(`Vigil DSL benchmark — node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'} (${os.cpus().length} cpus), ${os.platform()}-${os.arch()}`);
  const events = generateEvents(EVENTS, 7);
  const lists = new MemoryListBackend();
  lists.add('vigil:blocked_users', ...events.filter((_, i) => i % 97 === 0).map((e) => String(e.features['user.id'])));

  // (a) compile -------------------------------------------------------------------------------
  log('\n(a) compile time (median of 7 runs after one warm-up; parse + check + compile, sources in memory)');
  const coreFiles = readPackFiles('rules/login_core');
  const core = compileSection('rules/login_core', () => packFromFiles(coreFiles, 'rules/login_core'))?.pack;
  const gen = generatePack(500);
  const genText = toVigilPack(gen);
  const genCompiled = compileSection(`generated (${(genText.length / 1024).toFixed(0)} KiB)`, () => packFromFiles({ 'generated.rules': genText }));
  if (!genCompiled) {
    log('the generated pack must compile; giving up');
    process.exit(1);
  }
  const genPack = genCompiled.pack;
  log(`  500-rule pack compile target < ${TARGET_COMPILE_MS} ms: ${ok(genCompiled.ms < TARGET_COMPILE_MS)}`);

  // (b) evaluate ------------------------------------------------------------------------------
  log(`\n(b) evaluation, ${events.length} realistic events (${events.filter((e) => e.type === 'recovery').length} recovery), slots pre-filled`);
  let sink = 0;
  const genSlots = events.map((e) => slotsFor(genPack, e, lists));
  const bad = verifyVigil(gen, genPack, events, genSlots);
  failures += bad;
  const avgMatched = events.reduce((s, e) => s + referenceMatch(gen, e).length, 0) / events.length;
  log(`  generated: decisions agree with the reference semantics on ${events.length - bad}/${events.length} events; ${avgMatched.toFixed(1)} rules match per event on average`);
  const vigilGenNs = nsPerOp((i) => {
    sink += genPack.evaluate(events[i]!.type, genSlots[i]!).score;
  }, events.length);
  // Ratios compare each engine with Vigil timed right before and after it, on the same events, so
  // a machine busy with other work skews both sides alike.
  const vigilOn = (n: number): number =>
    nsPerOp((i) => {
      sink += genPack.evaluate(events[i]!.type, genSlots[i]!).score;
    }, n, { rounds: 3 });
  log(`  generated (500 rules): ${fmtNs(vigilGenNs)}/event — target < ${fmtNs(TARGET_EVAL_NS)}: ${ok(vigilGenNs < TARGET_EVAL_NS)}`);
  if (core) {
    const coreSlots = events.map((e) => slotsFor(core, e, lists));
    const decisions = new Map<string, number>();
    for (let i = 0; i < events.length; i++) {
      const d = core.evaluate(events[i]!.type, coreSlots[i]!);
      decisions.set(d.decision, (decisions.get(d.decision) ?? 0) + 1);
    }
    const coreNs = nsPerOp((i) => {
      sink += core.evaluate(events[i]!.type, coreSlots[i]!).score;
    }, events.length);
    log(`  rules/login_core (${core.rules.length} rules): ${fmtNs(coreNs)}/event; decisions ${[...decisions].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }

  // (c) competitors ---------------------------------------------------------------------------
  log('\n(c) the same 500 rules in other engines (translated from the generator\'s rule model)');
  const results: { name: string; ns: number; vigilNs: number; buildMs: number }[] = [];
  for (const make of [celHarness, jexlHarness]) {
    const h = make(gen);
    const ctxs = events.map((e) => h.prepare(e));
    const mismatches = verifySync(h, gen, events, ctxs);
    failures += mismatches;
    const out: number[] = [];
    const before = vigilOn(events.length);
    const ns = nsPerOp(
      (i) => {
        out.length = 0;
        h.matchSync(events[i]!.type, ctxs[i]!, out);
        sink += decide(
          gen,
          events[i]!.type,
          out.map((k) => gen.rules[k]!),
        ).score;
      },
      events.length,
      { rounds: 3, minRoundMs: 300, warmupPasses: 1 },
    );
    const after = vigilOn(events.length);
    log(`  ${h.name}: agrees on ${events.length - mismatches}/${events.length} events; build ${h.buildMs.toFixed(0)} ms; ${fmtNs(ns)}/event`);
    results.push({ name: h.name, ns, vigilNs: (before + after) / 2, buildMs: h.buildMs });
  }
  {
    const h = jreHarness(gen);
    const sample = events.slice(0, JRE_EVENTS);
    const facts = sample.map((e) => h.prepare(e));
    let mismatches = 0;
    for (let i = 0; i < sample.length; i++) {
      const got = (await h.match(sample[i]!.type, facts[i]!)).map((k) => gen.rules[k]!.name).join(',');
      const want = referenceMatch(gen, sample[i]!).join(',');
      if (got !== want && mismatches++ < 3) log(`    MISMATCH ${h.name} event ${i}: got [${got}] want [${want}]`);
    }
    failures += mismatches;
    const before = vigilOn(JRE_EVENTS);
    const ns = await nsPerOpAsync(async (i) => {
      const m = await h.match(sample[i]!.type, facts[i]!);
      sink += decide(
        gen,
        sample[i]!.type,
        m.map((k) => gen.rules[k]!),
      ).score;
    }, sample.length);
    const after = vigilOn(JRE_EVENTS);
    log(`  ${h.name}: agrees on ${sample.length - mismatches}/${sample.length} events; build ${h.buildMs.toFixed(0)} ms; ${fmtNs(ns)}/event (Engine.run per event, first ${JRE_EVENTS} events)`);
    results.push({ name: h.name, ns, vigilNs: (before + after) / 2, buildMs: h.buildMs });
  }
  log('\n  ratios (same events, same rules, each engine to a decision; Vigil re-timed around each engine):');
  for (const r of results) {
    const ratio = r.ns / r.vigilNs;
    const target = r.name === 'cel-js' ? TARGET_VS_CEL : r.name === 'json-rules-engine' ? TARGET_VS_JRE : null;
    log(`    Vigil vs ${r.name.padEnd(18)} ${ratio.toFixed(1).padStart(7)}× faster (${fmtNs(r.vigilNs)} vs ${fmtNs(r.ns)})${target ? ` — target ≥ ${target}×: ${ok(ratio >= target)}` : ''}`);
  }

  // (d) IpSet ---------------------------------------------------------------------------------
  log('\n(d) IpSet.has on a 100k-entry set');
  const r = rng(11);
  const entries: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    if (i % 5 === 4) entries.push(`2001:${r.int(0, 0xffff).toString(16)}:${r.int(0, 0xffff).toString(16)}::/${r.int(32, 64)}`);
    else if (i % 2) entries.push(`${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(0, 255)}`);
    else entries.push(`${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.0/${r.int(16, 24)}`);
  }
  const built = medianMs(() => IpSet.from(entries), 3, 0);
  const { set } = IpSet.from(entries);
  const v4probes = Array.from({ length: 100_000 }, () => `${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(0, 255)}`);
  const v6probes = Array.from({ length: 100_000 }, () => `2001:${r.int(0, 0xffff).toString(16)}:${r.int(0, 0xffff).toString(16)}::${r.int(1, 0xffff).toString(16)}`);
  const rate = (ps: readonly string[]): string => `${((ps.filter((p) => set.has(p)).length / ps.length) * 100).toFixed(0)}% hits`;
  const v4Ns = nsPerOp((i) => {
    if (set.has(v4probes[i]!)) sink++;
  }, v4probes.length);
  const v6Ns = nsPerOp((i) => {
    if (set.has(v6probes[i]!)) sink++;
  }, v6probes.length);
  log(`  build ${built.median.toFixed(0)} ms (${entries.length} entries → ${set.size} merged ranges)`);
  log(`  has(): IPv4 ${fmtNs(v4Ns)}/lookup (${rate(v4probes)}), IPv6 ${fmtNs(v6Ns)}/lookup (${rate(v6probes)}); 100k distinct address strings, parse included`);

  // (e) regex ---------------------------------------------------------------------------------
  log('\n(e) ReDoS check per `matches` pattern (recheck automaton checker; first call starts the checker)');
  const patterns = [
    '^bot-\\d{3}$',
    '(a+)+$',
    '(a|a)*b',
    '^(\\w+\\s?)*$',
    '(.*a){12}',
    '\\d*\\d*x',
    '^[a-z0-9._%+-]+@corp\\.example$',
    '^(python-requests|Go-http-client|okhttp|curl)/',
    '^Mozilla/5\\.0 \\((Windows NT|Macintosh|X11)',
    '^[a-f0-9]{32}$',
  ];
  const checkMs: number[] = [];
  for (const p of patterns) {
    const t0 = performance.now();
    const v = compileSafeRegex(p);
    const ms = performance.now() - t0;
    checkMs.push(ms);
    log(`  ${ms.toFixed(1).padStart(7)} ms  ${(v.ok ? 'safe' : v.unsafe ? 'UNSAFE' : 'invalid').padEnd(7)} ${p}`);
  }
  log(`  median ${median(checkMs.slice(1)).toFixed(1)} ms per pattern after the first; cached afterwards`);

  log('\nsummary');
  log(`  500-rule pack compiles < ${TARGET_COMPILE_MS} ms, evaluates < ${fmtNs(TARGET_EVAL_NS)}/event, Vigil ≥ ${TARGET_VS_CEL}× cel-js, ≥ ${TARGET_VS_JRE}× json-rules-engine — see the lines marked met / NOT MET above`);
  log(`  all engines agree on matched rules: ${failures === 0 ? 'yes' : `NO (${failures} mismatches)`}`);
  log(`  total ${((performance.now() - started) / 1000).toFixed(1)} s (sink ${sink % 7})`);
  if (failures > 0) process.exitCode = 1;
}

await main();
