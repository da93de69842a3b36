// What every layer shares about errors: the base class of each layer's error registry (a stable
// `code` a caller can branch on, never the wording) and the one way to turn a thrown value into a
// message. Each layer (dsl, features, engine, api) keeps its own registry of codes in its own
// errors.ts and extends VigilError; nothing here knows any layer.

/** An error with a stable code. `code` is part of the contract; `message` is for people. */
export class VigilError<C extends string = string> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The message of anything thrown: an Error's message, else its string form. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
