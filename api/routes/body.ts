// Body parsing shared by the routes: the JSON parser with the 16 KB evaluate limit (a direct read
// for the plain request, body-parser for the rest; both refuse bytes that are not UTF-8), the pack
// upload parser (text/plain or JSON),
// and Content-Type enforcement (a body of another type is 415, not silently ignored).
import { isUtf8 } from 'node:buffer';
import express, { type RequestHandler } from 'express';
import { ApiError, invalidJson, invalidUtf8 } from '../errors.ts';

/** Bytes (16 KB). */
export const EVALUATE_BODY_LIMIT = 16 * 1024;
export const PACK_BODY_LIMIT = '1mb';

function requireType(types: string[]): RequestHandler {
  return (req, _res, next) => {
    // No body at all (absent or Content-Length: 0) goes on, and the schema reports the missing
    // fields; a body of another type is refused.
    const empty = req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] ?? '0') === '0';
    if (!empty && !req.is(types)) {
      return next(new ApiError('unsupported_media_type', `Content-Type must be ${types.join(' or ')}`));
    }
    next();
  };
}

/**
 * A JSON body of at most `limit` bytes. The request every auth service sends (Content-Type
 * `application/json`, optionally with `charset=utf-8`, a Content-Length within the limit, no
 * Content-Encoding) is read directly: body-parser's general machinery (charset lookup, decoder and
 * inflate streams, completion tracking) costs a measurable share of the server's CPU per evaluate
 * request (docs/operations.md § Performance). Everything else (another charset, a compressed
 * or chunked body, an empty or over-limit one) goes to body-parser, which answers as before. Both
 * paths give the same result for the same bytes (test/api/body.test.ts checks them against each
 * other): strict JSON (an object or array), a UTF-8 byte-order mark ignored.
 */
export function jsonBody(limit: number = EVALUATE_BODY_LIMIT): RequestHandler[] {
  const general = express.json({ limit, strict: true, verify: verifyUtf8 });
  const direct: RequestHandler = (req, res, next) => {
    const h = req.headers;
    const type = h['content-type'];
    const length = h['content-length'];
    if (
      length === undefined ||
      h['content-encoding'] !== undefined ||
      (type !== 'application/json' && type !== 'application/json; charset=utf-8')
    ) {
      return general(req, res, next);
    }
    // Node's parser has checked that Content-Length is a decimal number and frames the body by it.
    const n = Number(length);
    if (!(n > 0 && n <= limit)) return general(req, res, next);
    const chunks: Buffer[] = [];
    let settled = false;
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      if (settled) return;
      settled = true;
      const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      if (!isUtf8(bytes)) return next(invalidUtf8());
      const body = bytes.toString('utf8');
      let value: unknown;
      try {
        value = parseStrictJson(body);
      } catch {
        return next(invalidJson());
      }
      req.body = value;
      next();
    });
    // A client gone mid-body: nothing can be answered, but the request must still end.
    req.once('error', () => {
      if (settled) return;
      settled = true;
      next(new ApiError('invalid_request', 'the request was aborted'));
    });
  };
  return [requireType(['application/json']), direct];
}

/**
 * body-parser's check of the (decompressed) bytes before decoding: a UTF-8 body must be UTF-8, as
 * the direct path checks. Another charset (`utf-16le`) is decoded by body-parser, and any lone
 * surrogate it yields is refused by the schemas.
 */
export function verifyUtf8(_req: unknown, _res: unknown, buf: Buffer, encoding: string | null): void {
  const e = encoding?.toLowerCase();
  if ((e === undefined || e === 'utf-8' || e === 'utf8') && !isUtf8(buf)) throw invalidUtf8();
}

/** body-parser's strict mode: the text must hold an object or an array (a bare value is refused). */
function parseStrictJson(text: string): unknown {
  // What iconv-lite's UTF-8 decoder (body-parser's) drops; Buffer#toString keeps it.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // body-parser's special case: an empty body (here, one of only a byte-order mark) is `{}`.
  if (body.length === 0) return {};
  const c = body.charCodeAt(0);
  if (c !== 0x7b && c !== 0x5b) {
    const first = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d]|$)/.exec(body)?.[1];
    if (first !== '{' && first !== '[') throw new SyntaxError('not a JSON object or array');
  }
  return JSON.parse(body) as unknown;
}

export function packBody(): RequestHandler[] {
  return [
    requireType(['text/plain', 'application/json']),
    express.json({ limit: PACK_BODY_LIMIT, strict: true }),
    express.text({ limit: PACK_BODY_LIMIT, type: 'text/plain' }),
  ];
}
