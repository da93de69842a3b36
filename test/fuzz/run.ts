// `npm run fuzz`: property-based fuzzing of everything that takes outside input, by case count.
//  1. the rules language's front end (test/dsl/parser.property.test.ts's properties): every text
//     parses or gets our own diagnostic, generated files and expressions round-trip, the depth limit
//     is exact — FUZZ_PARSER_CASES (default 100,000) spread over the properties;
//  2. the pack compiler on pack sources (checkPackFiles: parse, check, compile, the pack's tests) —
//     FUZZ_PACK_CASES (default 2,000; each runs a whole pack's tests);
//  3. every HTTP route of the real server in process (test/fuzz/api.ts) — FUZZ_CASES (default 100,000).
// FUZZ_SEED fixes the seed (printed either way). Prints each part's cases, seconds and cases/second,
// the HTTP answers by status and route, and each distinct failure with its first example; exits 1 on
// any failure. test/fuzz/fuzz.test.ts runs a small count of the same in `npm test`.
import { errorMessage } from '../../common/errors.ts';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { parseExpression, parseFile } from '../../dsl/parser.ts';
import { printExpr, printFile } from '../../dsl/printer.ts';
import { exprArb, fileArb, fileDepth, mutatedFile, parseInvariants, stripSpans, tokenSoup, withParens } from '../dsl/parse-helpers.ts';
import { fuzzHttp, fuzzPacks, routesFromSource, startFuzzServer, type FuzzResult } from './api.ts';

function count(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`${name} must be a whole number ≥ 0, not ${raw}\n`);
    process.exit(2);
  }
  return n;
}

const parserCases = count('FUZZ_PARSER_CASES', 100_000);
const packCases = count('FUZZ_PACK_CASES', 2_000);
const httpCases = count('FUZZ_CASES', 100_000);
const seed = process.env.FUZZ_SEED ? count('FUZZ_SEED', 0) : Date.now() % 2 ** 31;

const noViolations = (problems: string[]): boolean => {
  if (problems.length > 0) throw new Error(problems.join('; '));
  return true;
};

const roundTripExpr = (e: Parameters<typeof printExpr>[0]): boolean => {
  const text = printExpr(e);
  const r = parseExpression(text, 'e.rules');
  if (r.diagnostics.length > 0) throw new Error(`diagnostics for ${text}: ${JSON.stringify(r.diagnostics)}`);
  if (!isDeepStrictEqual(stripSpans(r.expr), stripSpans(withParens(e)))) throw new Error(`AST differs for ${text}`);
  if (printExpr(r.expr!) !== text) throw new Error(`not a fixed point: ${text}`);
  return true;
};

const roundTripFile = (f: Parameters<typeof printFile>[0]): boolean => {
  const text = printFile(f);
  const r = parseFile(text, 'gen.rules');
  if (r.diagnostics.length > 0) throw new Error(`diagnostics: ${JSON.stringify(r.diagnostics)}\n${text}`);
  if (!isDeepStrictEqual(stripSpans(r.file), stripSpans(f))) throw new Error(`AST differs for\n${text}`);
  if (printFile(r.file!) !== text) throw new Error(`not a fixed point:\n${text}`);
  return true;
};

// The depth limit is exact: the deepest expression passes at maxDepth and fails one below.
const depthExact = (f: Parameters<typeof printFile>[0]): boolean => {
  const depth = fileDepth(f);
  if (depth < 2) return true;
  const text = printFile(f);
  const at = parseFile(text, 'gen.rules', { maxDepth: depth });
  if (at.diagnostics.length > 0) throw new Error(`depth ${depth} refused at maxDepth ${depth}:\n${text}`);
  const below = parseFile(text, 'gen.rules', { maxDepth: depth - 1 });
  if (below.file !== null || below.diagnostics.map((d) => d.code).join() !== 'E_LIMIT') {
    throw new Error(`depth ${depth} not refused at maxDepth ${depth - 1}:\n${text}`);
  }
  return true;
};

const tight = { maxDepth: 3, maxStringLength: 4, maxFileBytes: 200 };

