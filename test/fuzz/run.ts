// `npm run fuzz`: the rules-language front end's property tests (test/dsl/parser.property.test.ts),
// run for longer than the test suite can afford. Time-bounded: FUZZ_SECONDS (default 60) is shared
// among the properties. Prints each property's run count; on a failure prints the counterexample and
// its seed and exits 1.
import { errorMessage } from '../../common/errors.ts';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { parseExpression, parseFile } from '../../dsl/parser.ts';
import { printExpr, printFile } from '../../dsl/printer.ts';
import { exprArb, fileArb, fileDepth, mutatedFile, parseInvariants, stripSpans, tokenSoup, withParens } from '../dsl/parse-helpers.ts';

const seconds = Number(process.env.FUZZ_SECONDS ?? '60');
if (!Number.isFinite(seconds) || seconds <= 0) {
  process.stderr.write(`FUZZ_SECONDS must be a positive number, not ${process.env.FUZZ_SECONDS}\n`);
  process.exit(2);
}

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

const budget = (seconds * 1000) / 7;

/** Run one property for its share of the time; print its outcome; false when it failed. */
function fuzz<T>(name: string, arb: fc.Arbitrary<T>, predicate: (t: T) => boolean): boolean {
  const started = Date.now();
  const details = fc.check(fc.property(arb, predicate), {
    numRuns: Number.MAX_SAFE_INTEGER,
    interruptAfterTimeLimit: budget,
    markInterruptAsFailure: false,
  });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (!details.failed) {
    process.stdout.write(`ok   ${name}: ${details.numRuns} runs in ${secs} s\n`);
    return true;
  }
  process.stdout.write(`FAIL ${name} after ${details.numRuns} runs (seed ${details.seed}, path ${details.counterexamplePath})\n`);
  process.stdout.write(`  counterexample: ${JSON.stringify(details.counterexample)}\n`);
  const err = details.errorInstance;
  process.stdout.write(`  ${errorMessage(err)}\n`);
  return false;
}

const results = [
  fuzz('arbitrary strings', fc.string({ unit: 'binary', maxLength: 2000 }), (s) => noViolations(parseInvariants(s))),
  fuzz('token soups', tokenSoup, (s) => noViolations(parseInvariants(s))),
  fuzz('token soups, tight limits', tokenSoup, (s) => noViolations(parseInvariants(s, tight))),
  fuzz('generated files with a token spliced in', mutatedFile, (s) => noViolations(parseInvariants(s))),
  fuzz('expression round trip', exprArb, roundTripExpr),
  fuzz('file round trip', fileArb, roundTripFile),
  fuzz('exact depth limit', fileArb, depthExact),
];
const failed = results.includes(false);
process.exit(failed ? 1 : 0);
