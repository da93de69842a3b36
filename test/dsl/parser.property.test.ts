// Property tests of the front end: (1) any text, and token soups built from the language's own
// vocabulary, parse without throwing, with registered codes and in-bounds, correctly placed spans;
// (2) generated ASTs print to text that parses back to the same AST (modulo spans), and printing is
// a fixed point. `npm run fuzz` runs the same properties for longer (test/fuzz/run.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseExpression, parseFile } from '../../dsl/parser.ts';
import { printExpr, printFile } from '../../dsl/printer.ts';
import { exprArb, fileArb, fileDepth, mutatedFile, parseInvariants, stripSpans, tokenSoup, withParens } from './parse-helpers.ts';

describe('any input: parseFile returns, never throws', () => {
  it('arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
      expect(parseInvariants(s)).toEqual([]);
    }), { numRuns: 300 });
  });

  it('token soups of the language', () => {
    fc.assert(fc.property(tokenSoup, (s) => {
      expect(parseInvariants(s)).toEqual([]);
    }), { numRuns: 400 });
  });

  it('token soups under tight limits', () => {
    const limits = { maxDepth: 3, maxStringLength: 4, maxFileBytes: 120 };
    fc.assert(fc.property(tokenSoup, (s) => {
      expect(parseInvariants(s, limits)).toEqual([]);
    }), { numRuns: 200 });
  });

  it('mutations of a valid pack', () => {
    const base = 'pack p version 1\nrule r {\n  when a.b > 3 and not c.d\n  reason "x {a.b ?? 0}"\n  score -5\n}\npolicy { block when score >= 90 }\n';
    const mutated = fc
      .tuple(fc.nat({ max: base.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 4, unit: fc.constantFrom('{', '}', '"', '\\', '(', ')', 'not ', '-', ' ', '#', '\n', 'x') }))
      .map(([at, del, ins]) => base.slice(0, at) + ins + base.slice(at + del));
    fc.assert(
      fc.property(mutated, (s) => {
        expect(parseInvariants(s)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('generated files with a token spliced in', () => {
    fc.assert(
      fc.property(mutatedFile, (s) => {
        expect(parseInvariants(s)).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});

describe('generated ASTs round-trip through the printer', () => {
  it('expressions: print → parse gives the tree with the parentheses precedence needs', () => {
    fc.assert(
      fc.property(exprArb, (e) => {
        const text = printExpr(e);
        const r = parseExpression(text, 'e.rules');
        expect(r.diagnostics).toEqual([]);
        expect(stripSpans(r.expr)).toEqual(stripSpans(withParens(e)));
        expect(printExpr(r.expr!)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('files: print → parse → print is a fixed point and the AST matches', () => {
    fc.assert(
      fc.property(fileArb, (f) => {
        const text = printFile(f);
        const r = parseFile(text, 'gen.rules');
        expect(r.diagnostics).toEqual([]);
        expect(stripSpans(r.file)).toEqual(stripSpans(f));
        expect(printFile(r.file!)).toBe(text);
      }),
      { numRuns: 150 },
    );
  });

  it('the depth limit is exact: the deepest expression passes at maxDepth and fails one below', () => {
    fc.assert(
      fc.property(fileArb, (f) => {
        const depth = fileDepth(f);
        fc.pre(depth >= 2);
        const text = printFile(f);
        expect(parseFile(text, 'gen.rules', { maxDepth: depth }).diagnostics).toEqual([]);
        const over = parseFile(text, 'gen.rules', { maxDepth: depth - 1 });
        expect(over.diagnostics.map((d) => d.code)).toEqual(['E_LIMIT']);
        expect(over.file).toBeNull();
      }),
      { numRuns: 150 },
    );
  });
});