interface Checked {
  readonly failed: boolean;
  readonly numRuns: number;
  readonly seed: number;
  readonly counterexamplePath: string | null;
  readonly counterexample: unknown;
  readonly errorInstance: unknown;
}
// Shares of the parser's cases: cheap properties get more.
const parserProps: [string, number, (runs: number) => Checked][] = [];
const prop = <T>(name: string, share: number, arb: fc.Arbitrary<T>, predicate: (t: T) => boolean): void => {
  parserProps.push([name, share, (runs) => fc.check(fc.property(arb, predicate), { numRuns: runs, seed })]);
};
prop('arbitrary strings', 0.3, fc.string({ unit: 'binary', maxLength: 2000 }), (s) => noViolations(parseInvariants(s)));
prop('token soups', 0.15, tokenSoup, (s) => noViolations(parseInvariants(s)));
prop('token soups, tight limits', 0.15, tokenSoup, (s) => noViolations(parseInvariants(s, tight)));
prop('generated files with a token spliced in', 0.1, mutatedFile, (s) => noViolations(parseInvariants(s)));
prop('expression round trip', 0.15, exprArb, roundTripExpr);
prop('file round trip', 0.08, fileArb, roundTripFile);
prop('exact depth limit', 0.07, fileArb, depthExact);

interface Line {
  readonly name: string;
  readonly cases: number;
  readonly seconds: number;
  readonly ok: boolean;
}
const lines: Line[] = [];
const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const rate = (cases: number, seconds: number): string => (seconds > 0 ? `${Math.round(cases / seconds)}/s` : '-');

out(`fuzz: seed ${seed}`);
for (const [name, share, make] of parserProps) {
  const runs = Math.ceil(parserCases * share);
  if (runs === 0) continue;
  const started = Date.now();
  const d = make(runs);
  const seconds = (Date.now() - started) / 1000;
  lines.push({ name: `parser: ${name}`, cases: d.numRuns, seconds, ok: !d.failed });
  if (d.failed) {
    out(`FAIL parser: ${name} after ${d.numRuns} cases (seed ${d.seed}, path ${d.counterexamplePath})`);
    out(`  counterexample: ${JSON.stringify(d.counterexample)}`);
    out(`  ${errorMessage(d.errorInstance)}`);
  } else {
    out(`ok   parser: ${name}: ${d.numRuns} cases in ${seconds.toFixed(1)} s (${rate(d.numRuns, seconds)})`);
  }
}

const report = (r: FuzzResult): void => {
  lines.push({ name: r.name, cases: r.cases, seconds: r.seconds, ok: r.failures.size === 0 });
  out(`${r.failures.size === 0 ? 'ok  ' : 'FAIL'} ${r.name}: ${r.cases} cases in ${r.seconds.toFixed(1)} s (${rate(r.cases, r.seconds)})`);
  if (r.byStatus) out(`  statuses: ${[...r.byStatus].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  if (r.byRoute) out(`  routes (${r.byRoute.size}): ${[...r.byRoute].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const [key, f] of r.failures) {
    const where = f.routes.size > 0 ? ` on ${f.routes.size} route(s): ${[...f.routes].sort().join(', ')}` : '';
    out(`  ${f.count} × ${key}${where}\n    e.g. ${f.example}`);
  }
};

if (packCases > 0) report(fuzzPacks(packCases, seed));

if (httpCases > 0) {
  const routes = routesFromSource();
  const started = Date.now();
  const server = await startFuzzServer();
  out(`     server started in process in ${((Date.now() - started) / 1000).toFixed(1)} s; ${routes.length} routes`);
  try {
    const r = await fuzzHttp(server, routes, httpCases, seed);
    const unvisited = routes.filter((x) => !r.byRoute?.has(`${x.method} ${x.path}`));
    report(r);
    if (unvisited.length > 0) {
      out(`FAIL routes never fuzzed: ${unvisited.map((x) => `${x.method} ${x.path}`).join(', ')}`);
      lines.push({ name: 'route coverage', cases: 0, seconds: 0, ok: false });
    }
  } finally {
    await server.close();
  }
}

const total = lines.reduce((n, l) => n + l.cases, 0);
const seconds = lines.reduce((n, l) => n + l.seconds, 0);
out(`total: ${total} cases in ${seconds.toFixed(1)} s (${rate(total, seconds)}); ${lines.filter((l) => !l.ok).length} part(s) failed`);
process.exit(lines.every((l) => l.ok) ? 0 : 1);
