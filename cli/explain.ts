// `vigil explain DECISION_ID [--url URL] [--json]`: fetch a stored decision from a running Vigil
// (admin API, GET /v1/decisions/:id?explain=1, token from VIGIL_ADMIN_TOKEN) and show why it was
// made: the rules that fired (and shadow rules), the score, the explain trace (every rule's
// condition with the value of each sub-expression, the policy line; engine/explain.ts), the
// features the pack read, and the anomaly model's top feature contributions — the server's, or
// when it has no model loaded, recomputed here from the stored features with the model file
// (VIGIL_MODEL or the shipped one). Arguments are declared and checked in cli/main.ts.
import { errorMessage } from '../common/errors.ts';
import type { DecisionExplanation } from '../engine/explain.ts';
import type { DecisionTrace, TraceNode } from '../dsl/index.ts';
import type { CliIO } from './io.ts';

interface Hit {
  readonly name: string;
  readonly action: string | null;
  readonly score: number;
  readonly reason: string | null;
}
interface Stored {
  readonly decision_id: string;
  readonly at: string;
  readonly features: Record<string, string | number | boolean | null>;
  readonly result: {
    readonly decision: string;
    readonly score: number;
    readonly rules: readonly Hit[];
    readonly shadow: readonly Hit[];
    readonly model: { readonly anomaly: number | null; readonly version: string } | null;
    readonly pack: { readonly name: string; readonly version: number; readonly hash: string };
    readonly degraded: boolean;
  };
  readonly outcome?: string;
  /** Present when the server knows ?explain=1. */
  readonly explain?: DecisionExplanation;
}

function traceLines(n: TraceNode, depth: number, out: string[]): void {
  out.push(`${'  '.repeat(depth)}${n.expr}  = ${n.shown}${n.skipped ? '  (not reached)' : ''}`);
  for (const c of n.children) traceLines(c, depth + 1, out);
}

const VIA: Readonly<Record<DecisionTrace['via'], string>> = {
  block_rule: 'a matched block rule',
  allow_rule: 'a matched allow rule',
  policy: 'the policy',
  'policy+step_up': 'the policy (allow), raised to step_up by a matched step_up rule',
};

/** The trace as text: each rule, its state, and its condition's tree; then the policy. */
export function renderTrace(t: DecisionTrace, kept: ReadonlySet<string>): string[] {
  const out: string[] = [];
  out.push(`trace with ${t.pack.name} v${t.pack.version}: ${t.decision.toUpperCase()} (score ${t.score}), decided by ${VIA[t.via]}`);
  for (const r of t.rules) {
    const state = !r.applies ? 'not for this event type' : r.matched ? 'MATCHED' : 'did not match';
    const then = [r.mode, r.action ?? '-', `score ${r.score}`].join(', ');
    const differs = kept.has(r.rule) !== r.matched ? `  (the kept decision ${kept.has(r.rule) ? 'matched it' : 'did not match it'})` : '';
    out.push(`  rule ${r.rule} [${then}] line ${r.line}: ${state}${differs}`);
    traceLines(r.when, 2, out);
  }
  if (t.policy) {
    const p = t.policy;
    out.push(`  policy ${p.policy ?? '(default)'}${p.consulted ? '' : ' (not consulted: a rule decided)'}, score ${p.score}:`);
    p.lines.forEach((l, i) => {
      out.push(`    ${l.action} (line ${l.line})${i === p.chosen ? '  <- the first line that holds' : ''}`);
      traceLines(l.cond, 3, out);
    });
    if (p.chosen === null) out.push('    no line holds: allow');
  }
  return out;
}

export interface ExplainOptions {
  /** The Vigil API (default: VIGIL_URL, else http://127.0.0.1:8080). */
  readonly url?: string;
  readonly json?: boolean;
}

export async function explainCommand(
  id: string,
  opts: ExplainOptions,
  io: CliIO,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  const url = opts.url ?? env.VIGIL_URL ?? 'http://127.0.0.1:8080';
  const json = opts.json === true;
  const token = env.VIGIL_ADMIN_TOKEN;
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/$/, '')}/v1/decisions/${id}?explain=1`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    io.stderr(`vigil explain: error: cannot reach ${url}: ${errorMessage(e)}\n`);
    return 1;
  }
  if (res.status === 404) {
    io.stderr(`vigil explain: error: decision ${id} not found (unknown, expired, or the admin API is off: set VIGIL_ADMIN_TOKEN)\n`);
    return 1;
  }
  if (!res.ok) {
    io.stderr(`vigil explain: error: ${url} answered ${res.status}\n`);
    return 1;
  }
  const stored = (await res.json()) as Stored;

  let contributions: readonly { feature: string; contribution: number }[] = [];
  let modelNote = '';
  const r = stored.result;
  const served = stored.explain?.model;
  if (served && served.explained_with !== null) {
    contributions = served.contributions;
    if (served.explained_with !== r.model?.version) modelNote = ` (decided by ${r.model?.version ?? '?'}; explained with ${served.explained_with})`;
  } else if (r.model) {
    try {
      const { createModelScorer, DEFAULT_MODEL_PATH, modelSlots } = await import('../features/model/index.ts');
      const model = await createModelScorer({ path: env.VIGIL_MODEL ?? DEFAULT_MODEL_PATH, watch: false });
      contributions = model.explain(modelSlots(stored.features), 5);
      if (model.version !== r.model.version) modelNote = ` (decided by ${r.model.version}; explained with ${model.version})`;
      await model.close();
    } catch (e) {
      modelNote = ` (contributions unavailable: ${errorMessage(e)})`;
    }
  }

  if (json) {
    io.stdout(`${JSON.stringify({ ...stored, contributions })}\n`);
    return 0;
  }
  const lines: string[] = [];
  lines.push(`decision ${stored.decision_id} at ${stored.at}: ${r.decision.toUpperCase()} (score ${r.score})${r.degraded ? ' — degraded' : ''}`);
  lines.push(`pack ${r.pack.name} v${r.pack.version} ${r.pack.hash}${stored.outcome ? `; outcome: ${stored.outcome}` : ''}`);
  const hit = (h: Hit): string => `  ${h.name.padEnd(28)} ${(h.action ?? '-').padEnd(8)} ${String(h.score).padStart(4)}  ${h.reason ?? ''}`;
  lines.push('rules that fired:');
  lines.push(...(r.rules.length ? r.rules.map(hit) : ['  (none)']));
  if (r.shadow.length) lines.push('shadow rules (reported only):', ...r.shadow.map(hit));
  const x = stored.explain;
  if (x) {
    for (const n of x.notes) lines.push(`note: ${n}`);
    if (x.trace) lines.push(...renderTrace(x.trace, new Set([...x.kept.rules, ...x.kept.shadow])));
  }
  if (r.model) {
    lines.push(`model ${r.model.version}: anomaly ${r.model.anomaly === null ? 'missing' : r.model.anomaly.toFixed(3)}${modelNote}`);
    for (const c of contributions) lines.push(`  ${c.feature.padEnd(28)} ${c.contribution.toFixed(3)}`);
  }
  lines.push('features read:');
  for (const [k, v] of Object.entries(stored.features)) lines.push(`  ${k.padEnd(28)} ${v === null ? 'missing' : String(v)}`);
  io.stdout(lines.join('\n') + '\n');
  return 0;
}
