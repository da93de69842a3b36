import fc from 'fast-check';
import { parseFile } from './dsl/parser.ts';
import { tokenSoup } from './test/dsl/parse-helpers.ts';
const counts: Record<string, number> = {};
for (const s of fc.sample(tokenSoup, 2000)) {
  const r = parseFile(s, 'f');
  const k = (r.file ? 'file' : 'null') + ':' + [...new Set(r.diagnostics.map((d) => d.code))].sort().join(',');
  counts[k] = (counts[k] ?? 0) + 1;
}
console.log(counts);
console.log(fc.sample(tokenSoup, 3));
