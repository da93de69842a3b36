// What every layer shares about identifier text: whether a string is well-formed UTF-16 (no lone
// surrogate) and its length in UTF-8 bytes. Identifiers are hashed, stored and compared as UTF-8;
// a lone surrogate has no UTF-8 form (encoders write U+FFFD in its place), so "a\uD800" would
// become "a\uFFFD" and share that user's history. Limits count bytes, the size the stores see.

type WellFormedString = string & { isWellFormed?: () => boolean };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `s` holds no lone surrogate (String.prototype.isWellFormed, Node 20+). */
export function isWellFormed(s: string): boolean {
  const f = (s as WellFormedString).isWellFormed;
  return typeof f === 'function' ? f.call(s) : !LONE_SURROGATE.test(s);
}

/** Bytes of `s` in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
