// Structured logging (pino JSON; pino-pretty for a person at a terminal): the logger factory with its
// redaction list, and the request middleware that assigns request ids and writes one access line
// per request. Raw identifiers
// (user ids, addresses, device ids) and secrets are never logged: routes log their template
// (`/v1/users/:id/history`), never the path, and bodies are never logged.
import type { NextFunction, Request, Response } from 'express';
import { pino, type DestinationStream, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { newId } from '../engine/ids.ts';
import type { LogLevel } from './config.ts';

export type { Logger } from 'pino';

/** Paths pino censors wherever they appear: a safety net under code that never logs them. */
export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  'body',
  'token',
  'apiToken',
  'adminToken',
  'hashSecret',
  'config.apiToken',
  'config.adminToken',
  'config.hashSecret',
  'user.id',
  'userId',
  'user_id',
  'ip',
  'deviceId',
  'device_id',
  'user_agent',
  'userAgent',
];

/**
 * Whether to print logs for a person rather than a collector: only at a terminal, and never in
 * production (where a TTY is an operator attached to a container, whose logs a collector also
 * reads as JSON lines).
 */
export function prettyLogs(o: { readonly production: boolean; readonly tty: boolean }): boolean {
  return o.tty && !o.production;
}

/**
 * pino's error serializer, without what an ioredis error carries of the command that failed
 * (`command: {name, args}`): the arguments can be list entries (addresses) or a pack's files.
 */
export function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown;
  if (err instanceof Error && typeof out === 'object' && out !== null) {
    const o = out as Record<string, unknown>;
    delete o.command;
    delete o.args;
    delete o.previousErrors;
  }
  return out;
}

export function createLogger(opts: { level?: LogLevel; destination?: DestinationStream; name?: string; pretty?: boolean } = {}): Logger {
  // pino-pretty in this thread and synchronous, as the JSON lines are: no line lost at exit.
  const destination = opts.pretty ? pinoPretty({ sync: true, colorize: true, singleLine: true, ignore: 'pid,hostname', destination: opts.destination ?? 1 }) : opts.destination;
  return pino(
    {
      name: opts.name ?? 'vigil',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Per-request state, kept on `res.locals` (typed access below). */
export interface RequestContext {
  readonly id: string;
  readonly log: Logger;
  readonly start: bigint;
  /** Extra fields the route wants on the access line (decision id, decision, …). */
  readonly extra: Record<string, string | number | boolean>;
}

export function ctx(res: Response): RequestContext {
  return res.locals.vigil as RequestContext;
}

/**
 * A class, not an object literal with a `get log()`: V8 turns such a literal into a dictionary-mode
 * object, and through it every request's objects survived young-generation collections (a third of
 * all that was allocated did; docs/operations.md § Performance). test/api/logging.test.ts checks.
 */
class RequestState implements RequestContext {
  readonly extra: Record<string, string | number | boolean> = {};
  // The child logger is made on first use: most requests never log anything but the access line.
  #child: Logger | undefined;
  constructor(
    readonly id: string,
    private readonly logger: Logger,
    readonly start: bigint,
  ) {}
  get log(): Logger {
    return (this.#child ??= this.logger.child({ req_id: this.id }));
  }
}

/**
 * Honour a well-formed `X-Request-Id` (so a caller can correlate), else mint a ULID; echo it back
 * and log one line when the response finishes. Hand-written rather than pino-http, which cost more
 * CPU per request in side-by-side runs for the same line (docs/operations.md § Logs).
 */
export function requestLogging(
  logger: Logger,
  onFinish?: (route: string, method: string, status: number, seconds: number) => void,
): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : newId();
    res.setHeader('X-Request-Id', id);
    const rc = new RequestState(id, logger, process.hrtime.bigint());
    res.locals.vigil = rc;
    res.on('finish', () => {
      const route = routeOf(req);
      const ms = Number(process.hrtime.bigint() - rc.start) / 1e6;
      onFinish?.(route, req.method, res.statusCode, ms / 1000);
      const line = { method: req.method, route, status: res.statusCode, ms: Math.round(ms * 100) / 100, ...rc.extra };
      if (res.statusCode >= 500) logger.error({ req_id: id, ...line }, 'request');
      else if (logger.isLevelEnabled('info')) logger.info({ req_id: id, ...line }, 'request');
    });
    next();
  };
}

/** The matched route template, never the raw path (which can hold a user id). */
export function routeOf(req: Request): string {
  const r = (req as Request & { route?: { path?: unknown } }).route;
  if (r && typeof r.path === 'string') return req.baseUrl + r.path;
  return '(unmatched)';
}
