// The cel-js side of `npm run bench:replay`: a whole process that does what `vigil replay` does
// with the same rules written in CEL (bench/lib/competitors.ts) — read the NDJSON file, parse each
// `{"event","features"}` line, evaluate every rule that applies to the event type, count hits per
// rule and decisions (dsl.md §4, as bench/lib/rulegen.ts `decide`) — and prints the counts as JSON so
// the bench can check both sides agree. bench/replay.ts transpiles this file to plain JavaScript and
// runs it with plain `node`, so the competitor pays no TypeScript loader at start-up.
//
// argv: CEL_MODULE_URL RULES.json EVENTS.ndjson (the module is passed in because the transpiled file
// lives in a temporary directory, out of reach of node_modules resolution).
import { closeSync, openSync, readSync } from 'node:fs';

type Action = 'allow' | 'step_up' | 'block';
type Ctx = Record<string, Record<string, unknown>>;

export interface CelRule {
  readonly name: string;
  readonly on: readonly string[] | null;
  readonly cel: string;
  readonly action: Action | null;
  readonly score: number;
  readonly shadow: boolean;
}
export interface PolicyLine {
  readonly action: Action;
  readonly minScore: number;
}
export interface CelRulesFile {
  readonly rules: readonly CelRule[];
  readonly policy: { readonly default: readonly PolicyLine[]; readonly byType: Readonly<Record<string, readonly PolicyLine[]>> };
}
export interface CelCounts {
  readonly events: number;
  readonly decisions: Record<Action, number>;
  readonly enforce: Record<string, number>;
  readonly shadow: Record<string, number>;
}

type CelModule = { parse(expr: string): (ctx: Ctx) => unknown };

interface Runnable {
  readonly rule: CelRule;
  readonly index: number;
  readonly fn: (ctx: Ctx) => unknown;
}

const NAMESPACES = ['event', 'ip', 'geo', 'user', 'device', 'ua', 'history', 'rba', 'velocity', 'model', 'engine'];

function nested(features: Record<string, unknown>): Ctx {
  const ctx: Ctx = {};
  for (const ns of NAMESPACES) ctx[ns] = {};
  for (const name in features) {
    const dot = name.indexOf('.');
    const ns = name.slice(0, dot);
    (ctx[ns] ??= {})[name.slice(dot + 1)] = features[name];
  }
  return ctx;
}

/** Calls `onLine` for every line of the file, reading it in large chunks. */
function eachLine(path: string, onLine: (line: string) => void): void {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 22);
  let rest = '';
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const text = rest + buf.toString('utf8', 0, n);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        onLine(text.slice(start, nl));
        start = nl + 1;
      }
      rest = text.slice(start);
    }
  } finally {
    closeSync(fd);
  }
  if (rest.length > 0) onLine(rest);
}

async function mainCel(): Promise<void> {
  const [celUrl, rulesPath, eventsPath] = process.argv.slice(2);
  if (celUrl === undefined || rulesPath === undefined || eventsPath === undefined) {
    process.stderr.write('usage: cel-replay CEL_MODULE_URL RULES.json EVENTS.ndjson\n');
    process.exitCode = 2;
    return;
  }
  const cel = (await import(celUrl)) as CelModule;
  const { readFileSync } = await import('node:fs');
  const spec = JSON.parse(readFileSync(rulesPath, 'utf8')) as CelRulesFile;
  const all: Runnable[] = spec.rules.map((rule, index) => ({ rule, index, fn: cel.parse(rule.cel) }));
  const byType = new Map<string, Runnable[]>();
  for (const t of ['login', 'recovery']) byType.set(t, all.filter((r) => r.rule.on === null || r.rule.on.includes(t)));
  const hits = new Uint32Array(all.length);
  const decisions: Record<Action, number> = { allow: 0, step_up: 0, block: 0 };
  let events = 0;
  eachLine(eventsPath, (line) => {
    if (line.trim() === '') return;
    const v = JSON.parse(line) as { event: string; features: Record<string, unknown> };
    const rules = byType.get(v.event) ?? all.filter((r) => r.rule.on === null);
    const ctx = nested(v.features);
    let sum = 0;
    let block = false;
    let allow = false;
    let stepUp = false;
    for (const r of rules) {
      let matched: unknown;
      try {
        matched = r.fn(ctx);
      } catch {
        // A CEL evaluation error is "no match", as a missing value is in Vigil.
        continue;
      }
      if (matched !== true) continue;
      hits[r.index]!++;
      if (r.rule.shadow) continue;
      sum += r.rule.score;
      if (r.rule.action === 'block') block = true;
      else if (r.rule.action === 'allow') allow = true;
      else if (r.rule.action === 'step_up') stepUp = true;
    }
    const score = Math.max(0, Math.min(100, sum));
    let decision: Action;
    if (block) decision = 'block';
    else if (allow) decision = 'allow';
    else {
      let policy: Action = 'allow';
      for (const l of spec.policy.byType[v.event] ?? spec.policy.default) {
        if (score >= l.minScore) {
          policy = l.action;
          break;
        }
      }
      decision = stepUp && policy === 'allow' ? 'step_up' : policy;
    }
    decisions[decision]++;
    events++;
  });
  const enforce: Record<string, number> = {};
  const shadow: Record<string, number> = {};
  all.forEach((r, i) => {
    if (hits[i]! > 0) (r.rule.shadow ? shadow : enforce)[r.rule.name] = hits[i]!;
  });
  const out: CelCounts = { events, decisions, enforce, shadow };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await mainCel();
