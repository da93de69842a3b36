// Body parsing shared by the routes: the JSON parser with the 16 KB evaluate limit, the pack
// upload parser (text/plain or JSON), and Content-Type enforcement (a body of another type is 415,
// not silently ignored).
import express, { type RequestHandler } from 'express';
import { ApiError } from '../errors.ts';

export const EVALUATE_BODY_LIMIT = '16kb';
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

export function jsonBody(limit: string = EVALUATE_BODY_LIMIT): RequestHandler[] {
  return [requireType(['application/json']), express.json({ limit, strict: true })];
}

export function packBody(): RequestHandler[] {
  return [
    requireType(['text/plain', 'application/json']),
    express.json({ limit: PACK_BODY_LIMIT, strict: true }),
    express.text({ limit: PACK_BODY_LIMIT, type: 'text/plain' }),
  ];
}
