// The Express app factory: request ids and access log, the routes, the 404 fallback and the one
// final error handler. Everything it needs is handed in (engine, pack manager, logger, metrics,
// config), so tests build it with in-memory parts and the server with real ones.
import express, { type ErrorRequestHandler, type Express } from 'express';
import type { PackManager } from '../engine/packs/index.ts';
import type { Engine } from '../engine/types.ts';
import type { Config } from './config.ts';
import { ApiError, sendError, toApiError } from './errors.ts';
import { requestLogging, type Logger, type RequestContext } from './logging.ts';
import type { VigilMetrics } from './metrics.ts';
import { adminRoutes } from './routes/admin.ts';
import { evaluateRoutes } from './routes/evaluate.ts';
import { opsRoutes } from './routes/ops.ts';
import { packRoutes } from './routes/packs.ts';

export interface AppDeps {
  readonly engine: Engine;
  readonly packs: PackManager;
  readonly logger: Logger;
  readonly metrics: VigilMetrics;
  readonly config: Pick<Config, 'apiToken' | 'adminToken' | 'maxSkewMs'>;
  /** The server clock, ms since epoch (tests pin it). */
  readonly now?: () => number;
  /** True once shutdown began: /readyz answers 503 so load balancers drain this instance. */
  readonly shuttingDown?: () => boolean;
}

export function createApp(deps: AppDeps): Express {
  const { engine, packs, logger, metrics, config } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.use(requestLogging(logger, (route, method, status) => metrics.observeHttp(route, method, status)));
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
      now: deps.now ?? Date.now,
    }),
  );
  // After the hot route: every request walks the router's layers in order until one matches.
  app.use(opsRoutes({ engine, packs, metrics, shuttingDown: deps.shuttingDown ?? (() => false) }));
  app.use(adminRoutes({ engine, adminToken: config.adminToken }));
  app.use(packRoutes({ packs, adminToken: config.adminToken }));

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
