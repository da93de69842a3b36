import { parseFile } from './dsl/parser.ts';
import { bigPack } from './test/dsl/parse-helpers.ts';
const src = bigPack(500);
for (let i = 0; i < 30; i++) parseFile(src, 'b.rules');
