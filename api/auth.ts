// Bearer-token authentication for the API (VIGIL_API_TOKEN) and the admin routes
// (VIGIL_ADMIN_TOKEN). Tokens are compared as SHA-256 digests with timingSafeEqual, so neither the
// content nor the length of the expected token leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ApiError } from './errors.ts';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** The token from `Authorization: Bearer <token>`, or undefined. The scheme is case-insensitive. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** Checks presented tokens against one expected token in constant time. */
export function tokenChecker(expected: string): (presented: string | undefined) => boolean {
  const want = digest(expected);
  return (presented) => {
    // Hash even when nothing was presented, so a missing header costs the same as a wrong one.
    const got = digest(presented ?? '');
    return timingSafeEqual(want, got) && presented !== undefined;
  };
}

/**
 * Require `Authorization: Bearer <token>` when a token is configured; let everything through
 * when it is not (VIGIL_API_TOKEN unset: the evaluate API is open, as the spec allows).
 */
export function requireToken(token: string | undefined): RequestHandler {
  if (token === undefined) return (_req, _res, next) => next();
  const check = tokenChecker(token);
  return (req, res, next) => {
    if (check(bearerToken(req.headers.authorization))) return next();
    res.setHeader('WWW-Authenticate', 'Bearer realm="vigil"');
    next(new ApiError('unauthorized'));
  };
}

/**
 * Admin routes: disabled (404, as if they did not exist) when VIGIL_ADMIN_TOKEN is unset, so an
 * unconfigured deployment exposes no admin surface at all.
 */
export function requireAdmin(token: string | undefined): RequestHandler {
  if (token === undefined) return (_req, _res, next) => next(new ApiError('not_found'));
  return requireToken(token);
}
