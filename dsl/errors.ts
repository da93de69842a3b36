// The dsl layer's error registry: every error class dsl/ throws, each a VigilError (common/errors.ts)
// with a stable code from DSL_ERRORS. These are failures of a call, not findings about a pack: what
// is wrong with a pack's text is a Diagnostic with a code of dsl/diagnostics.ts (the diagnostics
// registry), collected and returned, never thrown. Callers branch on `code`, never on wording.
import { VigilError } from '../common/errors.ts';
import type { Span } from './ast.ts';

export const DSL_ERRORS = {
  E_PACK_NOT_FOUND: 'the pack path does not exist',
  E_PACK_EMPTY: 'the pack has no .rules file',
  E_PACK_PATH: 'the path is not a pack, a file of the pack cannot be read, or an uploaded file name is refused',
  E_BAD_LIMITS: 'a limits object has an unknown key or a value that is not a positive integer',
  E_INTERNAL: 'an invariant of the dsl layer does not hold (a bug, never a property of the input)',
} as const;

export type DslErrorCode = keyof typeof DSL_ERRORS;

export type PackLoadErrorCode = 'E_PACK_NOT_FOUND' | 'E_PACK_EMPTY' | 'E_PACK_PATH';

/** A pack that cannot be opened at all (as opposed to one with diagnostics). */
export class PackLoadError extends VigilError<PackLoadErrorCode> {}

/** Limits passed to compilePack (or parseFile) that are not a valid Limits object. */
export class LimitsError extends VigilError<'E_BAD_LIMITS'> {
  constructor(message: string) {
    super('E_BAD_LIMITS', message);
  }
}

/**
 * A broken invariant: a pass met a node, type or name an earlier pass should have refused. Thrown
 * only on bugs; a pack's text can never cause one.
 */
export class InternalError extends VigilError<'E_INTERNAL'> {
  constructor(message: string) {
    super('E_INTERNAL', `internal error: ${message}`);
  }
}

/**
 * Stops a parse: the first lexing or parsing failure (E_SYNTAX) or a nesting limit (E_LIMIT). It
 * never leaves dsl/parser.ts, which turns it into the one diagnostic that ends the file's parse; its
 * code is therefore a diagnostic code.
 */
export class ParseStop extends VigilError<'E_SYNTAX' | 'E_LIMIT'> {
  constructor(
    code: 'E_SYNTAX' | 'E_LIMIT',
    readonly span: Span,
    message: string,
    readonly hint?: string,
  ) {
    super(code, message);
  }
}
