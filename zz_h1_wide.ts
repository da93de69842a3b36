import { parseFile } from './dsl/parser.ts';
for (const n of [5000, 20000]) {
  const cases: [string, string][] = [
    ['tags', `rule r { tags ${Array(n).fill('a').join(', ')} }`],
    ['decls', Array(n).fill('const x = 1').join('\n')],
    ['list', `list l: number = [${Array(n).fill('1').join(', ')}]`],
    ['given', `test "t" { given { ${Array(n).fill('a.b: 1').join(', ')} } }`],
    ['clauses', `rule r { ${Array(n).fill('then block').join(' ')} }`],
    ['or', `policy { ${Array(n).fill('block when true').join(' ')} }`],
  ];
  for (const [name, text] of cases) {
    const s = performance.now(); const r = parseFile(text, 'w'); console.log(n, name, text.length, (performance.now() - s).toFixed(0), r.diagnostics.length);
  }
}
