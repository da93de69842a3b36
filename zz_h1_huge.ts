import { parseFile } from './dsl/parser.ts';
import { bigPack } from './test/dsl/parse-helpers.ts';
const t = bigPack(39000);
console.log('bytes', t.length);
const s = performance.now(); const r = parseFile(t, 'h'); console.log('ms', (performance.now() - s).toFixed(0), r.diagnostics.length, r.file?.decls.length, 'rss MB', (process.memoryUsage().rss / 1e6).toFixed(0));
