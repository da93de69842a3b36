import nearley from 'nearley';
import compiled from '/work/main/dsl/generated/grammar.js';
import { FileLexer } from '/work/main/dsl/lexer.ts';
import { bigPack } from '/work/main/test/dsl/parse-helpers.ts';
const src = bigPack(500);
const ctx = { file: 'x', limits: { maxDepth: 64, maxStringLength: 10000 }, diagnostics: [], template: (t: any) => ({ kind: 'Template', parts: [], raw: t.text, span: t.span }), depths: new Map() };
const g = nearley.Grammar.fromCompiled(compiled);
const p = new nearley.Parser(g, { lexer: new FileLexer(ctx as any), keepHistory: true });
p.feed(src);
const table = (p as any).table as { states: unknown[] }[];
console.log('columns', table.length, 'states', table.reduce((a, c) => a + c.states.length, 0), 'results', p.results.length);
const t0 = process.cpuUsage(); 
for (let i = 0; i < 10; i++) { const q = new nearley.Parser(g, { lexer: new FileLexer({ ...ctx, depths: new Map() } as any) }); q.feed(src); }
const t1 = process.cpuUsage(t0); console.log('cpu ms/parse', ((t1.user + t1.system) / 1000 / 10).toFixed(1));
