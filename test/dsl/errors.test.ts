// dsl/errors.ts: every error dsl/ throws is a VigilError with a code from its registry, DSL_ERRORS;
// what is wrong with a pack is a Diagnostic instead, never thrown.
import { describe, expect, it } from 'vitest';
import { VigilError } from '../../common/errors.ts';
import { assertNever } from '../../dsl/ast.ts';
import { DSL_ERRORS, InternalError, LimitsError, PackLoadError, compilePack, packFromFiles, resolveLimits } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';

function thrown(fn: () => unknown): VigilError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VigilError) return e;
    throw e;
  }
  throw new Error('expected a throw');
}

describe('the dsl error registry', () => {
  it('each error class is a VigilError whose code is registered', () => {
    const errors = [
      thrown(() => packFromFiles({})),
      thrown(() => resolveLimits({ maxDepth: 0 })),
      thrown(() => assertNever('x' as never, 'thing')),
    ];
    expect(errors.map((e) => e.constructor)).toEqual([PackLoadError, LimitsError, InternalError]);
    for (const e of errors) {
      expect(e).toBeInstanceOf(VigilError);
      expect(Object.keys(DSL_ERRORS)).toContain(e.code);
    }
    expect(errors.map((e) => e.name)).toEqual(['PackLoadError', 'LimitsError', 'InternalError']);
  });

  it('a bad pack is diagnostics, never a throw', () => {
    const r = compilePack(packFromFiles({ 'a.rules': 'rule r { when ( }' }), { scheme: VIGIL_SCHEME });
    expect(r.diagnostics.map((d) => d.code)).toEqual(['E_SYNTAX']);
  });
});
