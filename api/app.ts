// The Express app factory: request ids and access log, the routes, the 404 fallback and the one
// final error handler. Everything it needs is handed in (engine, pack manager, audit log, logger, metrics,
// config), so tests build it with in-memory parts and the server with real ones.
import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { Socket } from 'node:net';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { createMemoryAudit, type AuditLog } from '../engine/audit.ts';
import type { PackManager } from '../engine/packs/index.ts';
import type { Engine } from '../engine/types.ts';
import { DEFAULT_ADMIN_RATE_LIMIT, type Config } from './config.ts';
import { ApiError, sendError, toApiError } from './errors.ts';
import { ADMIN_PATHS, adminGuard } from './guard.ts';
import { requestLogging, type Logger, type RequestContext } from './logging.ts';
import type { VigilMetrics } from './metrics.ts';
import { adminRoutes } from './routes/admin.ts';
import { consoleRoutes } from './routes/console.ts';
import { evaluateRoutes } from './routes/evaluate.ts';
import { openApiRoutes } from './routes/openapi.ts';
import { listRoutes } from './routes/lists.ts';
import { opsRoutes } from './routes/ops.ts';
import { overrideRoutes } from './routes/overrides.ts';
import { packRoutes } from './routes/packs.ts';

export interface AppDeps {
  readonly engine: Engine;
  readonly packs: PackManager;
  readonly logger: Logger;
  readonly metrics: VigilMetrics;
  readonly config: Pick<Config, 'apiToken' | 'adminToken' | 'maxSkewMs'> & Partial<Pick<Config, 'adminRateLimit'>>;
  /** Where admin changes are kept (GET /v1/audit); default: an in-process log. */
  readonly audit?: AuditLog;
  /** The server clock, ms since epoch (tests pin it). */
  readonly now?: () => number;
  /** True once shutdown began: /readyz answers 503 so load balancers drain this instance. */
  readonly shuttingDown?: () => boolean;
}

export function createApp(deps: AppDeps): Express {
  const { engine, packs, logger, metrics, config } = deps;
  const audit = deps.audit ?? createMemoryAudit();
  const now = deps.now ?? Date.now;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.use(requestLogging(logger, (route, method, status, seconds) => metrics.observeHttp(route, method, status, seconds)));
  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });

  app.use(
    evaluateRoutes({
      engine,
      packs,
      metrics,
      apiToken: config.apiToken,
      maxSkewMs: config.maxSkewMs,
      now,
    }),
  );
  // After the hot route: every request walks the router's layers in order until one matches.
  app.use(opsRoutes({ engine, packs, metrics, shuttingDown: deps.shuttingDown ?? (() => false) }));
  app.use(openApiRoutes({ admin: config.adminToken !== undefined }));
  // Before the admin routers: the rate limit counts every admin request, authenticated or not, and
  // OPTIONS must meet the token before a router answers it with its methods.
  app.use([...ADMIN_PATHS], adminGuard({ adminToken: config.adminToken, perMinute: config.adminRateLimit ?? DEFAULT_ADMIN_RATE_LIMIT, logger }));
  app.use(adminRoutes({ engine, audit, adminToken: config.adminToken, now, packs }));
  app.use(listRoutes({ engine, audit, adminToken: config.adminToken, now }));
  app.use(packRoutes({ packs, engine, adminToken: config.adminToken }));
  app.use(overrideRoutes({ packs, adminToken: config.adminToken }));
  app.use(consoleRoutes({ adminToken: config.adminToken }));

  app.use((_req, _res, next) => next(new ApiError('not_found', 'no such endpoint')));

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const e = toApiError(err);
    const log = (res.locals.vigil as RequestContext | undefined)?.log ?? logger;
    if (e.code === 'internal') log.error({ err }, 'unhandled error');
    if (res.headersSent) {
      // Part of an answer is out: the only honest thing left is to cut the connection.
      req.socket.destroy();
      return;
    }
    sendError(res, e);
  };
  app.use(onError);
  return app;
}

const isClass = (f: unknown): boolean => typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));

/**
 * The HTTP server for an Express app, whose requests and responses are created with the app's own
 * prototypes (`app.request`, `app.response`) through Node's `IncomingMessage`/`ServerResponse`
 * server options. Express gives every request and response those prototypes with
 * `Object.setPrototypeOf` as it starts handling them; finding them already in place, that call does
 * nothing. Done per request, it is expensive in V8: it costs CPU on every request and makes what
 * the request allocated survive young-generation collections, hence longer pauses (measured in
 * docs/operations.md § Performance).
 */
export function createHttpServer(app: Express): Server {
  // Node's constructors are plain functions, so `call` runs them on an object of ours. (Were they
  // ever classes, `call` would throw: then Express does as it always did.)
  if (isClass(IncomingMessage) || isClass(ServerResponse)) return createServer(app);
  function Request(this: IncomingMessage, socket: Socket): void {
    IncomingMessage.call(this, socket);
  }
  Request.prototype = app.request;
  function Response(this: ServerResponse, req: IncomingMessage, options?: unknown): void {
    (ServerResponse as unknown as (this: ServerResponse, req: IncomingMessage, options?: unknown) => void).call(this, req, options);
  }
  Response.prototype = app.response;
  return createServer(
    {
      IncomingMessage: Request as unknown as typeof IncomingMessage,
      ServerResponse: Response as unknown as typeof ServerResponse,
    },
    app,
  );
}

