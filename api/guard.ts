// What stands in front of every admin route, mounted once on the admin paths (ADMIN_PATHS) before
// their routers: a per-client rate limit (VIGIL_ADMIN_RATE_LIMIT a minute, counted before the token
// is checked, so guessing tokens is limited too), and OPTIONS answered like the routes themselves
// (the admin token, else 401; no admin API, 404) instead of Express's automatic unauthenticated
// `200 Allow`. No route sends Access-Control-Allow-* headers, so a browser on another origin can
// never call an admin route (a CORS preflight carries no Authorization header and gets the 401).
import { createHmac, randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { requireAdmin } from './auth.ts';
import { ApiError } from './errors.ts';
import type { Logger } from './logging.ts';

/**
 * Every path prefix under which a route needs the admin token. test/api/guard.test.ts walks the
 * app's routes and fails when an admin route lies outside these (it would escape the guard).
 */
export const ADMIN_PATHS = [
  '/v1/decisions',
  '/v1/users',
  '/v1/counters',
  '/v1/audit',
  '/v1/model',
  '/v1/lists',
  '/v1/packs',
  '/v1/overrides',
] as const;

export const ADMIN_RATE_WINDOW_MS = 60_000;

/** IPv6 clients are counted per /56 (one customer's allocation), IPv4 per address. */
const IPV6_SUBNET = 56;

export interface AdminGuardDeps {
  readonly adminToken: string | undefined;
  /** Requests a minute per client; 0: no limit. */
  readonly perMinute: number;
  readonly logger: Logger;
}

export function adminGuard(d: AdminGuardDeps): RequestHandler[] {
  if (d.adminToken === undefined) {
    // No admin API: the routes answer 404, and so must OPTIONS (Express would list their methods).
    return [(req, _res, next) => (req.method === 'OPTIONS' ? next(new ApiError('not_found')) : next())];
  }
  const auth = requireAdmin(d.adminToken);
  const options: RequestHandler = (req, res, next) => (req.method === 'OPTIONS' ? auth(req, res, next) : next());
  return d.perMinute > 0 ? [adminRateLimit(d.perMinute, d.logger), options] : [options];
}

function adminRateLimit(perMinute: number, logger: Logger): RequestHandler {
  // The limiter's counters are keyed by a keyed hash of the client address, never the address
  // itself: no raw address is kept, even in memory for a minute. The key is per process, as the
  // counters are.
  const key = randomBytes(32);
  return rateLimit({
    windowMs: ADMIN_RATE_WINDOW_MS,
    limit: perMinute,
    // RateLimit-Limit/-Remaining/-Reset on every admin answer, and Retry-After on a 429.
    standardHeaders: 'draft-6',
    legacyHeaders: false,
    keyGenerator: (req) => createHmac('sha256', key).update(ipKeyGenerator(req.ip ?? 'unknown', IPV6_SUBNET)).digest('base64url'),
    handler: (_req, res, next) => {
      const retry = res.getHeader('Retry-After');
      next(
        new ApiError('rate_limited', `more than ${perMinute} admin requests a minute from this client; retry after ${String(retry ?? 60)} s`, {
          limit: perMinute,
          window_s: ADMIN_RATE_WINDOW_MS / 1000,
          retry_after_s: Number(retry ?? 60),
        }),
      );
    },
    // The library's own warnings (misconfiguration checks, store errors) go to our log as one line,
    // by code only: its messages may quote a request's address.
    logger: {
      warn: (e: unknown) => logger.warn({ code: codeOf(e) }, 'admin rate limiter warning'),
      error: (e: unknown) => logger.error({ code: codeOf(e) }, 'admin rate limiter error'),
    },
  });
}

function codeOf(e: unknown): string {
  const c = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof c === 'string' ? c : 'unknown';
}
