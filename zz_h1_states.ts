import nearley from 'nearley';
import compiled from './dsl/generated/grammar.js';
import { FileLexer, type LexContext } from './dsl/lexer.ts';
import { parseFile } from './dsl/parser.ts';
import { bigPack } from './test/dsl/parse-helpers.ts';
const src = bigPack(500);
const ctx: LexContext = { file: 'x', limits: { maxDepth: 64, maxStringLength: 10000 }, diagnostics: [], template: (t) => ({ kind: 'Template', parts: [], raw: t.text, span: t.span }), depths: new Map() };
const g = nearley.Grammar.fromCompiled(compiled);
const p = new nearley.Parser(g, { lexer: new FileLexer(ctx), keepHistory: true });
p.feed(src);
const table = (p as unknown as { table: { states: unknown[] }[] }).table;
console.log('columns', table.length, 'states', table.reduce((a, c) => a + c.states.length, 0), 'results', p.results.length);
let best = 1e9; const first = performance.now(); parseFile(src, 'a'); const cold = performance.now() - first;
for (let i = 0; i < 30; i++) { const s = performance.now(); parseFile(src, 'a'); best = Math.min(best, performance.now() - s); }
console.log('cold', cold.toFixed(1), 'best warm', best.toFixed(1));
{
  const c0 = process.cpuUsage(); const w0 = performance.now();
  for (let i = 0; i < 10; i++) parseFile(src, 'a');
  const c = process.cpuUsage(c0); console.log('wall/parse', ((performance.now() - w0) / 10).toFixed(1), 'cpu/parse', ((c.user + c.system) / 10000).toFixed(1));
}
