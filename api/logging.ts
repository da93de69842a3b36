// Structured logging (pino JSON): the logger factory with its redaction list, and the request
// middleware that assigns request ids and writes one access line per request. Raw identifiers
// (user ids, addresses, device ids) and secrets are never logged: routes log their template
// (`/v1/users/:id/history`), never the path, and bodies are never logged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { pinoHttp } from 'pino-http';
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

export function createLogger(opts: { level?: LogLevel; destination?: DestinationStream; name?: string; pretty?: boolean } = {}): Logger {
  // pino-pretty in this thread and synchronous, as the JSON lines are: no line lost at exit.
  const destination = opts.pretty ? pinoPretty({ sync: true, colorize: true, singleLine: true, ignore: 'pid,hostname', destination: opts.destination ?? 1 }) : opts.destination;
  return pino(
    {
      name: opts.name ?? 'vigil',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
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
  constructor(
    readonly id: string,
    readonly log: Logger,
    readonly start: bigint,
  ) {}
}

const omit = (): undefined => undefined;

/**
 * The access log through pino-http: honour a well-formed `X-Request-Id` (so a caller can
 * correlate), else mint a ULID; echo it back and log one line when the response finishes:
 * `req_id`, `method`, `route` (the pattern), `status`, `ms` and the route's extra fields. The
 * request and response objects themselves are never serialized (raw path, address, headers).
 */
export function requestLogging(
  logger: Logger,
  onFinish?: (route: string, method: string, status: number, seconds: number) => void,
): (req: Request, res: Response, next: NextFunction) => void {
  const line = (req: IncomingMessage, res: ServerResponse): Record<string, unknown> => {
    const rq = req as Request;
    const rc = ctx(res as Response);
    const ms = Number(process.hrtime.bigint() - rc.start) / 1e6;
    const out = { method: rq.method, route: routeOf(rq), status: res.statusCode, ms: Math.round(ms * 100) / 100, ...rc.extra };
    // pino-http also logs a request whose client went away before the answer ended.
    return res.writableEnded ? out : { ...out, aborted: true };
  };
  const http = pinoHttp({
    logger,
    genReqId: (req, res) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : newId();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customAttributeKeys: { reqId: 'req_id' },
    quietReqLogger: true,
    quietResLogger: true,
    wrapSerializers: false,
    serializers: { req: omit, res: omit },
    customLogLevel: (_req, res, err) => (err !== undefined || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessObject: line,
    customErrorObject: line,
    customSuccessMessage: () => 'request',
    customErrorMessage: () => 'request',
  });
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    http(req, res);
    res.locals.vigil = new RequestState(String(req.id), req.log, start);
    if (onFinish) {
      res.on('finish', () => {
        onFinish(routeOf(req), req.method, res.statusCode, Number(process.hrtime.bigint() - start) / 1e9);
      });
    }
    next();
  };
}

/** The matched route template, never the raw path (which can hold a user id). */
export function routeOf(req: Request): string {
  const r = (req as Request & { route?: { path?: unknown } }).route;
  if (r && typeof r.path === 'string') return req.baseUrl + r.path;
  return '(unmatched)';
}
